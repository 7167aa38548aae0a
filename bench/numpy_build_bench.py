"""Benchmark: a cold build of //packages:numpy, and the rebuild after one recipe edit, for each profile with numpy.

    python -m bench.numpy_build_bench [--jobs N] [--profile P ...]

Runs in a fresh checkout of this working tree (in a new directory, linking this checkout's tool wheels and recipe
distdir: nothing is downloaded) with its own output base and no cache, so "cold" means every action runs. For each
profile (PROFILES: 0.21.3 gives numpy 1.22.4, packages/numpy; 0.29.5 numpy 2.2.5, packages/numpy2):

1. cold: `bazel build //packages:numpy --//:pyodide=P` (source, patch, the one PyodideEmccBuild action, file
   package; for 0.29.5 also the pure Cython 3 recipe it builds with);
2. rebuild: a line is added to the description of the recipe's EDITED file (numpy 1.22.4: patches/0004, what `patch`
   ignores, so the patched tree comes out the same; numpy 2.2.5 has no patch: a comment line of its meta.yaml, also
   an input of its compile action) and the build runs again: the numpy compile (and the patch action) rerun.

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

# profile -> (recipe file edited before the rebuild, the line added at its top).
PROFILES = {
    "0.21.3": (Path("packages/numpy/patches/0004-random-float-fill-returns-void.patch"), "(benchmark: a line)\n"),
    "0.29.5": (Path("packages/numpy2/meta.yaml"), "# benchmark: one more line\n"),
}


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


def bazel_startup(output_base: Path) -> list[str]:
    """`bazel` and its startup options: java.io.tmpdir, or Bazel's JVM leaves the execution log's raw copy in /tmp."""
    return ["bazel", f"--output_base={output_base}", f"--host_jvm_args=-Djava.io.tmpdir={output_base.parent}"]


def build(workspace: Path, output_base: Path, log: Path, jobs: int, profile: str) -> Run:
    command = [*bazel_startup(output_base), "build", "--symlink_prefix=/", f"--jobs={jobs}"]
    command += [f"--execution_log_json_file={log}", f"--//:pyodide={profile}", "//packages:numpy"]
    start = time.monotonic()
    result = subprocess.run(command, cwd=workspace, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - start
    if result.returncode != 0:
        raise SystemExit(f"bazel build failed in {workspace}:\n{result.stderr[-3000:]}")
    return Run(seconds, executed(log))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=2, help="Bazel --jobs (default 2: the 2-core reference machine)")
    parser.add_argument("--profile", action="append", choices=sorted(PROFILES), help="default: every one of PROFILES")
    args = parser.parse_args()
    console = Console(width=160)
    runs: list[tuple[str, str, Run]] = []
    for profile in args.profile or sorted(PROFILES):
        edited, line = PROFILES[profile]
        with tempfile.TemporaryDirectory(prefix="numpy-bench.") as tmp:
            workspace = checkout(Path(tmp) / "rules_pyodide")
            output_base = Path(tmp) / "output_base"
            try:
                console.print(f"Pyodide {profile}: cold build of //packages:numpy in {workspace} ...")
                cold = build(workspace, output_base, Path(tmp) / "cold.json", args.jobs, profile)
                runs.append((profile, "cold", cold))
                target = workspace / edited
                target.write_text(line + target.read_text(encoding="utf-8"))
                console.print(f"Pyodide {profile}: rebuild after editing {edited} ...")
                rebuild = build(workspace, output_base, Path(tmp) / "rebuild.json", args.jobs, profile)
                runs.append((profile, f"after editing {edited.name}", rebuild))
            finally:
                subprocess.run([*bazel_startup(output_base), "shutdown"], cwd=workspace, check=False)
                subprocess.run(["chmod", "-R", "u+w", str(output_base)], check=False)
    table = Table(title=f"//packages:numpy per profile (fresh checkout and output base each), {os.cpu_count()} cores")
    numbers = ("wall time", "actions run", "PyodideEmccBuild")
    for column in ("profile", "build", *numbers, "by mnemonic"):
        table.add_column(column, justify="right" if column in numbers else "left")
    for profile, name, run in runs:
        table.add_row(
            profile,
            name,
            f"{run.seconds:.0f} s",
            str(sum(run.actions.values())),
            str(run.actions.get("PyodideEmccBuild", 0)),
            ", ".join(f"{m} {n}" for m, n in sorted(run.actions.items())),
        )
    console.print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
