"""Unit tests for rules_pyodide.pure_build: real PEP 517 builds (flit_core, setuptools) of tiny projects, offline."""

from __future__ import annotations

import json
import tarfile
import zipfile
from pathlib import Path

import pytest

from rules_pyodide.pure_build import main

FLIT_PYPROJECT = """\
[build-system]
requires = ["flit_core>=3.2,<4"]
build-backend = "flit_core.buildapi"

[project]
name = "Tiny.Pkg"
version = "1.0"
description = "tiny"

[tool.flit.module]
name = "tiny_pkg"
"""

SETUPTOOLS_PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "tiny_pkg"
version = "1.0"

[tool.setuptools.packages.find]
include = ["tiny_pkg*"]
"""


def project(root: Path, pyproject: str) -> Path:
    pkg = root / "src" / "tiny_pkg"
    (pkg / "tests").mkdir(parents=True)
    (root / "src" / "pyproject.toml").write_text(pyproject)
    (pkg / "__init__.py").write_text('"""tiny"""\nVALUE = 1\n')
    (pkg / "tests" / "__init__.py").write_text("")
    (pkg / "tests" / "test_value.py").write_text("def test_value():\n    assert True\n")
    (pkg / "helper_test.py").write_text("")
    return root / "src"


def build(src: Path, out: Path, *extra: str, name: str = "tiny-pkg", version: str = "1.0") -> int:
    return main(
        [
            *("--source", str(src), "--name", name, "--version", version),
            *("--wheel", str(out / "tiny_pkg-1.0-py3-none-any.whl"), "--site", str(out / "site")),
            *("--tests", str(out / "tests"), "--fragments", str(out / "fragments"), "--imports", "tiny_pkg"),
            *extra,
        ]
    )


@pytest.mark.parametrize("pyproject", [FLIT_PYPROJECT, SETUPTOOLS_PYPROJECT], ids=["flit_core", "setuptools"])
def test_build_unvendors_tests_and_is_deterministic(tmp_path: Path, pyproject: str) -> None:
    src = project(tmp_path, pyproject)
    assert build(src, tmp_path / "a", "--unvendor-tests", "--depends", "six") == 0
    assert build(src, tmp_path / "b", "--unvendor-tests", "--depends", "six") == 0
    wheel_a = (tmp_path / "a" / "tiny_pkg-1.0-py3-none-any.whl").read_bytes()
    assert wheel_a == (tmp_path / "b" / "tiny_pkg-1.0-py3-none-any.whl").read_bytes()
    with zipfile.ZipFile(tmp_path / "a" / "tiny_pkg-1.0-py3-none-any.whl") as zf:
        names = zf.namelist()
        assert names[0] == "tiny_pkg/__init__.py" and names[-1].endswith(".dist-info/RECORD")
        assert not any("tests/" in n or n.endswith("_test.py") for n in names)
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        wheel = zf.read(next(n for n in names if n.endswith(".dist-info/WHEEL"))).decode()
        record = zf.read(names[-1]).decode()
    assert "Tag: py3-none-any" in wheel and wheel.count("Tag:") == 1
    assert "tiny_pkg/__init__.py,sha256=" in record and "test_value" not in record
    site = tmp_path / "a" / "site"
    assert (site / "tiny_pkg" / "__init__.py").is_file() and not (site / "tiny_pkg" / "tests").exists()
    with tarfile.open(tmp_path / "a" / "tests" / "tiny-pkg-tests.tar") as tar:
        assert sorted(tar.getnames()) == [
            "tiny_pkg",
            "tiny_pkg/helper_test.py",
            "tiny_pkg/tests",
            "tiny_pkg/tests/__init__.py",
            "tiny_pkg/tests/test_value.py",
        ]
    fragments = {p.name: json.loads(p.read_text()) for p in (tmp_path / "a" / "fragments").iterdir()}
    assert fragments["tiny-pkg.json"]["unvendored_tests"] is True
    assert fragments["tiny-pkg.json"]["depends"] == ["six"]
    assert fragments["tiny-pkg-tests.json"]["depends"] == ["tiny-pkg"]
    assert fragments["tiny-pkg-tests.json"]["file_name"] == "tiny-pkg-tests.tar"


def test_without_unvendor_tests_the_tests_stay(tmp_path: Path) -> None:
    src = project(tmp_path, FLIT_PYPROJECT)
    assert build(src, tmp_path / "o") == 0
    assert (tmp_path / "o" / "site" / "tiny_pkg" / "tests" / "test_value.py").is_file()
    assert list((tmp_path / "o" / "tests").iterdir()) == []
    assert [p.name for p in (tmp_path / "o" / "fragments").iterdir()] == ["tiny-pkg.json"]


@pytest.mark.parametrize(
    ("name", "version", "message"),
    [
        ("other", "1.0", "METADATA names 'Tiny.Pkg', not the recipe's 'other'"),
        ("tiny-pkg", "2.0", "METADATA has version '1.0', the recipe '2.0'"),
    ],
)
def test_metadata_must_match_the_recipe(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, version: str, message: str
) -> None:
    src = project(tmp_path, FLIT_PYPROJECT)
    assert build(src, tmp_path / "o", name=name, version=version) == 1
    assert message in capsys.readouterr().err


def test_backend_failure_names_the_package(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = project(tmp_path, FLIT_PYPROJECT.replace("flit_core.buildapi", "no_such_backend.api"))
    assert build(src, tmp_path / "o") == 1
    err = capsys.readouterr().err
    assert "tiny-pkg: the PEP 517 build failed" in err and "no_such_backend" in err


EXT_SETUP = """\
from setuptools import Extension, setup
{prelude}
setup(name="tiny_pkg", version="1.0", packages=["tiny_pkg"],
      ext_modules=[Extension("tiny_pkg._speed", ["tiny_pkg/_speed.c"])]{cmdclass})
