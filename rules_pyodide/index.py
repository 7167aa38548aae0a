"""The package index, built incrementally: one JSON fragment per package, merged into the index a runtime reads.

    python -m rules_pyodide.index fragment --name N --version V --file PKG.zip [--package-type T] [--install-dir D]
        [--depends NAME ...] [--imports MOD ...] [--shared-library|--no-shared-library] [--unvendored-tests]
        --output N.json
    python -m rules_pyodide.index merge --format packages.json|repodata.json|pyodide-lock.json
        [--info-json INFO.json] [--base RUNTIME_INDEX.json] --output INDEX FRAGMENT...

Formats, as read by the loaders shipped in the npm runtimes (see tests/test_index.py for the round trips):
- packages.json (0.18-0.20): info {arch, platform}; entries name, version, file_name, install_dir (site|dynlib|lib),
  [shared_library], depends, imports, [unvendored_tests]; optional flags only when true; keys are `name.lower()`.
- repodata.json (0.21-0.23): info {arch, platform, version, python}; adds sha256. From info.version 0.23 on, adds
  package_type and writes stdlib modules' install_dir as `stdlib` (0.21's loader only knows `lib`). Key order as
  in the shipped files; keys and depends are `name.lower()`.
- pyodide-lock.json (0.24+): every key sorted, every field present, keys PEP 503-canonical, depends as given (the
  loader canonicalizes). info has arch, platform, python and `version` (checked by 0.24-0.28) and/or `abi_version`
  (checked from 0.29). `shared_library` is written only when info.version is below 0.29 (the last loaders to read it).
Fragments store install_dir as site|dynlib|stdlib; the writer maps it per format. Output ends with a newline.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NoReturn

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from rules_pyodide.errors import RulesPyodideError, prog, run_command
from rules_pyodide.outputs import sha256_file, write_atomic

PROG = prog("index")
FORMATS = ("packages.json", "repodata.json", "pyodide-lock.json")
PACKAGE_TYPES = ("package", "cpython_module", "shared_library")
INSTALL_DIRS = ("site", "dynlib", "stdlib")
DEFAULT_INSTALL_DIR = {"package": "site", "cpython_module": "stdlib", "shared_library": "dynlib"}
_NAME_RE = re.compile(r"^([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9])$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


class IndexBuildError(RulesPyodideError):
    """A fragment or the merged index is invalid; the message names the file, package and field."""


def _fail(message: str) -> NoReturn:
    raise IndexBuildError(message)


@dataclass(frozen=True)
class Fragment:
    """One package's index entry, independent of the output format."""

    name: str
    version: str
    file_name: str
    install_dir: str
    sha256: str
    depends: tuple[str, ...]
    imports: tuple[str, ...]
    package_type: str
    shared_library: bool
    unvendored_tests: bool

    def __post_init__(self) -> None:
        where = f"package {self.name!r}"
        if not _NAME_RE.match(self.name):
            _fail(f"{where}: name: not a valid package name")
        if not self.version:
            _fail(f"{where}: version: must not be empty")
        if not self.file_name or "/" in self.file_name or self.file_name in (".", ".."):
            _fail(f"{where}: file_name: {self.file_name!r} must be a plain file name")
        if self.install_dir not in INSTALL_DIRS:
            _fail(f"{where}: install_dir: {self.install_dir!r} is not one of {', '.join(INSTALL_DIRS)}")
        if self.package_type not in PACKAGE_TYPES:
            _fail(f"{where}: package_type: {self.package_type!r} is not one of {', '.join(PACKAGE_TYPES)}")
        if not _SHA256_RE.match(self.sha256):
            _fail(f"{where}: sha256: {self.sha256!r} is not a lowercase sha256 hex digest")
        for dep in self.depends:
            if not _NAME_RE.match(dep):
                _fail(f"{where}: depends: {dep!r} is not a package name")


def make_fragment(
    name: str,
    version: str,
    file_name: str,
    sha256: str,
    *,
    package_type: str = "package",
    install_dir: str | None = None,
    depends: Sequence[str] = (),
    imports: Sequence[str] = (),
    shared_library: bool | None = None,
    unvendored_tests: bool = False,
) -> Fragment:
    """A validated fragment; install_dir and shared_library default from package_type as Pyodide's build does."""
    if package_type == "static_library":
        _fail(f"package {name!r}: static libraries are only used at build time and have no index entry")
    return Fragment(
        name=name,
        version=version,
        file_name=file_name,
        install_dir=install_dir or DEFAULT_INSTALL_DIR.get(package_type, "site"),
        sha256=sha256,
        depends=tuple(depends),
        imports=tuple(imports),
        package_type=package_type,
        shared_library=package_type != "package" if shared_library is None else shared_library,
        unvendored_tests=unvendored_tests,
    )


