"""Trace an app in real Pyodide and ship only the files it uses (like pyodide-pack).

    rules-pyodide bundle APP.py --dist DIR (--pyodide VERSION | --pyodide-dir DIR) --output OUT
        [--package NAME ...] [--filters YAML] [--keep-stdlib MODULE ...] [--full-stdlib] [--no-check-output] [--lz4]
        [--node NODE] [--quiet]

1. Trace: the app runs in Pyodide (Node, js/trace_app.js) with the dist's packages in the runtime's index
   (rules_pyodide.run builds it). The `--package` names and their dependencies are loaded first (default: the
   packages of the app's imports). Every file opened for reading and every dynamic library loaded is recorded.
2. Bundle: of each loaded package's files, those the app read while it ran are kept, plus the shared libraries that
   were loaded (extension modules the app imported, and plain libraries others link to); `--filters` (YAML, see
   rules_pyodide.pack_filter; default: none) may remove more. The standard library is trimmed the same way
   (rules_pyodide.stdlib: the modules in `sys.modules` after the app, the files read, `--keep-stdlib` modules; the
   filter's package name for it is `stdlib`) unless `--full-stdlib`. OUT gets `bundle.js` + `bundle.data` (a file
   package), `bundle.zip` (the same files, paths relative to `/`), `runtime/` (the runtime files that replace the
   runtime's own standard library: `python_stdlib.zip`, or for 0.21 `pyodide.asm.js` + `pyodide.asm.data`), `app.py`,
   `bundle.json` (files, the libraries to preload in load order, per-package numbers, the trace run's stdout) and
   `filter-report.json`.
3. Validate: the app runs again in a runtime that has only its own packages, the trimmed standard library
   (`fullStdLib: false`) and the bundle (loaded with js/load_file_package.js). It must succeed and, unless
   `--no-check-output`, print what the trace run printed; otherwise the error names the files the trace read that
   the bundle lacks (and the filter pattern that removed them), or the standard library module the trace did not
   see, and OUT is not written.
4. Report: a table per package and for the standard library (files before -> after, .py, .so, gzip size before ->
   after, reduction) and the load-time breakdown of both runs.

Exit status 0; 1 when the app fails (in the trace or the validation run) or for a bad dist, filter file or
argument, with one line `rules-pyodide bundle: error: ...` saying which (rules_pyodide.errors); 2 for a malformed
command line (argparse).
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import posixpath
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name
from rich.console import Console
from rich.table import Table

from rules_pyodide import pack, pack_filter, run, stdlib
from rules_pyodide.errors import RulesPyodideError, prog, run_command
from rules_pyodide.index import fragments_from_index
from rules_pyodide.outputs import ZIP_FLOOR_DATE, add_zip_member

PROG = prog("bundle")
TRACE_JS = run.JS_DIR / "trace_app.js"
GZIP_LEVEL = 6


class BundleError(RulesPyodideError):
    """Bad arguments, dist or filter; the message names the file or key."""


class AppFailed(RulesPyodideError):
    """The app failed in the trace or the validation run; the message says which, and why."""


@dataclass(frozen=True)
class TraceReport:
    """What js/trace_app.js reported."""

    ok: bool
    error: str
    stdout: str
    loaded_packages: tuple[str, ...]
    """Packages loaded for the app (not those the runtime loads on its own, such as 0.21's distutils)."""
    app_reads: tuple[str, ...]
    load_reads: tuple[str, ...]
    dynlibs: tuple[str, ...]
    extension_modules: tuple[str, ...]
    timings: Mapping[str, float]
    module_files: tuple[str, ...] = ()
    """The `__file__` of every module in `sys.modules` after the app."""


def run_trace(
    node: str, trace_js: Path, runtime_dir: Path, app: Path, extra: Sequence[str], *, quiet: bool = False
) -> TraceReport:
    """Runs js/trace_app.js and parses its JSON line. Its stderr (Pyodide's messages, the app's stderr) passes
    through, or with `quiet` only when the run fails."""
    command = [node, str(trace_js), "--pyodide", str(runtime_dir), *extra, "--app", str(app)]
    stderr = subprocess.PIPE if quiet else None
    proc = subprocess.run(command, stdout=subprocess.PIPE, stderr=stderr, text=True, check=False)
    if quiet and proc.returncode != 0:
        sys.stderr.write(proc.stderr[-8000:])
    lines = proc.stdout.strip().splitlines()
    try:
        report = json.loads(lines[-1]) if lines else None
    except ValueError:
        report = None
    if not isinstance(report, dict):
        raise AppFailed(f"node exited with status {proc.returncode} and no report: {proc.stdout[-2000:]!r}")
    reads = report.get("reads") or {}
    return TraceReport(
        ok=report.get("ok") is True and proc.returncode == 0,
        error=str(report.get("error", f"exit status {proc.returncode}")),
        stdout=str(report.get("stdout", "")),
        loaded_packages=tuple(
            name for name in report.get("loadedPackages") or () if name not in (report.get("runtimePackages") or ())
        ),
        app_reads=tuple(reads.get("app") or ()),
        load_reads=tuple(reads.get("load") or ()),
        dynlibs=tuple(report.get("dynlibs") or ()),
        extension_modules=tuple(report.get("extensionModules") or ()),
        timings={str(k): float(v) for k, v in (report.get("timings") or {}).items()},
        module_files=tuple(report.get("moduleFiles") or ()),
    )


# ---------------------------------------------------------------------------------------------------------------------
# Selecting files


@dataclass
class PackageFiles:
    """One loaded package: every file it installs (absolute path -> source), and the ones the bundle keeps."""

    name: str
    version: str
    files: dict[str, pack.Source]
    kept: list[str] = field(default_factory=list)


def _is_plain_library(path: str) -> bool:
    """A shared library that is not a Python extension module (others may link to it)."""
    base = posixpath.basename(path)
    return ".cpython-" not in base and ".abi3." not in base


def used_files(trace: TraceReport) -> list[str]:
    """Files the app read, plus libraries loaded for it, in first-use order."""
    used = dict.fromkeys(trace.app_reads)
    used.update(dict.fromkeys(trace.extension_modules))
    used.update(dict.fromkeys(lib for lib in trace.dynlibs if _is_plain_library(lib)))
    return list(used)


def stage_packages(
    index: Mapping[str, Any], dist: Path, runtime: run.Runtime, names: Sequence[str], staging: Path
) -> list[PackageFiles]:
    """Unpacks each loaded package of the merged index (from the dist, else the runtime) under `staging`."""
    packages: Mapping[str, Any] = index["packages"]
    by_canonical = {canonicalize_name(str(e.get("name", k))): e for k, e in packages.items()}
    python = str(index.get("info", {}).get("python", ""))
    staged = []
    for name in sorted(canonicalize_name(n) for n in names):
        entry = by_canonical.get(name)
        if entry is None:
            continue
        file_name = str(entry["file_name"])
        archive = dist / file_name if (dist / file_name).is_file() else runtime.directory / file_name
        fragment = fragments_from_index({"packages": {name: entry}}, "merged index")[0][1]
        root = pack.install_root(fragment, python)
        sources = pack.unpack_package(archive, staging / name)
        files = {posixpath.join(root, s.rel): s for s in sources}
        staged.append(PackageFiles(name, str(entry.get("version", "")), files))
    return staged


def select(
    packages: Sequence[PackageFiles],
    used: Sequence[str],
    filters: pack_filter.FilterConfig,
    report: pack_filter.FilterReport,
) -> None:
    """Sets each package's `kept`: the used files it installs that the filter keeps."""
    used_set = set(used)
    for package in packages:
        chosen = {src.rel: dst for dst, src in package.files.items() if dst in used_set}
        kept = pack_filter.apply(filters, package.name, chosen, report)
        package.kept = sorted(chosen[rel] for rel in kept)


# ---------------------------------------------------------------------------------------------------------------------
# Writing and measuring


def gzip_size(paths: Sequence[Path]) -> int:
    """Size of the files concatenated (in the order given) and gzipped at level 6, as a server would send them."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=GZIP_LEVEL, mtime=0) as gz:
        for path in paths:
            with open(path, "rb") as f:
                shutil.copyfileobj(f, gz)
    return len(buffer.getvalue())


def write_zip(path: Path, entries: Sequence[tuple[Path, str]]) -> None:
    """A deterministic zip of (source, absolute destination) pairs, stored relative to `/`."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for src, dst in sorted(entries, key=lambda e: e[1]):
            # Permission bits only, without the file type (what this zip has always recorded: its bytes stay equal).
            add_zip_member(zf, dst.lstrip("/"), src.read_bytes(), ZIP_FLOOR_DATE, 0o644)


@dataclass(frozen=True)
class PackageRow:
    """One row of the size table."""

    name: str
    files_before: int
    files_after: int
    py: int
    so: int
    gzip_before: int
    gzip_after: int

    @property
    def reduction(self) -> float:
        return 1 - self.gzip_after / self.gzip_before if self.gzip_before else 0.0


def package_rows(packages: Sequence[PackageFiles]) -> list[PackageRow]:
    rows = []
    for p in packages:
        before = [p.files[d].path for d in sorted(p.files)]
        after = [p.files[d].path for d in p.kept]
        rows.append(
            PackageRow(
                p.name,
                len(before),
                len(after),
                sum(1 for d in p.kept if d.endswith(".py")),
                sum(1 for d in p.kept if d.endswith(".so")),
                gzip_size(before),
                gzip_size(after) if after else 0,
            )
        )
    return rows


@dataclass
class BundleResult:
    """What a bundle run wrote and measured."""

    output: Path
    manifest: dict[str, Any]
    rows: list[PackageRow]
    total_before: PackageRow
    bundle_gzip: int
    zip_size: int
    timings: dict[str, Mapping[str, float]]
    report: pack_filter.FilterReport
    stdlib_row: PackageRow | None = None
    """The standard library's archives before -> after (None with --full-stdlib)."""


def _missing_message(trace_used: Sequence[str], bundled: set[str], report: pack_filter.FilterReport) -> str:
    lines = []
    for path in trace_used:
        if path in bundled:
            continue
        for package, rep in report.packages.items():
            if package == STDLIB:
                continue  # _stdlib_hint names those
            for pattern, rels in rep.removed.items():
                if any(path.endswith("/" + rel) for rel in rels):
                    lines.append(f"{path} (package {package}, removed by filter pattern {pattern!r})")
    return "; ".join(lines)


STDLIB = "stdlib"
"""The name of the standard library in the report and in filter files."""


def trim_stdlib(
    std: stdlib.Stdlib,
    trace: TraceReport,
    keep: Sequence[str],
    filters: pack_filter.FilterConfig,
    report: pack_filter.FilterReport,
) -> list[str]:
    """The stdlib files the bundle keeps: those the app used (rules_pyodide.stdlib.used) that the filter keeps."""
    chosen = stdlib.used(std, trace.module_files, [*trace.load_reads, *trace.app_reads], keep)
    kept = pack_filter.apply(filters, STDLIB, [std.rel(p) for p in chosen], report)
    return [f"{std.root}/{rel}" for rel in kept]


def _stdlib_hint(error: str, std: stdlib.Stdlib, kept: set[str], report: pack_filter.FilterReport) -> str:
    """Names the trimmed stdlib module behind a validation run's ModuleNotFoundError, if that is what it was."""
    found = re.search(r"(?:No module named|The module) '([\w.]+)'", error)
    if not found:
        return ""
    name = found.group(1)
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        module = ".".join(parts[:i])
        files = [f for f in stdlib.module_of(std, module) if f not in kept]
        if not files:
            continue
        removed_by = report.packages[STDLIB].removed if STDLIB in report.packages else {}
        pattern = next((p for p, rels in sorted(removed_by.items()) if std.rel(files[0]) in rels), None)
        if pattern is not None:
            return f"; stdlib module {module!r} ({files[0]}) was removed by filter pattern {pattern!r}"
        return (
            f"; stdlib module {module!r} ({files[0]}) is in Pyodide {std.version}'s standard library but not in the "
            f"bundle's: the trace run did not import it (keep it with --keep-stdlib {module})"
        )
    return ""


def _failure_line(error: str) -> str:
    """The one line of a validation run's error to show: a ModuleNotFoundError's own line (Pyodide appends lines of
    advice after it), else run.summary's choice."""
    lines = [line.strip() for line in error.splitlines() if line.strip().startswith("ModuleNotFoundError:")]
    return lines[-1] if lines else run.summary(error)


def overlay_runtime(runtime_dir: Path, replacements: Path, into: Path) -> None:
    """Fills the empty `into` with symlinks to the runtime's files, those in `replacements` taking their place."""
    for entry in sorted(runtime_dir.iterdir()):
        if entry.is_file() and not (replacements / entry.name).exists():
            (into / entry.name).symlink_to(entry.resolve())
    for entry in sorted(replacements.iterdir()):
        (into / entry.name).symlink_to(entry.resolve())


def bundle(
    app: Path,
    dist: Path,
    runtime: run.Runtime,
    output: Path,
    *,
    packages: Sequence[str] = (),
    filters: pack_filter.FilterConfig = pack_filter.NO_FILTER,
    keep_stdlib: Sequence[str] = (),
    full_stdlib: bool = False,
    check_output: bool = True,
    lz4: bool = False,
    node: str = "node",
    trace_js: Path = TRACE_JS,
    quiet: bool = False,
) -> BundleResult:
    """Traces `app`, writes the minimal bundle to `output`, validates it; raises AppFailed or BundleError."""
    if not app.is_file():
        raise BundleError(f"{app}: the app is not a file")
    node_path = shutil.which(node)
    if node_path is None:
        raise BundleError(f"{node}: node not found (on PATH); run `make setup`")
    if not trace_js.is_file():
        raise BundleError(f"{trace_js}: the JS driver is missing")
    try:
        index = run.merged_index(runtime, run.dist_fragments(dist, runtime.index_file))
        requested, _ = run.resolve_packages(index, packages)
        std = None if full_stdlib else stdlib.read(runtime.directory, runtime.version, str(index["info"]["python"]))
        if std is not None:
            stdlib.kept_modules(std, keep_stdlib)  # a bad name fails before the trace
    except (run.RunError, stdlib.StdlibError) as err:
        raise BundleError(str(err)) from err
    except KeyError as err:
        raise BundleError(f"{runtime.directory / runtime.index_file}: info.python is missing") from err
    with tempfile.TemporaryDirectory(prefix="rules-pyodide-bundle-") as tmp_name:
        tmp = Path(tmp_name)
        index_dir = tmp / "index"
        index_dir.mkdir()
        run.make_index_dir(runtime, dist, index, index_dir)
        load = [arg for name in requested for arg in ("--load-package", name)] or ["--load-imports"]
        trace = run_trace(
            node_path, trace_js, runtime.directory, app, ["--index-dir", str(index_dir), *load], quiet=quiet
        )
        if not trace.ok:
            raise AppFailed(f"the app failed in Pyodide {runtime.version} (trace run): {run.summary(trace.error)}")
        staged = stage_packages(index, dist, runtime, trace.loaded_packages, tmp / "staging")
        used = used_files(trace)
        report = pack_filter.FilterReport(filters.source)
        select(staged, used, filters, report)
        entries = [(p.files[d], d) for p in staged for d in p.kept]
        try:
            kept_stdlib = [] if std is None else trim_stdlib(std, trace, keep_stdlib, filters, report)
        except stdlib.StdlibError as err:
            raise BundleError(str(err)) from err
        if not entries and std is None:
            raise BundleError(f"{app}: the app used no file of the packages it loaded; nothing to bundle")
        with pack.atomic_dir(output) as out:
            if entries:
                pack.write_file_package(out, "bundle", entries, lz4=lz4)
            write_zip(out / "bundle.zip", [(s.path, d) for s, d in entries])
            shutil.copyfile(app, out / "app.py")
            bundled = {d for _, d in entries}
            validation_args = ["--package", str(out / "bundle.js")] if entries else []
            runtime_dir = runtime.directory
            replaced: list[str] = []
            if std is not None:
                (out / "runtime").mkdir()
                replaced = stdlib.write(std, runtime.directory, kept_stdlib, out / "runtime")
                runtime_dir = tmp / "runtime"
                runtime_dir.mkdir()
                overlay_runtime(runtime.directory, out / "runtime", runtime_dir)
                validation_args.append("--minimal-stdlib")
            validation = run_trace(node_path, trace_js, runtime_dir, out / "app.py", validation_args, quiet=quiet)
            if not validation.ok:
                missing = _missing_message(used, bundled, report)
                hint = f"; the trace run read files the bundle lacks: {missing}" if missing else ""
                if std is not None:
                    hint += _stdlib_hint(validation.error, std, set(kept_stdlib), report)
                raise AppFailed(f"validation run from the bundle failed: {_failure_line(validation.error)}{hint}")
            if check_output and validation.stdout != trace.stdout:
                raise AppFailed(
                    "validation run from the bundle printed something else than the trace run "
                    f"(trace: {trace.stdout[:200]!r}, bundle: {validation.stdout[:200]!r}); "
                    "use --no-check-output for apps whose output varies"
                )
            rows = package_rows(staged)
            all_before = [p.files[d].path for p in staged for d in sorted(p.files)]
            total_before = PackageRow(
                "total",
                sum(r.files_before for r in rows),
                len(entries),
                sum(r.py for r in rows),
                sum(r.so for r in rows),
                gzip_size(all_before),
                gzip_size([out / "bundle.data"]) if entries else 0,
            )
            stdlib_row = None
            if std is not None:
                archives = [n for n in std.originals if n != stdlib.ASM_JS]
                stdlib_row = PackageRow(
                    f"{STDLIB} ({', '.join(archives)})",
                    len(std.files),
                    len(kept_stdlib),
                    sum(1 for f in kept_stdlib if f.endswith(".py")),
                    sum(1 for f in kept_stdlib if f.endswith(".so")),
                    sum(gzip_size([runtime.directory / n]) for n in archives),
                    sum(gzip_size([out / "runtime" / n]) for n in replaced if n != stdlib.ASM_JS),
                )
            manifest = {
                "pyodide": runtime.version,
                "app": "app.py",
                "js": "bundle.js" if entries else None,
                "data": "bundle.data" if entries else None,
                "zip": "bundle.zip",
                "preload": [lib for lib in dict.fromkeys([*trace.dynlibs, *trace.extension_modules]) if lib in bundled],
                "files": sorted(bundled),
                "expected_stdout": trace.stdout,
                "packages": {
                    r.name: {
                        "version": p.version,
                        "files_before": r.files_before,
                        "files_after": r.files_after,
                        "gzip_before": r.gzip_before,
                        "gzip_after": r.gzip_after,
                    }
                    for r, p in zip(rows, staged, strict=True)
                },
                "gzip_before": total_before.gzip_before,
                "gzip_after": total_before.gzip_after,
                "stdlib": None
                if std is None or stdlib_row is None
                else {
                    "kind": std.kind,
                    "root": std.root,
                    "runtime_files": replaced,
                    "no_longer_fetched": [n for n in std.originals if n not in std.replaces],
                    "full_stdlib": False,
                    "files": sorted(kept_stdlib),
                    "files_before": stdlib_row.files_before,
                    "gzip_before": stdlib_row.gzip_before,
                    "gzip_after": stdlib_row.gzip_after,
                },
            }
            pack.write_json(out / "bundle.json", manifest)
            pack.write_json(out / "filter-report.json", report.to_json())
            zip_size = (out / "bundle.zip").stat().st_size
    return BundleResult(
        output,
        manifest,
        rows,
        total_before,
        total_before.gzip_after,
        zip_size,
        {"trace (packages from the dist)": trace.timings, "bundle": validation.timings},
        report,
        stdlib_row,
    )


# ---------------------------------------------------------------------------------------------------------------------
# Command line


def _kib(n: int) -> str:
    return f"{n / 1024:,.1f} KiB"


def print_report(result: BundleResult, console: Console) -> None:
    table = Table(title=f"bundle {result.output} (gzip -{GZIP_LEVEL} of each package's files concatenated)")
    for column in ("package", "files", ".py", ".so", "gzip before", "gzip after", "reduction"):
        table.add_column(column, justify="left" if column == "package" else "right")
    for r in [*result.rows, result.total_before, *([result.stdlib_row] if result.stdlib_row else [])]:
        table.add_row(
            r.name,
            f"{r.files_before} -> {r.files_after}",
            str(r.py),
            str(r.so),
            _kib(r.gzip_before),
            _kib(r.gzip_after),
            f"{r.reduction:.0%}",
            style="bold" if r.name in ("total", result.stdlib_row and result.stdlib_row.name) else None,
        )
    console.print(table)
    preload = ", ".join(result.manifest["preload"]) or "none"
    console.print(f"bundle.zip: {_kib(result.zip_size)}; libraries to preload: {preload}")
    std = result.manifest["stdlib"]
    if std is not None:
        console.print(
            f"standard library: runtime/{' + runtime/'.join(std['runtime_files'])} replace the runtime's own; "
            f"start the runtime with fullStdLib: false"
            + (f" (then it does not fetch {', '.join(std['no_longer_fetched'])})" if std["no_longer_fetched"] else "")
        )
    timing = Table(title="load time (ms)")
    timing.add_column("run")
    for column in ("runtime", "packages", "app", "total"):
        timing.add_column(column, justify="right")
    for name, t in result.timings.items():
        values = [t.get(k, 0.0) for k in ("runtime", "packages", "app")]
        timing.add_row(name, *(f"{v:,.0f}" for v in values), f"{sum(values):,.0f}")
    console.print(timing)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    parser.add_argument("app", type=Path, help="the Python app to trace")
    parser.add_argument("--dist", required=True, type=Path, help="package directory: files + index")
    parser.add_argument("--pyodide", metavar="VERSION", help="runtime js/node_modules/pyodide-VERSION")
    parser.add_argument("--pyodide-dir", type=Path, help="runtime directory (instead of, or checked against, VERSION)")
    parser.add_argument("--output", required=True, type=Path, help="bundle directory (replaced atomically)")
    parser.add_argument("--package", action="append", default=[], help="load this package first (default: imports)")
    parser.add_argument("--filters", default="none", help="filter YAML applied to the traced files (default: none)")
    parser.add_argument(
        "--keep-stdlib", action="append", default=[], metavar="MODULE", help="keep this stdlib module (and submodules)"
    )
    parser.add_argument("--full-stdlib", action="store_true", help="ship the runtime's standard library untrimmed")
    parser.add_argument("--no-check-output", action="store_true", help="do not compare the two runs' stdout")
    parser.add_argument("--lz4", action="store_true", help="LZ4-compress bundle.data")
    parser.add_argument("--node", default="node", help="the node binary (default: node on PATH)")
    parser.add_argument("--trace-js", type=Path, default=TRACE_JS, help="js/trace_app.js")
    parser.add_argument("--quiet", action="store_true", help="print no tables, and Pyodide's messages only on failure")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return run_command(PROG, lambda: _command(args))


def _command(args: argparse.Namespace) -> None:
    filters = pack_filter.load(args.filters)
    runtime = run.find_runtime(args.pyodide, args.pyodide_dir)
    result = bundle(
        args.app,
        args.dist,
        runtime,
        args.output,
        packages=args.package,
        filters=filters,
        keep_stdlib=args.keep_stdlib,
        full_stdlib=args.full_stdlib,
        check_output=not args.no_check_output,
        lz4=args.lz4,
        node=args.node,
        trace_js=args.trace_js,
        quiet=args.quiet,
    )
    if not args.quiet:
        print_report(result, Console(width=max(120, shutil.get_terminal_size().columns)))


if __name__ == "__main__":
    sys.exit(main())
