"""Turn the recipes of a directory (`packages/*/meta.yaml`) into Starlark for the `pyodide_recipes` repository rule.

    python -m rules_pyodide.recipes_bzl --packages packages --output-dir DIR [--distdir .cache/distdir]
        [--source-rule LABEL]
    python -m rules_pyodide.recipes_bzl --packages DIR --summary     (rules-pyodide recipes-bzl ...)

`--summary` writes nothing: it prints how the recipes of DIR (e.g. Pyodide's own `packages/`) fare, one line of
figures and then each broken recipe's error, and exits 1 if any is broken.

Writes `DIR/recipes.bzl` (`RECIPES`: every enabled recipe keyed by its directory name, which is its target name in
`//packages`) and `DIR/sources.bzl` (`pyodide_sources()`: one `pyodide_source` repository per recipe with a
`source.url`). Recipe errors do not stop the writer, nor the other recipes: `RECIPES["broken"]` maps a bad recipe
(and every recipe that needs it) to its one-line error (file and key), and `pyodide_packages()` gives its targets
that fail with it, while the rest build. Run from the workspace
root with a relative `--packages` so messages name `packages/<name>/meta.yaml`.

`test.script` (a file of the recipe run in Pyodide as `<name>_test`) and `test.requires` (recipes it needs) are
rules_pyodide extensions of the format; `slow` is true for `package.tag: [slow]` (left out of `//packages:all`).

Besides the recipe fields, each entry has values derived here, where PEP 440/503 are at hand: `wheel` (the wheel's
file name, `<name>-<version>-py3-none-any.whl`), `archive` (the url's base name), `source_repo`, and `run`/`host`/
`test_requires` as the `//packages` targets of the packages they name (see below). A recipe directory with a
`build-requirements.lock` (rules_pyodide.build_lock) gets `build_lock`, `build_wheels` (one `pyodide_source`
repository per wheel, `pyodide_wheel_<file>`, declared in `sources.bzl` once however many recipes lock it) and
`build_wheel_sources`; a lock that does not parse, or was made from another sdist than the recipe's, breaks the recipe.

Per-profile recipes (`package.profiles`, see rules_pyodide.recipe): a package name that has a recipe listing its
profiles is a *selected name*: `RECIPES["names"][<canonical name>]` is `{"name": display name, "profiles": {profile:
directory}}`, and `//packages:<canonical name>` is an alias that selects the recipe of the profile. Such a recipe's
own package target is `<directory>_package` (its entry's `package_target`; `<directory>` otherwise), and
requirements naming the package resolve to the alias, so a recipe that needs numpy gets the numpy of its profile.

Compiled or pure is found out, not declared: `compiled` (built by `pyodide_emcc_build` for the selected Pyodide
profile instead of `pyodide_pure_build`) is true when the recipe's source compiles anything (`kind`, see
rules_pyodide.sdist_kind: the archive is read from `--distdir`, where `rules-pyodide fetch` puts it, after checking
its digest; a `source.path` tree is read in place), or when the recipe itself says so: `build.type` is a library, a
compile key is set (cflags, cxxflags, ldflags, script, post, cross-script, backend-flags, replace-libs, a
non-default exports), or a host requirement is a library recipe. `package.tag: [compiled]` is still accepted and
forces it, but is never needed; `package.tag: [pure]` forces pure, for a source whose C files are not built (Cython
with its self-compilation patched out). When the archive is not in the distdir (not fetched yet, or another digest),
`kind` is `unknown` and the recipe takes the emcc path, as pyodide-build does for every recipe, with `allow_pure` (a
build that makes no extension module is then not an error). `kind_reason` says why. `libraries` are the host
requirements that are library recipes (compiled and linked against), `host` the others. A shared library
in requirements.host must be in requirements.run too (it is loaded at run time), a static one must not.

A recipe whose `source.url` is a wheel (`.whl`, as many of pyodide-build's recipes are) is shipped, not built
(`wheel_source`, `source_wheel`): the file name must name the recipe's package and version; `wheel` is that name,
`kind` is `pure` for a `*-none-any` wheel (fit for every profile) and `compiled` otherwise (fit for the profile of
its tag only, which the build checks: rules_pyodide.wheel_source), and `compiled` follows `kind`. `build.post` runs
on the unpacked wheel; library types are errors with a wheel, the other build keys have no effect.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from rules_pyodide.build_lock import LOCK_NAME, BuildLockError, read_lock
from rules_pyodide.errors import prog, report, run_command
from rules_pyodide.outputs import file_digest, write_atomic
from rules_pyodide.recipe import Recipe, RecipeError, load_each, propagate
from rules_pyodide.sdist_kind import KindError, classify_archive, classify_tree

PROG = prog("recipes-bzl")
DEFAULT_SOURCE_RULE = "@//rules/private:source_repository.bzl"
# Build keys whose presence means the recipe needs a compiler (pyodide_emcc_build instead of pyodide_pure_build).
_COMPILED_KEYS = ("cflags", "cxxflags", "ldflags", "script", "post", "cross_script", "backend_flags", "replace_libs")
_LIBRARY_TYPES = ("static_library", "shared_library")
COMPILED_TAG = "compiled"
# `package.tag: [pure]`: the recipe builds no extension although its source has C files (Cython 3.0.12: its sdist
# compiles Cython itself unless told not to, which the recipe's patch does). A wrong `pure` is caught by the pure
# build, which refuses host compilers.
PURE_TAG = "pure"
# The standard-library modules Pyodide unvendors into packages of its own (cpython_module recipes from 0.22, built by
# its Makefile or `_cpython_dynlib` recipes in 0.21): every runtime ships them, so requiring one needs no recipe.
STDLIB_MODULES = ("distutils", "hashlib", "lzma", "pydecimal", "pydoc_data", "sqlite3", "ssl", "test")
# `package.tag: [slow]`: a long build (numpy), left out of `//packages:all` (see rules/private/packages.bzl).
SLOW_TAG = "slow"


def wheel_name(recipe: Recipe) -> str:
    """The pure-Python wheel's file name (PEP 427 escaping of the canonical name, normalized version)."""
    try:
        version = str(Version(recipe.package.version))
    except InvalidVersion:
        raise RecipeError(f"package.version: {recipe.package.version!r} is not a PEP 440 version") from None
    return f"{re.sub(r'[-_.]+', '_', recipe.canonical_name)}-{version}-py3-none-any.whl"


