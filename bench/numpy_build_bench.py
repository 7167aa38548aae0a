"""Benchmark: a cold build of //packages:numpy, and the rebuild after one of its patches changes.

    python -m bench.numpy_build_bench [--jobs N]

Runs in a fresh checkout of this working tree (in a new directory, linking this checkout's tool wheels and recipe
distdir: nothing is downloaded) with its own output base and no cache, so "cold" means every action runs:

1. cold: `bazel build //packages:numpy` (source, patch, the one PyodideEmccBuild action, file package);
2. rebuild: a line is added to the description of patches/0004 (what `patch` ignores, so the patched tree comes out
   the same) and the build runs again: the patch action and the numpy compile (its recipe directory is an input of
   the build) rerun, nothing else.

Each build writes Bazel's execution log (`--execution_log_json_file`); the table counts the actions that ran, by
mnemonic, and gives the wall time of each build. numpy compiles inside one action with `NPY_NUM_BUILD_JOBS`
(meta.yaml) parallel compiles, so the compile action dominates both times.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.workspace_copy import checkout

PATCH = Path("packages/numpy/patches/0004-random-float-fill-returns-void.patch")


@dataclass(frozen=True)
class Run:
    """One build: wall time and the mnemonics of the actions that ran (not cached)."""

    seconds: float
    actions: Counter[str]


def executed(log: Path) -> Counter[str]:
    """Mnemonics of the spawns in an execution log (a stream of JSON objects) that were not cache hits."""
    decoder = json.JSONDecoder()
    text = log.read_text(encoding="utf-8")
    counts: Counter[str] = Counter()
    pos = 0
    while pos < len(text):
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            break
        spawn, pos = decoder.raw_decode(text, pos)
        if not spawn.get("remoteCacheHit"):
            counts[str(spawn.get("mnemonic", "?"))] += 1
    return counts


def build(workspace: Path, output_base: Path, log: Path, jobs: int) -> Run:
    command = ["bazel", f"--output_base={output_base}", "build", "--symlink_prefix=/", f"--jobs={jobs}"]
    command += [f"--execution_log_json_file={log}", "//packages:numpy"]
    start = time.monotonic()
    result = subprocess.run(command, cwd=workspace, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - start
    if result.returncode != 0:
        raise SystemExit(f"bazel build failed in {workspace}:\n{result.stderr[-3000:]}")
    return Run(seconds, executed(log))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=2, help="Bazel --jobs (default 2: the 2-core reference machine)")
    args = parser.parse_args()
    console = Console(width=140)
    with tempfile.TemporaryDirectory(prefix="numpy-bench.") as tmp:
        workspace = checkout(Path(tmp) / "rules_pyodide")
        output_base = Path(tmp) / "output_base"
        try:
            console.print(f"cold build of //packages:numpy in {workspace} ...")
            cold = build(workspace, output_base, Path(tmp) / "cold.json", args.jobs)
            patch = workspace / PATCH
            patch.write_text("(benchmark: one more line of description)\n" + patch.read_text(encoding="utf-8"))
            console.print(f"rebuild after editing {PATCH} ...")
            rebuild = build(workspace, output_base, Path(tmp) / "rebuild.json", args.jobs)
        finally:
            subprocess.run(["bazel", f"--output_base={output_base}", "shutdown"], cwd=workspace, check=False)
            subprocess.run(["chmod", "-R", "u+w", str(output_base)], check=False)
    table = Table(title=f"//packages:numpy (numpy 1.22.4, Pyodide 0.21.3 profile), {os.cpu_count()} cores")
    table.add_column("build")
    table.add_column("wall time", justify="right")
    table.add_column("actions run", justify="right")
    table.add_column("PyodideEmccBuild", justify="right")
    table.add_column("by mnemonic")
    for name, run in (("cold", cold), ("after editing one patch", rebuild)):
        table.add_row(
            name,
            f"{run.seconds:.0f} s",
            str(sum(run.actions.values())),
            str(run.actions.get("PyodideEmccBuild", 0)),
            ", ".join(f"{m} {n}" for m, n in sorted(run.actions.items())),
        )
    console.print(table)
    console.print(f"rebuild / cold: {rebuild.seconds / cold.seconds:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
