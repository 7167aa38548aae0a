"""`rules-pyodide pack`: filters (rules_pyodide.pack_filter) and packing files, directories, environments and index
packages (rules_pyodide.pack). The environment and index packs are loaded into Pyodide 0.21.3 and imported."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from pyodide_runner import run_in_pyodide, site_packages
from recipes_dist import recipes_dist as build_recipes_dist

from rules_pyodide import pack, pack_filter

REPO = Path(__file__).resolve().parent.parent
PY = sys.executable


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PY, "-m", "rules_pyodide.cli", "pack", *map(str, args)], capture_output=True, text=True, check=False
    )


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def recipes_dist() -> Path:
    return build_recipes_dist()


# --- filters ----------------------------------------------------------------------------------------------------------


def test_default_filter_drops_tests_caches_stubs_and_docs_and_keeps_metadata() -> None:
    config = pack_filter.load(None)
    paths = [
        "pkg/__init__.py",
        "pkg/core.py",
        "pkg/tests/test_core.py",
        "pkg/__pycache__/core.cpython-310.pyc",
        "pkg/core.pyi",
        "pkg/py.typed",
        "pkg/docs/index.html",
        "pkg/README.md",
        "pkg/_speedups.c",
        "pkg-stubs/__init__.pyi",
        "pkg-1.0.dist-info/METADATA",
        "pkg-1.0.dist-info/licenses/LICENSE.md",
    ]
    report = pack_filter.FilterReport(config.source)
    kept = pack_filter.apply(config, "pkg", paths, report)
    assert kept == [
        "pkg-1.0.dist-info/METADATA",
        "pkg-1.0.dist-info/licenses/LICENSE.md",
        "pkg/__init__.py",
        "pkg/core.py",
    ]
    removed = report.packages["pkg"].removed
    assert removed["tests"] == ["pkg/tests/test_core.py"]
    assert removed["__pycache__"] == ["pkg/__pycache__/core.cpython-310.pyc"]
    assert removed["*.pyi"] == ["pkg-stubs/__init__.pyi", "pkg/core.pyi"]
    assert removed["docs"] == ["pkg/docs/index.html"]
    assert report.to_json()["packages"]["pkg"]["kept"] == 4


def test_patterns_per_package_regex_and_include(tmp_path: Path) -> None:
    config = pack_filter.parse(
        "default:\n  exclude: ['*.txt']\n  include: ['keep/*']\n"
        "packages:\n  My_Pkg:\n    exclude: ['re:my_pkg/data/[0-9]+\\.bin', 'my_pkg/big/*']\n",
        "f.yaml",
    )
    paths = ["a.txt", "keep/b.txt", "my_pkg/data/1.bin", "my_pkg/data/x.bin", "my_pkg/big/deep/c.py"]
    assert pack_filter.apply(config, "other", paths) == [
        "keep/b.txt",
        "my_pkg/big/deep/c.py",
        "my_pkg/data/1.bin",
        "my_pkg/data/x.bin",
    ]
    assert pack_filter.apply(config, "my-pkg", paths) == ["keep/b.txt", "my_pkg/data/x.bin"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("default:\n  exclude: [tests\n", "bad.yaml:3:1: not valid YAML"),
        ("defaults: {}\n", "bad.yaml: unknown key 'defaults'"),
        ("default:\n  exclude: tests\n", "bad.yaml: default.exclude: expected a list of patterns, got str"),
        ("default:\n  exlude: [a]\n", "bad.yaml: default: unknown key 'exlude'"),
        ("packages:\n  six:\n    include: ['re:(']\n", "bad.yaml: packages.six.include[0]: 're:(' is not a valid"),
        ("packages:\n  six:\n    exclude: [1]\n", "bad.yaml: packages.six.exclude[0]: expected a non-empty string"),
        ("- a\n", "bad.yaml: expected a mapping"),
    ],
)
def test_malformed_filter_files_name_the_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(pack_filter.FilterConfigError) as err:
        pack_filter.load(bad)
    assert str(err.value).startswith(str(tmp_path / message.split(":", 1)[0]) + ":" + message.split(":", 1)[1])


def test_cli_malformed_filter_is_one_line_error_and_writes_nothing(tmp_path: Path) -> None:
    bad = write(tmp_path, {"bad.yaml": "default:\n  exclude: {a: 1}\n", "src/a.py": "x = 1\n"})
    proc = cli("dir", bad / "src", "--name", "p", "--output", tmp_path / "out", "--filters", bad / "bad.yaml")
    assert proc.returncode == 1
    assert (
        proc.stderr.strip()
        == f"rules-pyodide pack: error: {bad / 'bad.yaml'}: default.exclude: expected a list of patterns, got dict"
    )
    assert not (tmp_path / "out").exists()


# --- file and dir -----------------------------------------------------------------------------------------------------


def test_pack_dir_and_file_write_packages_manifest_and_report(tmp_path: Path) -> None:
    src = write(
        tmp_path / "src",
        {"app/__init__.py": "", "app/tests/test_a.py": "", "app/data/x.json": "{}", "app/__pycache__/a.pyc": ""},
    )
    proc = cli("dir", src, "--name", "site", "--prefix", "/home/pyodide", "--output", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((tmp_path / "out/pack.json").read_text())
    assert manifest["files"] == ["/home/pyodide/app/__init__.py", "/home/pyodide/app/data/x.json"]
    assert manifest["packages"] == [{"name": "site", "version": "", "files": 2, "size": 2, "removed": 2}]
    report = json.loads((tmp_path / "out/filter-report.json").read_text())
    assert report["packages"]["site"]["removed"] == {
        "__pycache__": ["app/__pycache__/a.pyc"],
        "tests": ["app/tests/test_a.py"],
    }
    assert "tests" in proc.stdout and "__pycache__" in proc.stdout  # the per-pattern table
    # `pack file` into the same output replaces what an earlier pack wrote
    result = pack.pack_files([src / "app/data/x.json"], tmp_path / "out", "one", prefix="/data")
    assert result.manifest["files"] == ["/data/x.json"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "filter-report.json",
        "one.data",
        "one.js",
        "pack.json",
    ]


def test_pack_refuses_foreign_output_and_bad_input(tmp_path: Path) -> None:
    src = write(tmp_path / "src", {"a.py": ""})
    write(tmp_path / "mine", {"important.txt": "keep me"})
    proc = cli("dir", src, "--name", "p", "--output", tmp_path / "mine")
    assert proc.returncode == 1 and "not empty and was not written by a pack run" in proc.stderr
    assert (tmp_path / "mine/important.txt").read_text() == "keep me"
    proc = cli("dir", tmp_path / "missing", "--name", "p", "--output", tmp_path / "o")
    assert proc.returncode == 1 and f"{tmp_path / 'missing'}: not a directory" in proc.stderr
    proc = cli("dir", src, "--name", "../p", "--output", tmp_path / "o")
    assert proc.returncode == 1 and "--name: '../p' must be a plain file name" in proc.stderr
    proc = cli("file", src / "a.py", "--name", "p", "--prefix", "rel", "--output", tmp_path / "o")
    assert proc.returncode == 1 and "--prefix: 'rel' must be an absolute path" in proc.stderr
    assert not (tmp_path / "o").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_pack_index_refuses_unknown_packages_and_unsafe_wheels(tmp_path: Path) -> None:
    wheel = tmp_path / "evil-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("../escape.py", "x = 1\n")
    evil: dict[str, Any] = {
        "name": "evil",
        "version": "1.0",
        "file_name": wheel.name,
        "install_dir": "site",
        "sha256": "0" * 64,
        "depends": ["ghost"],
        "imports": [],
    }
    index = {
        "info": {"arch": "wasm32", "platform": "emscripten_3_1_14", "version": "0.21.3", "python": "3.10.2"},
        "packages": {"evil": evil},
    }
    (tmp_path / "repodata.json").write_text(json.dumps(index))
    proc = cli("index", tmp_path / "repodata.json", "--name", "b", "--package", "nope", "--output", tmp_path / "o")
    assert proc.returncode == 1 and "package 'nope' is not in the index" in proc.stderr
    proc = cli("index", tmp_path / "repodata.json", "--name", "b", "--output", tmp_path / "o")
    assert proc.returncode == 1 and "package 'ghost' (a dependency of evil) is not in the index" in proc.stderr
    evil["depends"] = []
    (tmp_path / "repodata.json").write_text(json.dumps(index))
    proc = cli("index", tmp_path / "repodata.json", "--name", "b", "--output", tmp_path / "o")
    assert proc.returncode == 1 and "'../escape.py' is not a relative path inside the package" in proc.stderr
    assert not (tmp_path / "o").exists()


# --- env and index, loaded into Pyodide -------------------------------------------------------------------------------

IMPORTS = {
    "arrow": "arrow",
    "attrs": "attrs",
    "idna": "idna",
    "six": "six",
    "toolz": "toolz",
    "packaging": "packaging",
    "python-dateutil": "dateutil.tz",
    "pluggy": "pluggy",
    "iniconfig": "iniconfig",
    "markupsafe": "markupsafe._speedups",  # compiled: its .so is loaded by loadFilePackage
}


def import_code(names: list[str]) -> str:
    modules = [IMPORTS[n] for n in names]
    return (
        "import importlib, importlib.metadata\n"
        f"mods = [importlib.import_module(m) for m in {modules!r}]\n"
        f"{{n: importlib.metadata.version(n) for n in {names!r}}}\n"
    )


@pytest.mark.pyodide
@pytest.mark.bazel
def test_pack_env_of_a_real_environment_loads_in_pyodide(tmp_path: Path, recipes_dist: Path) -> None:
    # A `pip install --target` environment for Pyodide 0.21.3 (CPython 3.10, emscripten 3.1.14): the dist's pure
    # wheels and its compiled ones, as pip installs them (with host __pycache__ that the filter drops).
    target = tmp_path / "site-packages"
    # Not the packages that need a shared library package (xxhash: libxxhash.so), which is no wheel: pip's environment
    # cannot hold it, and the extension does not load without it.
    index = json.loads((recipes_dist / "repodata.json").read_text())["packages"]
    shared = {name for name, entry in index.items() if entry.get("shared_library")}
    needs_shared = {entry["file_name"] for entry in index.values() if shared & set(entry.get("depends", []))}
    assert needs_shared, "the dist should have a package using a shared library (xxhash)"
    wheels = sorted(w for w in recipes_dist.glob("*.whl") if w.name not in needs_shared)
    platform = ["--platform", "emscripten_3_1_14_wasm32", "--python-version", "3.10", "--implementation", "cp"]
    pip = [PY, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--target", str(target), *platform]
    pip += ["--abi", "cp310", "--only-binary=:all:", "--no-index", "--no-deps"]
    subprocess.run([*pip, *map(str, wheels)], check=True, capture_output=True)
    proc = cli("env", target, "--python", "3.10", "--output", tmp_path / "env")
    assert proc.returncode == 0, proc.stderr
    env = json.loads((tmp_path / "env/env.json").read_text())
    assert env["site_packages"] == site_packages("0.21.3")
    names = [p["name"] for p in env["packages"]]
    assert len(names) == len(wheels) >= 10
    assert names.index("six") < names.index("python-dateutil") < names.index("arrow")  # dependencies first
    assert sum(p["removed"] for p in env["packages"]) > len(names)  # host __pycache__, stubs, ...
    stubs = next(p for p in env["packages"] if p["name"] == "types-python-dateutil")
    assert stubs["files"] < 10  # only its dist-info is left
    chosen = [n for n in names if n in IMPORTS]
    js = [tmp_path / "env" / p["js"] for p in env["packages"]]
    run = run_in_pyodide("0.21.3", js, import_code(chosen))
    versions = {p["name"]: p["version"] for p in env["packages"]}
    assert run.result == {n: versions[n] for n in chosen}
    files = {f for loaded in run.packages for f in loaded.files}
    assert not [f for f in files if "/tests/" in f or "__pycache__" in f or f.endswith(".pyi")]
    libraries = [lib for loaded in run.packages for lib in loaded.shared_libraries]
    assert ("markupsafe" in names) == any("/markupsafe/_speedups." in lib for lib in libraries)


@pytest.mark.pyodide
@pytest.mark.bazel
def test_pack_index_of_our_dist_loads_in_pyodide(tmp_path: Path, recipes_dist: Path) -> None:
    out = tmp_path / "bundle"
    result = pack.pack_index(
        recipes_dist / "repodata.json", out, "deps", packages=["arrow", "toolz"], filters=pack_filter.load(None)
    )
    names = [p.name for p in result.packages]
    assert names == ["arrow", "python-dateutil", "six", "toolz", "types-python-dateutil"]
    run = run_in_pyodide("0.21.3", [out / "deps.js"], import_code(["arrow", "python-dateutil", "six", "toolz"]))
    assert run.result == {"arrow": "1.3.0", "python-dateutil": "2.9.0.post0", "six": "1.17.0", "toolz": "1.0.0"}
    assert not [f for f in run.packages[0].files if f.endswith(".pyi")]
