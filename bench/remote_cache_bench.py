"""Benchmark: a cold build of //packages:all against a clean-machine build with a warm remote cache.

Every build runs in a fresh checkout of this working tree (in a new directory) with a fresh output base and no Bazel
server, the way a new CI machine starts (it links this checkout's tool wheels and recipe distdir: nothing is
downloaded):

1. cold: no cache at all;
2. cold, filling the cache: the same with `--config=ci --remote_cache=URL` against an empty cache (what the first CI
   run pays: every action runs and is uploaded);
3. warm: another fresh checkout in another directory, same cache: every action is a remote cache hit.

The caches are real servers on 127.0.0.1 (rules_pyodide.cache_server: nginx WebDAV for `http`, BuildGrid for
`grpc`), stopped by their own process ids at the end. The table shows the best of `--repeat` wall times, the processes
by kind, and the ratio cold / warm (above 1: the warm cache is that many times faster).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.workspace_copy import checkout
from rules_pyodide.cache_server import CacheServer, running

ROOT = Path(__file__).resolve().parent.parent
_SUMMARY = re.compile(r"^INFO: \d+ processes?(?:: (.*?))?\.?$", re.MULTILINE)


@dataclass(frozen=True)
class Run:
    """One build's wall time (best of the repeats) and its closing "N processes: ..." detail."""

    seconds: float
    processes: str


def build(checkout: Path, output_base: Path, target: str, flags: list[str]) -> Run:
    """`bazel build` from a cold start (no server, empty output base); the server is shut down afterwards."""
    env = {k: v for k, v in os.environ.items() if k != "RULES_PYODIDE_PYTHON"}
    bazel = ["bazel", f"--output_base={output_base}"]
    started = time.perf_counter()
    result = subprocess.run([*bazel, "build", *flags, target], cwd=checkout, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    subprocess.run([*bazel, "shutdown"], cwd=checkout, env=env, capture_output=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"bazel build {' '.join(flags)} {target} failed in {checkout}:\n{result.stderr[-4000:]}")
    summary = _SUMMARY.findall(result.stderr)
    return Run(seconds, summary[-1] if summary else "?")


def measure(work: Path, name: str, target: str, flags: list[str], repeat: int) -> Run:
    """Best of `repeat` builds, each in a new checkout with a new output base."""
    runs = []
    for i in range(repeat):
        tree = checkout(work / f"{name}-{i}" / "checkout")
        runs.append(build(tree, work / f"{name}-{i}" / "output_base", target, flags))
        _remove(work / f"{name}-{i}")
    return min(runs, key=lambda r: r.seconds)


def _remove(path: Path) -> None:
    subprocess.run(["chmod", "-R", "u+w", str(path)], check=False)
    shutil.rmtree(path, ignore_errors=True)


def bench_cache(work: Path, kind: str, target: str, repeat: int) -> list[tuple[str, Run]]:
    with running(kind, work / f"{kind}-cache") as server:
        fill = measure(work, f"{kind}-fill", target, _flags(server), 1)
        warm = measure(work, f"{kind}-warm", target, _flags(server), repeat)
    return [(f"cold, filling an empty {kind} cache", fill), (f"fresh checkout, warm {kind} cache", warm)]


def _flags(server: CacheServer) -> list[str]:
    return ["--config=ci", f"--remote_cache={server.url}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--target", default="//packages:all")
    parser.add_argument("--cache", choices=["http", "grpc", "both"], default="both")
    parser.add_argument("--repeat", type=int, default=1, help="builds per measurement (best is shown)")
    args = parser.parse_args()
    console = Console(width=110)
    kinds = ["http", "grpc"] if args.cache == "both" else [args.cache]
    with tempfile.TemporaryDirectory(prefix="remote-cache-bench-") as tmp:
        work = Path(tmp)
        console.print(f"[bold]{args.target}[/]: cold builds vs warm remote cache ({', '.join(kinds)}), from {ROOT}")
        cold = measure(work, "cold", args.target, [], args.repeat)
        rows = [("cold, no cache", cold)]
        for kind in kinds:
            rows += bench_cache(work, kind, args.target, args.repeat)
    table = Table(title=f"Clean-machine builds of {args.target} (fresh checkout, output base and server each)")
    table.add_column("build")
    table.add_column("wall s", justify="right")
    table.add_column("processes")
    table.add_column("cold / this", justify="right")
    for name, run in rows:
        table.add_row(name, f"{run.seconds:.1f}", run.processes, f"{cold.seconds / run.seconds:.2f}x")
    console.print(table)


if __name__ == "__main__":
    main()