def archive_name(url: str) -> str:
    """The base name Bazel's downloader and --distdir use for `url`."""
    name = unquote(PurePosixPath(urlsplit(url).path).name)
    if not name or name in (".", ".."):
        raise RecipeError(f"source.url: {url!r} does not end with a file name")
    return name


def repository_name(canonical: str) -> str:
    return "pyodide_source_" + re.sub(r"[^A-Za-z0-9_]", "_", canonical)


def wheel_repository_name(filename: str) -> str:
    """The `pyodide_source` repository of a locked build-requirement wheel (shared by every recipe locking it)."""
    return "pyodide_wheel_" + re.sub(r"[^A-Za-z0-9_]", "_", filename.removesuffix(".whl")).lower()


def build_lock_fields(meta: Path, archive: str | None = None) -> dict[str, Any]:
    """`build_lock` (the lock's file name in the recipe directory, or None) and `build_wheels` (the repositories of
    its wheels, every Python's) of the recipe `meta`, and `build_wheel_sources` (what sources_bzl declares for them). No
    lock: None and empty lists (the build uses the tool's own backends). A lock made from another sdist than the
    recipe's `archive` (the version was changed) is an error of the recipe."""
    lock = meta.parent / LOCK_NAME
    if not lock.is_file():
        return {"build_lock": None, "build_wheels": [], "build_wheel_sources": []}
    try:
        parsed = read_lock(lock)
    except BuildLockError as err:
        raise RecipeError(str(err)) from None
    if archive and parsed.source and parsed.source != archive:
        raise RecipeError(
            f"{lock}: made from {parsed.source}, but the recipe's source is {archive}: run "
            f"`rules-pyodide fetch {meta.parent.name}` and `rules-pyodide lock-build {meta.parent.name}`"
        )
    wheels = parsed.wheels
    sources = sorted({(w.filename, w.url, w.sha256) for w in wheels})
    return {
        "build_lock": LOCK_NAME,
        "build_wheels": [wheel_repository_name(f) for f, _, _ in sources],
        "build_wheel_sources": [{"archive": f, "url": u, "sha256": h, "meta": str(lock)} for f, u, h in sources],
    }


