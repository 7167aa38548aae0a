"""Turn the recipes of a directory (`packages/*/meta.yaml`) into Starlark for the `pyodide_recipes` repository rule.

    python -m rules_pyodide.recipes_bzl --packages packages --output-dir DIR [--distdir .cache/distdir]
        [--source-rule LABEL]

Writes `DIR/recipes.bzl` (`RECIPES`: every enabled recipe keyed by its directory name, which is its target name in
`//packages`) and `DIR/sources.bzl` (`pyodide_sources()`: one `pyodide_source` repository per recipe with a
`source.url`). Recipe errors do not stop the writer: `RECIPES["error"]` then holds the message (file and key), the
recipe list is empty and `pyodide_packages()` fails with it, so only `//packages` is affected. Run from the workspace
root with a relative `--packages` so messages name `packages/<name>/meta.yaml`.

`test.script` (a file of the recipe run in Pyodide as `<name>_test`) and `test.requires` (recipes it needs) are
rules_pyodide extensions of the format; `slow` is true for `package.tag: [slow]` (left out of `//packages:all`).

Besides the recipe fields, each entry has values derived here, where PEP 440/503 are at hand: `wheel` (the wheel's
file name, `<name>-<version>-py3-none-any.whl`), `archive` (the url's base name), `source_repo`, and `run`/`host`/
`test_requires` as the `//packages` targets of the packages they name (see below).

Per-profile recipes (`package.profiles`, see rules_pyodide.recipe): a package name that has a recipe listing its
profiles is a *selected name*: `RECIPES["names"][<canonical name>]` is `{"name": display name, "profiles": {profile:
directory}}`, and `//packages:<canonical name>` is an alias that selects the recipe of the profile. Such a recipe's
own package target is `<directory>_package` (its entry's `package_target`; `<directory>` otherwise), and
requirements naming the package resolve to the alias, so a recipe that needs numpy gets the numpy of its profile.

Compiled recipes (built by `pyodide_emcc_build` for the selected Pyodide profile instead of `pyodide_pure_build`):
`compiled` is true when `build.type` is a library, a compile key is set (cflags, cxxflags, ldflags, script, post,
cross-script, backend-flags, replace-libs, a non-default exports), a host requirement is a library recipe, or
`package.tag` holds `compiled` (for a package whose own build compiles with nothing to configure). `libraries` are
the host requirements that are library recipes (compiled and linked against), `host` the others. A shared library
in requirements.host must be in requirements.run too (it is loaded at run time), a static one must not.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from rules_pyodide.index import write_atomic
from rules_pyodide.recipe import Recipe, RecipeError, load_recipes

DEFAULT_SOURCE_RULE = "@//rules/private:source_repository.bzl"
# Build keys whose presence means the recipe needs a compiler (pyodide_emcc_build instead of pyodide_pure_build).
_COMPILED_KEYS = ("cflags", "cxxflags", "ldflags", "script", "post", "cross_script", "backend_flags", "replace_libs")
_LIBRARY_TYPES = ("static_library", "shared_library")
COMPILED_TAG = "compiled"
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


def _check_supported(meta: Path, recipe: Recipe) -> None:
    if recipe.build.type == "cpython_module":
        raise RecipeError(f"{meta}: build.type: 'cpython_module' is not supported (the runtime ships its stdlib)")
    if recipe.build.cross_script:
        raise RecipeError(f"{meta}: build.cross-script: not supported (use build.script)")


def is_compiled(recipe: Recipe, library_deps: Sequence[str]) -> bool:
    build = recipe.build
    return (
        build.type in _LIBRARY_TYPES
        or any(getattr(build, key) for key in _COMPILED_KEYS)
        or build.exports != "pyinit"
        or bool(library_deps)
        or COMPILED_TAG in recipe.package.tag
    )


def _entry(meta: Path, recipe: Recipe, directories: Mapping[str, str], types: Mapping[str, str]) -> dict[str, Any]:
    """One recipe's entry. `directories`: canonical name -> target; `types`: target -> build.type."""
    try:
        wheel = wheel_name(recipe)
        source = recipe.source
        assert source is not None  # only cpython_module recipes may omit it, and _check_supported refused them
        archive = archive_name(source.url) if source.url else None
    except RecipeError as err:
        raise RecipeError(f"{meta}: {err}") from None
    host = [directories[str(canonicalize_name(d))] for d in recipe.requirements.host]
    run = [directories[str(canonicalize_name(d))] for d in recipe.requirements.run]
    for dep in run:
        if types.get(dep) == "static_library":
            raise RecipeError(
                f"{meta}: requirements.run: {dep!r} is a static library, used only at build time: "
                "list it in requirements.host"
            )
    libraries = [d for d in host if types.get(d) in _LIBRARY_TYPES]
    for dep in libraries:
        if types[dep] == "shared_library" and dep not in run:
            raise RecipeError(
                f"{meta}: requirements.host: {dep!r} is a shared library, which the package needs at run time too "
                "(Pyodide loads it before the package): list it in requirements.run as well"
            )
    build = recipe.build
    exports = list(build.exports) if isinstance(build.exports, tuple) else [build.exports]
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
        "compiled": is_compiled(recipe, libraries),
        "slow": SLOW_TAG in recipe.package.tag,
        "cflags": build.cflags,
        "cxxflags": build.cxxflags,
        "ldflags": build.ldflags,
        "script": build.script,
        "post": build.post,
        "backend_flags": build.backend_flags,
        "replace_libs": list(build.replace_libs),
        "exports": exports,
        "imports": list(recipe.package.top_level or recipe.test.imports),
        "test_imports": list(recipe.test.imports),
        "test_script": recipe.test.script,
        "test_requires": [directories[str(canonicalize_name(d))] for d in recipe.test.requires],
        "unvendor_tests": recipe.build.unvendor_tests,
        "wheel": wheel,
        "profiles": list(recipe.package.profiles),
        "package_target": meta.parent.name + "_package" if recipe.package.profiles else meta.parent.name,
    }


