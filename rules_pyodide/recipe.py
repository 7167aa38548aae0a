"""Pyodide recipes (`packages/<name>/meta.yaml`): a strict, typed model.

`load_recipe(path)` parses one recipe; `load_recipes(dir)` loads `dir/*/meta.yaml` and checks the dependency graph;
`to_json(recipe)` gives stable JSON that a Bazel repository rule turns into Starlark data.

Every error is a `RecipeError` whose message names the file and the key path, e.g.
`packages/foo/meta.yaml: build.cflgs: unknown key (expected one of: ...)`.

Directory rule for `load_recipes`: the directory name and `package/name` must be equal once canonicalized
(PEP 503), so `packages/jinja2/meta.yaml` may hold `name: Jinja2` (as in Pyodide's own tree), but `packages/foo`
may not hold `bar` -- unless the recipe lists `package.profiles` (a rules_pyodide extension: the Pyodide ABI
profiles it is for, e.g. `[0.29.5]`; default every profile). One package may then have several recipes, one per set
of profiles, e.g. `packages/numpy` (numpy 1.22.4, `profiles: [0.21.3]`) and `packages/numpy2` (`name: numpy`,
version 2.2.5, `profiles: [0.29.5]`): every recipe of a name must list its profiles, and no profile may be listed by
two of them. Requirements name packages, so `numpy` means whichever of its recipes fits the profile.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, NoReturn

import yaml
from packaging.utils import canonicalize_name

PACKAGE_TYPES = ("package", "static_library", "shared_library", "cpython_module")
EXPORTS_KEYWORDS = ("pyinit", "requested", "whole_archive")
_NAME_RE = re.compile(r"^([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9])$")
_HEX_RE = {"md5": re.compile(r"^[0-9a-fA-F]{32}$"), "sha256": re.compile(r"^[0-9a-fA-F]{64}$")}


class RecipeError(Exception):
    """A recipe (or a set of recipes) is invalid; the message names the file and the key."""


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    top_level: tuple[str, ...] = ()
    tag: tuple[str, ...] = ()
    disabled: bool = False
    # rules_pyodide extension: the profiles (`--//:pyodide` values) this recipe is for; empty: every profile.
    profiles: tuple[str, ...] = ()


@dataclass(frozen=True)
class Source:
    url: str | None = None
    path: str | None = None
    extract_dir: str | None = None
    md5: str | None = None
    sha256: str | None = None
    patches: tuple[str, ...] = ()
    extras: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Build:
    type: str = "package"
    skip_host: bool = True
    cflags: str = ""
    cxxflags: str = ""
    ldflags: str = ""
    backend_flags: str = ""
    script: str = ""
    post: str = ""
    cross_script: str = ""
    replace_libs: tuple[str, ...] = ()
    exports: str | tuple[str, ...] = "pyinit"
    unvendor_tests: bool = True
    vendor_sharedlib: bool = False
    cross_build_env: bool = False
    cross_build_files: tuple[str, ...] = ()


@dataclass(frozen=True)
class Requirements:
    run: tuple[str, ...] = ()
    host: tuple[str, ...] = ()
    executable: tuple[str, ...] = ()


@dataclass(frozen=True)
class Test:
    imports: tuple[str, ...] = ()
    # A Python file of the recipe run in Pyodide as `<name>_test` instead of the import test, and the recipes it
    # needs besides the package (e.g. pytest): rules_pyodide extensions of the Pyodide format.
    script: str | None = None
    requires: tuple[str, ...] = ()


@dataclass(frozen=True)
class About:
    home: str | None = None
    PyPI: str | None = None
    summary: str | None = None
    license: str | None = None


@dataclass(frozen=True)
class Recipe:
    package: Package
    source: Source | None = None
    build: Build = field(default_factory=Build)
    requirements: Requirements = field(default_factory=Requirements)
    test: Test = field(default_factory=Test)
    about: About = field(default_factory=About)

    @property
    def name(self) -> str:
        """The display name, as written in `package/name`."""
        return self.package.name

    @property
    def canonical_name(self) -> str:
        return str(canonicalize_name(self.package.name))

    @property
    def dependencies(self) -> tuple[str, ...]:
        """Run and host requirements, the edges of the recipe graph (executables are host tools, not recipes)."""
        return tuple(dict.fromkeys(self.requirements.run + self.requirements.host))


# ---------------------------------------------------------------------------------------------------------------------
# Value checkers: each takes (where, value) and returns the converted value or raises _Invalid.


class _Invalid(Exception):
    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")


Checker = Callable[[str, object], object]


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _string(key: str, value: object) -> str:
    if not isinstance(value, str):
        hint = " (quote it in YAML)" if isinstance(value, int | float) else ""
        raise _Invalid(key, f"expected a string, got {_type_name(value)}{hint}")
    return value


def _nonempty_string(key: str, value: object) -> str:
    text = _string(key, value)
    if not text.strip():
        raise _Invalid(key, "must not be empty")
    return text


def _bool(key: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise _Invalid(key, f"expected true or false, got {_type_name(value)}")
    return value


def _string_list(key: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise _Invalid(key, f"expected a list of strings, got {_type_name(value)}")
    return tuple(_string(f"{key}[{i}]", item) for i, item in enumerate(value))


def _profiles(key: str, value: object) -> tuple[str, ...]:
    items = _string_list(key, value)
    if not items:
        raise _Invalid(key, "expected at least one profile name (leave the key out for every profile)")
    for i, item in enumerate(items):
        if item in items[:i]:
            raise _Invalid(f"{key}[{i}]", f"{item!r} is listed twice")
    return items


def _relative_path(key: str, value: object) -> str:
    text = _nonempty_string(key, value)
    pure = PurePosixPath(text)
    if pure.is_absolute() or ".." in pure.parts:
        raise _Invalid(key, f"{text!r} must be a relative path inside the tree (no leading '/', no '..')")
    return text


def _relative_path_list(key: str, value: object) -> tuple[str, ...]:
    items = _string_list(key, value)
    return tuple(_relative_path(f"{key}[{i}]", item) for i, item in enumerate(items))


def _requirement_list(key: str, value: object) -> tuple[str, ...]:
    items = _string_list(key, value)
    for i, item in enumerate(items):
        if not _NAME_RE.match(item):
            raise _Invalid(f"{key}[{i}]", f"{item!r} is not a package name (no version specifiers or markers)")
    return items


def _package_name(key: str, value: object) -> str:
    text = _string(key, value)
    if not _NAME_RE.match(text):
        raise _Invalid(key, f"{text!r} is not a valid package name")
    return text


def _checksum(kind: str) -> Checker:
    def check(key: str, value: object) -> str:
        text = _string(key, value)
        if not _HEX_RE[kind].match(text):
            raise _Invalid(key, f"{text!r} is not a {kind} hex digest")
        return text.lower()

    return check


def _extras(key: str, value: object) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, list):
        raise _Invalid(key, f"expected a list of [src, dst] pairs, got {_type_name(value)}")
    pairs = []
    for i, item in enumerate(value):
        if not isinstance(item, list) or len(item) != 2:
            raise _Invalid(f"{key}[{i}]", "expected a [src, dst] pair")
        pairs.append((_relative_path(f"{key}[{i}][0]", item[0]), _relative_path(f"{key}[{i}][1]", item[1])))
    return tuple(pairs)


def _package_type(key: str, value: object) -> str:
    text = _string(key, value)
    if text not in PACKAGE_TYPES:
        raise _Invalid(key, f"{text!r} is not one of: {', '.join(PACKAGE_TYPES)}")
    return text


def _exports(key: str, value: object) -> str | tuple[str, ...]:
    if isinstance(value, list):
        return _string_list(key, value)
    text = _string(key, value)
    if text not in EXPORTS_KEYWORDS:
        raise _Invalid(key, f"{text!r} is not one of: {', '.join(EXPORTS_KEYWORDS)} (or a list of symbol names)")
    return text


# YAML key -> (dataclass field, checker), per section. Booleans `library` and `sharedlibrary` are the legacy
# spelling of `type` and are folded into it.
_SCHEMA: dict[str, dict[str, tuple[str, Checker]]] = {
    "package": {
        "name": ("name", _package_name),
        "version": ("version", _nonempty_string),
        "top-level": ("top_level", _string_list),
        "tag": ("tag", _string_list),
        "_disabled": ("disabled", _bool),
        "profiles": ("profiles", _profiles),
    },
    "source": {
        "url": ("url", _nonempty_string),
        "path": ("path", _nonempty_string),
        "extract_dir": ("extract_dir", _relative_path),
        "md5": ("md5", _checksum("md5")),
        "sha256": ("sha256", _checksum("sha256")),
        "patches": ("patches", _relative_path_list),
        "extras": ("extras", _extras),
    },
    "build": {
        "type": ("type", _package_type),
        "library": ("library", _bool),
        "sharedlibrary": ("sharedlibrary", _bool),
        "skip_host": ("skip_host", _bool),
        "cflags": ("cflags", _string),
        "cxxflags": ("cxxflags", _string),
        "ldflags": ("ldflags", _string),
        "backend-flags": ("backend_flags", _string),
        "script": ("script", _string),
        "post": ("post", _string),
        "cross-script": ("cross_script", _string),
        "replace-libs": ("replace_libs", _string_list),
        "exports": ("exports", _exports),
        "unvendor-tests": ("unvendor_tests", _bool),
        "vendor-sharedlib": ("vendor_sharedlib", _bool),
        "cross-build-env": ("cross_build_env", _bool),
        "cross-build-files": ("cross_build_files", _string_list),
    },
    "requirements": {
        "run": ("run", _requirement_list),
        "host": ("host", _requirement_list),
        "executable": ("executable", _string_list),
    },
    "test": {
        "imports": ("imports", _string_list),
        "script": ("script", _relative_path),
        "requires": ("requires", _requirement_list),
    },
    "about": {
        "home": ("home", _string),
        "PyPI": ("PyPI", _string),
        "summary": ("summary", _string),
        "license": ("license", _string),
    },
}


def _section(raw: Mapping[str, object], section: str) -> dict[str, object]:
    value = raw.get(section)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _Invalid(section, f"expected a mapping, got {_type_name(value)}")
    schema = _SCHEMA[section]
    fields: dict[str, object] = {}
    for key, item in value.items():
        if key not in schema:
            raise _Invalid(f"{section}.{key}", f"unknown key (expected one of: {', '.join(schema)})")
        attr, check = schema[key]
        fields[attr] = check(f"{section}.{key}", item)
    return fields


def _require(fields: Mapping[str, object], section: str, *keys: str) -> None:
    for key in keys:
        if key not in fields:
            raise _Invalid(f"{section}.{key}", "required key is missing")


def _build_type(fields: dict[str, object]) -> None:
    """Fold the legacy `library`/`sharedlibrary` booleans into `type`, refusing contradictions."""
    legacy = [
        t for flag, t in (("library", "static_library"), ("sharedlibrary", "shared_library")) if fields.pop(flag, False)
    ]
    if len(legacy) > 1:
        raise _Invalid("build", "'library' and 'sharedlibrary' are both true")
    if legacy:
        declared = fields.setdefault("type", legacy[0])
        if declared != legacy[0]:
            raise _Invalid("build.type", f"{declared!r} contradicts the legacy flag that means {legacy[0]!r}")


def _check_source(fields: Mapping[str, object]) -> None:
    if ("url" in fields) == ("path" in fields):
        raise _Invalid("source", "exactly one of 'url' and 'path' is required")
    if "url" in fields and "sha256" not in fields and "md5" not in fields:
        raise _Invalid("source.url", "a download needs a checksum: add source.sha256")
    if "path" in fields:
        for key in ("sha256", "md5", "extract_dir"):
            if key in fields:
                raise _Invalid(f"source.{key}", "only meaningful with source.url, not source.path")


def _parse(raw: object) -> Recipe:
    if not isinstance(raw, dict):
        raise _Invalid("(top level)", f"expected a mapping, got {_type_name(raw)}")
    for key in raw:
        if key not in _SCHEMA:
            raise _Invalid(str(key), f"unknown key (expected one of: {', '.join(_SCHEMA)})")
    sections = {name: _section(raw, name) for name in _SCHEMA}
    _require(sections["package"], "package", "name", "version")
    _build_type(sections["build"])
    source = None
    if sections["source"] or "source" in raw:
        _check_source(sections["source"])
        source = Source(**sections["source"])  # type: ignore[arg-type]
    elif sections["build"].get("type") != "cpython_module":
        raise _Invalid("source", "required key is missing (only cpython_module recipes may omit it)")
    return Recipe(
        package=Package(**sections["package"]),  # type: ignore[arg-type]
        source=source,
        build=Build(**sections["build"]),  # type: ignore[arg-type]
        requirements=Requirements(**sections["requirements"]),  # type: ignore[arg-type]
        test=Test(**sections["test"]),  # type: ignore[arg-type]
        about=About(**sections["about"]),  # type: ignore[arg-type]
    )


# ---------------------------------------------------------------------------------------------------------------------
# YAML


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (plain safe_load silently keeps the last one)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[object] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if isinstance(key, str | int | float | bool) and key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _fail(path: Path, message: str) -> NoReturn:
    raise RecipeError(f"{path}: {message}")


def _read_yaml(path: Path) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        _fail(path, f"cannot read: {err}")
    try:
        return yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        _fail(path, f"{where}invalid YAML: {err.problem or err.context}")
    except yaml.YAMLError as err:
        _fail(path, f"invalid YAML: {err}")


def load_recipe(path: str | Path) -> Recipe:
    """Parse and validate one `meta.yaml`."""
    path = Path(path)
    raw = _read_yaml(path)
    try:
        return _parse(raw)
    except _Invalid as err:
        _fail(path, str(err))


# ---------------------------------------------------------------------------------------------------------------------
# Sets of recipes


def load_recipes(directory: str | Path, runtime_packages: Iterable[str] = ()) -> dict[str, Recipe]:
    """Load `directory/*/meta.yaml`, keyed by directory name (sorted), and check the set and the graph.

    `runtime_packages` names packages the Pyodide runtime already ships; dependencies on them need no recipe.
    """
    directory = Path(directory)
    by_dir: dict[str, tuple[Path, Recipe]] = {}
    by_name: dict[str, list[tuple[Path, Recipe]]] = {}
    for meta in sorted(directory.glob("*/meta.yaml")):
        recipe = load_recipe(meta)
        if canonicalize_name(meta.parent.name) != recipe.canonical_name and not recipe.package.profiles:
            _fail(
                meta,
                f"package.name: {recipe.name!r} does not match the directory name {meta.parent.name!r} "
                "(only a recipe that lists package.profiles may live in another directory)",
            )
        _check_profiles(meta, recipe, by_name.get(recipe.canonical_name, []))
        by_name.setdefault(recipe.canonical_name, []).append((meta, recipe))
        by_dir[meta.parent.name] = (meta, recipe)
    _check_missing(by_dir, set(by_name), {str(canonicalize_name(n)) for n in runtime_packages})
    _check_cycles(by_name)
    return {d: recipe for d, (_, recipe) in sorted(by_dir.items())}


def _check_profiles(meta: Path, recipe: Recipe, others: Sequence[tuple[Path, Recipe]]) -> None:
    """Recipes of one package must each list their profiles, and no profile twice."""
    for other_meta, other in others:
        if not recipe.package.profiles or not other.package.profiles:
            without = meta if not recipe.package.profiles else other_meta
            _fail(
                without,
                f"package.name: {recipe.name!r} has recipes in {other_meta.parent.name!r} and "
                f"{meta.parent.name!r}: each must list package.profiles (the profiles it is for)",
            )
        shared = sorted(set(recipe.package.profiles) & set(other.package.profiles))
        if shared:
            _fail(
                meta,
                f"package.profiles: {', '.join(shared)} also listed by {other_meta} for {recipe.name!r} "
                "(one recipe per package and profile)",
            )


def _check_missing(recipes: Mapping[str, tuple[Path, Recipe]], names: set[str], runtime: set[str]) -> None:
    for meta, recipe in recipes.values():
        for kind in ("run", "host"):
            for dep in getattr(recipe.requirements, kind):
                if canonicalize_name(dep) not in names and canonicalize_name(dep) not in runtime:
                    _fail(
                        meta,
                        f"requirements.{kind}: {dep!r} is neither a recipe nor shipped by the runtime",
                    )
        for dep in recipe.test.requires:
            if canonicalize_name(dep) not in names:
                _fail(meta, f"test.requires: {dep!r} is not a recipe")


def _check_cycles(by_name: Mapping[str, Sequence[tuple[Path, Recipe]]]) -> None:
    """Depth-first search in sorted order over package names (the edges of all recipes of a name); the first cycle
    found is reported as a path of display names."""
    recipes = {name: [r for _, r in items] for name, items in by_name.items()}
    done: set[str] = set()
    for start in sorted(recipes):
        _visit(start, recipes, [], done)


def _visit(name: str, recipes: Mapping[str, Sequence[Recipe]], stack: list[str], done: set[str]) -> None:
    if name in done or name not in recipes:
        return
    if name in stack:
        cycle = [*stack[stack.index(name) :], name]
        raise RecipeError("dependency cycle: " + " -> ".join(recipes[n][0].name for n in cycle))
    stack.append(name)
    deps = {str(canonicalize_name(d)) for r in recipes[name] for d in r.dependencies}
    for dep in sorted(deps):
        _visit(dep, recipes, stack, done)
    stack.pop()
    done.add(name)


def to_json(recipe: Recipe) -> str:
    """Stable JSON (sorted keys, snake_case field names, every field present) for Starlark."""
    data = dataclasses.asdict(recipe)
    data["canonical_name"] = recipe.canonical_name
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
