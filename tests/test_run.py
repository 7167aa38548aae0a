"""`rules-pyodide run` (rules_pyodide.run): our dist's packages load through `loadPackage` in real Pyodide runtimes.

The dist is built here by hand: tiny pure-Python wheels (one depending on another) and index files written with
rules_pyodide.index, so these tests depend on no recipe and no Bazel output.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
from pyodide_runner import REPO_ROOT, runtime_dir

from rules_pyodide.index import dump_index, make_fragment, merge
from rules_pyodide.outputs import sha256_file
from rules_pyodide.run import (
    RunError,
    dist_fragments,
    find_runtime,
    make_index_dir,
    merged_index,
    resolve_packages,
    summary,
)

# Both ends of the range: the oldest runtime (repodata.json, its own wheel unpacker) and the newest (ESM,
# pyodide-lock.json with abi_version).
OLDEST, NEWEST = "0.21.3", "314.0.7"
INFO = {
    "repodata.json": {"arch": "wasm32", "platform": "emscripten_3_1_14", "version": "0.21.3", "python": "3.10.2"},
    "pyodide-lock.json": {"arch": "wasm32", "platform": "emscripten_3_1_14", "version": "0.21.3", "python": "3.10.2"},
}


def build_wheel(out_dir: Path, name: str, version: str, files: Mapping[str, str], requires: Sequence[str] = ()) -> Path:
    """A py3-none-any wheel holding `files` (path -> text) and a dist-info with METADATA, WHEEL and RECORD."""
    dist_info = f"{name}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    metadata += "".join(f"Requires-Dist: {r}\n" for r in requires)
    contents = {
        **files,
        f"{dist_info}/METADATA": metadata,
        f"{dist_info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test_run\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, text in contents.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    record.append(f"{dist_info}/RECORD,,")
    contents[f"{dist_info}/RECORD"] = "\n".join(record) + "\n"
    wheel = out_dir / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, text in contents.items():
            zf.writestr(zipfile.ZipInfo(path, (2020, 1, 1, 0, 0, 0)), text)
    return wheel


def make_dist(directory: Path, formats: Sequence[str] = ("repodata.json", "pyodide-lock.json")) -> Path:
    """alpha 1.0 (imports beta) -> beta 2.0; gamma 3.0 stands alone. Index files in `formats`."""
    directory.mkdir()
    wheels = {
        "alpha": build_wheel(
            directory,
            "alpha",
            "1.0",
            {"alpha/__init__.py": "import beta\n\n\ndef greet():\n    return 'alpha+' + beta.NAME\n"},
            requires=["beta"],
        ),
        "beta": build_wheel(directory, "beta", "2.0", {"beta/__init__.py": "NAME = 'beta 2.0'\n"}),
        "gamma": build_wheel(directory, "gamma", "3.0", {"gamma.py": "X = 3\n"}),
    }
    depends = {"alpha": ["beta"]}
    fragments = [
        (
            name,
            make_fragment(
                name,
                wheel.name.split("-")[1],
                wheel.name,
                sha256_file(wheel),
                depends=depends.get(name, []),
                imports=[name],
            ),
        )
        for name, wheel in wheels.items()
    ]
    for fmt in formats:
        (directory / fmt).write_text(dump_index(merge(fmt, INFO[fmt], fragments)), encoding="utf-8")
    return directory


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """`rules-pyodide run ARGS` in a fresh interpreter, as a user runs it."""
    command = [sys.executable, "-m", "rules_pyodide.cli", "run", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, timeout=300, check=False)


# ---------------------------------------------------------------------------------------------------------------------
# Without a runtime process


def test_merged_index_uses_the_runtime_format_and_info(tmp_path: Path) -> None:
    dist = make_dist(tmp_path / "dist", formats=("pyodide-lock.json",))
    for version, fmt in ((OLDEST, "repodata.json"), (NEWEST, "pyodide-lock.json")):
        runtime = find_runtime(version, None)
        assert runtime.index_file == fmt
        own = json.loads((runtime.directory / fmt).read_text())
        index = merged_index(runtime, dist_fragments(dist, fmt))
        assert index["info"] == own["info"]  # the loaders compare info.version (0.21-0.23) / abi_version (0.29+)
        assert index.keys() == own.keys()  # 314's `tool` table is kept
        assert index["packages"]["alpha"]["depends"] == ["beta"]
        assert index["packages"]["alpha"]["file_name"] == "alpha-1.0-py3-none-any.whl"
        assert own["packages"].keys() < index["packages"].keys()
        assert ("package_type" in index["packages"]["alpha"]) == (fmt == "pyodide-lock.json")


def test_dist_entries_replace_runtime_entries_of_the_same_name(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    wheel = build_wheel(dist, "Six", "99.0", {"six.py": "X = 1\n"})
    fragment = make_fragment("Six", "99.0", wheel.name, sha256_file(wheel), imports=["six"])
    (dist / "repodata.json").write_text(dump_index(merge("repodata.json", INFO["repodata.json"], [("six", fragment)])))
    runtime = find_runtime(OLDEST, None)
    index = merged_index(runtime, dist_fragments(dist, runtime.index_file))
    assert index["packages"]["six"]["version"] == "99.0"
    assert [k for k in index["packages"] if k.lower() == "six"] == ["six"]


def test_index_dir_links_runtime_and_dist_files(tmp_path: Path) -> None:
    dist = make_dist(tmp_path / "dist")
    runtime = find_runtime(NEWEST, None)
    index = merged_index(runtime, dist_fragments(dist, runtime.index_file))
    out = tmp_path / "index"
    out.mkdir()
    make_index_dir(runtime, dist, index, out)
    names = sorted(p.name for p in out.iterdir())
    assert "pyodide.asm.wasm" in names and "alpha-1.0-py3-none-any.whl" in names
    assert "repodata.json" not in names  # only the runtime's own index file, written, not linked
    assert not (out / "pyodide-lock.json").is_symlink()
    assert json.loads((out / "pyodide-lock.json").read_text()) == index
    assert (out / "pyodide.asm.wasm").resolve() == (runtime.directory / "pyodide.asm.wasm").resolve()


def test_resolve_packages_closure(tmp_path: Path) -> None:
    dist = make_dist(tmp_path / "dist")
    runtime = find_runtime(OLDEST, None)
    index = merged_index(runtime, dist_fragments(dist, runtime.index_file))
    assert resolve_packages(index, ["ALPHA"]) == (["alpha"], ["alpha", "beta"])
    with pytest.raises(RunError, match="--package nope: not in the dist nor in the runtime's index"):
        resolve_packages(index, ["nope"])


def test_bad_runtime_and_dist_errors(tmp_path: Path) -> None:
    with pytest.raises(RunError, match=r"Pyodide 0\.0\.1 is not installed at .*pyodide-0\.0\.1 .*run `make setup`"):
        find_runtime("0.0.1", None)
    with pytest.raises(RunError, match=r"package\.json: version: '0\.21\.3', but --pyodide asked for '314\.0\.7'"):
        find_runtime(NEWEST, runtime_dir(OLDEST))
    with pytest.raises(RunError, match=r"package\.json: not a Pyodide runtime directory"):
        find_runtime(None, tmp_path)
    with pytest.raises(RunError, match=r"nodist: the dist is not a directory"):
        dist_fragments(tmp_path / "nodist", "repodata.json")
    with pytest.raises(RunError, match=r"has neither pyodide-lock\.json nor repodata\.json: not a dist"):
        dist_fragments(tmp_path, "repodata.json")
    dist = make_dist(tmp_path / "dist", formats=("repodata.json",))
    (dist / "beta-2.0-py3-none-any.whl").unlink()
    with pytest.raises(
        RunError, match=r"repodata\.json: packages\.beta: file_name: 'beta-2\.0-py3-none-any\.whl' is not"
    ):
        dist_fragments(dist, "pyodide-lock.json")


def test_summary_of_errors() -> None:
    traceback = 'Traceback (most recent call last):\n  File "<exec>", line 1, in <module>\nValueError: boom\n'
    assert summary(traceback) == "ValueError: boom"
    assert summary("Error: loadPackage: no\n    at x (y.js:1)") == "Error: loadPackage: no"
    assert summary("") == "unknown error"


# ---------------------------------------------------------------------------------------------------------------------
# In real Pyodide (Node)


@pytest.mark.pyodide
@pytest.mark.parametrize("version", [OLDEST, NEWEST])
def test_load_package_resolves_dependencies_through_our_index(tmp_path: Path, version: str) -> None:
    dist = make_dist(tmp_path / "dist")
    code = (
        "import alpha, beta, sys\n" "print(alpha.greet())\n" "print(beta.__file__)\n" "print('gamma' in sys.modules)\n"
    )
    run = cli("--dist", dist, "--pyodide", version, "--package", "Alpha", "-c", code)
    assert run.returncode == 0, run.stderr
    python = {OLDEST: "3.10", NEWEST: "3.14"}[version]
    assert run.stdout == f"alpha+beta 2.0\n/lib/python{python}/site-packages/beta/__init__.py\nFalse\n"
    assert "Loaded" in run.stderr and "beta" in run.stderr  # the runtime's loader messages go to stderr


@pytest.mark.pyodide
@pytest.mark.parametrize("version", [OLDEST, NEWEST])
def test_load_package_from_python_with_the_other_index_format(tmp_path: Path, version: str) -> None:
    # The dist has only the index format that this runtime does not read: its entries are converted.
    other = {OLDEST: "pyodide-lock.json", NEWEST: "repodata.json"}[version]
    dist = make_dist(tmp_path / "dist", formats=(other,))
    script = tmp_path / "main.py"
    script.write_text(
        "import pyodide_js\n"
        "await pyodide_js.loadPackage('alpha')\n"
        "import alpha\n"
        "print(alpha.greet())\n"
        "print(sorted(k for k in pyodide_js.loadedPackages.object_keys() if k in ('alpha', 'beta', 'gamma')))\n"
    )
    run = cli("--dist", dist, "--pyodide", version, script)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "alpha+beta 2.0\n['alpha', 'beta']\n"


@pytest.mark.pyodide
@pytest.mark.parametrize("version", [OLDEST, NEWEST])
def test_package_with_a_mixed_case_name(tmp_path: Path, version: str) -> None:
    # 0.21-0.23 key loadedPackages by the lower-cased name, 0.26+ by the canonical one: `--package` must match both.
    dist = tmp_path / "dist"
    dist.mkdir()
    wheel = build_wheel(dist, "Mixed_Case", "1.0", {"mixed_case.py": "X = 'mixed'\n"})
    fragment = make_fragment("Mixed_Case", "1.0", wheel.name, sha256_file(wheel), imports=["mixed_case"])
    for fmt in INFO:
        (dist / fmt).write_text(dump_index(merge(fmt, INFO[fmt], [("Mixed_Case", fragment)])), encoding="utf-8")
    run = cli(
        "--dist", dist, "--pyodide", version, "--package", "Mixed_Case", "-c", "import mixed_case\nprint(mixed_case.X)"
    )
    assert (run.returncode, run.stdout) == (0, "mixed\n"), run.stderr


@pytest.mark.pyodide
def test_load_imports(tmp_path: Path) -> None:
    dist = make_dist(tmp_path / "dist")
    run = cli("--dist", dist, "--pyodide", NEWEST, "--load-imports", "-c", "import gamma\nprint(gamma.X)")
    assert (run.returncode, run.stdout) == (0, "3\n"), run.stderr


@pytest.mark.pyodide
def test_python_exception_exits_non_zero_after_printing(tmp_path: Path) -> None:
    dist = make_dist(tmp_path / "dist")
    run = cli("--dist", dist, "--pyodide", OLDEST, "-c", "print('before')\nraise ValueError('boom')")
    assert run.returncode == 1
    assert run.stdout == "before\n"
    assert run.stderr.splitlines()[-1] == "rules-pyodide run: error: Pyodide 0.21.3 run failed: ValueError: boom"
    assert "Traceback" in run.stderr


def test_cli_bad_input_exits_1_with_a_one_line_message(tmp_path: Path) -> None:
    dist = make_dist(tmp_path / "dist")
    cases = [
        (("--dist", tmp_path / "missing", "--pyodide", OLDEST, "-c", "pass"), "missing: the dist is not a directory"),
        (("--dist", dist, "--pyodide", "0.0.1", "-c", "pass"), "Pyodide 0.0.1 is not installed"),
        (("--dist", dist, "--pyodide", OLDEST, "--package", "zeta", "-c", "pass"), "--package zeta: not in the dist"),
        (("--dist", dist, "--pyodide", OLDEST, tmp_path / "nope.py"), "nope.py: cannot read the code"),
    ]
    for args, message in cases:
        run = cli(*args)
        assert (run.returncode, run.stdout) == (1, ""), args
        assert message in run.stderr and run.stderr.startswith("rules-pyodide run: error: "), run.stderr
    usage = cli("--dist", dist, "--pyodide", OLDEST)
    # A malformed command line is argparse's: exit status 2, its usage, then an error line of the same form.
    assert (
        usage.returncode == 2 and "rules-pyodide run: error: one of the arguments -c file is required" in usage.stderr
    )


@pytest.mark.pyodide
def test_sys_exit_status_is_the_exit_status(tmp_path: Path) -> None:
    dist = make_dist(tmp_path / "dist")
    for code, status in (("sys.exit(3)", 3), ("sys.exit()", 0), ("sys.exit('bye')", 1)):
        run = cli("--dist", dist, "--pyodide", NEWEST, "-c", f"import sys\nprint('x')\n{code}")
        assert (run.returncode, run.stdout) == (status, "x\n"), run.stderr
