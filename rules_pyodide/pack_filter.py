"""Include/exclude filters for packing (like empack's filter config), read from YAML.

    default:
      exclude: [tests, __pycache__, "*.pyi", "re:[^/]+-stubs/.*"]
      include: ["re:[^/]+\\.dist-info/.*"]
    packages:
      arrow:
        exclude: ["arrow/locales.py"]

Paths are relative to a package's install directory (site-packages), with `/` separators. Pattern kinds:

- a glob without `/` matches any single path component (`tests` drops everything under a `tests` directory,
  `*.pyi` every stub file);
- a glob with `/` matches the whole path (`fnmatch`: `*` also crosses `/`);
- `re:REGEX` must match the whole path (`re.fullmatch`).

A file is dropped when an `exclude` pattern matches and no `include` pattern does. `packages.<name>` (canonical or
display name) adds its patterns to the default ones for that distribution. The shipped default
(`pack_filters.yaml` in this package) drops tests, `__pycache__`, bytecode, type stubs, docs and C sources, and keeps
`*.dist-info`. Bad config (YAML syntax, an unknown key, a non-list, a bad regex) is a `FilterConfigError` naming the
file and key.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from packaging.utils import canonicalize_name

from rules_pyodide.errors import RulesPyodideError

DEFAULT_FILTERS_NAME = "pack_filters.yaml"
_SECTION_KEYS = ("exclude", "include")


class FilterConfigError(RulesPyodideError):
    """A filter file that cannot be used; the message names the file, the key and what was expected."""


@dataclass(frozen=True)
class Pattern:
    """One include/exclude pattern as written, and how it matches."""

    text: str
    regex: re.Pattern[str] | None = None
    """Set for `re:` patterns; None for globs."""

    def matches(self, path: str) -> bool:
        if self.regex is not None:
            return self.regex.fullmatch(path) is not None
        if "/" in self.text:
            return fnmatch.fnmatchcase(path, self.text)
        return any(fnmatch.fnmatchcase(part, self.text) for part in path.split("/"))


@dataclass(frozen=True)
class Rules:
    """The exclude and include patterns that apply to one package."""

    exclude: tuple[Pattern, ...] = ()
    include: tuple[Pattern, ...] = ()

    def excluded_by(self, path: str) -> Pattern | None:
        """The first exclude pattern that drops `path`, or None when the file is kept."""
        for pattern in self.exclude:
            if pattern.matches(path):
                return None if any(inc.matches(path) for inc in self.include) else pattern
        return None


@dataclass(frozen=True)
class FilterConfig:
    """A parsed filter file: default rules plus per-package additions."""

    source: str
    default: Rules = field(default_factory=Rules)
    packages: Mapping[str, Rules] = field(default_factory=dict)
    """Canonical package name -> rules added to the default ones."""

    def rules_for(self, package: str) -> Rules:
        extra = self.packages.get(canonicalize_name(package))
        if extra is None:
            return self.default
        return Rules(self.default.exclude + extra.exclude, self.default.include + extra.include)


NO_FILTER = FilterConfig(source="(no filter)")


@dataclass
class PackageReport:
    """What the filter did to one package's files."""

    kept: list[str] = field(default_factory=list)
    removed: dict[str, list[str]] = field(default_factory=dict)
    """Pattern text -> paths it removed."""

    @property
    def removed_count(self) -> int:
        return sum(len(paths) for paths in self.removed.values())


@dataclass
class FilterReport:
    """Per package: what was kept and what each pattern removed."""

    source: str
    packages: dict[str, PackageReport] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "filter": self.source,
            "packages": {
                name: {"kept": len(rep.kept), "removed": {p: sorted(v) for p, v in sorted(rep.removed.items())}}
                for name, rep in sorted(self.packages.items())
            },
        }

    def removed_by(self, path: str) -> tuple[str, str] | None:
        """(package, pattern) that removed the file `path`, if any."""
        for name, rep in self.packages.items():
            for pattern, paths in rep.removed.items():
                if path in paths:
                    return name, pattern
        return None


def apply(config: FilterConfig, package: str, paths: Iterable[str], report: FilterReport | None = None) -> list[str]:
    """The paths of `package` that the filter keeps, sorted; records what it removed in `report`."""
    rules = config.rules_for(package)
    rep = PackageReport()
    for path in sorted(paths):
        pattern = rules.excluded_by(path)
        if pattern is None:
            rep.kept.append(path)
        else:
            rep.removed.setdefault(pattern.text, []).append(path)
    if report is not None:
        report.packages[package] = rep
    return rep.kept


def _compile(text: object, where: str) -> Pattern:
    if not isinstance(text, str) or not text:
        raise FilterConfigError(f"{where}: expected a non-empty string pattern, got {text!r}")
    if text.startswith("re:"):
        try:
            return Pattern(text, re.compile(text[3:]))
        except re.error as err:
            raise FilterConfigError(f"{where}: {text!r} is not a valid regular expression: {err}") from err
    return Pattern(text)


def _rules(section: object, where: str) -> Rules:
    if section is None:
        return Rules()
    if not isinstance(section, dict):
        raise FilterConfigError(f"{where}: expected a mapping with keys {', '.join(_SECTION_KEYS)}")
    unknown = sorted(str(k) for k in section if k not in _SECTION_KEYS)
    if unknown:
        raise FilterConfigError(f"{where}: unknown key {unknown[0]!r} (expected {', '.join(_SECTION_KEYS)})")
    lists: dict[str, tuple[Pattern, ...]] = {}
    for key in _SECTION_KEYS:
        value = section.get(key) or []
        if not isinstance(value, list):
            raise FilterConfigError(f"{where}.{key}: expected a list of patterns, got {type(value).__name__}")
        lists[key] = tuple(_compile(item, f"{where}.{key}[{i}]") for i, item in enumerate(value))
    return Rules(exclude=lists["exclude"], include=lists["include"])


def parse(text: str, source: str) -> FilterConfig:
    """Parses filter YAML; `source` names it in errors."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark is not None else source
        problem = getattr(err, "problem", None) or str(err)
        raise FilterConfigError(f"{where}: not valid YAML: {problem}") from err
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise FilterConfigError(f"{source}: expected a mapping with keys 'default' and 'packages'")
    unknown = sorted(str(k) for k in data if k not in ("default", "packages"))
    if unknown:
        raise FilterConfigError(f"{source}: unknown key {unknown[0]!r} (expected 'default', 'packages')")
    packages = data.get("packages") or {}
    if not isinstance(packages, dict):
        raise FilterConfigError(f"{source}: packages: expected a mapping of package name -> rules")
    by_name: dict[str, Rules] = {}
    for name, section in packages.items():
        if not isinstance(name, str):
            raise FilterConfigError(f"{source}: packages: {name!r} is not a package name")
        by_name[canonicalize_name(name)] = _rules(section, f"{source}: packages.{name}")
    return FilterConfig(source, _rules(data.get("default"), f"{source}: default"), by_name)


def load(path: str | Path | None) -> FilterConfig:
    """The filter file `path`; None means the shipped default; the string `none` means no filtering."""
    if path is None:
        text = resources.files("rules_pyodide").joinpath(DEFAULT_FILTERS_NAME).read_text(encoding="utf-8")
        return parse(text, f"(default) {DEFAULT_FILTERS_NAME}")
    if str(path) == "none":
        return NO_FILTER
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise FilterConfigError(f"{path}: cannot read the filter file: {err}") from err
    return parse(text, str(path))
