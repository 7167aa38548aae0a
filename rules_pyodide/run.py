"""Run Python in a real Pyodide (Node) whose `loadPackage` finds the packages of a package directory (a dist).

    rules-pyodide run --dist DIR (--pyodide VERSION | --pyodide-dir DIR) [--package NAME ...] [--load-imports]
        [--node NODE] [--runner-js FILE] (-c CODE | FILE)

`--pyodide VERSION` is the npm runtime `js/node_modules/pyodide-VERSION` that `make setup` installs; `--pyodide-dir`
names a runtime directory instead (its package.json must then say VERSION, if given too).

How: a temporary directory becomes the runtime's indexURL. It holds a symlink to every file of the runtime and of
the dist (the dist wins a name clash), and the runtime's own index file (repodata.json for 0.21-0.23,
pyodide-lock.json for 0.24+) with the dist's entries merged into it, in that runtime's format and under its info
section (which the loaders check). The dist's entries are read from its index in the runtime's format if it has
one, else from its other index (rules_pyodide.index.fragments_from_index). So `pyodide.loadPackage("x")`, from JS
or from Python (`pyodide_js.loadPackage`), resolves our packages and their dependencies through our index, and the
runtime's other packages as before.

`--package NAME` loads NAME (canonical or display name) with its dependencies before the code runs; the run fails
unless NAME and every package it depends on, transitively, is loaded afterwards. `--load-imports` loads the
packages that the code's imports need (`pyodide.loadPackagesFromImports`). The code runs with `runPythonAsync`
(top-level `await` works) and its value is dropped, as with `python -c`.

Output: what the code printed goes to stdout; the runtime's messages, Python's stderr and errors go to stderr.
Exit status 0 on success; 1 when the code raises, a package fails to load, or for a bad dist, runtime or argument,
with one line `rules-pyodide run: error: ...` (rules_pyodide.errors); 2 for a malformed command line (argparse);
`sys.exit(n)` in the code exits with n, as in CPython (a run that ends with `sys.exit(0)` succeeds).
Node is `node` on PATH (or `--node`); the JS driver is js/run_in_pyodide.js beside this package (or `--runner-js`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from rules_pyodide.errors import RulesPyodideError, prog, run_command
from rules_pyodide.errors import report as report_error
from rules_pyodide.index import (
    FORMATS,
    Fragment,
    IndexBuildError,
    check_info,
    dump_index,
    fragments_from_index,
    merge,
)

JS_DIR = Path(__file__).parent.parent / "js"
PROG = prog("run")
RUNNER_JS = JS_DIR / "run_in_pyodide.js"
RUNTIMES_DIR = JS_DIR / "node_modules"
INDEX_FILES = FORMATS


class RunError(RulesPyodideError):
    """Bad arguments, runtime or dist; the message names the file and what was expected."""


class CodeFailed(Exception):
    """The runtime ran but a package failed to load or the code raised; the message is the JS/Python error."""

    def __init__(self, message: str, stdout: str = "", exit_status: int = 1) -> None:
        super().__init__(message)
        self.stdout = stdout
        """What the code printed before it failed."""
        self.exit_status = exit_status
        """1, or the status the code gave `sys.exit`."""


@dataclass(frozen=True)
class Runtime:
    """An installed Pyodide runtime."""

    directory: Path
    version: str
    index_file: str
    """The index its loader reads: `repodata.json` (0.21-0.23) or `pyodide-lock.json` (0.24+)."""


def find_runtime(version: str | None, directory: Path | None) -> Runtime:
    """The runtime `directory`, or `js/node_modules/pyodide-<version>`; checks that it is one and its version."""
    if directory is None:
        if version is None:
            raise RunError("give --pyodide VERSION or --pyodide-dir DIR")
        directory = RUNTIMES_DIR / f"pyodide-{version}"
        if not directory.is_dir():
            installed = sorted(p.name.removeprefix("pyodide-") for p in RUNTIMES_DIR.glob("pyodide-*"))
            raise RunError(
                f"Pyodide {version} is not installed at {directory} (installed: {', '.join(installed) or 'none'}); "
                "run `make setup`"
            )
    package_json = directory / "package.json"
    try:
        meta = json.loads(package_json.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise RunError(f"{package_json}: not a Pyodide runtime directory: {err}") from err
    found = meta.get("version") if isinstance(meta, dict) else None
    if not isinstance(found, str):
        raise RunError(f"{package_json}: version: expected a string")
    if version is not None and found != version:
        raise RunError(f"{package_json}: version: {found!r}, but --pyodide asked for {version!r}")
    if not (directory / "pyodide.asm.wasm").is_file():
        raise RunError(f"{directory}: pyodide.asm.wasm is missing: not a runnable Pyodide build")
    for index_file in ("pyodide-lock.json", "repodata.json"):
        if (directory / index_file).is_file():
            return Runtime(directory, found, index_file)
    raise RunError(f"{directory}: has neither pyodide-lock.json nor repodata.json")


def _load_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise RunError(f"{path}: cannot read {what}: {err}") from err


def dist_fragments(dist: Path, preferred: str) -> list[tuple[str, Fragment]]:
    """The dist's packages, from its index in format `preferred` if present, else its other one with sha256s."""
    if not dist.is_dir():
        raise RunError(f"{dist}: the dist is not a directory")
    for name in (preferred, *(f for f in ("pyodide-lock.json", "repodata.json") if f != preferred)):
        path = dist / name
        if path.is_file():
            try:
                fragments = fragments_from_index(_load_json(path, "index"), str(path))
            except IndexBuildError as err:
                raise RunError(str(err)) from err
            for origin, fragment in fragments:
                if not (dist / fragment.file_name).is_file():
                    raise RunError(f"{origin}: file_name: {fragment.file_name!r} is not a file of {dist}")
            return fragments
    raise RunError(f"{dist}: has neither pyodide-lock.json nor repodata.json: not a dist")


