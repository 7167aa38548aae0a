"""The `rules-pyodide` command: one subcommand per action module, each also runnable as `python -m`.

Exit status and error lines are the same for every subcommand (rules_pyodide.errors): 0, 1 with one line
`rules-pyodide COMMAND: error: MESSAGE`, or 2 for a malformed command line.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rules_pyodide.errors import PROG

# Subcommand -> (module whose `main(argv) -> int` implements it, summary). Modules are imported lazily so that one
# subcommand's dependencies never slow down or break another.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("rules_pyodide.run", "run Python in real Pyodide (Node) with a dist's packages in its index"),
    "mkpkg": ("rules_pyodide.mkpkg", "write packages/NAME/meta.yaml from a PyPI sdist's metadata (pip download)"),
    "fetch": ("rules_pyodide.fetch", "download every recipe's source into the distdir and check its checksum"),
    "lock-build": (
        "rules_pyodide.build_lock",
        "resolve recipes' build requirements into packages/NAME/build-requirements.lock (needs PyPI)",
    ),
    "pack": ("rules_pyodide.pack", "pack files, a directory, an environment or index packages into file packages"),
    "bundle": ("rules_pyodide.bundle", "trace an app in Pyodide and pack only the files it uses; validate the bundle"),
    "release": ("rules_pyodide.release", "assemble a release (dist, loader, SHA256SUMS, provenance) or verify one"),
    "file-packager": ("rules_pyodide.file_packager", "pack files into an emscripten .data + .js file package"),
    "serve": ("rules_pyodide.serve", "serve a site directory on 127.0.0.1 with gzip transfer, as a web server would"),
    "index": ("rules_pyodide.index", "write one package's index fragment, or merge fragments into an index"),
    "corpus": (
        "rules_pyodide.corpus",
        "build every recipe of a recipes directory, import each in Pyodide, print the table (issue 13)",
    ),
    "recipes-bzl": ("rules_pyodide.recipes_bzl", "convert packages/*/meta.yaml into Starlark; --summary: check them"),
    "profile-gen": ("rules_pyodide.profile_gen", "generate a Pyodide ABI profile from the runtime's own sysconfig"),
    "toolchain-tree": (
        "rules_pyodide.toolchain_tree",
        "lock, build or verify a pinned Emscripten toolchain tree made from Debian packages",
    ),
}
"""The commands people run."""

ACTION_COMMANDS: dict[str, tuple[str, str]] = {
    "dist": ("rules_pyodide.dist", "assemble a Pyodide package directory: package files + merged index files"),
    "dist-archive": ("rules_pyodide.dist_archive", "rules_pyodide's source archive + the PEX, with sha256 values"),
    "emcc-build": ("rules_pyodide.emcc_build", "build a compiled recipe (C/C++/Cython, C library) with emscripten"),
    "patch": ("rules_pyodide.patch", "copy a source tree, apply a recipe's patches and extras"),
    "pure-build": ("rules_pyodide.pure_build", "build a pure-Python recipe: wheel, site-packages tree, tests"),
    "unpack": ("rules_pyodide.unpack", "unpack a source archive safely (tar, gz, bz2, xz, zip)"),
    "wheel-source": ("rules_pyodide.wheel_source", "ship a recipe's downloaded wheel: tags checked, site tree, index"),
}
"""The commands only the rules' Bazel actions run (pack, bundle, release and file-packager are run by both)."""

SUBCOMMANDS: dict[str, tuple[str, str]] = {**COMMANDS, **ACTION_COMMANDS}


def _group(title: str, commands: Mapping[str, tuple[str, str]], width: int) -> str:
    rows = [f"  {name.ljust(width)}  {summary}" for name, (_, summary) in sorted(commands.items())]
    return f"{title}:\n" + "\n".join(rows)


def usage() -> str:
    width = max(len(name) for name in SUBCOMMANDS)
    return "\n\n".join(
        [
            f"usage: {PROG} COMMAND [ARGS...]   ({PROG} COMMAND --help: its arguments)",
            _group("commands", COMMANDS, width),
            _group("used by Bazel actions", ACTION_COMMANDS, width),
        ]
    )


def option_values(args: argparse.Namespace, options: type[Any]) -> dict[str, Any]:
    """The parsed flags named like the fields of the frozen dataclass `options` (a module's Options), repeated flags
    as tuples: its keyword arguments."""
    values = {field.name: getattr(args, field.name) for field in dataclasses.fields(options)}
    return {name: tuple(value) if isinstance(value, list) else value for name, value in values.items()}


def expand_param_file(args: list[str]) -> list[str]:
    """A lone `@FILE` argument (Bazel's multiline param file) is replaced by the lines of FILE, one argument each.

    The only place `@` is expanded: the subcommands take their arguments literally (a line starting with `@` is an
    argument, not another file), so that `file-packager` keeps emscripten's command line."""
    if len(args) == 1 and args[0].startswith("@"):
        with open(args[0][1:], encoding="utf-8") as f:
            return f.read().splitlines()
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = expand_param_file(list(sys.argv[1:] if argv is None else argv))
    if args and args[0] in ("-h", "--help"):
        print(usage())
        return 0
    if not args or args[0] not in SUBCOMMANDS:
        # A malformed command line, reported as argparse does: usage, then the error line; exit status 2.
        problem = f"unknown command {args[0]!r}" if args else "no command given"
        print(f"{usage()}\n{PROG}: error: {problem}", file=sys.stderr)
        return 2
    module = importlib.import_module(SUBCOMMANDS[args[0]][0])
    entry: Callable[[list[str]], int] = module.main
    return entry(args[1:])


if __name__ == "__main__":
    raise SystemExit(main())
