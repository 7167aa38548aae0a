"""The `rules-pyodide` command: one subcommand per action module, each also runnable as `python -m`."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence

# Subcommand -> module whose `main(argv) -> int` implements it. Modules are imported lazily so that one
# subcommand's dependencies never slow down or break another.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "file-packager": ("rules_pyodide.file_packager", "pack files into an emscripten .data + .js file package"),
    "dist": ("rules_pyodide.dist", "assemble a Pyodide package directory: package files + merged index files"),
    "dist-archive": ("rules_pyodide.dist_archive", "rules_pyodide's source archive + the PEX, with sha256 values"),
    "emcc-build": ("rules_pyodide.emcc_build", "build a compiled recipe (C/C++/Cython, C library) with emscripten"),
    "fetch": ("rules_pyodide.fetch", "download every recipe's source into the distdir (pip) and check its checksum"),
    "index": ("rules_pyodide.index", "write one package's index fragment, or merge fragments into an index"),
    "pack": ("rules_pyodide.pack", "pack files, a directory, an environment or index packages into file packages"),
    "bundle": ("rules_pyodide.bundle", "trace an app in Pyodide and pack only the files it uses; validate the bundle"),
    "mkpkg": ("rules_pyodide.mkpkg", "write packages/NAME/meta.yaml from a PyPI sdist's metadata (pip download)"),
    "patch": ("rules_pyodide.patch", "copy a source tree, apply a recipe's patches and extras"),
    "profile-gen": ("rules_pyodide.profile_gen", "generate a Pyodide ABI profile from the runtime's own sysconfig"),
    "pure-build": ("rules_pyodide.pure_build", "build a pure-Python recipe: wheel, site-packages tree, tests"),
    "run": ("rules_pyodide.run", "run Python in real Pyodide (Node) with a dist's packages in its index"),
    "release": ("rules_pyodide.release", "assemble a release (dist, loader, SHA256SUMS, provenance) or verify one"),
    "recipes-bzl": ("rules_pyodide.recipes_bzl", "convert packages/*/meta.yaml into Starlark (recipes.bzl)"),
    "unpack": ("rules_pyodide.unpack", "unpack a source archive safely (tar, gz, bz2, xz, zip)"),
    "toolchain-tree": (
        "rules_pyodide.toolchain_tree",
        "lock, build or verify a pinned Emscripten toolchain tree made from Debian packages",
    ),
}


def usage() -> str:
    width = max(len(name) for name in SUBCOMMANDS)
    lines = [f"  {name.ljust(width)}  {summary}" for name, (_, summary) in sorted(SUBCOMMANDS.items())]
    return "usage: rules-pyodide SUBCOMMAND [ARGS...]\n\nsubcommands:\n" + "\n".join(lines)


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
    if not args or args[0] in ("-h", "--help"):
        print(usage())
        return 0 if args else 2
    name, rest = args[0], args[1:]
    if name not in SUBCOMMANDS:
        print(f"rules-pyodide: unknown subcommand {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(SUBCOMMANDS[name][0])
    entry: Callable[[list[str]], int] = module.main
    return entry(rest)


if __name__ == "__main__":
    raise SystemExit(main())