def merged_index(runtime: Runtime, fragments: Sequence[tuple[str, Fragment]]) -> dict[str, Any]:
    """The runtime's own index with `fragments` added (replacing its entries of the same names), in its format."""
    path = runtime.directory / runtime.index_file
    base = _load_json(path, "the runtime's index")
    if not isinstance(base, dict) or not isinstance(base.get("packages"), dict):
        raise RunError(f"{path}: packages: expected a JSON object")
    try:
        info = check_info(runtime.index_file, base.get("info"), str(path))
        index = merge(runtime.index_file, info, fragments, base["packages"])
    except IndexBuildError as err:
        raise RunError(str(err)) from err
    return {**base, **index}  # keeps keys the writer does not know (314's `tool`) where they were


def make_index_dir(runtime: Runtime, dist: Path, index: Mapping[str, Any], directory: Path) -> None:
    """Fills the empty `directory`: symlinks to the runtime's and the dist's files, and the merged index file."""
    links: dict[str, Path] = {}
    for source in (runtime.directory, dist):
        for entry in sorted(source.iterdir()):
            if entry.name not in INDEX_FILES and entry.is_file():
                links[entry.name] = entry.resolve()
    for name, target in sorted(links.items()):
        (directory / name).symlink_to(target)
    (directory / runtime.index_file).write_text(dump_index(index), encoding="utf-8")


def resolve_packages(index: Mapping[str, Any], names: Sequence[str]) -> tuple[list[str], list[str]]:
    """(index names of `names`, index names of them and everything they depend on, transitively), sorted."""
    packages: Mapping[str, Any] = index["packages"]
    by_canonical = {canonicalize_name(str(entry.get("name", key))): key for key, entry in packages.items()}
    wanted = []
    for name in names:
        key = by_canonical.get(canonicalize_name(name))
        if key is None:
            raise RunError(f"--package {name}: not in the dist nor in the runtime's index")
        wanted.append(key)
    closure: set[str] = set()
    todo = list(wanted)
    while todo:
        key = todo.pop()
        if key not in closure:
            closure.add(key)
            todo += [by_canonical[canonicalize_name(d)] for d in packages[key].get("depends", [])]
    names_of = {key: str(packages[key].get("name", key)) for key in closure}
    return sorted(names_of[k] for k in wanted), sorted(names_of.values())


@dataclass(frozen=True)
class Report:
    """What js/run_in_pyodide.js reported for a run."""

    ok: bool
    stdout: str
    error: str
    pyodide: str
    loaded_packages: dict[str, str]
    exit_status: int | None
    """The status the code passed to `sys.exit` (as CPython computes it), if it called it."""
    result: Any = None
    """The value of the code's last expression, through `json.dumps` (None with `--no-result`)."""