"""

# An optional extension, as MarkupSafe 2.1 has: a failed compile is caught and the build goes on, pure.
OPTIONAL_BUILD_EXT = """\
from setuptools.command.build_ext import build_ext

class optional(build_ext):
    def run(self):
        try:
            build_ext.run(self)
        except Exception:
            pass
"""


@pytest.mark.parametrize("optional", [False, True], ids=["required", "optional-extension"])
def test_host_compilers_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], optional: bool) -> None:
    src = tmp_path / "src"
    (src / "tiny_pkg").mkdir(parents=True)
    (src / "tiny_pkg" / "__init__.py").write_text("")
    (src / "tiny_pkg" / "_speed.c").write_text("int x;\n")
    (src / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
    )
    prelude, cmdclass = (OPTIONAL_BUILD_EXT, ', cmdclass={"build_ext": optional}') if optional else ("", "")
    (src / "setup.py").write_text(EXT_SETUP.format(prelude=prelude, cmdclass=cmdclass))
    assert build(src, tmp_path / "o", "--meta", "packages/tiny-pkg/meta.yaml") == 1
    err = capsys.readouterr().err
    assert err.startswith(
        "rules-pyodide pure-build: error: packages/tiny-pkg/meta.yaml: "
        "tiny-pkg: the pure-Python build ran a host compiler ("
    )
    assert "tiny_pkg/_speed.c" in err and err.count("\n") == 1, err
    assert not (tmp_path / "o" / "tiny_pkg-1.0-py3-none-any.whl").exists()
    assert not any((tmp_path / "o" / "site").iterdir())


def test_a_wheel_with_a_shared_object_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = project(tmp_path, SETUPTOOLS_PYPROJECT + '\n[tool.setuptools.package-data]\ntiny_pkg = ["*.so"]\n')
    (src / "tiny_pkg" / "_prebuilt.cpython-311-x86_64-linux-gnu.so").write_bytes(b"\x7fELF")
    assert build(src, tmp_path / "o", "--meta", "packages/tiny-pkg/meta.yaml") == 1
    err = capsys.readouterr().err
    assert "packages/tiny-pkg/meta.yaml: tiny-pkg: tiny_pkg-1.0-py3-none-any.whl holds " in err
    assert "tiny_pkg/_prebuilt.cpython-311-x86_64-linux-gnu.so, a compiled module" in err and err.count("\n") == 1


def test_missing_executable_stops_the_build(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = project(tmp_path, FLIT_PYPROJECT)
    assert build(src, tmp_path / "o", "--executable", "no-such-tool-x", "--meta", "packages/t/meta.yaml") == 1
    err = capsys.readouterr().err
    assert err.startswith(
        "rules-pyodide pure-build: error: packages/t/meta.yaml: "
        "tiny-pkg: requirements.executable: 'no-such-tool-x' not found"
    )


def test_a_binary_under_any_name_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = project(tmp_path, SETUPTOOLS_PYPROJECT + '\n[tool.setuptools.package-data]\ntiny_pkg = ["*.bin"]\n')
    (src / "tiny_pkg" / "helper.bin").write_bytes(b"\x7fELF\x02\x01\x01")
    assert build(src, tmp_path / "o") == 1
    assert "holds tiny_pkg/helper.bin, a compiled module" in capsys.readouterr().err


def test_unmet_constraint_stops_the_build(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = project(tmp_path, FLIT_PYPROJECT)
    assert build(src, tmp_path / "o", "--constraint", "flit_core<1") == 1
    assert "tiny-pkg: requirements.constraint: 'flit_core<1' does not hold" in capsys.readouterr().err


def test_retain_test_patterns_keep_matching_test_files(tmp_path: Path) -> None:
    from rules_pyodide.pure_build import unvendor_tests

    site = tmp_path / "site"
    for rel in ("pkg/__init__.py", "pkg/tests/__init__.py", "pkg/tests/test_a.py", "pkg/tests/data/x.txt"):
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_text("")
    (site / "pkg" / "conftest.py").write_text("")
    moved = unvendor_tests(site, tmp_path / "tests", ["pkg/tests/__init__.py", "*/conftest.py"])
    kept = sorted(p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file())
    gone = sorted(p.relative_to(tmp_path / "tests").as_posix() for p in (tmp_path / "tests").rglob("*") if p.is_file())
    assert kept == ["pkg/__init__.py", "pkg/conftest.py", "pkg/tests/__init__.py"]
    assert gone == ["pkg/tests/data/x.txt", "pkg/tests/test_a.py"] and moved == 2
    assert not (site / "pkg" / "tests" / "data").exists()  # emptied test directories go
