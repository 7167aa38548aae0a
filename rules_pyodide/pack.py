"""Pack files, directories, Python environments and index packages into emscripten file packages (like empack).

    rules-pyodide pack file PATH... --output DIR --name NAME [--prefix /DIR] [common flags]
    rules-pyodide pack dir DIR --output DIR --name NAME [--prefix /DIR] [common flags]
    rules-pyodide pack env PREFIX --output DIR [--python 3.X] [--skip NAME ...] [common flags]
    rules-pyodide pack index INDEX.json --output DIR --name NAME [--package NAME ...] [--python 3.X] [common flags]

common flags: [--filters YAML | --filters none] [--lz4] [--quiet]

- `file`: each PATH is installed as PREFIX/<its base name> (default prefix `/`).
- `dir`: the files under DIR are installed under PREFIX, keeping their relative paths.
- `env`: PREFIX is a Python environment (a venv or `--prefix`/`--target` install: `PREFIX/lib/python3.X/site-packages`,
  or a site-packages directory itself). Every distribution found there (`*.dist-info`, split by its RECORD) becomes one
  file package `<canonical name>.js/.data` installed into `/lib/python3.X/site-packages`, and `env.json` lists them
  (name, version, requires, file package, file counts and sizes) in dependency order. Files of the RECORD outside
  site-packages (console scripts) are left out; files no distribution owns are reported.
- `index`: INDEX.json is a packages.json, repodata.json or pyodide-lock.json whose packages (wheels, zips or tars)
  sit beside it. The `--package` names (default: all) and everything they depend on, transitively, are unpacked and
  packed into one file package NAME; `pack.json` lists what is in it.

Every package's files go through the filter (rules_pyodide.pack_filter; default: the shipped `pack_filters.yaml`,
`--filters none` keeps everything); `filter-report.json` in DIR lists what each pattern removed, and a table is
printed. DIR is written beside its final place and renamed at the end; an existing DIR is replaced only if an
earlier pack wrote it (it holds `pack.json` or `env.json`). Exit status 0, or 1 with a one-line error naming the bad
file or key.
"""

from __future__ import annotations

import argparse
import json
import os
import posixpath
import re
import shutil
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from rules_pyodide import outputs, pack_filter
from rules_pyodide.errors import RulesPyodideError, prog, run_command
from rules_pyodide.file_packager import FilePackagerError, Options, PreloadSpec
from rules_pyodide.file_packager import pack as file_pack
from rules_pyodide.index import Fragment, IndexBuildError, fragments_from_index

PROG = prog("pack")
MANIFESTS = ("pack.json", "env.json", "bundle.json")
"""A directory holding one of these was written by a pack or bundle run and may be replaced."""
_PYTHON_RE = re.compile(r"3\.\d+\Z")


class PackError(RulesPyodideError):
    """Bad input or an I/O failure; the message names the file, key or package at fault."""


@dataclass(frozen=True)
class Source:
    """One file to pack: where it is on disk and its path under the package's install directory."""

    path: Path
    rel: str


@dataclass
class PackagePlan:
    """One package before filtering: its files and where they are installed in the virtual file system."""

    name: str
    version: str
    root: str
    """Absolute install directory, e.g. `/lib/python3.10/site-packages`."""
    sources: list[Source]
    requires: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PackedPackage:
    """One written file package."""

    name: str
    js: str
    data: str
    files: int
    size: int
    removed: int


def site_packages(python: str) -> str:
    """`/lib/python3.X/site-packages` for a `3.X` or `3.X.Y` version."""
    short = ".".join(python.split(".")[:2])
    if not _PYTHON_RE.match(short):
        raise PackError(f"--python: {python!r} is not a Python 3 version such as 3.10")
    return f"/lib/python{short}/site-packages"


# ---------------------------------------------------------------------------------------------------------------------
# Collecting files


def _safe_rel(rel: str, origin: str) -> str:
    norm = posixpath.normpath(rel.replace(os.sep, "/"))
    if rel.startswith("/") or norm == ".." or norm.startswith("../") or norm in ("", "."):
        raise PackError(f"{origin}: {rel!r} is not a relative path inside the package")
    return norm