def _declared_why(recipe: Recipe) -> str:
    if recipe.build.type in _LIBRARY_TYPES:
        return f"build.type {recipe.build.type}"
    keys = [key for key in _COMPILED_KEYS if getattr(recipe.build, key)]
    return "build." + ", build.".join(keys) if keys else "a compile key or a library requirement"


def is_compiled(recipe: Recipe, library_deps: Sequence[str]) -> bool:
    """The recipe itself says it compiles (a library, a compile key, a library host requirement, the tag)."""
    build = recipe.build
    return (
        build.type in _LIBRARY_TYPES
        or any(getattr(build, key) for key in _COMPILED_KEYS)
        or build.exports != "pyinit"
        or bool(library_deps)
        or COMPILED_TAG in recipe.package.tag
    )


def source_kind(meta: Path, recipe: Recipe, distdir: Path | None) -> tuple[str, str]:
    """("compiled" | "pure" | "unknown", reason) from the recipe's source (see the module docstring)."""
    source = recipe.source
    assert source is not None
    try:
        if source.path:
            tree = meta.parent / source.path
            if not tree.is_dir():
                return "unknown", f"source.path {source.path} is not a directory"
            kind = classify_tree(tree)
        else:
            assert source.url is not None
            archive = (distdir / archive_name(source.url)) if distdir else None
            if archive is None or not archive.is_file():
                return "unknown", f"{archive_name(source.url)} is not in the distdir ({distdir}) to look into"
            algorithm, expected = ("sha256", source.sha256) if source.sha256 else ("md5", source.md5 or "")
            if file_digest(archive, algorithm) != expected.lower():
                return "unknown", f"{archive} does not have the recipe's {algorithm}"
            kind = classify_archive(archive)
    except (KindError, OSError) as err:
        return "unknown", str(err)
    return ("compiled" if kind.compiled else "pure"), kind.reason


def source_wheel(recipe: Recipe, archive: str) -> tuple[str, str]:
    """For a recipe whose `source.url` is a wheel: ("pure" | "compiled", reason), from the file name's tags, which
    must name the recipe's package and version. What rules_pyodide does not do with a wheel (a library type) is an
    error here rather than silently skipped."""
    try:
        name, version, _, tags = parse_wheel_filename(archive)
    except InvalidWheelFilename as err:
        raise RecipeError(f"source.url: {archive} is not a wheel file name ({err})") from None
    if name != recipe.canonical_name:
        raise RecipeError(f"source.url: {archive} is a wheel of {name!r}, not of the recipe's {recipe.name!r}")
    try:
        same = version == Version(recipe.package.version)
    except InvalidVersion:
        same = False
    if not same:
        raise RecipeError(f"source.url: {archive} has version {version}, the recipe {recipe.package.version!r}")
    if recipe.build.type != "package":
        raise RecipeError(f"build.type: {recipe.build.type} cannot come from a wheel (source.url {archive})")
    text = ", ".join(sorted(str(t) for t in tags))
    pure = all(t.abi == "none" and t.platform == "any" for t in tags)
    return ("pure" if pure else "compiled"), f"a prebuilt wheel tagged {text}"