def run_node(command: Sequence[str]) -> Report:
    """Runs the JS driver; its stderr passes through, its one JSON line is parsed."""
    proc = subprocess.run(list(command), stdout=subprocess.PIPE, text=True, check=False)
    lines = proc.stdout.strip().splitlines()
    try:
        report = json.loads(lines[-1]) if lines else None
    except ValueError:
        report = None
    if not isinstance(report, dict):
        raise CodeFailed(f"node exited with status {proc.returncode} and no report; stdout: {proc.stdout[-2000:]!r}")
    loaded = report.get("loadedPackages") or {}
    status = report.get("exitStatus")
    return Report(
        ok=report.get("ok") is True and proc.returncode == 0,
        stdout=str(report.get("stdout", "")),
        error=str(report.get("error", f"exit status {proc.returncode}")),
        pyodide=str(report.get("pyodide", "")),
        loaded_packages={str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {},
        exit_status=status if isinstance(status, int) else None,
        result=report.get("result"),
    )


def run(
    dist: Path,
    runtime: Runtime,
    code: str,
    *,
    packages: Sequence[str] = (),
    load_imports: bool = False,
    node: str = "node",
    runner_js: Path = RUNNER_JS,
) -> Report:
    """Runs `code` in `runtime` with `dist`'s packages in its index; raises CodeFailed if the run fails."""
    index = merged_index(runtime, dist_fragments(dist, runtime.index_file))
    requested, closure = resolve_packages(index, packages)
    if not runner_js.is_file():
        raise RunError(f"{runner_js}: the JS driver is missing")
    node_path = shutil.which(node)
    if node_path is None:
        raise RunError(f"{node}: node not found (on PATH); run `make setup`")
    with tempfile.TemporaryDirectory(prefix="rules-pyodide-run-") as tmp:
        index_dir = Path(tmp) / "index"
        index_dir.mkdir()
        make_index_dir(runtime, dist, index, index_dir)
        code_file = Path(tmp) / "main.py"
        code_file.write_text(code, encoding="utf-8")
        command = [node_path, str(runner_js), "--pyodide", str(runtime.directory), "--index-dir", str(index_dir)]
        for name in requested:
            command += ["--load-package", name]
        if load_imports:
            command.append("--load-imports")
        report = run_node([*command, "--no-result", "--code-file", str(code_file)])
    if not report.ok:
        raise CodeFailed(report.error, report.stdout, report.exit_status or 1)
    loaded = {canonicalize_name(name) for name in report.loaded_packages}
    missing = [name for name in closure if canonicalize_name(name) not in loaded]
    if missing:
        message = f"--package {', '.join(packages)}: dependencies not loaded: {', '.join(missing)}"
        raise CodeFailed(message, report.stdout)
    return report


def summary(error: str) -> str:
    """One line of an error whose full text the JS driver already printed: a traceback's exception line, else the
    first line."""
    lines = [line for line in error.strip().splitlines() if line.strip()]
    if not lines:
        return "unknown error"
    return lines[-1].strip() if lines[0].startswith("Traceback") or "Traceback (most recent" in error else lines[0]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    parser.add_argument("--dist", required=True, type=Path, help="package directory: files + pyodide-lock.json")
    parser.add_argument("--pyodide", metavar="VERSION", help="runtime js/node_modules/pyodide-VERSION")
    parser.add_argument("--pyodide-dir", type=Path, help="runtime directory (instead of, or checked against, VERSION)")
    parser.add_argument("--package", action="append", default=[], help="load this package first (repeat)")
    parser.add_argument("--load-imports", action="store_true", help="load the packages the code imports first")
    parser.add_argument("--node", default="node", help="the node binary (default: node on PATH)")
    parser.add_argument("--runner-js", type=Path, default=RUNNER_JS, help="js/run_in_pyodide.js")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("-c", dest="code", help="the Python code to run")
    source.add_argument("file", nargs="?", type=Path, help="a Python file to run")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return run_command(PROG, lambda: _command(args))


def _command(args: argparse.Namespace) -> int:
    if args.file is not None:
        try:
            code = args.file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise RunError(f"{args.file}: cannot read the code: {err}") from err
    else:
        code = args.code
    runtime = find_runtime(args.pyodide, args.pyodide_dir)
    try:
        result = run(
            args.dist,
            runtime,
            code,
            packages=args.package,
            load_imports=args.load_imports,
            node=args.node,
            runner_js=args.runner_js,
        )
    except CodeFailed as err:
        # The code's own failure: what it printed, then the error line, and its exit status (sys.exit(n) is n).
        sys.stdout.write(err.stdout)
        sys.stdout.flush()
        report_error(PROG, f"Pyodide {runtime.version} run failed: {summary(str(err))}")
        return err.exit_status
    sys.stdout.write(result.stdout)
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
