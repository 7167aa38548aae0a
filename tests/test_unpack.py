"""Unit tests for rules_pyodide.unpack: formats, extract_dir, normalization, and hostile archives."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from rules_pyodide.unpack import UnpackError, detect_format, main, unpack

Entry = tuple[str, str, bytes | str, int]  # (name, kind: file|dir|symlink|hardlink|fifo|chr, data/target, mode)


def make_tar(path: Path, entries: list[Entry], mode: str = "w") -> Path:
    with tarfile.open(path, mode) as tar:
        for name, kind, data, perm in entries:
            info = tarfile.TarInfo(name)
            info.mode = perm
            info.mtime = 1_600_000_000
            info.uid = info.gid = 4242
            payload = None
            if kind == "file":
                assert isinstance(data, bytes)
                info.size = len(data)
                payload = io.BytesIO(data)
            else:
                info.type = {
                    "dir": tarfile.DIRTYPE,
                    "symlink": tarfile.SYMTYPE,
                    "hardlink": tarfile.LNKTYPE,
                    "fifo": tarfile.FIFOTYPE,
                    "chr": tarfile.CHRTYPE,
                }[kind]
                info.linkname = data if isinstance(data, str) else ""
            tar.addfile(info, payload)
    return path


def make_zip(path: Path, entries: list[tuple[str, bytes, int]]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data, unix_mode in entries:
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 2, 3, 4, 6))
            info.create_system = 3
            info.external_attr = unix_mode << 16
            zf.writestr(info, data)
    return path


def tree(root: Path) -> dict[str, str]:
    """Relative path -> 'dir' | 'link:<target>' | file content, for comparisons."""
    out: dict[str, str] = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_symlink():
            out[rel] = "link:" + os.readlink(p)
        elif p.is_dir():
            out[rel] = "dir"
        else:
            out[rel] = p.read_text()
    return out


def only_input_left(tmp_path: Path, *inputs: Path) -> None:
    assert sorted(tmp_path.iterdir()) == sorted(inputs), "partial output or temp dir left behind"


BASIC: list[Entry] = [
    ("pkg-1.0", "dir", b"", 0o755),
    ("pkg-1.0/setup.py", "file", b"setup", 0o4777),
    ("pkg-1.0/src/a.c", "file", b"int a;", 0o600),
    ("pkg-1.0/src/link.c", "symlink", "a.c", 0o777),
    ("pkg-1.0/src/hard.c", "hardlink", "pkg-1.0/src/a.c", 0o644),
]


@pytest.mark.parametrize(
    ("suffix", "mode"), [("tar", "w"), ("tar.gz", "w:gz"), ("tar.bz2", "w:bz2"), ("tar.xz", "w:xz")]
)
def test_tar_formats_unwrap_single_top_dir(tmp_path: Path, suffix: str, mode: str) -> None:
    archive = make_tar(tmp_path / f"a.{suffix}", BASIC, mode)
    unpack(archive, tmp_path / "out")
    assert tree(tmp_path / "out") == {
        "setup.py": "setup",
        "src": "dir",
        "src/a.c": "int a;",
        "src/hard.c": "int a;",
        "src/link.c": "link:a.c",
    }
    assert not (tmp_path / "out" / "src" / "hard.c").samefile(tmp_path / "out" / "src" / "a.c")


def test_modes_are_normalized_and_mtime_kept(tmp_path: Path) -> None:
    unpack(make_tar(tmp_path / "a.tar", BASIC), tmp_path / "out")
    setup = (tmp_path / "out" / "setup.py").stat()
    assert stat.S_IMODE(setup.st_mode) == 0o755  # setuid and world-write dropped, executable kept
    assert stat.S_IMODE((tmp_path / "out" / "src" / "a.c").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "out" / "src").stat().st_mode) == 0o755
    assert setup.st_mtime == 1_600_000_000


def test_format_detected_by_content_not_suffix(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "misnamed.zip", BASIC, "w:gz")
    assert detect_format(archive) == "tar"
    zipped = make_zip(tmp_path / "misnamed.tar.gz", [("x/y.txt", b"y", 0o100644)])
    assert detect_format(zipped) == "zip"
    (tmp_path / "junk.tar").write_bytes(b"not an archive" * 100)
    with pytest.raises(UnpackError, match=r"junk.tar: not a tar .* or zip archive"):
        detect_format(tmp_path / "junk.tar")
    with pytest.raises(UnpackError, match=r"missing.tar: cannot read"):
        unpack(tmp_path / "missing.tar", tmp_path / "out")


def test_zip_with_modes_and_symlink(tmp_path: Path) -> None:
    archive = make_zip(
        tmp_path / "a.zip",
        [
            ("top/", b"", 0o40755),
            ("top/run.sh", b"#!/bin/sh", 0o100775),
            ("top/data.txt", b"d", 0o100600),
            ("top/ln", b"data.txt", 0o120777),
        ],
    )
    unpack(archive, tmp_path / "out")
    assert tree(tmp_path / "out") == {"data.txt": "d", "ln": "link:data.txt", "run.sh": "#!/bin/sh"}
    assert stat.S_IMODE((tmp_path / "out" / "run.sh").stat().st_mode) == 0o755


def test_no_unwrap_when_several_top_level_entries(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "a.tar", [("a/x", "file", b"x", 0o644), ("b", "file", b"b", 0o644)])
    unpack(archive, tmp_path / "out")
    assert tree(tmp_path / "out") == {"a": "dir", "a/x": "x", "b": "b"}


def test_no_unwrap_of_single_top_level_file(tmp_path: Path) -> None:
    unpack(make_tar(tmp_path / "a.tar", [("only.txt", "file", b"o", 0o644)]), tmp_path / "out")
    assert tree(tmp_path / "out") == {"only.txt": "o"}


def test_explicit_extract_dir(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "a.tar", [("one/a", "file", b"1", 0o644), ("two/sub/b", "file", b"2", 0o644)])
    unpack(archive, tmp_path / "out", extract_dir="two")
    assert tree(tmp_path / "out") == {"sub": "dir", "sub/b": "2"}
    with pytest.raises(UnpackError, match="extract_dir 'three' is not a directory in the archive"):
        unpack(archive, tmp_path / "out2", extract_dir="three")
    assert not (tmp_path / "out2").exists()


def test_output_may_be_an_existing_empty_dir_but_not_a_full_one(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "a.tar", BASIC)
    (tmp_path / "out").mkdir()
    unpack(archive, tmp_path / "out")
    assert (tmp_path / "out" / "setup.py").is_file()
    with pytest.raises(UnpackError, match="output exists and is not an empty directory"):
        unpack(archive, tmp_path / "out")


HOSTILE_TARS: list[tuple[list[Entry], str, str]] = [
    ([("ok.txt", "file", b"", 0o644), ("../x", "file", b"x", 0o644)], "../x", "'..' in path refused"),
    ([("a/../../x", "file", b"x", 0o644)], "a/../../x", "'..' in path refused"),
    ([("/etc/x", "file", b"x", 0o644)], "/etc/x", "absolute path refused"),
    ([("d/ok", "file", b"", 0o644), ("d/l", "symlink", "../../outside", 0o777)], "d/l", "escapes the tree"),
    ([("l", "symlink", "/etc/passwd", 0o777)], "l", "symlink to '/etc/passwd' escapes the tree"),
    ([("h", "hardlink", "../../outside", 0o644)], "h", "hardlink to '../../outside' escapes the tree"),
    ([("h", "hardlink", "/etc/passwd", 0o644)], "h", "hardlink to '/etc/passwd' escapes the tree"),
    ([("dev", "chr", "", 0o644)], "dev", "device files"),
    ([("fifo", "fifo", "", 0o644)], "fifo", "device files"),
    (
        [("ok", "file", b"x", 0o644), ("l", "symlink", ".", 0o777), ("l/evil", "file", b"x", 0o644)],
        "l/evil",
        "written through the symlink 'l'",
    ),
]


@pytest.mark.parametrize(("entries", "member", "reason"), HOSTILE_TARS)
def test_hostile_tar_is_refused_without_partial_output(
    tmp_path: Path, entries: list[Entry], member: str, reason: str
) -> None:
    archive = make_tar(tmp_path / "evil.tar", entries)
    with pytest.raises(UnpackError) as info:
        unpack(archive, tmp_path / "out")
    message = str(info.value)
    assert str(archive) in message and repr(member) in message and reason in message, message
    only_input_left(tmp_path, archive)
    assert not (tmp_path.parent / "outside").exists() and not (tmp_path / "x").exists()


def test_hardlink_escaping_extract_dir_is_refused(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "a.tar", [("secret", "file", b"s", 0o644), ("top/h", "hardlink", "secret", 0o644)])
    with pytest.raises(UnpackError, match=r"member 'top/h': hardlink to 'secret' escapes 'top'"):
        unpack(archive, tmp_path / "out", extract_dir="top")
    only_input_left(tmp_path, archive)


@pytest.mark.parametrize("reverse", [False, True])
def test_symlink_chain_escaping_physically_is_refused(tmp_path: Path, reverse: bool) -> None:
    # 'x -> .' is inside; 'a -> x/..' looks inside lexically but resolves to the parent of the tree.
    entries: list[Entry] = [("x", "symlink", ".", 0o777), ("a", "symlink", "x/..", 0o777)]
    archive = make_tar(tmp_path / "a.tar", entries[::-1] if reverse else entries)
    with pytest.raises(UnpackError, match=r"member 'a': symlink to 'x/\.\.' escapes the tree"):
        unpack(archive, tmp_path / "out")
    only_input_left(tmp_path, archive)


@pytest.mark.parametrize(
    ("name", "reason"), [("../evil.txt", "'..' in path refused"), ("/abs.txt", "absolute path refused")]
)
def test_hostile_zip_is_refused(tmp_path: Path, name: str, reason: str) -> None:
    archive = make_zip(tmp_path / "evil.zip", [("good.txt", b"g", 0o100644), (name, b"x", 0o100644)])
    with pytest.raises(UnpackError, match=reason) as info:
        unpack(archive, tmp_path / "out")
    assert repr(name) in str(info.value)
    only_input_left(tmp_path, archive)


def test_zip_symlink_escaping_is_refused(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "evil.zip", [("ln", b"../../etc", 0o120777)])
    with pytest.raises(UnpackError, match="symlink to '../../etc' escapes the tree"):
        unpack(archive, tmp_path / "out")
    only_input_left(tmp_path, archive)


def test_truncated_archive_leaves_nothing(tmp_path: Path) -> None:
    good = make_tar(tmp_path / "good.tar.gz", [("a/big", "file", os.urandom(200_000), 0o644)], "w:gz")
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(good.read_bytes()[:50_000])
    with pytest.raises(UnpackError, match="bad.tar.gz"):
        unpack(bad, tmp_path / "out")
    only_input_left(tmp_path, good, bad)


def test_cli_success_and_failure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    archive = make_tar(tmp_path / "a.tar", BASIC)
    assert main(["--archive", str(archive), "--output", str(tmp_path / "out"), "--extract-dir", "pkg-1.0"]) == 0
    assert (tmp_path / "out" / "src" / "a.c").read_text() == "int a;"
    evil = make_tar(tmp_path / "evil.tar", [("../x", "file", b"x", 0o644)])
    assert main(["--archive", str(evil), "--output", str(tmp_path / "out2")]) == 1
    assert "'..' in path refused" in capsys.readouterr().err
    assert not (tmp_path / "out2").exists()


def test_cli_runs_as_module(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "a.tar", BASIC)
    out = tmp_path / "out"
    subprocess.run(
        [sys.executable, "-m", "rules_pyodide.unpack", "--archive", str(archive), "--output", str(out)], check=True
    )
    assert (out / "setup.py").read_text() == "setup"
