"""Pyodide recipes (`packages/<name>/meta.yaml`): a strict, typed model.

`load_recipe(path)` parses one recipe; `load_recipes(dir)` loads `dir/*/meta.yaml` and checks the dependency graph
(raising the first error); `load_each(dir)` does the same but keeps going: each bad recipe gets its own error;
`to_json(recipe)` gives stable JSON that a Bazel repository rule turns into Starlark data.

Every error is a `RecipeError` whose message names the file and the key path, e.g.
`packages/foo/meta.yaml: build.cflgs: unknown key (expected one of: ...)`.

The spec is pyodide-build's, every key of its current recipe spec and of the 0.21-0.23 era (`SPEC` below holds each
key's meaning and default), plus the rules_pyodide extensions `test.script` and `test.requires`. Deprecated keys are
accepted, folded into their replacement, and reported in `Recipe.warnings` (one line each, naming the file, the key
and the replacement); the top-level `extra` section is free-form (only `extra.recipe-maintainers`, when present, must
be a list of strings); anything else unknown is an error. `null` is accepted where pyodide-build's type is optional
(`about.*`, `source.url/path/extract_dir/sha256`, `build.script/post/cross-script`) and means "not set".

Defaults that changed in pyodide-build are per Pyodide version: `build.vendor-sharedlib` is stored as given (None when
not set) and `vendor_sharedlib_default(pyodide_version)` gives the default of that runtime's pyodide-build.

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
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from rules_pyodide.errors import RulesPyodideError

PACKAGE_TYPES = ("package", "static_library", "shared_library", "cpython_module")
EXPORTS_KEYWORDS = ("pyinit", "requested", "whole_archive")
_NAME_RE = re.compile(r"^([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9])$")
_HEX_RE = {"md5": re.compile(r"^[0-9a-fA-F]{32}$"), "sha256": re.compile(r"^[0-9a-fA-F]{64}$")}


class RecipeError(RulesPyodideError):
    """A recipe (or a set of recipes) is invalid; the message names the file and the key."""


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    top_level: tuple[str, ...] = ()
    tag: tuple[str, ...] = ()
    disabled: bool = False
    pinned: bool = False
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
    retain_test_patterns: tuple[str, ...] = ()
    # None: not set, the default of the target runtime's pyodide-build (vendor_sharedlib_default).
    vendor_sharedlib: bool | None = None
    cross_build_env: bool = False
    cross_build_env_skip_install: bool = False
    cross_build_files: tuple[str, ...] = ()


@dataclass(frozen=True)
class Requirements:
    run: tuple[str, ...] = ()
    host: tuple[str, ...] = ()
    executable: tuple[str, ...] = ()
    constraint: tuple[str, ...] = ()
    build_extras: tuple[str, ...] = ()


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
    # The free-form top-level `extra` section, as JSON text (sorted keys): kept, not interpreted.
    extra: str = "{}"
    # One line per deprecated key: "<key>: deprecated, <replacement>" (load_recipe prefixes the file).
    warnings: tuple[str, ...] = field(default=(), compare=False)

    @property
    def name(self) -> str:
        """The display name, as written in `package/name`."""
        return self.package.name

    @property
    def canonical_name(self) -> str:
        return str(canonicalize_name(self.package.name))

    @property
    def wheel_source(self) -> bool:
        """`source.url` names a wheel (`.whl`): the recipe ships that wheel, nothing is built."""
        return is_wheel_url(self.source.url if self.source else None)

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


def _flags(key: str, value: object) -> str:
    """Flags on one line: a YAML block (`cflags: |`) ends with a newline and may have one per flag, and a newline
    would split the argument in the action's one-argument-per-line param file. Newlines separate flags just as
    spaces do for pyodide-build, which splits them with shlex."""
    return " ".join(_string(key, value).splitlines()).strip()


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


def _pep508_list(key: str, value: object) -> tuple[str, ...]:
    items = _string_list(key, value)
    for i, item in enumerate(items):
        try:
            Requirement(item)
        except InvalidRequirement as err:
            first = str(err).splitlines()[0] if str(err) else "invalid"
            raise _Invalid(f"{key}[{i}]", f"{item!r} is not a PEP 508 requirement ({first})") from None
    return items


def _tag_list(key: str, value: object) -> tuple[str, ...]:
    """`package._tag` (0.21-0.22) was one string; `package.tag` is a list."""
    return (_string(key, value),) if isinstance(value, str) else _string_list(key, value)


def _extra(key: str, value: object) -> str:
    """The free-form `extra` section, kept as sorted JSON; `recipe-maintainers` must be a list of strings."""
    if not isinstance(value, dict):
        raise _Invalid(key, f"expected a mapping, got {_type_name(value)}")
    if "recipe-maintainers" in value and value["recipe-maintainers"] is not None:
        _string_list(f"{key}.recipe-maintainers", value["recipe-maintainers"])
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    except (TypeError, ValueError) as err:
        raise _Invalid(key, f"cannot be represented as JSON: {err}") from None


@dataclass(frozen=True)
class Key:
    """One key of the spec: the field it fills, its checker, what it means and its default (as pyodide-build has
    it), whether `null` means "not set", and for a deprecated key what replaces it."""

    attr: str
    check: Checker
    meaning: str
    default: str
    nullable: bool = False
    deprecated: str | None = None


_NULLABLE = True

# section -> YAML key -> Key. Deprecated keys are folded into their replacement by _fold_deprecated.
SPEC: dict[str, dict[str, Key]] = {
    "package": {
        "name": Key("name", _package_name, "distribution name (the directory name once canonicalized)", "required"),
        "version": Key("version", _nonempty_string, "version, matching the built wheel's metadata", "required"),
        "top-level": Key("top_level", _string_list, "top-level import names (loadPackagesFromImports)", "[]"),
        "tag": Key("tag", _string_list, "free tags grouping packages (core, always, min-scipy-stack, ...)", "[]"),
        "_disabled": Key("disabled", _bool, "the recipe is skipped, and cannot be depended on", "false"),
        "pinned": Key("pinned", _bool, "the version is pinned: automatic updaters leave the recipe alone", "false"),
        "profiles": Key(
            "profiles", _profiles, "rules_pyodide: the profiles (--//:pyodide) this recipe is for", "every profile"
        ),
        "_tag": Key(
            "legacy_tag", _tag_list, "one tag (Pyodide 0.21-0.22)", "none", deprecated="use package.tag (a list)"
        ),
        "_cpython_dynlib": Key(
            "cpython_dynlib",
            _bool,
            "a CPython stdlib extension built as a dynamic library (Pyodide 0.21)",
            "false",
            deprecated="use build.type: cpython_module",
        ),
    },
    "source": {
        "url": Key("url", _nonempty_string, "archive (sdist, tarball or wheel) to download", "none", _NULLABLE),
        "path": Key("path", _nonempty_string, "source directory, relative to the recipe", "none", _NULLABLE),
        "extract_dir": Key(
            "extract_dir", _relative_path, "top directory inside the archive", "the archive's name", _NULLABLE
        ),
        "sha256": Key("sha256", _checksum("sha256"), "sha256 of the download (required with url)", "none", _NULLABLE),
        "patches": Key("patches", _relative_path_list, "patches applied with patch -p1 in order", "[]"),
        "extras": Key("extras", _extras, "[src, dst] files copied from the recipe into the source tree", "[]"),
        "md5": Key(
            "md5", _checksum("md5"), "md5 of the download (Pyodide < 0.18)", "none", deprecated="use source.sha256"
        ),
    },
    "build": {
        "type": Key("type", _package_type, ", ".join(PACKAGE_TYPES), "package"),
        "cflags": Key("cflags", _flags, "added to every compile", "''"),
        "cxxflags": Key("cxxflags", _flags, "added to every C++ compile", "''"),
        "ldflags": Key("ldflags", _flags, "added to every link", "''"),
        "backend-flags": Key("backend_flags", _flags, "flags for the PEP 517 backend (config settings)", "''"),
        "script": Key("script", _string, "bash run in the source tree before the build", "none", _NULLABLE),
        "cross-script": Key(
            "cross_script", _string, "bash run in the target environment before the build", "none", _NULLABLE
        ),
        "post": Key("post", _string, "bash run after the build on the installed tree", "none", _NULLABLE),
        "exports": Key(
            "exports", _exports, "exported symbols: " + ", ".join(EXPORTS_KEYWORDS) + " or a list", "pyinit"
        ),
        "unvendor-tests": Key("unvendor_tests", _bool, "tests moved out into <name>-tests", "true"),
        "_retain-test-patterns": Key(
            "retain_test_patterns", _string_list, "globs of test files kept in the package when unvendoring", "[]"
        ),
        "vendor-sharedlib": Key(
            "vendor_sharedlib",
            _bool,
            "shared libraries the package needs are copied into its wheel (like auditwheel repair)",
            "per runtime: false up to Pyodide 0.29 (pyodide-build < 0.34), true from 314 (pyodide-build >= 0.34)",
        ),
        "cross-build-env": Key("cross_build_env", _bool, "the package is installed into the cross-build env", "false"),
        "_cross-build-env-skip-install": Key(
            "cross_build_env_skip_install", _bool, "cross-build-env, but not pip-installed on the host", "false"
        ),
        "cross-build-files": Key(
            "cross_build_files", _string_list, "files of the package copied into the cross-build env", "[]"
        ),
        "library": Key(
            "library", _bool, "a static library (Pyodide <= 0.21)", "false", deprecated="use build.type: static_library"
        ),
        "sharedlibrary": Key(
            "sharedlibrary",
            _bool,
            "a shared library (Pyodide <= 0.21)",
            "false",
            deprecated="use build.type: shared_library",
        ),
        "replace-libs": Key(
            "replace_libs",
            _string_list,
            "FROM=TO: -lFROM linked as -lTO (removed in Pyodide 0.21, #2822)",
            "[]",
            deprecated="still applied; use build.ldflags",
        ),
        "skip_host": Key(
            "skip_host",
            _bool,
            "do not build a host copy of the package (Pyodide < 0.21)",
            "true",
            deprecated="ignored (no host copy is built): remove it",
        ),
    },
    "requirements": {
        "run": Key("run", _requirement_list, "recipes or runtime packages needed at run time (names only)", "[]"),
        "host": Key("host", _requirement_list, "recipes built for the target needed to build (names only)", "[]"),
        "executable": Key("executable", _string_list, "host programs the build needs (checked, not installed)", "[]"),
        "constraint": Key("constraint", _pep508_list, "pip constraints (PEP 508) for the build environment", "[]"),
        "build-extras": Key(
            "build_extras", _pep508_list, "extra build requirements beside build-system.requires", "[]"
        ),
    },
    "test": {
        "imports": Key("imports", _string_list, "modules imported in Pyodide to test the package", "[]"),
        "script": Key("script", _relative_path, "rules_pyodide: a Python file run in Pyodide as <name>_test", "none"),
        "requires": Key("requires", _requirement_list, "rules_pyodide: recipes the test script needs", "[]"),
    },
    "about": {
        "home": Key("home", _string, "project home page", "none", _NULLABLE),
        "PyPI": Key("PyPI", _string, "PyPI page", "none", _NULLABLE),
        "summary": Key("summary", _string, "one-line description", "none", _NULLABLE),
        "license": Key("license", _string, "license (SPDX expression)", "none", _NULLABLE),
    },
}
FREE_FORM_SECTIONS = ("extra",)
SECTIONS = (*SPEC, *FREE_FORM_SECTIONS)


def vendor_sharedlib_default(pyodide_version: str) -> bool:
    """`build.vendor-sharedlib` when not set: false up to Pyodide 0.29 (pyodide-build < 0.34), true from Pyodide 314
    (built with pyodide-build >= 0.34, where the default became true)."""
    try:
        major = int(pyodide_version.split(".", 1)[0])
    except ValueError:
        raise RecipeError(f"{pyodide_version!r} is not a Pyodide version") from None
    return major >= 314


def _section(raw: Mapping[str, object], section: str, warnings: list[str]) -> dict[str, object]:
    value = raw.get(section)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _Invalid(section, f"expected a mapping, got {_type_name(value)}")
    schema = SPEC[section]
    fields: dict[str, object] = {}
    for key, item in value.items():
        spec = schema.get(key) if isinstance(key, str) else None
        if spec is None:
            known = ", ".join(k for k, v in schema.items() if v.deprecated is None)
            raise _Invalid(f"{section}.{key}", f"unknown key (expected one of: {known})")
        if item is None and spec.nullable:
            continue
        fields[spec.attr] = spec.check(f"{section}.{key}", item)
        if spec.deprecated:
            warnings.append(f"{section}.{key}: deprecated, {spec.deprecated}")
    return fields


def _require(fields: Mapping[str, object], section: str, *keys: str) -> None:
    for key in keys:
        if key not in fields:
            raise _Invalid(f"{section}.{key}", "required key is missing")


def _fold_package(fields: dict[str, object]) -> bool:
    """`_tag` joins `tag`; returns `_cpython_dynlib`."""
    legacy = fields.pop("legacy_tag", ())
    if legacy:
        tags = fields.get("tag", ())
        assert isinstance(tags, tuple) and isinstance(legacy, tuple)
        fields["tag"] = tuple(dict.fromkeys((*tags, *legacy)))
    return bool(fields.pop("cpython_dynlib", False))


def _build_type(fields: dict[str, object], cpython_dynlib: bool = False) -> None:
    """Fold the legacy `library`/`sharedlibrary` booleans (and `package._cpython_dynlib`, which with `sharedlibrary`
    meant a stdlib module) into `type`, refusing contradictions."""
    legacy = [
        t for flag, t in (("library", "static_library"), ("sharedlibrary", "shared_library")) if fields.pop(flag, False)
    ]
    if len(legacy) > 1:
        raise _Invalid("build", "'library' and 'sharedlibrary' are both true")
    if cpython_dynlib:
        legacy = ["cpython_module"]
    if legacy:
        declared = fields.setdefault("type", legacy[0])
        if declared != legacy[0]:
            raise _Invalid("build.type", f"{declared!r} contradicts the legacy flag that means {legacy[0]!r}")


def is_wheel_url(url: object) -> bool:
    """A `source.url` whose path (query left out) ends with `.whl`."""
    return isinstance(url, str) and url.split("?", 1)[0].endswith(".whl")


def _check_source(fields: Mapping[str, object]) -> None:
    if ("url" in fields) == ("path" in fields):
        raise _Invalid("source", "exactly one of 'url' and 'path' is required")
    if "url" in fields and "sha256" not in fields and "md5" not in fields:
        raise _Invalid("source.url", "a download needs a checksum: add source.sha256")
    if "path" in fields:
        for key in ("sha256", "md5", "extract_dir"):
            if key in fields:
                raise _Invalid(f"source.{key}", "only meaningful with source.url, not source.path")
    if is_wheel_url(fields.get("url")):
        for key in ("patches", "extras"):
            if fields.get(key):
                raise _Invalid(f"source.{key}", "not allowed when source.url is a wheel (nothing is built)")


def _check_wheel(sections: Mapping[str, Mapping[str, object]]) -> None:
    """As pyodide-build: a wheel source has no host requirements and no build keys that only a build uses."""
    if not is_wheel_url(sections["source"].get("url")):
        return
    if sections["requirements"].get("host"):
        raise _Invalid("requirements.host", "not allowed when source.url is a wheel (nothing is built)")
    allowed = {"post", "cross_build_env", "cross_build_env_skip_install", "cross_build_files", "exports"}
    allowed |= {"unvendor_tests", "retain_test_patterns", "type", "vendor_sharedlib", "skip_host"}
    defaults = Build()
    for attr, value in sections["build"].items():
        if attr not in allowed and value != getattr(defaults, attr, None):
            key = next(k for k, v in SPEC["build"].items() if v.attr == attr)
            raise _Invalid(f"build.{key}", "not allowed when source.url is a wheel (nothing is built)")


def _parse(raw: object) -> Recipe:
    if not isinstance(raw, dict):
        raise _Invalid("(top level)", f"expected a mapping, got {_type_name(raw)}")
    for key in raw:
        if key not in SECTIONS:
            raise _Invalid(str(key), f"unknown key (expected one of: {', '.join(SECTIONS)})")
    warnings: list[str] = []
    sections = {name: _section(raw, name, warnings) for name in SPEC}
    _require(sections["package"], "package", "name", "version")
    cpython_dynlib = _fold_package(sections["package"])
    _build_type(sections["build"], cpython_dynlib)
    _check_wheel(sections)
    source = None
    if sections["source"] or "source" in raw:
        _check_source(sections["source"])
        source = Source(**sections["source"])  # type: ignore[arg-type]
    elif sections["build"].get("type") != "cpython_module":
        raise _Invalid("source", "required key is missing (only cpython_module recipes may omit it)")
    extra = _extra("extra", raw["extra"]) if raw.get("extra") is not None else "{}"
    return Recipe(
        package=Package(**sections["package"]),  # type: ignore[arg-type]
        source=source,
        build=Build(**sections["build"]),  # type: ignore[arg-type]
        requirements=Requirements(**sections["requirements"]),  # type: ignore[arg-type]
        test=Test(**sections["test"]),  # type: ignore[arg-type]
        about=About(**sections["about"]),  # type: ignore[arg-type]
        extra=extra,
        warnings=tuple(warnings),
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
        recipe = _parse(raw)
    except _Invalid as err:
        _fail(path, str(err))
    return dataclasses.replace(recipe, warnings=tuple(f"{path}: {w}" for w in recipe.warnings))


# ---------------------------------------------------------------------------------------------------------------------
# Sets of recipes


def load_recipes(directory: str | Path, runtime_packages: Iterable[str] = ()) -> dict[str, Recipe]:
    """Load `directory/*/meta.yaml`, keyed by directory name (sorted), and check the graph; the first error (a
    recipe's own, then a missing dependency, then a cycle) is raised.

    `runtime_packages` names packages the Pyodide runtime already ships; dependencies on them need no recipe.
    """
    recipes, errors = load_each(directory, runtime_packages)
    if errors:
        raise RecipeError(next(iter(errors.values())))
    return recipes


def load_each(directory: str | Path, runtime_packages: Iterable[str] = ()) -> tuple[dict[str, Recipe], dict[str, str]]:
    """Load every `directory/*/meta.yaml` on its own: (directory name -> recipe, for those that are fine;
    directory name -> one-line error, for the others), so that one bad recipe does not stop the rest.

    A recipe is in error for its own fault (YAML, spec, name), a dependency that is not a recipe nor shipped by the
    runtime, a dependency cycle it is on, or a dependency in error (see `propagate`). Errors are in the order they
    were found: own errors by directory, then missing dependencies, then cycles, then propagated ones.
    """
    directory = Path(directory)
    errors: dict[str, str] = {}
    by_canonical: dict[str, list[tuple[str, Path, Recipe]]] = {}
    all_dirs = {str(canonicalize_name(m.parent.name)) for m in directory.glob("*/meta.yaml")}
    for meta in sorted(directory.glob("*/meta.yaml")):
        name = meta.parent.name
        try:
            recipe = load_recipe(meta)
            if canonicalize_name(name) != recipe.canonical_name and not recipe.package.profiles:
                _fail(
                    meta,
                    f"package.name: {recipe.name!r} does not match the directory name {name!r} "
                    "(only a recipe that lists package.profiles may live in another directory)",
                )
            _check_profiles(meta, recipe, by_canonical.get(recipe.canonical_name, []))
        except RecipeError as err:
            errors[name] = str(err)
            continue
        by_canonical.setdefault(recipe.canonical_name, []).append((name, meta, recipe))
    entries = [entry for items in by_canonical.values() for entry in items]
    all_dirs |= set(by_canonical)
    runtime = {str(canonicalize_name(n)) for n in runtime_packages}
    for name, meta, recipe in entries:
        message = _missing(meta, recipe, all_dirs, runtime)
        if message:
            errors[name] = message
    merged = {c: _merged([r for n, _, r in items if n not in errors]) for c, items in by_canonical.items()}
    good = {c: r for c, r in merged.items() if r is not None}
    for cycle in _find_cycles(good):
        message = "dependency cycle: " + " -> ".join(good[c].name for c in cycle)
        for member in cycle:
            name, meta, _ = by_canonical[member][0]
            errors.setdefault(name, f"{meta}: {message}")
    recipes = {n: r for n, _, r in entries if n not in errors}
    metas = {n: m for n, m, _ in entries}
    propagate(recipes, errors, metas)
    return dict(sorted(recipes.items())), errors


def _check_profiles(meta: Path, recipe: Recipe, others: Sequence[tuple[str, Path, Recipe]]) -> None:
    """Recipes of one package must each list their profiles, and no profile twice."""
    for other_name, other_meta, other in others:
        if not recipe.package.profiles or not other.package.profiles:
            _fail(
                meta if not recipe.package.profiles else other_meta,
                f"package.name: {recipe.name!r} has recipes in {other_name!r} and {meta.parent.name!r}: each must "
                "list package.profiles (the profiles it is for)",
            )
        shared = sorted(set(recipe.package.profiles) & set(other.package.profiles))
        if shared:
            _fail(
                meta,
                f"package.profiles: {', '.join(shared)} also listed by {other_meta} for {recipe.name!r} "
                "(one recipe per package and profile)",
            )


def _merged(recipes: Sequence[Recipe]) -> Recipe | None:
    """The recipes of one package as one node of the dependency graph (the union of their requirements)."""
    if not recipes:
        return None
    first = recipes[0]
    if len(recipes) == 1:
        return first
    run = tuple(sorted({d for r in recipes for d in r.requirements.run}))
    host = tuple(sorted({d for r in recipes for d in r.requirements.host}))
    return dataclasses.replace(first, requirements=dataclasses.replace(first.requirements, run=run, host=host))


def propagate(recipes: dict[str, Recipe], errors: dict[str, str], metas: Mapping[str, Path]) -> None:
    """Move every recipe that needs one in `errors` (run, host, test.requires; by canonical name) into `errors`,
    until none is left: "<meta>: requirements.run: 'x' cannot be built (packages/x/meta.yaml: ...)"."""
    changed = True
    while changed:
        changed = False
        broken = {str(canonicalize_name(n)): n for n in errors}
        for name, recipe in sorted(recipes.items()):
            for kind, deps in (
                ("requirements.run", recipe.requirements.run),
                ("requirements.host", recipe.requirements.host),
                ("test.requires", recipe.test.requires),
            ):
                bad = next((d for d in deps if str(canonicalize_name(d)) in broken), None)
                if bad is not None:
                    cause = errors[broken[str(canonicalize_name(bad))]]
                    errors[name] = f"{metas[name]}: {kind}: {bad!r} cannot be built ({cause})"
                    del recipes[name]
                    changed = True
                    break
            if changed:
                break


def _missing(meta: Path, recipe: Recipe, recipes: set[str], runtime: set[str]) -> str | None:
    for kind in ("run", "host"):
        for dep in getattr(recipe.requirements, kind):
            if canonicalize_name(dep) not in recipes and canonicalize_name(dep) not in runtime:
                return f"{meta}: requirements.{kind}: {dep!r} is neither a recipe nor shipped by the runtime"
    for dep in recipe.test.requires:
        if canonicalize_name(dep) not in recipes:
            return f"{meta}: test.requires: {dep!r} is not a recipe"
    return None


def _find_cycles(recipes: Mapping[str, Recipe]) -> list[list[str]]:
    """Every dependency cycle, each as a path of canonical names (first found by a depth-first search in sorted
    order; its members are then left out and the search starts again)."""
    remaining = dict(recipes)
    cycles: list[list[str]] = []
    while True:
        cycle = _first_cycle(remaining)
        if cycle is None:
            return cycles
        cycles.append(cycle)
        for member in cycle:
            remaining.pop(member, None)


def _first_cycle(recipes: Mapping[str, Recipe]) -> list[str] | None:
    done: set[str] = set()
    for start in sorted(recipes):
        cycle = _visit(start, recipes, [], done)
        if cycle:
            return cycle
    return None


def _visit(name: str, recipes: Mapping[str, Recipe], stack: list[str], done: set[str]) -> list[str] | None:
    if name in done or name not in recipes:
        return None
    if name in stack:
        return [*stack[stack.index(name) :], name]
    stack.append(name)
    for dep in sorted(str(canonicalize_name(d)) for d in recipes[name].dependencies):
        cycle = _visit(dep, recipes, stack, done)
        if cycle:
            return cycle
    stack.pop()
    done.add(name)
    return None


def to_json(recipe: Recipe) -> str:
    """Stable JSON (sorted keys, snake_case field names, every field present) for Starlark."""
    data = dataclasses.asdict(recipe)
    del data["warnings"]  # messages naming the file, not recipe data
    data["canonical_name"] = recipe.canonical_name
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