def _selected_names(packages: Path, by_dir: Mapping[str, Recipe]) -> dict[str, Any]:
    """{canonical name: {"name", "profiles": {profile: directory}}} for names with per-profile recipes."""
    names: dict[str, Any] = {}
    for directory, recipe in sorted(by_dir.items()):
        if not recipe.package.profiles or recipe.package.disabled:
            continue
        if recipe.build.type in _LIBRARY_TYPES:
            raise RecipeError(
                f"{packages / directory / 'meta.yaml'}: package.profiles: not supported for build.type "
                f"{recipe.build.type} (libraries are linked by directory name)"
            )
        entry = names.setdefault(recipe.canonical_name, {"name": recipe.name, "profiles": {}})
        for profile in recipe.package.profiles:
            entry["profiles"][profile] = directory
    for entry in names.values():
        entry["profiles"] = dict(sorted(entry["profiles"].items()))
    return names


def convert(packages: Path) -> dict[str, Any]:
    """{"error": None, "recipes": {directory: entry}, "names": {canonical name: selected name}, "disabled":
    [directory]}; RecipeError on any bad recipe."""
    by_dir = load_recipes(packages)
    names = _selected_names(packages, by_dir)
    # Requirements name packages: each canonical name -> the //packages target that provides it.
    directories = {r.canonical_name: d for d, r in by_dir.items() if r.canonical_name not in names}
    directories.update({n: n for n in names})
    disabled = sorted(d for d, r in by_dir.items() if r.package.disabled)
    types = {d: r.build.type for d, r in by_dir.items()}
    entries: dict[str, Any] = {}
    for directory, recipe in sorted(by_dir.items()):
        if recipe.package.disabled:
            continue
        meta = packages / directory / "meta.yaml"
        for kind in ("run", "host"):
            for dep in getattr(recipe.requirements, kind):
                if directories[str(canonicalize_name(dep))] in disabled:
                    raise RecipeError(f"{meta}: requirements.{kind}: {dep!r} is disabled (package._disabled)")
        _check_supported(meta, recipe)
        entries[directory] = _entry(meta, recipe, directories, types)
    return {"error": None, "recipes": entries, "names": names, "disabled": disabled}


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

RECIPES: "error" (None, or the message of the first bad recipe), "recipes" (directory name -> recipe entry),
"names" (canonical package name -> its per-profile recipes), "disabled" (directory names of recipes with
package._disabled).
"""

'''

SOURCES_TEMPLATE = '''"""Generated by rules_pyodide (python -m rules_pyodide.recipes_bzl). Do not edit."""

load({rule}, "pyodide_source")

def pyodide_sources():
    """Declares one repository per recipe with a `source.url`: the downloaded archive as `@<repo>//:archive`."""
{body}'''


def sources_bzl(data: Mapping[str, Any], distdir: str, source_rule: str) -> str:
    calls = []
    for entry in data["recipes"].values():
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
    return SOURCES_TEMPLATE.format(rule=starlark(source_rule), body="".join(calls) or "    pass\n")


def write(packages: Path, output_dir: Path, distdir: str, source_rule: str) -> str | None:
    """Write recipes.bzl and sources.bzl; returns the recipe error message, if any."""
    try:
        data = convert(packages)
    except RecipeError as err:
        data = {"error": str(err), "recipes": {}, "names": {}, "disabled": []}
    write_atomic(output_dir / "recipes.bzl", RECIPES_HEADER.format(packages=packages) + f"RECIPES = {starlark(data)}\n")
    write_atomic(output_dir / "sources.bzl", sources_bzl(data, distdir, source_rule))
    error: str | None = data["error"]
    return error


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rules_pyodide.recipes_bzl", description=__doc__.split("\n")[0])
    parser.add_argument("--packages", required=True, type=Path, help="directory holding <name>/meta.yaml")
    parser.add_argument("--output-dir", required=True, type=Path, help="where recipes.bzl and sources.bzl go")
    parser.add_argument("--distdir", default=".cache/distdir", help="passed to each pyodide_source (see its doc)")
    parser.add_argument("--source-rule", default=DEFAULT_SOURCE_RULE, help="label of source_repository.bzl")
    args = parser.parse_args(argv)
    try:
        error = write(args.packages, args.output_dir, args.distdir, args.source_rule)
    except OSError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if error:
        print(f"error: {error}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
