"""The `cython` command of a compiled build: Cython run from the source tree, so the file names it compiles into the
modules (for tracebacks) do not hold the build's absolute path.

    python cython_wrapper.py SOURCE_TREE [cython arguments ...]

Cython writes each `.pyx` / `.pxd` file name relative to its working directory when the file is under it, and
absolute otherwise. meson runs it from its build directory and names sources in the source tree by absolute path,
so every module would record the action's scratch directory (sandbox slot and a random name: different bytes on
every build). Here the path arguments (sources and the values of -o, -I, -w, --gdb-outdir, --annotate-coverage) are
made absolute first, then Cython runs with SOURCE_TREE as its working directory: a file of the source tree is named
`numpy/random/_mt19937.pyx`, one of meson's build directory inside it `build/...`.

emcc_build writes the `cython` shim that runs this file with the build's interpreter (the one whose Cython is on its
path); only the standard library is used here, since that interpreter may be an isolated environment.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

# Cython 0.29 and 3.x options whose value is a path, and those whose value is something else.
PATH_OPTIONS = ("-o", "--output-file", "-I", "--include-dir", "-w", "--working", "--gdb-outdir", "--annotate-coverage")
VALUE_OPTIONS = ("--cleanup", "-X", "--directive", "-E", "--compile-time-env", "--module-name", "-z", "--pre-import")
_SHORT_PATH_OPTIONS = tuple(o for o in PATH_OPTIONS if not o.startswith("--"))


def absolute_arguments(args: Sequence[str], cwd: str) -> list[str]:
    """`args` with every path made absolute (relative paths are relative to `cwd`), everything else as it was."""

    def _absolute(path: str) -> str:
        return os.path.normpath(os.path.join(cwd, path)) if path else path

    result: list[str] = []
    pending = ""
    for arg in args:
        if pending:
            result.append(_absolute(arg) if pending == "path" else arg)
            pending = ""
        elif arg in PATH_OPTIONS:
            result.append(arg)
            pending = "path"
        elif arg in VALUE_OPTIONS:
            result.append(arg)
            pending = "value"
        elif arg.startswith("--") and arg.partition("=")[0] in PATH_OPTIONS:
            option, _, value = arg.partition("=")
            result.append(f"{option}={_absolute(value)}")
        elif arg[:2] in _SHORT_PATH_OPTIONS and len(arg) > 2:
            result.append(arg[:2] + _absolute(arg[2:]))
        elif arg.startswith("-"):
            result.append(arg)
        else:
            result.append(_absolute(arg))
    return result


def main(argv: Sequence[str]) -> int:
    if not argv:
        print("usage: cython_wrapper.py SOURCE_TREE [cython arguments ...]", file=sys.stderr)
        return 2
    root, args = argv[0], absolute_arguments(argv[1:], os.getcwd())
    os.chdir(root)
    # -P (3.11+): the source tree is not on the path, so a `Cython/` directory in it (Cython's own sdist) is not run.
    safe_path = ["-P"] if sys.version_info >= (3, 11) else []
    os.execv(sys.executable, [sys.executable, *safe_path, "-m", "cython", *args])
    return 1  # not reached: execv replaces this process


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
