"""Apply a recipe's patches and extras to a copy of a source tree, atomically.

    python -m rules_pyodide.patch --source DIR --output DIR [--patch P ...] [--extra SRC=DST ...]

Patches are applied in the order given with `patch --batch --forward --no-backup-if-mismatch -p1`; a failure names the
patch file and shows patch's own output (which names the file it could not patch). Extras are then copied: SRC is a
file or directory, DST a path relative to the tree (split at the first '='); a DST that leaves the tree is refused.
Modes in the output are normalized to 0o644 / 0o755 (executables and directories), so a read-only input tree works.
Symlinks to files, in the source tree and in extras, are replaced by a copy of their target: in a Bazel sandbox every
input file is a symlink into the execroot, and copying those links would leave the output pointing outside the tree.
Symlinks to directories are kept as they are (a destination through one that leaves the tree is refused).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from rules_pyodide.errors import RulesPyodideError, prog, run_command

PROG = prog("patch")
PATCH_COMMAND = ("patch", "--batch", "--forward", "--no-backup-if-mismatch", "-p1")


class PatchError(RulesPyodideError):
    """A patch or an extra could not be applied; the message names it."""


def parse_extra(spec: str) -> tuple[Path, str]:
    """`SRC=DST` -> (SRC, DST), refusing an absolute DST or one with '..'."""
    src, sep, dst = spec.partition("=")
    if not sep or not src or not dst:
        raise PatchError(f"--extra {spec!r}: expected SRC=DST")
    pure = PurePosixPath(dst)
    if pure.is_absolute() or ".." in pure.parts or not pure.parts:
        raise PatchError(f"--extra {spec!r}: destination {dst!r} must stay inside the tree (relative, no '..')")
    return Path(src), dst


def _normalize_modes(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        mode = path.stat().st_mode
        os.chmod(path, 0o755 if path.is_dir() or mode & 0o111 else 0o644)


def apply_patch(tree: Path, patch: Path) -> None:
    """Apply one patch inside `tree`; raise PatchError with patch's output on failure."""
    if not patch.is_file():
        raise PatchError(f"{patch}: patch file not found")
    result = subprocess.run(
        [*PATCH_COMMAND, "--input", str(patch.resolve())],
        cwd=tree,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()
        raise PatchError(f"{patch}: patch failed (exit {result.returncode}):\n{output}")


def copy_extra(tree: Path, src: Path, dst: str) -> None:
    """Copy file or directory `src` to `tree/dst`, refusing destinations that resolve outside the tree."""
    if not src.exists():
        raise PatchError(f"extra {src}: source not found")
    target = tree / dst
    real_tree = os.path.realpath(tree)
    if os.path.commonpath([real_tree, os.path.realpath(target)]) != real_tree:
        raise PatchError(f"extra {src}: destination {dst!r} resolves outside the tree")
    if target.is_dir() and not target.is_symlink():
        raise PatchError(f"extra {src}: destination {dst!r} is an existing directory")
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink():
        target.unlink()
    if src.is_dir():
        _copy_tree(src, target)
    else:
        shutil.copyfile(src, target)
        os.chmod(target, 0o755 if os.stat(src).st_mode & 0o111 else 0o644)


def _copy_tree(source: Path, tree: Path) -> None:
    """Copy `source` to `tree`, replacing each symlink to a file by a copy of that file (see the module docstring)."""
    shutil.copytree(source, tree, symlinks=True)
    for path in sorted(tree.rglob("*")):
        if path.is_symlink() and path.is_file():
            target = os.path.realpath(path)
            path.unlink()
            shutil.copyfile(target, path)
            os.chmod(path, 0o755 if os.stat(target).st_mode & 0o111 else 0o644)


def patch_tree(source: Path, output: Path, patches: Sequence[Path] = (), extras: Sequence[str] = ()) -> None:
    """Copy `source`, apply `patches` in order, copy `extras` (SRC=DST); write `output` atomically."""
    parsed = [parse_extra(spec) for spec in extras]
    if not source.is_dir():
        raise PatchError(f"{source}: source tree is not a directory")
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise PatchError(f"{output}: output exists and is not an empty directory")
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{output.name}.", suffix=".tmp", dir=output.parent))
    try:
        tree = tmp / "tree"
        _copy_tree(source, tree)
        _normalize_modes(tree)
        for patch in patches:
            apply_patch(tree, patch)
        for src, dst in parsed:
            copy_extra(tree, src, dst)
        _normalize_modes(tree)
        if output.exists():
            output.rmdir()
        os.rename(tree, output)
    finally:
        shutil.rmtree(tmp)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    parser.add_argument("--source", required=True, type=Path, help="unpacked source tree")
    parser.add_argument("--output", required=True, type=Path, help="directory to create")
    parser.add_argument("--patch", action="append", default=[], type=Path, help="patch file (-p1), in order")
    parser.add_argument("--extra", action="append", default=[], help="SRC=DST, DST relative to the tree")
    args = parser.parse_args(argv)
    return run_command(PROG, lambda: patch_tree(args.source, args.output, args.patch, args.extra))


if __name__ == "__main__":
    sys.exit(main())
