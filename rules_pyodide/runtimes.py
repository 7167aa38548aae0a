"""The one table of Pyodide runtimes and ABI profiles: `rules_pyodide/runtimes.json`.

    python -m rules_pyodide.runtimes            # print the table
    python -m rules_pyodide.runtimes --update   # rewrite the runtimes' facts from the installed npm runtimes
    python -m rules_pyodide.runtimes --check    # fail if the table disagrees with the installed runtimes

Every rule, macro, test and tool reads this file (Starlark through `@rules_pyodide_table//:table.bzl`, which
toolchains/table.bzl generates from it; Python through `load_table()`):

- `runtimes`: one entry per npm `pyodide` release that `make setup` installs (js/package.json). Its facts
  (`python_version`, `platform`, `abi_version`, `index_format`, `wheel_platform`, `emscripten`) are generated from
  the installed runtime's own index by `--update`; nothing else writes them.
- `profiles`: the ABI profiles compiled packages can be built for (`--@rules_pyodide//:pyodide=<name>`), each with
  the runtimes it serves (the first is the one it was generated from), the Emscripten toolchain tree it compiles
  with and where its CPython headers come from. The compile facts (flags, EXT_SUFFIX, wheel tag) live in the
  generated `toolchains/profiles/<name>/profile.json` (rules_pyodide.profile_gen).
- `default_profile`, `pure_test_runtimes` (where pure-Python recipes are tested: the oldest and the newest runtime).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rules_pyodide.errors import RulesPyodideError, run_command
from rules_pyodide.outputs import write_atomic

PROG = "python -m rules_pyodide.runtimes"
ROOT = Path(__file__).resolve().parent.parent
TABLE = Path(__file__).resolve().parent / "runtimes.json"
NODE_MODULES = ROOT / "js" / "node_modules"
PACKAGE_JSON = ROOT / "js" / "package.json"


class TableError(RulesPyodideError):
    """The table is malformed or disagrees with the installed runtimes."""


@dataclass(frozen=True)
class Runtime:
    """One npm Pyodide release, as its own index describes it."""

    version: str
    python_version: str
    platform: str
    abi_version: str
    index_format: str
    wheel_platform: str
    emscripten: str

    @property
    def python(self) -> str:
        """`major.minor`, e.g. `3.10`."""
        return ".".join(self.python_version.split(".")[:2])

    @property
    def site_packages(self) -> str:
        return f"/lib/python{self.python}/site-packages"


@dataclass(frozen=True)
class Profile:
    """An ABI profile: what compiled packages are built for."""

    name: str
    runtimes: tuple[str, ...]
    toolchain: str
    headers: Mapping[str, str]


@dataclass(frozen=True)
class Table:
    runtimes: Mapping[str, Runtime]
    profiles: Mapping[str, Profile]
    default_profile: str
    pure_test_runtimes: tuple[str, ...]

    def runtime_of_profile(self, profile: str) -> Runtime:
        return self.runtimes[self.profiles[profile].runtimes[0]]

    def wheel_tag(self, profile: str) -> str:
        """The tag of the profile's compiled wheels, e.g. `cp310-cp310-emscripten_3_1_14_wasm32` (the formula of
        toolchains/table.bzl: the Python and wheel platform of the profile's first runtime)."""
        runtime = self.runtime_of_profile(profile)
        python = "cp" + runtime.python.replace(".", "")
        return f"{python}-{python}-{runtime.wheel_platform}"

    def wheel_platforms(self, profile: str) -> tuple[str, ...]:
        """The wheel platform tags of every runtime the profile serves (one ABI: 0.29.5 loads the 0.28.3 runtime's
        `pyodide_2025_0_wasm32` wheels too), first runtime first, each once."""
        return tuple(dict.fromkeys(self.runtimes[r].wheel_platform for r in self.profiles[profile].runtimes))


_RUNTIME_KEYS = ("python_version", "platform", "abi_version", "index_format", "wheel_platform", "emscripten")


