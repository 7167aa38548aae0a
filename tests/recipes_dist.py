"""Test support: the recipes' dist, built by Bazel in this workspace (or named by $RULES_PYODIDE_TEST_DIST)."""

from __future__ import annotations

import os
import subprocess
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@cache
def recipes_dist() -> Path:
    """`bazel build //packages:core` (every recipe but the slow ones) in this workspace (once per process; cached by
    Bazel, and by the machine's disk cache under `make test`); the dist directory.

    `RULES_PYODIDE_TEST_DIST=DIR` names an already built dist to use instead: `bazel test //tests:bundle` and
    `//tests:pack` give them //packages:core's (tests/BUILD.bazel), so those tests read no output tree of the checkout.
    """
    prebuilt = os.environ.get("RULES_PYODIDE_TEST_DIST")
    if prebuilt:
        return Path(prebuilt).resolve()
    # The machine's disk cache when `make test` gives one: the integration workspaces build the same actions.
    cache = os.environ.get("RULES_PYODIDE_DISK_CACHE", "")
    command = ["bazel", "build", *([f"--disk_cache={cache}"] if cache else []), "//packages:core"]
    proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"bazel build //packages:core failed:\n{proc.stderr[-4000:]}"
    dist = REPO / ".bazel" / "bin" / "packages" / "core_dist"
    assert (dist / "repodata.json").is_file(), dist
    return dist