def _entry(
    meta: Path, recipe: Recipe, directories: Mapping[str, str], types: Mapping[str, str], distdir: Path | None
) -> dict[str, Any]:
    try:
        # Libraries are not wheels: their version need not be PEP 440 (openssl 1.1.1n).
        wheel = wheel_name(recipe) if recipe.build.type == "package" else ""
        source = recipe.source
        assert source is not None  # only cpython_module recipes may omit it, and convert sets those aside
        archive = archive_name(source.url) if source.url else None
        wheel_kind = source_wheel(recipe, archive) if archive and recipe.wheel_source else None
    except RecipeError as err:
        raise RecipeError(f"{meta}: {err}") from None

    def present(names: Sequence[str]) -> list[str]:
        """Directories of the named recipes; stdlib modules (cpython_module recipes, STDLIB_MODULES) come with the
        runtime."""
        found = [directories.get(str(canonicalize_name(d))) for d in names]
        return [d for d in found if d is not None and types.get(d) != "cpython_module"]

    host = present(recipe.requirements.host)
    run = present(recipe.requirements.run)
    # Pyodide 0.21 had no requirements.host: its recipes list static libraries in requirements.run, which
    # pyodide-build then links at build time. They are build-time requirements here too.
    host += [d for d in run if types.get(d) == "static_library" and d not in host]
    run = [d for d in run if types.get(d) != "static_library"]
    libraries = [d for d in host if types.get(d) in _LIBRARY_TYPES]
    # A shared library is loaded by Pyodide before the package that links it, so it is a run requirement too (what
    # pyodide-build's vendor-sharedlib achieves by copying it into the wheel; recipes of that era list it in host only).
    run += [d for d in libraries if types[d] == "shared_library" and d not in run]
    build = recipe.build
    exports = list(build.exports) if isinstance(build.exports, tuple) else [build.exports]
    declared = is_compiled(recipe, libraries)
    if wheel_kind is not None:
        # Nothing is built: the wheel's tags alone say whether it is pure (their build keys are ignored).
        declared, (kind, reason) = False, wheel_kind
        wheel = archive or ""
    elif build.type == "package":
        kind, reason = source_kind(meta, recipe, distdir)
    else:
        kind, reason = "compiled", build.type
    if PURE_TAG in recipe.package.tag and wheel_kind is None:
        if declared:
            raise RecipeError(f"{meta}: package.tag: {PURE_TAG!r}, but the recipe compiles ({_declared_why(recipe)})")
        kind, reason = "pure", f"package.tag {PURE_TAG!r} (the source alone says: {reason})"
    return {
        "name": recipe.name,
        "canonical_name": recipe.canonical_name,
        "version": recipe.package.version,
        "meta": str(meta),
        "url": source.url,
        "sha256": source.sha256,
        "md5": source.md5,
        "archive": archive,
        "source_repo": repository_name(str(canonicalize_name(meta.parent.name))) if source.url else None,
        "path": source.path,
        "extract_dir": source.extract_dir,
        "patches": list(source.patches),
        "extras": [list(pair) for pair in source.extras],
        "run": run,
        "host": [d for d in host if d not in libraries],
        "libraries": libraries,
        "type": build.type,
        "compiled": declared or kind != "pure",
        "kind": kind,
        "kind_reason": reason,
        "allow_pure": kind == "unknown" and not declared,
        "wheel_source": wheel_kind is not None,
        "slow": SLOW_TAG in recipe.package.tag,
        "cflags": build.cflags,
        "cxxflags": build.cxxflags,
        "ldflags": build.ldflags,
        "script": build.script,
        "post": build.post,
        "backend_flags": build.backend_flags,
        "cross_script": build.cross_script,
        "executables": list(recipe.requirements.executable),
        "constraints": list(recipe.requirements.constraint),
        "build_extras": list(recipe.requirements.build_extras),
        "replace_libs": list(build.replace_libs),
        "exports": exports,
        "imports": list(recipe.package.top_level or recipe.test.imports),
        "test_imports": list(recipe.test.imports),
        "test_script": recipe.test.script,
        "test_requires": [directories[str(canonicalize_name(d))] for d in recipe.test.requires],
        "unvendor_tests": recipe.build.unvendor_tests,
        "retain_test_patterns": list(recipe.build.retain_test_patterns),
        "wheel": wheel,
        "profiles": list(recipe.package.profiles),
        "package_target": meta.parent.name + "_package" if recipe.package.profiles else meta.parent.name,
        **build_lock_fields(meta, archive),
    }


