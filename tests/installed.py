"""Test support: what `make setup` installs is required, not optional.

A test that compares against a reference (emscripten's file_packager, the index files the npm runtimes ship, ...)
proves nothing when it skips because the reference is missing, so it fails instead, saying what to install.
Genuinely environmental conditions (no network, no FIFOs, one CPU) still skip.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


def installed(path: Path, what: str) -> Path:
    """`path`, which `make setup` installs; fails the test naming `what` when it is missing."""
    if not path.exists():
        pytest.fail(f"{what} is missing ({path}): run `make setup`", pytrace=False)
    return path


def node() -> str:
    """The `node` on PATH (Debian's nodejs, which `make setup` installs)."""
    found = shutil.which("node")
    if found is None:
        pytest.fail("node is not on PATH: run `make setup` (it installs Debian's nodejs)", pytrace=False)
    return found
