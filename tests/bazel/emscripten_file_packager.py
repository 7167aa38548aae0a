"""Runs Debian emscripten's own tools/file_packager.py: the reference that file_package is compared against.

Usage: emscripten_file_packager.py --reference=PATH/file_packager.py [--args-file=F] ARGS...

`--args-file=F` (one argument per line) is expanded in place, as rules_pyodide.file_packager does, because
emscripten's packer has no param-file support. The remaining arguments go to emscripten's packer unchanged.
"""

import subprocess
import sys
from pathlib import Path

_REFERENCE = "--reference="
_ARGS_FILE = "--args-file="


def expand_args(argv: list[str]) -> tuple[str, list[str]]:
    """Returns (path of emscripten's file_packager.py, its arguments with every --args-file expanded)."""
    reference = ""
    expanded: list[str] = []
    for arg in argv:
        if arg.startswith(_REFERENCE):
            reference = arg[len(_REFERENCE) :]
        elif arg.startswith(_ARGS_FILE):
            expanded.extend(Path(arg[len(_ARGS_FILE) :]).read_text(encoding="utf-8").splitlines())
        else:
            expanded.append(arg)
    if not reference:
        raise SystemExit("emscripten_file_packager: missing --reference=PATH/file_packager.py")
    return reference, expanded


def main(argv: list[str]) -> int:
    reference, args = expand_args(argv)
    # Resolve the symlink Bazel puts in the sandbox: the packer imports its siblings from emscripten's tools/.
    result = subprocess.run(
        [sys.executable, str(Path(reference).resolve()), *args], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:  # its progress chatter is only worth showing when it fails
        sys.stderr.write(result.stdout + result.stderr)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
