"""Runs pyodide_import_test executables that must fail: `expect_failure.py (TEST_EXECUTABLE EXPECTED_TEXT)...`.

Each must exit non-zero with EXPECTED_TEXT in its stderr.
"""

from __future__ import annotations

import subprocess
import sys


def main(argv: list[str]) -> int:
    if not argv or len(argv) % 2:
        print("usage: expect_failure.py (TEST_EXECUTABLE EXPECTED_TEXT)...", file=sys.stderr)
        return 2
    failures = 0
    for executable, expected in zip(argv[::2], argv[1::2], strict=True):
        proc = subprocess.run([executable], capture_output=True, text=True, timeout=240, check=False)
        if proc.returncode == 0 or expected not in proc.stderr:
            failures += 1
            print(f"{executable}: expected a failure mentioning {expected!r}; exit status {proc.returncode}")
            print(f"--- stderr ---\n{proc.stderr[-3000:]}")
        else:
            print(f"{executable}: failed as expected (exit status {proc.returncode})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