def convert(packages: Path, distdir: Path | None = None) -> dict[str, Any]:
    """{"error": None, "recipes": {directory: entry}, "disabled": [directory], "broken": {directory: message},
    "warnings": [message]}. A bad recipe does not stop the others: it is in `broken` with its one-line error, and so
    is every recipe that needs it (rules_pyodide.recipe.load_each)."""
    recipes, errors = load_each(packages, STDLIB_MODULES)
    directories: dict[str, str] = {}
    metas: dict[str, Path] = {}
    for meta in sorted(packages.glob("*/meta.yaml")):
        directories[str(canonicalize_name(meta.parent.name))] = meta.parent.name
        metas[meta.parent.name] = meta
    names = _selected_names(metas, recipes, errors)
    # Requirements name packages: a selected name's target is the alias named after it.
    directories.update({n: n for n in names})
    notes: list[str] = []
    disabled = _disabled(recipes, directories, metas, notes)
    types = {d: r.build.type for d, r in recipes.items()}
    stdlib = sorted(d for d, r in recipes.items() if r.build.type == "cpython_module" and d not in disabled)
    entries: dict[str, Any] = {}
    for directory, recipe in sorted(recipes.items()):
        if directory in disabled or directory in stdlib or directory in errors:
            continue
        meta = metas[directory]
        try:
            entries[directory] = _entry(meta, recipe, directories, types, distdir)
        except RecipeError as err:
            errors[directory] = str(err)
    _inherit_profiles(entries, names, errors, metas)
    live = {d: recipes[d] for d in entries}
    propagate(live, errors, metas)
    warnings = sorted([*notes, *(w for r in recipes.values() for w in r.warnings)])
    return {
        "error": None,
        "recipes": {d: e for d, e in entries.items() if d in live},
        "names": {n: e for n, e in names.items() if all(d in live for d in e["profiles"].values())},
        "disabled": disabled,
        "stdlib": stdlib,
        "broken": dict(sorted(errors.items())),
        "warnings": warnings,
    }


def _inherit_profiles(
    entries: dict[str, Any], names: dict[str, Any], errors: dict[str, str], metas: Mapping[str, Path]
) -> None:
    """A recipe without `package.profiles` that needs (run, host or test.requires, transitively) a package with
    recipes for some profiles only, e.g. fast-histogram on numpy, can be built for those profiles only: it gets them
    (its targets are compatible with them, and `<all>` holds it there) and becomes a selected name itself, whose
    alias says which requirements limit it. No common profile: the recipe is broken, saying why."""
    explicit = {n: (frozenset(e["profiles"]), (e["name"],)) for n, e in names.items()}
    derived: dict[str, tuple[frozenset[str], tuple[str, ...]]] = {}
    changed = True
    while changed:  # until every limit has reached its requirements' (dependency order is not known here)
        changed = False
        for directory, entry in sorted(entries.items()):
            if entry["profiles"]:
                continue
            deps = dict.fromkeys([*entry["run"], *entry["host"], *entry["libraries"], *entry["test_requires"]])
            found = [explicit.get(d) or derived.get(d) for d in deps]
            limits = [f for f in found if f is not None]
            if not limits:
                continue
            limit = (
                frozenset.intersection(*(p for p, _ in limits)),
                tuple(sorted({n for _, ns in limits for n in ns})),
            )
            if derived.get(directory) != limit:
                derived[directory] = limit
                changed = True
    dead = {d for d, (profiles, _) in derived.items() if not profiles}
    for directory, (profiles, requires) in sorted(derived.items()):
        entry = entries[directory]
        if not profiles and dead.intersection([*entry["run"], *entry["host"], *entry["test_requires"]]):
            continue  # it needs a recipe that cannot be built: `propagate` says so
        if not profiles:
            errors[directory] = f"{metas[directory]}: requirements: no profile has all of {list(requires)}"
        elif entry["type"] != "package":
            errors[directory] = (
                f"{metas[directory]}: requirements: {', '.join(requires)} exist for the profiles "
                f"{', '.join(sorted(profiles))} only, and a {entry['type']} cannot be limited to some profiles"
            )
        else:
            entry["profiles"] = sorted(profiles)
            entry["package_target"] = directory + "_package"
            names[entry["canonical_name"]] = {
                "name": entry["name"],
                "profiles": {p: directory for p in sorted(profiles)},
                "requires": list(requires),
            }
            continue
        del entries[directory]


