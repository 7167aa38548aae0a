"""The `rules-pyodide` command: one subcommand per action module, each also runnable as `python -m`."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence

# Subcommand -> module whose `main(argv) -> int` implements it. Modules are imported lazily so that one
# subcommand's dependencies never slow down or break another.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "file-packager": ("rules_pyodide.file_packager", "pack files into an emscripten .data + .js file package"),
}


def usage() -> str:
    width = max(len(name) for name in SUBCOMMANDS)
    lines = [f"  {name.ljust(width)}  {summary}" for name, (_, summary) in sorted(SUBCOMMANDS.items())]
    return "usage: rules-pyodide SUBCOMMAND [ARGS...]\n\nsubcommands:\n" + "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
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
