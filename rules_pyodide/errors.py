"""The error type every rules_pyodide module raises for bad input, and the one way a command reports it.

Every `rules-pyodide COMMAND` (also `python -m rules_pyodide.MODULE`) exits with
- 0 when it succeeded;
- 1 (EXIT_ERROR) when it reports an error: bad input (a file, key or flag and what was expected), a failed build or
  download, an app that failed. One line on stderr, `rules-pyodide COMMAND: error: MESSAGE` (a build's message may
  go on with the last lines of its log), and nothing is left at the outputs;
- 2 when the command line itself is malformed: argparse's usage message, ending `rules-pyodide COMMAND: error: ...`.
`run` exits with the status of the code it runs when that code fails or calls sys.exit.

Not here: tool_pex.py (run as a plain script by a repository rule, with the standard library only) and
compiler_wrapper.py (a compiler shim: it exits with the compiler's status).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

PROG = "rules-pyodide"
EXIT_ERROR = 1


class RulesPyodideError(Exception):
    """Bad input or a failed step, reported as one line naming the file, key or flag; the base of every module's
    error class (BuildError, RecipeError, ...), which keep their names so callers can still tell them apart."""


def prog(command: str) -> str:
    """The program name of a subcommand, for its argparse parser and its error lines: `rules-pyodide pack`."""
    return f"{PROG} {command}"


def report(program: str, message: str) -> None:
    """Prints the error line of `program` (what `prog` gives, or `python -m rules_pyodide.X` for the modules that are
    no subcommand), in the format of argparse's own error line."""
    print(f"{program}: error: {message}", file=sys.stderr)


def run_command(
    program: str,
    body: Callable[[], int | None],
    *,
    reported: tuple[type[Exception], ...] = (),
    context: str = "",
) -> int:
    """Runs a command's body (its arguments already parsed) and returns its exit status: the body's (None is 0), or
    EXIT_ERROR after reporting a RulesPyodideError, an OSError the body did not attribute to a file itself, or one
    of the `reported` types (e.g. zipfile.BadZipFile). `context` (e.g. the recipe file) goes before the message."""
    caught: tuple[type[Exception], ...] = (RulesPyodideError, OSError, *reported)
    try:
        status = body()
    except caught as err:
        message = describe_os_error(err) if isinstance(err, OSError) else str(err)
        report(program, f"{context}: {message}" if context else message)
        return EXIT_ERROR
    return 0 if status is None else status


def describe_os_error(err: OSError) -> str:
    """`PATH: reason` (`PATH -> PATH2: reason` for a rename) rather than Python's `[Errno 2] reason: 'PATH'`."""
    if err.filename is None or not err.strerror:
        return str(err)
    paths = f"{err.filename} -> {err.filename2}" if err.filename2 is not None else str(err.filename)
    return f"{paths}: {err.strerror}"