def _selected_names(metas: Mapping[str, Path], recipes: Mapping[str, Recipe], errors: dict[str, str]) -> dict[str, Any]:
    """{canonical name: {"name", "profiles": {profile: directory}}} for names with per-profile recipes; a library
    recipe with profiles is an error (libraries are linked by directory)."""
    names: dict[str, Any] = {}
    for directory, recipe in sorted(recipes.items()):
        if not recipe.package.profiles or recipe.package.disabled:
            continue
        if recipe.build.type in _LIBRARY_TYPES:
            errors[directory] = (
                f"{metas[directory]}: package.profiles: not supported for build.type {recipe.build.type} "
                "(libraries are linked by directory name)"
            )
            continue
        entry = names.setdefault(recipe.canonical_name, {"name": recipe.name, "profiles": {}})
        for profile in recipe.package.profiles:
            entry["profiles"][profile] = directory
    for entry in names.values():
        entry["profiles"] = dict(sorted(entry["profiles"].items()))
    return names


def _disabled(
    recipes: Mapping[str, Recipe], directories: Mapping[str, str], metas: Mapping[str, Path], notes: list[str]
) -> list[str]:
    """Directories of the disabled recipes: `package._disabled`, and, as pyodide-build does, every recipe that needs
    a disabled one (run or host), each with a note naming the one it needs."""
    disabled = {d for d, r in recipes.items() if r.package.disabled}
    changed = True
    while changed:
        changed = False
        for directory, recipe in sorted(recipes.items()):
            if directory in disabled:
                continue
            for kind in ("run", "host"):
                dep = next(
                    (
                        d
                        for d in getattr(recipe.requirements, kind)
                        if directories.get(str(canonicalize_name(d))) in disabled
                    ),
                    None,
                )
                if dep is not None:
                    notes.append(f"{metas[directory]}: requirements.{kind}: {dep!r} is disabled, so this recipe is too")
                    disabled.add(directory)
                    changed = True
                    break
    return sorted(disabled)


def starlark(value: object, indent: str = "") -> str:
    """Starlark literal for JSON-like data (dicts with string keys, lists, str, bool, int, None), one item per line."""
    inner = indent + "    "
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        items = "".join(f"{inner}{starlark(str(k))}: {starlark(v, inner)},\n" for k, v in value.items())
        return "{\n" + items + indent + "}"
    if isinstance(value, list | tuple):
        if not value:
            return "[]"
        return "[\n" + "".join(f"{inner}{starlark(v, inner)},\n" for v in value) + indent + "]"
    if value is None or isinstance(value, bool | int):
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
        return '"' + escaped.replace("\t", "\\t") + '"'
    raise TypeError(f"no Starlark literal for {type(value).__name__}")


RECIPES_HEADER = '''"""Generated from {packages}/*/meta.yaml by rules_pyodide (python -m rules_pyodide.recipes_bzl).

RECIPES: "error" (None, or a message that concerns every recipe), "recipes" (directory name -> recipe entry),
"names" (canonical package name -> its per-profile recipes: "name", and "profiles": profile -> directory),
"disabled" (directory names of recipes with package._disabled, or that need one), "stdlib" (cpython_module recipes:
not built, the runtime ships its standard library; requiring one needs nothing), "broken" (directory name -> the
one-line error of a recipe that cannot be built: its own, or one of a recipe it needs), "warnings" (deprecated keys
and recipes disabled because they need a disabled one, one line each).
"""

'''

SOURCES_TEMPLATE = '''"""Generated by rules_pyodide (python -m rules_pyodide.recipes_bzl). Do not edit."""

load({rule}, "pyodide_source")

def pyodide_sources():
    """Declares one repository per recipe with a `source.url`: the downloaded archive as `@<repo>//:archive`."""
{body}'''