def files_of_dir(directory: Path) -> list[Source]:
    """Every regular file under `directory` (symlinks to files are followed), sorted by relative path."""
    if not directory.is_dir():
        raise PackError(f"{directory}: not a directory")
    found = []
    for root, dirs, files in os.walk(directory):
        dirs.sort()
        for name in files:
            path = Path(root) / name
            if path.is_file():
                found.append(Source(path, path.relative_to(directory).as_posix()))
    return sorted(found, key=lambda s: s.rel)


def find_site_packages(prefix: Path) -> tuple[Path, str | None]:
    """(site-packages directory, `3.X` if the layout names it) of an environment PREFIX."""
    if not prefix.is_dir():
        raise PackError(f"{prefix}: the environment prefix is not a directory")
    if any(prefix.glob("*.dist-info")):
        return prefix, None
    candidates = sorted(prefix.glob("lib/python3.*/site-packages"))
    if len(candidates) != 1:
        found = ", ".join(str(c) for c in candidates) or "none"
        raise PackError(f"{prefix}: expected exactly one lib/python3.X/site-packages (found: {found})")
    return candidates[0], candidates[0].parent.name.removeprefix("python")


def _requires(dist: importlib_metadata.Distribution, origin: str) -> list[str]:
    names = []
    for text in dist.requires or []:
        try:
            req = Requirement(text)
        except InvalidRequirement as err:
            raise PackError(f"{origin}: Requires-Dist {text!r}: {err}") from err
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            names.append(canonicalize_name(req.name))
    return sorted(set(names))


def env_plans(site: Path, root: str, skip: Sequence[str] = ()) -> tuple[list[PackagePlan], list[str]]:
    """One plan per distribution in `site` (split by RECORD), and the files no distribution owns."""
    skipped = {canonicalize_name(s) for s in skip}
    plans: dict[str, PackagePlan] = {}
    owned: set[str] = set()
    for meta_dir in sorted(site.glob("*.dist-info")):
        dist = importlib_metadata.PathDistribution(meta_dir)
        origin = str(meta_dir)
        if not (meta_dir / "METADATA").is_file():
            raise PackError(f"{origin}: METADATA is missing")
        name = dist.metadata["Name"]
        if not name:
            raise PackError(f"{origin}/METADATA: Name: missing")
        canonical = canonicalize_name(name)
        if canonical in plans:
            raise PackError(f"{origin}: a second installation of {name} in {site}")
        if dist.files is None:
            raise PackError(f"{origin}: RECORD is missing: cannot tell which files belong to {name}")
        sources = []
        for entry in dist.files:
            rel = posixpath.normpath(str(entry))
            if rel.startswith("../") or rel.startswith("/"):
                continue  # console scripts and data outside site-packages
            owned.add(rel)
            path = site / rel
            if path.is_file():
                sources.append(Source(path, rel))
        for path in meta_dir.rglob("*"):  # RECORD does not always list itself or INSTALLER
            rel = path.relative_to(site).as_posix()
            if path.is_file() and rel not in owned:
                owned.add(rel)
                sources.append(Source(path, rel))
        if canonical not in skipped:
            plans[canonical] = PackagePlan(
                canonical, dist.version, root, sorted(set(sources), key=lambda s: s.rel), _requires(dist, origin)
            )
    if not plans:
        raise PackError(f"{site}: no distribution (*.dist-info with METADATA) found")
    unowned = sorted(s.rel for s in files_of_dir(site) if s.rel not in owned and "__pycache__" not in s.rel.split("/"))
    return [plans[n] for n in dependency_order(plans)], unowned


