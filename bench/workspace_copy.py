"""A fresh copy of this working tree for benchmarks that build from scratch in their own Bazel output base."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def checkout(dest: Path) -> Path:
    """A fresh checkout of this working tree (what git would check out: tracked and untracked, not ignored files),
    with this checkout's recipe sources and the rules-pyodide tool's wheels linked in (no .venv: no action uses it)."""
    ls_files = ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
    listing = subprocess.run(ls_files, cwd=ROOT, capture_output=True, check=True)
    for name in filter(None, listing.stdout.decode().split("\0")):
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    distdir = dest / ".cache" / "distdir"
    distdir.mkdir(parents=True)
    for archive in (ROOT / ".cache" / "distdir").glob("*"):
        os.symlink(archive, distdir / archive.name)
    os.symlink(ROOT / ".cache" / "wheels", dest / ".cache" / "wheels")
    return dest