def sources_bzl(data: Mapping[str, Any], distdir: str, source_rule: str) -> str:
    calls = []
    wheels: dict[str, Mapping[str, str]] = {}
    for entry in data["recipes"].values():
        for wheel in entry.get("build_wheel_sources", []):
            wheels.setdefault(wheel["archive"], wheel)
        if not entry["url"]:
            continue
        calls.append(
            "    pyodide_source(\n"
            f"        name = {starlark(entry['source_repo'])},\n"
            f"        archive = {starlark(entry['archive'])},\n"
            f"        distdir = {starlark(distdir)},\n"
            f"        md5 = {starlark(entry['md5'] or '')},\n"
            f"        meta = {starlark(entry['meta'])},\n"
            f"        sha256 = {starlark(entry['sha256'] or '')},\n"
            f"        url = {starlark(entry['url'])},\n"
            "    )\n"
        )
    for archive, wheel in sorted(wheels.items()):
        calls.append(
            "    pyodide_source(\n"
            f"        name = {starlark(wheel_repository_name(archive))},\n"
            f"        archive = {starlark(archive)},\n"
            f"        distdir = {starlark(distdir)},\n"
            f"        meta = {starlark(wheel['meta'])},\n"
            f"        sha256 = {starlark(wheel['sha256'])},\n"
            f"        url = {starlark(wheel['url'])},\n"
            "    )\n"
        )
    return SOURCES_TEMPLATE.format(rule=starlark(source_rule), body="".join(calls) or "    pass\n")


def write(packages: Path, output_dir: Path, distdir: str, source_rule: str) -> dict[str, Any]:
    """Write recipes.bzl and sources.bzl; returns the data (its `broken` and `warnings` are reported by main)."""
    try:
        data = convert(packages, Path(distdir))
    except RecipeError as err:
        data = {"error": str(err), "recipes": {}, "names": {}, "disabled": [], "broken": {}, "warnings": []}
    write_atomic(output_dir / "recipes.bzl", RECIPES_HEADER.format(packages=packages) + f"RECIPES = {starlark(data)}\n")
    write_atomic(output_dir / "sources.bzl", sources_bzl(data, distdir, source_rule))
    return data


def summary(packages: Path, distdir: Path) -> int:
    """Print the figures of `convert(packages)` and each broken recipe's error; 1 if any is broken."""
    total = len(list(packages.glob("*/meta.yaml")))
    data = convert(packages, distdir if distdir.is_dir() else None)
    kinds = [e["kind"] for e in data["recipes"].values()]
    print(
        f"{packages}: {total} recipes: {len(data['recipes'])} buildable "
        f"({kinds.count('compiled')} compiled, {kinds.count('pure')} pure, {kinds.count('unknown')} source not looked "
        f"into), {len(data['disabled'])} disabled, {len(data['stdlib'])} stdlib, {len(data['broken'])} broken; "
        f"{len(data['warnings'])} warnings"
    )
    for message in data["broken"].values():
        print(f"error: {message}")
    return 1 if data["broken"] else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    parser.add_argument("--packages", required=True, type=Path, help="directory holding <name>/meta.yaml")
    parser.add_argument("--output-dir", type=Path, help="where recipes.bzl and sources.bzl go")
    parser.add_argument("--summary", action="store_true", help="print figures and errors; write nothing")
    parser.add_argument("--distdir", default=".cache/distdir", help="passed to each pyodide_source (see its doc)")
    parser.add_argument("--source-rule", default=DEFAULT_SOURCE_RULE, help="label of source_repository.bzl")
    args = parser.parse_args(argv)
    if args.summary:
        return run_command(PROG, lambda: summary(args.packages, Path(args.distdir)))
    if args.output_dir is None:
        parser.error("--output-dir is required (unless --summary)")
    return run_command(PROG, lambda: _write(args))


def _write(args: argparse.Namespace) -> None:
    data = write(args.packages, args.output_dir, args.distdir, args.source_rule)
    # A broken recipe does not fail the conversion (its targets fail with its message): reported, exit status 0.
    for message in [data["error"], *data["broken"].values()]:
        if message:
            report(PROG, message)
    for message in data["warnings"]:
        print(f"{PROG}: warning: {message}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
