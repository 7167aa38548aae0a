"""Unit tests of rules_pyodide.outputs: atomic files and directories, digests, SOURCE_DATE_EPOCH, deterministic
tar and zip members."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from rules_pyodide import outputs


def test_source_date_epoch_defaults_to_the_zip_floor_and_never_goes_below_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    assert outputs.source_date_epoch() == outputs.DEFAULT_SOURCE_DATE_EPOCH == outputs.ZIP_FLOOR == 315532800
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")  # what file_package, pack and bundle actions set
    assert outputs.source_date_epoch() == outputs.ZIP_FLOOR
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert outputs.source_date_epoch() == 1700000000
    assert outputs.zip_date_time(outputs.ZIP_FLOOR) == outputs.ZIP_FLOOR_DATE == (1980, 1, 1, 0, 0, 0)


def test_write_atomic_writes_text_or_bytes_with_mode_0644(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "f.json"
    outputs.write_atomic(path, "é\n")
    assert path.read_bytes() == "é\n".encode()
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    outputs.write_atomic(path, b"\0bytes")
    assert path.read_bytes() == b"\0bytes"
    assert sorted(p.name for p in path.parent.iterdir()) == ["f.json"]  # no temporary file left


def test_atomic_file_leaves_the_target_untouched_when_the_block_fails(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_text("old")
    with pytest.raises(RuntimeError), outputs.atomic_file(path) as tmp:
        assert tmp.parent == tmp_path and tmp != path
        tmp.write_text("half")
        raise RuntimeError("the writer failed")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f"]


def test_atomic_dir_renames_on_success_and_removes_everything_on_failure(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()  # Bazel creates a directory output beforehand: an empty one is replaced
    with outputs.atomic_dir(out) as tmp:
        (tmp / "a").write_text("a")
        assert not (out / "a").exists()
    assert [p.name for p in out.iterdir()] == ["a"]
    with pytest.raises(OSError), outputs.atomic_dir(out) as tmp:
        (tmp / "b").write_text("b")  # out is not empty and replace is off: the rename is refused
    assert [p.name for p in out.iterdir()] == ["a"]
    with outputs.atomic_dir(out, mode=0o755, replace=True) as tmp:
        (tmp / "c").write_text("c")
    assert [p.name for p in out.iterdir()] == ["c"] and stat.S_IMODE(out.stat().st_mode) == 0o755
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_file_digest_is_hashlibs(tmp_path: Path) -> None:
    path = tmp_path / "f"
    data = os.urandom(3 << 20)  # more than one read block
    path.write_bytes(data)
    assert outputs.sha256_file(path) == hashlib.sha256(data).hexdigest()
    assert outputs.file_digest(path, "md5") == hashlib.md5(data).hexdigest()


def _tree(root: Path) -> Path:
    (root / "pkg" / "sub").mkdir(parents=True)
    (root / "pkg" / "b.py").write_text("b")
    (root / "pkg" / "a.py").write_text("a")
    (root / "pkg" / "sub" / "run.sh").write_text("#!/bin/sh\n")
    (root / "pkg" / "sub" / "run.sh").chmod(0o700)
    (root / "top.txt").write_text("top")
    (root / "top.txt").chmod(0o600)
    return root


def test_write_tar_is_sorted_and_stamped_without_a_root_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    root = _tree(tmp_path / "root")
    outputs.write_tar(root, tmp_path / "t.tar")
    with tarfile.open(tmp_path / "t.tar") as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == ["pkg", "pkg/a.py", "pkg/b.py", "pkg/sub", "pkg/sub/run.sh", "top.txt"]
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in members} == {(1700000000, 0, 0, "", "")}
    assert {m.name: m.mode for m in members} == {
        "pkg": 0o755,
        "pkg/a.py": 0o644,
        "pkg/b.py": 0o644,
        "pkg/sub": 0o755,
        "pkg/sub/run.sh": 0o755,
        "top.txt": 0o644,
    }
    assert [p.name for p in tmp_path.iterdir() if p.name != "root"] == ["t.tar"]


def test_write_tar_gz_puts_the_tree_under_its_prefix_with_no_name_or_time_in_gzip(tmp_path: Path) -> None:
    root = _tree(tmp_path / "root")
    outputs.write_tar_gz(root, tmp_path / "one.tar.gz", prefix="r-1.0")
    raw = (tmp_path / "one.tar.gz").read_bytes()
    assert raw[3] & 0x08 == 0 and raw[4:8] == b"\0\0\0\0"  # no FNAME flag, mtime 0
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(raw))) as tar:
        names = tar.getnames()
    rest = ["pkg", "pkg/a.py", "pkg/b.py", "pkg/sub", "pkg/sub/run.sh", "top.txt"]
    assert names == ["r-1.0", *(f"r-1.0/{name}" for name in rest)]
    copy = _tree(tmp_path / "elsewhere" / "root")
    outputs.write_tar_gz(copy, tmp_path / "two.tar.gz", prefix="r-1.0")
    assert (tmp_path / "two.tar.gz").read_bytes() == raw  # nothing of the machine or the path gets in


def test_zip_members_record_the_date_and_the_mode_given(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "z.zip", "w") as zf:
        outputs.add_zip_member(zf, "a.py", b"a" * 100, outputs.ZIP_FLOOR_DATE, outputs.file_mode(False))
        outputs.add_zip_member(zf, "lib.so", b"\0asm", (2024, 5, 6, 7, 8, 10), outputs.file_mode(True))
        outputs.add_zip_member(zf, "bundle.py", b"", outputs.ZIP_FLOOR_DATE, 0o644)
    with zipfile.ZipFile(tmp_path / "z.zip") as zf:
        infos = {i.filename: i for i in zf.infolist()}
    assert {n: (i.date_time, i.external_attr >> 16, i.create_system) for n, i in infos.items()} == {
        "a.py": ((1980, 1, 1, 0, 0, 0), 0o100644, 3),
        "lib.so": ((2024, 5, 6, 7, 8, 10), 0o100755, 3),
        "bundle.py": ((1980, 1, 1, 0, 0, 0), 0o644, 3),
    }
    assert {i.compress_type for i in infos.values()} == {zipfile.ZIP_DEFLATED}