def parse_table(data: Mapping[str, Any], where: str = str(TABLE)) -> Table:
    try:
        runtimes = {v: Runtime(v, **{k: str(r[k]) for k in _RUNTIME_KEYS}) for v, r in data["runtimes"].items()}
        profiles = {
            name: Profile(name, tuple(p["runtimes"]), str(p["toolchain"]), dict(p["headers"]))
            for name, p in data["profiles"].items()
        }
        table = Table(runtimes, profiles, str(data["default_profile"]), tuple(data["pure_test_runtimes"]))
    except (KeyError, TypeError) as err:
        raise TableError(f"{where}: missing or malformed key {err}") from err
    for name, profile in profiles.items():
        unknown = [r for r in profile.runtimes if r not in runtimes]
        if not profile.runtimes or unknown:
            raise TableError(f"{where}: profiles.{name}.runtimes: {unknown or 'empty'} (known: {', '.join(runtimes)})")
    if table.default_profile not in profiles:
        raise TableError(f"{where}: default_profile: {table.default_profile} is not a profile")
    return table


def load_table(path: Path = TABLE) -> Table:
    return parse_table(json.loads(path.read_text(encoding="utf-8")), str(path))


def installed_versions(package_json: Path = PACKAGE_JSON) -> list[str]:
    """The runtimes js/package.json installs (`pyodide-<version>` aliases), oldest first."""
    deps = json.loads(package_json.read_text(encoding="utf-8"))["devDependencies"]
    versions = [name.removeprefix("pyodide-") for name in deps if name.startswith("pyodide-")]
    return sorted(versions, key=lambda v: tuple(int(x) for x in v.split(".")))


def _wheel_platform(packages: Mapping[str, Mapping[str, Any]]) -> str:
    """The platform tag most of the runtime's own compiled wheels carry, e.g. `pyemscripten_2025_0_wasm32` (0.29.5
    also ships three `pyodide_2025_0_wasm32` wheels, the tag 0.28 used for the same ABI)."""
    tags: Counter[str] = Counter()
    for entry in packages.values():
        name = str(entry.get("file_name", ""))
        if name.endswith(".whl") and not name.endswith("-none-any.whl"):
            tags[name[: -len(".whl")].split("-")[-1]] += 1
    if not tags:
        raise TableError("the runtime's index lists no compiled wheel to read the platform tag from")
    return tags.most_common(1)[0][0]


def runtime_facts(runtime_dir: Path) -> dict[str, str]:
    """The table entry of an installed runtime, read from its own index."""
    index_format = "pyodide-lock.json" if (runtime_dir / "pyodide-lock.json").is_file() else "repodata.json"
    index = json.loads((runtime_dir / index_format).read_text(encoding="utf-8"))
    info = index["info"]
    platform = str(info["platform"])
    return {
        "python_version": str(info["python"]),
        "platform": platform,
        "abi_version": str(info.get("abi_version", "")),
        "index_format": index_format,
        "wheel_platform": _wheel_platform(index["packages"]),
        "emscripten": platform.removeprefix("emscripten_").replace("_", "."),
    }


def updated(data: Mapping[str, Any], node_modules: Path, versions: Sequence[str]) -> dict[str, Any]:
    runtimes = {}
    for version in versions:
        runtime_dir = node_modules / f"pyodide-{version}"
        if not (runtime_dir / "package.json").is_file():
            raise TableError(f"{runtime_dir}: Pyodide {version} is not installed; run `make setup`")
        runtimes[version] = runtime_facts(runtime_dir)
    return {**data, "runtimes": runtimes}


def dumps(data: Mapping[str, Any]) -> str:
    return json.dumps(data, indent=2) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--update", action="store_true", help="rewrite the runtimes' facts from js/node_modules")
    group.add_argument("--check", action="store_true", help="fail if the table disagrees with js/node_modules")
    args = parser.parse_args(argv)
    # ValueError: a table that is not JSON.
    return run_command(PROG, lambda: _command(args.update, args.check), reported=(ValueError,))


def _command(update: bool, check: bool) -> None:
    data = json.loads(TABLE.read_text(encoding="utf-8"))
    if not (update or check):
        parse_table(data)
        print(dumps(data), end="")
        return
    new = updated(data, NODE_MODULES, installed_versions())
    parse_table(new)
    if check and new != data:
        raise TableError(f"{TABLE} is out of date: run `{PROG} --update`")
    if update:
        write_atomic(TABLE, dumps(new))


if __name__ == "__main__":
    sys.exit(main())
