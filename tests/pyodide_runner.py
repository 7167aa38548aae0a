"""Run Python code in a real Pyodide runtime (Node) after loading emscripten file packages into it.

Wraps ``js/run_in_pyodide.js``: one Node process per call loads the runtime ``js/node_modules/pyodide-<version>``,
loads each package with ``js/load_file_package.js`` in order, runs the code and reports the JSON of the value of its
last expression. Loading a runtime takes 1.5-2.5 s, so load several packages in one call where you can.

Example::

    run = run_in_pyodide("0.21.3", [tmp_path / "pkg.js"], "import mymod\\nmymod.answer()")
    assert run.result == 42
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rules_pyodide.runtimes import installed_versions, load_table

REPO_ROOT = Path(__file__).resolve().parent.parent
JS_DIR = REPO_ROOT / "js"
RUNNER_JS = JS_DIR / "run_in_pyodide.js"

#: The runtimes of the table (rules_pyodide/runtimes.json), which `tools/setup.sh` installs, oldest first.
TABLE = load_table()
RUNTIME_VERSIONS: tuple[str, ...] = tuple(installed_versions())


class PyodideRunError(RuntimeError):
    """The runtime could not be loaded, a package failed to load, or the Python code raised."""

    def __init__(self, message: str, *, error: str, stderr: str) -> None:
        super().__init__(message)
        self.error = error
        self.stderr = stderr


@dataclass(frozen=True)
class LoadedPackage:
    """What ``loadFilePackage`` reported for one package."""

    js_location: str
    data_location: str
    files: tuple[str, ...]
    shared_libraries: tuple[str, ...]


@dataclass(frozen=True)
class PyodideRun:
    """The outcome of a successful :func:`run_in_pyodide` call."""

    pyodide_version: str
    result: object
    """The value of the code's last expression, through ``json.dumps`` in Pyodide and ``json.loads`` here."""
    stdout: str
    """What the Python code printed (the runtime's own messages are not included)."""
    stderr: str
    """Everything else: the runtime's loading messages, Python's stderr, Node warnings."""
    packages: tuple[LoadedPackage, ...]


def runtime_dir(version: str) -> Path:
    """The installed runtime ``js/node_modules/pyodide-<version>``; raises FileNotFoundError if it is missing."""
    path = JS_DIR / "node_modules" / f"pyodide-{version}"
    if not (path / "pyodide.asm.wasm").is_file():
        raise FileNotFoundError(f"Pyodide {version} is not installed at {path}; run `make setup`")
    return path


def site_packages(version: str) -> str:
    """The site-packages directory of the runtime, e.g. ``/lib/python3.10/site-packages`` for 0.21.3."""
    return TABLE.runtimes[version].site_packages


def node_executable() -> str:
    """The ``node`` binary; raises FileNotFoundError if it is not on PATH."""
    node = shutil.which("node")
    if node is None:
        raise FileNotFoundError("node is not on PATH; run `make setup`")
    return node


def _parse_report(stdout: str) -> dict[str, object]:
    lines = stdout.strip().splitlines()
    if not lines:
        return {}
    report = json.loads(lines[-1])
    if not isinstance(report, dict):
        raise ValueError(f"run_in_pyodide.js printed {lines[-1]!r}, not a JSON object")
    return report


def _loaded_package(entry: object) -> LoadedPackage:
    if not isinstance(entry, dict):
        raise ValueError(f"unexpected package report {entry!r}")
    return LoadedPackage(
        js_location=str(entry["jsLocation"]),
        data_location=str(entry["dataLocation"]),
        files=tuple(str(f) for f in entry["files"]),
        shared_libraries=tuple(str(f) for f in entry["sharedLibraries"]),
    )


def run_in_pyodide(
    version: str,
    packages: Sequence[Path | str],
    code: str,
    *,
    timeout: float = 300.0,
) -> PyodideRun:
    """Loads Pyodide ``version``, loads ``packages`` (paths to ``NAME.js``) in order, then runs ``code``.

    Returns the run's report. Raises :class:`PyodideRunError` (with the JS/Python error text and Node's stderr) if
    the runtime, a package or the code fails, and ``subprocess.TimeoutExpired`` after ``timeout`` seconds.
    """
    cmd = [node_executable(), str(RUNNER_JS), "--pyodide", str(runtime_dir(version))]
    for package in packages:
        cmd += ["--package", os.fspath(package)]
    cmd += ["--code", code]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    try:
        report = _parse_report(proc.stdout)
    except ValueError as e:
        raise PyodideRunError(
            f"Pyodide {version}: unreadable report ({e}); stdout={proc.stdout!r}",
            error=str(e),
            stderr=proc.stderr,
        ) from e
    if proc.returncode != 0 or report.get("ok") is not True:
        error = str(report.get("error", f"exit status {proc.returncode}, no report"))
        raise PyodideRunError(
            f"Pyodide {version} failed: {error}\n--- stderr ---\n{proc.stderr[-4000:]}",
            error=error,
            stderr=proc.stderr,
        )
    loaded = report.get("packages", [])
    if not isinstance(loaded, list):
        raise PyodideRunError(f"Pyodide {version}: bad report {report!r}", error="bad report", stderr=proc.stderr)
    return PyodideRun(
        pyodide_version=str(report["pyodide"]),
        result=report.get("result"),
        stdout=str(report.get("stdout", "")),
        stderr=proc.stderr,
        packages=tuple(_loaded_package(entry) for entry in loaded),
    )