def fragment_to_json(fragment: Fragment) -> str:
    return json.dumps(asdict(fragment), sort_keys=True) + "\n"


def read_fragment(path: Path) -> Fragment:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        _fail(f"{path}: cannot read fragment: {err}")
    if not isinstance(data, dict):
        _fail(f"{path}: expected a JSON object")
    fields = Fragment.__dataclass_fields__
    for key in data.keys() - fields.keys():
        _fail(f"{path}: {key}: unknown key (expected one of: {', '.join(fields)})")
    for key in fields.keys() - data.keys():
        _fail(f"{path}: {key}: required key is missing")
    for key in ("depends", "imports"):
        if not isinstance(data[key], list) or not all(isinstance(x, str) for x in data[key]):
            _fail(f"{path}: {key}: expected a list of strings")
        data[key] = tuple(data[key])
    for key in ("shared_library", "unvendored_tests"):
        if not isinstance(data[key], bool):
            _fail(f"{path}: {key}: expected true or false")
    for key in ("name", "version", "file_name", "install_dir", "sha256", "package_type"):
        if not isinstance(data[key], str):
            _fail(f"{path}: {key}: expected a string")
    try:
        return Fragment(**data)
    except IndexBuildError as err:
        _fail(f"{path}: {err}")


def fragment_from_entry(entry: object, origin: str) -> Fragment:
    """The fragment that an entry of any index format was written from (the inverse of the writer).

    Reads packages.json, repodata.json and pyodide-lock.json entries alike: install_dir `lib` is `stdlib`; a missing
    package_type is guessed from install_dir as Pyodide's own build does; missing flags are false. `origin` names
    the entry in errors, e.g. `dist/repodata.json: packages.six`.
    """
    if not isinstance(entry, dict):
        _fail(f"{origin}: expected a JSON object")
    for key in ("name", "version", "file_name", "install_dir"):
        if not isinstance(entry.get(key), str):
            _fail(f"{origin}: {key}: expected a string")
    for key in ("depends", "imports"):
        value = entry.get(key, [])
        if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
            _fail(f"{origin}: {key}: expected a list of strings")
    for key in ("shared_library", "unvendored_tests"):
        if not isinstance(entry.get(key, False), bool):
            _fail(f"{origin}: {key}: expected true or false")
    for key in ("sha256", "package_type"):
        if key in entry and not isinstance(entry[key], str):
            _fail(f"{origin}: {key}: expected a string")
    install_dir = "stdlib" if entry["install_dir"] == "lib" else entry["install_dir"]
    package_type = entry.get("package_type") or {"stdlib": "cpython_module", "dynlib": "shared_library"}.get(
        install_dir, "package"
    )
    if "sha256" not in entry:
        _fail(f"{origin}: sha256: required key is missing (packages.json has none: use repodata.json or newer)")
    try:
        return make_fragment(
            entry["name"],
            entry["version"],
            entry["file_name"],
            entry["sha256"],
            package_type=package_type,
            install_dir=install_dir,
            depends=entry.get("depends", []),
            imports=entry.get("imports", []),
            shared_library=entry.get("shared_library", False),
            unvendored_tests=entry.get("unvendored_tests", False),
        )
    except IndexBuildError as err:
        _fail(f"{origin}: {err}")


def fragments_from_index(index: object, origin: str) -> list[tuple[str, Fragment]]:
    """Every entry of an index (any format) as (origin, fragment) pairs, ready for `merge`; `origin` is the file."""
    if not isinstance(index, dict) or not isinstance(index.get("packages"), dict):
        _fail(f"{origin}: expected a JSON object with a 'packages' object")
    packages: dict[str, object] = index["packages"]
    return [
        (f"{origin}: packages.{key}", fragment_from_entry(packages[key], f"{origin}: packages.{key}"))
        for key in sorted(packages)
    ]


# ---------------------------------------------------------------------------------------------------------------------
# Formats


