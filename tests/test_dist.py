"""Unit tests for rules_pyodide.dist: package directory = files + index files merged from fragments."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pyodide_lock import PyodideLockSpec

from rules_pyodide.dist import main
from rules_pyodide.index import fragment_to_json, make_fragment
from rules_pyodide.outputs import sha256_file


def package(root: Path, name: str, depends: tuple[str, ...] = ()) -> tuple[Path, Path]:
    wheel = root / "files" / f"{name}-1.0-py3-none-any.whl"
    wheel.parent.mkdir(parents=True, exist_ok=True)
    wheel.write_bytes(name.encode())
    fragment = root / "fragments" / f"{name}.json"
    fragment.parent.mkdir(parents=True, exist_ok=True)
    frag = make_fragment(name, "1.0", wheel.name, sha256_file(wheel), depends=depends, imports=[name])
    fragment.write_text(fragment_to_json(frag))
    return wheel, fragment


PROFILE = ["--platform", "emscripten_3_1_14", "--pyodide-version", "0.21.3", "--python", "3.10.2"]


def test_dist_writes_three_valid_indexes_and_copies_files(tmp_path: Path) -> None:
    a_wheel, a_frag = package(tmp_path, "a", ("b",))
    b_wheel, b_frag = package(tmp_path, "b")
    extra = tmp_path / "files" / "a.data"
    extra.write_bytes(b"data")
    args = [*PROFILE, "--output", str(tmp_path / "dist"), "--fragment", str(a_frag), "--fragment", str(b_frag)]
    assert main([*args, "--file", str(a_wheel), "--file", str(b_wheel), "--file", str(extra)]) == 0
    dist = tmp_path / "dist"
    assert sorted(p.name for p in dist.iterdir()) == sorted(
        [a_wheel.name, b_wheel.name, "a.data", "packages.json", "repodata.json", "pyodide-lock.json"]
    )
    repodata = json.loads((dist / "repodata.json").read_text())
    assert repodata["info"] == {
        "arch": "wasm32",
        "platform": "emscripten_3_1_14",
        "version": "0.21.3",
        "python": "3.10.2",
    }
    assert repodata["packages"]["a"]["depends"] == ["b"]
    lock = PyodideLockSpec.from_json(dist / "pyodide-lock.json")
    lock.check_wheel_filenames()
    assert lock.packages["a"].sha256 == sha256_file(dist / a_wheel.name)
    assert json.loads((dist / "packages.json").read_text())["info"] == {
        "arch": "wasm32",
        "platform": "emscripten_3_1_14",
    }


def test_missing_file_and_missing_dependency_are_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a_wheel, a_frag = package(tmp_path, "a", ("b",))
    assert main([*PROFILE, "--output", str(tmp_path / "d1"), "--fragment", str(a_frag)]) == 1
    assert f"file '{a_wheel.name}' is not among the files" in capsys.readouterr().err
    assert main([*PROFILE, "--output", str(tmp_path / "d2"), "--fragment", str(a_frag), "--file", str(a_wheel)]) == 1
    assert "depends on 'b', which is not in the index" in capsys.readouterr().err
    assert not (tmp_path / "d1").exists() and not (tmp_path / "d2").exists()


def test_two_files_with_one_name_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    one, two = tmp_path / "x" / "f.whl", tmp_path / "y" / "f.whl"
    for path in (one, two):
        path.parent.mkdir()
        path.write_bytes(b"")
    assert main([*PROFILE, "--output", str(tmp_path / "d"), "--file", str(one), "--file", str(two)]) == 1
    assert "would both be f.whl" in capsys.readouterr().err
