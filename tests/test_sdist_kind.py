"""Unit tests for rules_pyodide.sdist_kind: compiled or pure, from an sdist's member names and its setup files."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from rules_pyodide.sdist_kind import KindError, classify, classify_archive, classify_tree


@pytest.mark.parametrize(
    ("files", "compiled", "reason"),
    [
        ({"pkg/__init__.py": ""}, False, "no compiled-language sources"),
        ({"src/pkg/_speed.c": ""}, True, "src/pkg/_speed.c is a compiled-language source file"),
        ({"pkg/core.cpp": ""}, True, "pkg/core.cpp"),
        ({"pkg/core.pyx": ""}, True, "pkg/core.pyx"),
        ({"pkg/lapack.f90": ""}, True, "pkg/lapack.f90"),
        ({"pkg/tests/fixture.c": "", "docs/example.c": "", "benchmarks/b.cc": ""}, False, "no compiled"),
        ({"pkg/include/pkg.h": ""}, False, "no compiled"),  # headers alone compile nothing
        ({"setup.py": "setup(ext_modules=cythonize('x'))"}, True, "setup.py declares extension modules (ext_modules)"),
        ({"setup.py": "Extension ('a', ['gen/a.c'])"}, True, "(Extension ()"),
        ({"setup.py": "setup(cffi_modules=['build.py:ffi'])"}, True, "(cffi_modules)"),
        ({"setup.py": "from setuptools import setup\nsetup()"}, False, "no compiled"),
        ({"pyproject.toml": '[build-system]\nbuild-backend = "mesonpy"\n'}, True, "build-backend mesonpy compiles"),
        ({"pyproject.toml": "build-backend = 'scikit_build_core.build'"}, True, "scikit_build_core.build"),
        ({"pyproject.toml": '[build-system]\nbuild-backend = "hatchling.build"\n'}, False, "no compiled"),
        ({"Cargo.toml": ""}, True, "Cargo.toml: a Rust extension"),
    ],
)
def test_rule(files: dict[str, str], compiled: bool, reason: str) -> None:
    kind = classify(files, lambda name: files.get(name))
    assert kind.compiled is compiled and reason in kind.reason


def test_archives_and_trees(tmp_path: Path) -> None:
    files = {"setup.py": "setup(ext_modules=[])", "pkg/__init__.py": ""}
    with tarfile.open(tmp_path / "a-1.tar.gz", "w:gz") as tar:
        for name, text in files.items():
            info = tarfile.TarInfo(f"./a-1/{name}")
            info.size = len(text)
            tar.addfile(info, io.BytesIO(text.encode()))
    with zipfile.ZipFile(tmp_path / "a-1.zip", "w") as zf:
        for name, text in files.items():
            zf.writestr(f"a-1/{name}", text)
    for archive in ("a-1.tar.gz", "a-1.zip"):
        assert classify_archive(tmp_path / archive).reason == "setup.py declares extension modules (ext_modules)"
    tree = tmp_path / "tree"
    (tree / "pkg").mkdir(parents=True)
    (tree / "pkg" / "__init__.py").write_text("")
    assert not classify_tree(tree).compiled
    (tree / "pkg" / "_x.cc").write_text("")
    assert classify_tree(tree).reason == "pkg/_x.cc is a compiled-language source file"
    (tmp_path / "bad.tar.gz").write_bytes(b"not an archive")
    with pytest.raises(KindError, match="bad.tar.gz: cannot read the archive"):
        classify_archive(tmp_path / "bad.tar.gz")