@dataclass(frozen=True)
class Dialect:
    """How one format (and runtime version) spells an entry."""

    key: Callable[[str], str]
    fields: tuple[str, ...]  # in output order; `sort_keys` overrides it
    stdlib_dir: str
    flags_only_when_true: bool
    sort_keys: bool


def _lower(name: str) -> str:
    return name.lower()


def _canonical(name: str) -> str:
    return str(canonicalize_name(name))


_INFO_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {  # format -> (required, optional)
    "packages.json": (("arch", "platform"), ()),
    "repodata.json": (("arch", "platform", "version", "python"), ()),
    "pyodide-lock.json": (("arch", "platform", "python"), ("version", "abi_version")),
}


def _version(info: Mapping[str, str]) -> Version | None:
    return Version(info["version"]) if "version" in info else None


def dialect(fmt: str, info: Mapping[str, str]) -> Dialect:
    version = _version(info)
    fields: tuple[str, ...]
    if fmt == "packages.json":
        fields = ("name", "version", "file_name", "install_dir", "shared_library", "depends", "imports")
        return Dialect(_lower, (*fields, "unvendored_tests"), "lib", True, False)
    if fmt == "repodata.json":
        if version is not None and version < Version("0.23"):
            fields = ("name", "version", "file_name", "install_dir", "sha256", "shared_library", "depends", "imports")
            return Dialect(_lower, (*fields, "unvendored_tests"), "lib", True, False)
        fields = ("name", "version", "file_name", "install_dir", "sha256", "package_type", "imports")
        return Dialect(_lower, (*fields, "shared_library", "depends", "unvendored_tests"), "stdlib", True, False)
    fields = ("name", "version", "file_name", "install_dir", "sha256", "package_type", "imports", "depends")
    if version is not None and version < Version("0.29"):
        fields = (*fields, "shared_library")
    return Dialect(_canonical, (*fields, "unvendored_tests"), "stdlib", False, True)


def check_info(fmt: str, info: object, origin: str) -> dict[str, str]:
    """Validate the info section for `fmt`; returns it in the format's key order."""
    if not isinstance(info, dict):
        _fail(f"{origin}: info: expected a JSON object")
    required, optional = _INFO_KEYS[fmt]
    for key in info:
        if key not in required + optional:
            _fail(f"{origin}: info.{key}: not part of {fmt} (expected: {', '.join(required + optional)})")
    for key in required:
        if key not in info:
            _fail(f"{origin}: info.{key}: required for {fmt}")
    for key, value in info.items():
        if not isinstance(value, str) or not value:
            _fail(f"{origin}: info.{key}: expected a non-empty string")
    if fmt == "pyodide-lock.json" and not info.keys() & {"version", "abi_version"}:
        _fail(f"{origin}: info: needs 'version' (0.24-0.28) or 'abi_version' (0.26+), the key the loader checks")
    if "version" in info:
        try:
            Version(info["version"])
        except InvalidVersion:
            _fail(f"{origin}: info.version: {info['version']!r} is not a version")
    ordered = [k for k in required + optional if k in info]
    return {k: info[k] for k in (sorted(ordered) if fmt == "pyodide-lock.json" else ordered)}