def dependency_order(plans: dict[str, PackagePlan]) -> list[str]:
    """Package names, dependencies first (ties and cycles broken by name)."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        for dep in plans[name].requires:
            if dep in plans:
                visit(dep)
        order.append(name)

    for name in sorted(plans):
        visit(name)
    return order


# ---------------------------------------------------------------------------------------------------------------------
# Index packages


def read_index(path: Path) -> tuple[dict[str, Any], list[Fragment]]:
    """(the raw index, its packages as fragments) of a packages.json / repodata.json / pyodide-lock.json."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise PackError(f"{path}: cannot read the index: {err}") from err
    try:
        return raw, [fragment for _, fragment in fragments_from_index(raw, str(path))]
    except IndexBuildError as err:
        raise PackError(str(err)) from err


def closure(fragments: Sequence[Fragment], names: Sequence[str], origin: str) -> list[Fragment]:
    """The fragments named (all if none) and their dependencies, transitively, sorted by name."""
    by_name = {canonicalize_name(f.name): f for f in fragments}
    todo = [canonicalize_name(n) for n in names] if names else sorted(by_name)
    chosen: dict[str, Fragment] = {}
    parents: dict[str, str] = {}
    while todo:
        key = todo.pop()
        if key in chosen:
            continue
        fragment = by_name.get(key)
        if fragment is None:
            via = f" (a dependency of {parents[key]})" if key in parents else ""
            raise PackError(f"{origin}: package {key!r}{via} is not in the index")
        chosen[key] = fragment
        for dep in fragment.depends:
            parents.setdefault(canonicalize_name(dep), fragment.name)
            todo.append(canonicalize_name(dep))
    return [chosen[k] for k in sorted(chosen)]


def install_root(fragment: Fragment, python: str) -> str:
    site = site_packages(python)
    return {"site": site, "stdlib": posixpath.dirname(site), "dynlib": "/usr/lib"}[fragment.install_dir]


def _extract_zip(archive: Path, into: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            target = into / _safe_rel(info.filename, str(archive))
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)


def _extract_tar(archive: Path, into: Path) -> None:
    with tarfile.open(archive) as tf:
        for info in tf:
            if info.isdir():
                continue
            if not info.isfile():
                raise PackError(f"{archive}: {info.name!r} is a link or special file; only regular files are packed")
            target = into / _safe_rel(info.name, str(archive))
            target.parent.mkdir(parents=True, exist_ok=True)
            src = tf.extractfile(info)
            assert src is not None
            with src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)


def unpack_package(archive: Path, into: Path) -> list[Source]:
    """Extracts a package file (wheel/zip or tar) into the empty `into`; its files, sorted."""
    if not archive.is_file():
        raise PackError(f"{archive}: the package file is missing")
    into.mkdir(parents=True)
    try:
        if zipfile.is_zipfile(archive):
            _extract_zip(archive, into)
        elif tarfile.is_tarfile(archive):
            _extract_tar(archive, into)
        else:
            raise PackError(f"{archive}: neither a zip (wheel) nor a tar archive")
    except (OSError, zipfile.BadZipFile, tarfile.TarError) as err:
        raise PackError(f"{archive}: cannot unpack: {err}") from err
    return files_of_dir(into)


def index_python(raw: dict[str, Any], python: str | None, origin: str) -> str:
    info = raw.get("info") if isinstance(raw.get("info"), dict) else {}
    value = python or (info or {}).get("python")
    if not isinstance(value, str):
        raise PackError(f"{origin}: info.python is missing (packages.json has none): give --python 3.X")
    return value


def index_plans(index_path: Path, names: Sequence[str], staging: Path, python: str | None = None) -> list[PackagePlan]:
    """Unpacks the chosen packages of an index (and their dependencies) under `staging`; one plan each."""
    raw, fragments = read_index(index_path)
    version = index_python(raw, python, str(index_path))
    plans = []
    for fragment in closure(fragments, names, str(index_path)):
        sources = unpack_package(index_path.parent / fragment.file_name, staging / canonicalize_name(fragment.name))
        plans.append(
            PackagePlan(
                canonicalize_name(fragment.name),
                fragment.version,
                install_root(fragment, version),
                sources,
                sorted(canonicalize_name(d) for d in fragment.depends),
            )
        )
    return plans


# ---------------------------------------------------------------------------------------------------------------------
# Writing


