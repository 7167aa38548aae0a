"""Runs pytest modules' integration tests (markers `bazel` and `pyodide`) as a Bazel test (tests/BUILD.bazel).

Bazel keys the test's result on its inputs, `//tests:workspace_files`; the tests read the checkout itself (they copy
what git lists into scratch checkouts and run its .venv, distdir and runtimes). So this refuses to start when git
lists a file that is not an input: a result could then be reused after that file changed.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest
from bazel_workspace import ROOT, workspace_files

# The tests `make unit` leaves to Bazel (tests/BUILD.bazel; tests/test_integration.py checks the two agree).
MARKERS = "bazel or pyodide"
# pytest's exit status when it selected no test.
NO_TESTS_COLLECTED = 5


def declared_inputs(runfiles: Path) -> set[str]:
    """The workspace's files in the test's runfiles tree, by workspace-relative path."""
    return {p.relative_to(runfiles).as_posix() for p in runfiles.rglob("*") if p.is_file()}


def undeclared(listed: list[str], declared: set[str]) -> list[str]:
    """Files git lists (those that exist: a deleted one is not copied) that are not inputs of the test."""
    return sorted(name for name in listed if name not in declared and (ROOT / name).is_file())


def pytest_args(modules: list[str], scratch: Path) -> list[str]:
    args = ["-v", "-p", "no:cacheprovider", "-m", MARKERS, f"--rootdir={ROOT}", f"--basetemp={scratch / 'pytest'}"]
    if "XML_OUTPUT_FILE" in os.environ:
        args.append(f"--junitxml={os.environ['XML_OUTPUT_FILE']}")
    return [*args, *(str(ROOT / module) for module in modules)]


def main(modules: list[str]) -> int:
    runfiles = Path(os.environ["TEST_SRCDIR"]) / os.environ["TEST_WORKSPACE"]
    missing = undeclared(workspace_files(), declared_inputs(runfiles))
    if missing:
        print(
            f"tests/integration.py: {len(missing)} file(s) of {ROOT} that git lists are not inputs of "
            "//tests:workspace_files (is their package in its list in tests/BUILD.bazel?):\n  " + "\n  ".join(missing),
            file=sys.stderr,
        )
        return 2
    if "HOME" not in os.environ:
        print(
            "tests/integration.py: the tests need the machine's caches under $HOME/.cache/rules_pyodide (toolchain "
            "trees, Bazel disk cache): give --test_env=HOME --sandbox_writable_path=$HOME/.cache/rules_pyodide, as "
            "`make bazel-test` does",
            file=sys.stderr,
        )
        return 2
    if "RULES_PYODIDE_TEST_DIST" in os.environ:  # a runfiles path (tests/BUILD.bazel), read from another directory
        os.environ["RULES_PYODIDE_TEST_DIST"] = str(runfiles / os.environ["RULES_PYODIDE_TEST_DIST"])
    # A short $TMPDIR (the host's /tmp, writable in the sandbox): Chromium's singleton socket under $TEST_TMPDIR
    # would be longer than a socket path may be.
    with tempfile.TemporaryDirectory(prefix="rules_pyodide-test-", dir="/tmp") as tmp:
        os.environ["TMPDIR"] = tmp
        os.chdir(ROOT)
        status = int(pytest.main(pytest_args(modules, Path(os.environ["TEST_TMPDIR"]))))
    if status == NO_TESTS_COLLECTED:
        print(f"tests/integration.py: no test of {' '.join(modules)} is marked {MARKERS}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