def _entry(fragment: Fragment, d: Dialect, dep_keys: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = asdict(fragment)
    values["depends"] = (
        [dep_keys[_canonical(x)] for x in fragment.depends] if d.key is _lower else list(fragment.depends)
    )
    values["imports"] = list(fragment.imports)
    if fragment.install_dir == "stdlib":
        values["install_dir"] = d.stdlib_dir
    entry = {field: values[field] for field in d.fields}
    if d.flags_only_when_true:
        entry = {k: v for k, v in entry.items() if v is not False or k not in ("shared_library", "unvendored_tests")}
    return dict(sorted(entry.items())) if d.sort_keys else entry


def merge(
    fmt: str,
    info: Mapping[str, str],
    fragments: Sequence[tuple[str, Fragment]],
    base: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The index for `fmt`: `base` packages (taken as they are) overlaid with `fragments` ((origin, fragment) pairs).

    Errors: two fragments for one (canonical) name; a dependency that is in neither.
    """
    if fmt not in FORMATS:
        _fail(f"unknown format {fmt!r} (expected one of: {', '.join(FORMATS)})")
    d = dialect(fmt, info)
    base_packages: dict[str, Any] = dict(base or {})
    seen: dict[str, str] = {}
    for origin, fragment in fragments:
        canon = _canonical(fragment.name)
        if canon in seen:
            _fail(f"{origin}: package {fragment.name!r} is already defined by {seen[canon]}")
        seen[canon] = origin
    ours = {_canonical(f.name): f for _, f in fragments}
    keys = {_canonical(str(p.get("name", k))): k for k, p in base_packages.items()}
    keys.update({canon: d.key(f.name) for canon, f in ours.items()})
    for origin, fragment in fragments:
        for dep in fragment.depends:
            if _canonical(dep) not in keys:
                _fail(f"{origin}: package {fragment.name!r} depends on {dep!r}, which is not in the index")
    packages = {k: v for k, v in base_packages.items() if _canonical(str(v.get("name", k))) not in ours}
    packages.update({d.key(f.name): _entry(f, d, keys) for f in ours.values()})
    return {"info": dict(info), "packages": dict(sorted(packages.items()))}


def dump_index(index: Mapping[str, Any]) -> str:
    """Single-line JSON with the separators the shipped files use, and a final newline."""
    return json.dumps(index, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------------------------------------------------------------
# Command line


def _load_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        _fail(f"{path}: cannot read {what}: {err}")


def _cmd_fragment(args: argparse.Namespace) -> None:
    if (args.file is None) == (args.sha256 is None):
        _fail("fragment: give exactly one of --file (hashed here) and --sha256")
    file_name = args.file_name or (args.file.name if args.file else None)
    if not file_name:
        _fail("fragment: --file-name is required with --sha256")
    fragment = make_fragment(
        args.name,
        args.version,
        file_name,
        sha256_file(args.file) if args.file else args.sha256,
        package_type=args.package_type,
        install_dir=args.install_dir,
        depends=args.depends,
        imports=args.imports,
        shared_library=args.shared_library,
        unvendored_tests=args.unvendored_tests,
    )
    write_atomic(args.output, fragment_to_json(fragment))


def _cmd_merge(args: argparse.Namespace) -> None:
    base = _load_json(args.base, "base index") if args.base else None
    if base is not None and not (isinstance(base, dict) and isinstance(base.get("packages"), dict)):
        _fail(f"{args.base}: base index has no 'packages' object")
    if args.info_json:
        info = check_info(args.format, _load_json(args.info_json, "info"), str(args.info_json))
    elif base is not None:
        info = check_info(args.format, base.get("info"), str(args.base))
    else:
        _fail("merge: --info-json is required (or --base, whose info is then used)")
    fragments = [(str(p), read_fragment(p)) for p in sorted(args.fragments)]
    index = merge(args.format, info, fragments, base["packages"] if base else None)
    write_atomic(args.output, dump_index(index))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG)
    sub = parser.add_subparsers(dest="command", required=True)
    frag = sub.add_parser("fragment", help="write one package's index fragment")
    frag.add_argument("--name", required=True)
    frag.add_argument("--version", required=True)
    frag.add_argument("--file", type=Path, help="the built package file; its sha256 and base name are used")
    frag.add_argument("--file-name", help="file name in the index (default: base name of --file)")
    frag.add_argument("--sha256", help="sha256 of the package file, when --file is not given")
    frag.add_argument("--package-type", default="package", choices=(*PACKAGE_TYPES, "static_library"))
    frag.add_argument("--install-dir", choices=INSTALL_DIRS, help="default: from --package-type")
    frag.add_argument("--depends", action="append", default=[], help="a run dependency (repeat)")
    frag.add_argument("--imports", action="append", default=[], help="a top-level import name (repeat)")
    frag.add_argument("--shared-library", action=argparse.BooleanOptionalAction, default=None)
    frag.add_argument("--unvendored-tests", action="store_true")
    frag.add_argument("--output", required=True, type=Path)
    frag.set_defaults(run=_cmd_fragment)
    mrg = sub.add_parser("merge", help="merge fragments into an index")
    mrg.add_argument("--format", required=True, choices=FORMATS)
    mrg.add_argument("--info-json", type=Path, help="JSON object for the info section")
    mrg.add_argument("--base", type=Path, help="an existing index (e.g. the runtime's) to add the fragments to")
    mrg.add_argument("--output", required=True, type=Path)
    mrg.add_argument("fragments", nargs="*", type=Path)
    mrg.set_defaults(run=_cmd_merge)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return run_command(PROG, lambda: args.run(args))


if __name__ == "__main__":
    sys.exit(main())
