"""Benchmark: our file packager against Debian emscripten's tools/file_packager.py.

Both packers pack the same real tree (the host Python's standard library by default, at least 20 MB) in plain and
LZ4 mode, in one run of this script, each invoked as a fresh process the way a build system invokes it. The table
shows the best of ``--repeat`` wall times, the ratio emscripten/ours (above 1 means we are faster) and output sizes.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from rules_pyodide.toolchain_tree import tree_path

EMSCRIPTEN_PACKER = tree_path("emscripten-3.1.6") / "usr/share/emscripten/tools/file_packager.py"
DEFAULT_EXCLUDES = ("*/__pycache__", "*/site-packages", "*/config-*")
MIN_TREE_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class Run:
    """One packer invocation's best time and the size of what it wrote."""

    seconds: float
    data_bytes: int
    js_bytes: int


def packer_command(packer: str) -> list[str]:
    if packer == "emscripten":
        return [sys.executable, str(EMSCRIPTEN_PACKER)]
    return [sys.executable, "-m", "rules_pyodide.file_packager"]


def run_packer(packer: str, tree: Path, dst: str, lz4: bool, excludes: Sequence[str], out: Path) -> float:
    data = out / "pkg.data"
    cmd = [*packer_command(packer), str(data), "--preload", f"{tree}@{dst}", f"--js-output={out / 'pkg.js'}"]
    if lz4:
        cmd.append("--lz4")
    if excludes:
        cmd += ["--exclude", *excludes]
    started = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def measure(packer: str, tree: Path, dst: str, lz4: bool, excludes: Sequence[str], repeat: int) -> Run:
    with tempfile.TemporaryDirectory(prefix=f"bench-{packer}-") as tmp:
        out = Path(tmp)
        best = min(run_packer(packer, tree, dst, lz4, excludes, out) for _ in range(repeat))
        return Run(best, (out / "pkg.data").stat().st_size, (out / "pkg.js").stat().st_size)


def tree_size(tree: Path, excludes: Sequence[str]) -> tuple[int, int]:
    """Counts files and bytes the packers will see (excluded directories pruned like both packers do)."""
    files = size = 0
    for root, dirs, names in os.walk(tree):
        dirs[:] = [d for d in dirs if not any(fnmatch.fnmatch(os.path.join(root, d), p) for p in excludes)]
        for name in names:
            path = os.path.join(root, name)
            if not any(fnmatch.fnmatch(path, p) for p in excludes) and os.path.isfile(path):
                files += 1
                size += os.path.getsize(path)
    return files, size


def render(tree: Path, files: int, size: int, results: dict[tuple[str, bool], Run]) -> Table:
    table = Table(title=f"file packager: {tree} ({files} files, {size / 2**20:.1f} MiB)")
    for column in ("mode", "emscripten s", "ours s", "speed-up", "emscripten .data", "ours .data", "size ratio"):
        table.add_column(column, justify="right")
    for lz4 in (False, True):
        ref, ours = results[("emscripten", lz4)], results[("ours", lz4)]
        table.add_row(
            "lz4" if lz4 else "plain",
            f"{ref.seconds:.2f}",
            f"{ours.seconds:.2f}",
            f"{ref.seconds / ours.seconds:.2f}x",
            f"{ref.data_bytes:,}",
            f"{ours.data_bytes:,}",
            f"{ours.data_bytes / ref.data_bytes:.4f}",
        )
    return table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tree", type=Path, default=Path(sysconfig.get_paths()["stdlib"]))
    parser.add_argument("--dst", default="/lib/python3.11")
    parser.add_argument(
        "--exclude", action="append", help="exclude pattern (default: caches, site-packages, the static libpython)"
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--min-bytes", type=int, default=MIN_TREE_BYTES, help="refuse smaller trees")
    args = parser.parse_args(argv)
    excludes = tuple(args.exclude) if args.exclude else DEFAULT_EXCLUDES

    files, size = tree_size(args.tree, excludes)
    if size < args.min_bytes:
        print(f"bench: {args.tree}: {size} bytes is below --min-bytes={args.min_bytes}", file=sys.stderr)
        return 1
    console = Console(stderr=True)
    results: dict[tuple[str, bool], Run] = {}
    for lz4 in (False, True):
        for packer in ("emscripten", "ours"):
            console.log(f"{packer} {'lz4' if lz4 else 'plain'} x{args.repeat}")
            results[(packer, lz4)] = measure(packer, args.tree, args.dst, lz4, excludes, args.repeat)
    Console().print(render(args.tree, files, size, results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