def filter_plan(plan: PackagePlan, filters: pack_filter.FilterConfig, report: pack_filter.FilterReport) -> list[Source]:
    by_rel = {s.rel: s for s in plan.sources}
    return [by_rel[rel] for rel in pack_filter.apply(filters, plan.name, by_rel, report)]


def write_file_package(
    out_dir: Path, name: str, entries: Sequence[tuple[Source, str]], *, lz4: bool = False
) -> tuple[str, str]:
    """Packs (source, absolute destination) pairs into `out_dir/name.data` + `name.js`; their base names."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise PackError(f"--name: {name!r} must be a plain file name (letters, digits, '.', '_', '-')")
    preloads = tuple(PreloadSpec(str(source.path), dst) for source, dst in entries)
    options = Options(
        data_target=str(out_dir / f"{name}.data"), preloads=preloads, js_output=str(out_dir / f"{name}.js"), lz4=lz4
    )
    try:
        file_pack(options, log=lambda _msg: None)
    except FilePackagerError as err:
        raise PackError(f"{name}: {err}") from err
    return f"{name}.js", f"{name}.data"


def pack_plan(
    plan: PackagePlan,
    out_dir: Path,
    filters: pack_filter.FilterConfig,
    report: pack_filter.FilterReport,
    *,
    file_name: str | None = None,
    lz4: bool = False,
) -> PackedPackage | None:
    """Filters and packs one package into `out_dir/<file_name or name>.js`; None if the filter left nothing."""
    kept = filter_plan(plan, filters, report)
    removed = report.packages[plan.name].removed_count
    if not kept:
        return None
    entries = [(s, posixpath.join(plan.root, s.rel)) for s in kept]
    js, data = write_file_package(out_dir, file_name or plan.name, entries, lz4=lz4)
    return PackedPackage(plan.name, js, data, len(kept), sum(s.path.stat().st_size for s in kept), removed)


@contextmanager
def atomic_dir(output: Path) -> Iterator[Path]:
    """A temporary directory beside `output` that replaces it when the block succeeds, and vanishes otherwise."""
    if output.exists():
        if not output.is_dir():
            raise PackError(f"{output}: the output exists and is not a directory")
        if any(output.iterdir()) and not any((output / m).is_file() for m in MANIFESTS):
            raise PackError(f"{output}: the output directory is not empty and was not written by a pack run")
    with outputs.atomic_dir(output, mode=0o755, replace=True) as tmp:
        yield tmp


def write_json(path: Path, value: object) -> None:
    path.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n", encoding="utf-8")


@dataclass
class PackResult:
    """What a pack run wrote."""

    output: Path
    packages: list[PackedPackage]
    report: pack_filter.FilterReport
    manifest: dict[str, Any]
    unowned: list[str] = field(default_factory=list)


def _progress(quiet: bool) -> Progress:
    return Progress(console=Console(stderr=True), transient=True, disable=quiet)


def pack_bundle(
    plans: Sequence[PackagePlan],
    output: Path,
    name: str,
    filters: pack_filter.FilterConfig,
    *,
    kind: str,
    lz4: bool = False,
) -> PackResult:
    """Filters every plan and packs them all into one file package `output/NAME.js` with a `pack.json`."""
    report = pack_filter.FilterReport(filters.source)
    entries: list[tuple[Source, str]] = []
    rows = []
    for plan in plans:
        kept = filter_plan(plan, filters, report)
        entries += [(s, posixpath.join(plan.root, s.rel)) for s in kept]
        size = sum(s.path.stat().st_size for s in kept)
        rows.append(PackedPackage(plan.name, "", "", len(kept), size, report.packages[plan.name].removed_count))
    if not entries:
        raise PackError(f"{name}: nothing left to pack after the filter {filters.source}")
    with atomic_dir(output) as tmp:
        js, data = write_file_package(tmp, name, entries, lz4=lz4)
        manifest = {
            "kind": kind,
            "js": js,
            "data": data,
            "packages": [
                {"name": p.name, "version": plan.version, "files": p.files, "size": p.size, "removed": p.removed}
                for p, plan in zip(rows, plans, strict=True)
            ],
            "files": sorted(dst for _, dst in entries),
        }
        write_json(tmp / "filter-report.json", report.to_json())
        write_json(tmp / "pack.json", manifest)
    packed = [PackedPackage(r.name, js, data, r.files, r.size, r.removed) for r in rows]
    return PackResult(output, packed, report, manifest)


def pack_files(
    paths: Sequence[Path],
    output: Path,
    name: str,
    *,
    prefix: str = "/",
    filters: pack_filter.FilterConfig = pack_filter.NO_FILTER,
    lz4: bool = False,
) -> PackResult:
    """`pack file`: each path installed as PREFIX/<base name>."""
    sources = []
    for path in paths:
        if not path.is_file():
            raise PackError(f"{path}: not a regular file")
        sources.append(Source(path, path.name))
    plan = PackagePlan(name, "", _check_prefix(prefix), sources)
    return pack_bundle([plan], output, name, filters, kind="file", lz4=lz4)


def pack_dir(
    directory: Path,
    output: Path,
    name: str,
    *,
    prefix: str = "/",
    filters: pack_filter.FilterConfig = pack_filter.NO_FILTER,
    lz4: bool = False,
) -> PackResult:
    """`pack dir`: the files under `directory` installed under PREFIX with their relative paths."""
    plan = PackagePlan(name, "", _check_prefix(prefix), files_of_dir(directory))
    return pack_bundle([plan], output, name, filters, kind="dir", lz4=lz4)


def pack_index(
    index_path: Path,
    output: Path,
    name: str,
    *,
    packages: Sequence[str] = (),
    python: str | None = None,
    filters: pack_filter.FilterConfig = pack_filter.NO_FILTER,
    lz4: bool = False,
) -> PackResult:
    """`pack index`: the chosen packages of an index and their dependencies, in one file package."""
    with tempfile.TemporaryDirectory(prefix="rules-pyodide-pack-") as staging:
        plans = index_plans(index_path, packages, Path(staging), python)
        return pack_bundle(plans, output, name, filters, kind="index", lz4=lz4)


def pack_env(
    prefix: Path,
    output: Path,
    *,
    python: str | None = None,
    skip: Sequence[str] = (),
    filters: pack_filter.FilterConfig = pack_filter.NO_FILTER,
    lz4: bool = False,
    quiet: bool = True,
) -> PackResult:
    """`pack env`: one file package per distribution of the environment, and `env.json`."""
    site, layout_python = find_site_packages(prefix)
    version = python or layout_python
    if version is None:
        raise PackError(f"{prefix}: the layout does not name the Python version: give --python 3.X")
    root = site_packages(version)
    plans, unowned = env_plans(site, root, skip)
    report = pack_filter.FilterReport(filters.source)
    packed: list[PackedPackage] = []
    entries = []
    with atomic_dir(output) as tmp, _progress(quiet) as progress:
        task = progress.add_task("packing distributions", total=len(plans))
        for plan in plans:
            result = pack_plan(plan, tmp, filters, report, lz4=lz4)
            progress.advance(task)
            entry: dict[str, Any] = {"name": plan.name, "version": plan.version, "requires": plan.requires}
            if result is None:
                entry.update({"js": None, "data": None, "files": 0, "size": 0})
            else:
                packed.append(result)
                entry.update({"js": result.js, "data": result.data, "files": result.files, "size": result.size})
            entry["removed"] = report.packages[plan.name].removed_count
            entries.append(entry)
        manifest = {
            "kind": "env",
            "python": ".".join(version.split(".")[:2]),
            "site_packages": root,
            "packages": entries,
            "unowned_files": unowned,
        }
        write_json(tmp / "env.json", manifest)
        write_json(tmp / "filter-report.json", report.to_json())
    return PackResult(output, packed, report, manifest, unowned)


def _check_prefix(prefix: str) -> str:
    norm = posixpath.normpath(prefix)
    if not prefix.startswith("/") or ".." in prefix.split("/"):
        raise PackError(f"--prefix: {prefix!r} must be an absolute path without '..'")
    return norm


# ---------------------------------------------------------------------------------------------------------------------
# Command line


def print_report(result: PackResult, console: Console) -> None:
    table = Table(title=f"packed into {result.output}")
    for column in ("package", "file package", "files", "size", "removed by filter"):
        table.add_column(column, justify="left" if column in ("package", "file package") else "right")
    for p in result.packages:
        table.add_row(p.name, p.js, str(p.files), f"{p.size:,}", str(p.removed))
    console.print(table)
    by_pattern: dict[str, int] = {}
    for rep in result.report.packages.values():
        for pattern, paths in rep.removed.items():
            by_pattern[pattern] = by_pattern.get(pattern, 0) + len(paths)
    if by_pattern:
        filt = Table(title=f"filter {result.report.source}: files removed per pattern")
        filt.add_column("pattern")
        filt.add_column("files", justify="right")
        for pattern, count in sorted(by_pattern.items(), key=lambda kv: (-kv[1], kv[0])):
            filt.add_row(pattern, str(count))
        console.print(filt)
    if result.unowned:
        console.print(f"[yellow]{len(result.unowned)} file(s) belong to no distribution and were not packed[/]")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", required=True, type=Path, help="output directory (replaced atomically)")
    parser.add_argument(
        "--filters", default=None, help="filter YAML (default: the shipped pack_filters.yaml; `none`: no filter)"
    )
    parser.add_argument("--lz4", action="store_true", help="LZ4-compress the .data")
    parser.add_argument("--quiet", action="store_true", help="print no table")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    p_file = sub.add_parser("file", help="pack files into PREFIX")
    p_file.add_argument("paths", nargs="+", type=Path)
    p_dir = sub.add_parser("dir", help="pack a directory tree into PREFIX")
    p_dir.add_argument("directory", type=Path)
    for p in (p_file, p_dir):
        p.add_argument("--name", required=True, help="file package base name (NAME.js, NAME.data)")
        p.add_argument("--prefix", default="/", help="install directory in the virtual FS (default /)")
    p_env = sub.add_parser("env", help="pack each distribution of a Python environment")
    p_env.add_argument("prefix", type=Path)
    p_env.add_argument("--skip", action="append", default=[], help="leave this distribution out (repeat)")
    p_index = sub.add_parser("index", help="pack packages of an index and their dependencies into one bundle")
    p_index.add_argument("index", type=Path)
    p_index.add_argument("--name", required=True, help="file package base name (NAME.js, NAME.data)")
    p_index.add_argument("--package", action="append", default=[], help="package to pack (repeat; default all)")
    for p in (p_env, p_index):
        p.add_argument("--python", help="Python version of the target runtime, e.g. 3.10 (default: from the input)")
    for p in (p_file, p_dir, p_env, p_index):
        _common(p)
    return parser


def run(args: argparse.Namespace) -> PackResult:
    filters = pack_filter.load(args.filters)
    if args.mode == "file":
        return pack_files(args.paths, args.output, args.name, prefix=args.prefix, filters=filters, lz4=args.lz4)
    if args.mode == "dir":
        return pack_dir(args.directory, args.output, args.name, prefix=args.prefix, filters=filters, lz4=args.lz4)
    if args.mode == "env":
        return pack_env(
            args.prefix,
            args.output,
            python=args.python,
            skip=args.skip,
            filters=filters,
            lz4=args.lz4,
            quiet=args.quiet,
        )
    return pack_index(
        args.index, args.output, args.name, packages=args.package, python=args.python, filters=filters, lz4=args.lz4
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return run_command(PROG, lambda: _command(args))


def _command(args: argparse.Namespace) -> None:
    result = run(args)
    if not args.quiet:
        print_report(result, Console(width=max(120, shutil.get_terminal_size().columns)))


if __name__ == "__main__":
    sys.exit(main())


__all__ = [
    "PackError",
    "PackResult",
    "PackedPackage",
    "main",
    "pack_dir",
    "pack_env",
    "pack_files",
    "pack_index",
]
