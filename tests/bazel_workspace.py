"""Helpers for tests that run Bazel in a temporary copy of this workspace, each copy with its own output base.

`copy_workspace` copies what git would check out (tracked and untracked, not ignored files) and links the recipe
sources of the main workspace's distdir and the rules-pyodide tool's locked wheels (.cache/wheels), which is what
`make setup` leaves in a checkout, so nothing is downloaded. No `.venv`: no action runs the checkout's virtualenv
(the tool is the PEX of toolchains/tool.bzl); with `venv=True` it is linked anyway.
`Workspace.bazel` runs Bazel there; `spawns` reads Bazel's JSON execution log, `action_key` digests what a remote
cache keys a spawn on, `process_summary` parses the closing "N processes: ..." line.

A workspace given `disk_cache=machine_disk_cache()` builds with the machine-level Bazel disk cache that `make test`
names in $RULES_PYODIDE_DISK_CACHE (the one its `bazel test //...` and other clones share): tests about what a build
does (which actions run, what errors say, what the outputs are) get the same outputs from it as from a cold build,
and a second clone of the same commit runs them without building again. Bazel's execution log lists cache hits too
(runner "remote cache hit"). Tests whose point is executing every action (the producer that fills the remote caches,
the benchmarks) keep `disk_cache=None`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rules_pyodide.cache_server import CacheServer

ROOT = Path(__file__).resolve().parent.parent
_SUMMARY = re.compile(r"^INFO: (\d+) processes?(?:: (.*?))?\.?$", re.MULTILINE)


# Bazel commands that take build options (and so `--disk_cache`); query, sync, clean, shutdown and info do not.
_BUILD_COMMANDS = frozenset({"aquery", "build", "cquery", "run", "test"})
# Runners of a spawn that ran in Bazel's sandbox or whose result came from a cache (filled by sandboxed spawns only:
# no spawn of ours runs unsandboxed, which the cold builds check).
SANDBOXED_OR_CACHED = frozenset({"linux-sandbox", "remote cache hit"})


def machine_disk_cache() -> Path | None:
    """The machine-level Bazel disk cache `make test` uses ($RULES_PYODIDE_DISK_CACHE), if any."""
    value = os.environ.get("RULES_PYODIDE_DISK_CACHE", "")
    return Path(value) if value else None


@dataclass
class Workspace:
    root: Path
    output_base: Path
    env: dict[str, str]
    disk_cache: Path | None = None

    def command(self, *args: str) -> list[str]:
        startup = [f"--output_base={self.output_base}", "--max_idle_secs=600"]
        # Bazel's JVM ignores $TMPDIR: without this, every `--execution_log_json_file` leaves its raw binary log
        # (`exec<N>.log`, megabytes) behind in /tmp.
        if "TMPDIR" in self.env:
            startup.append(f"--host_jvm_args=-Djava.io.tmpdir={self.env['TMPDIR']}")
        if self.disk_cache and args and args[0] in _BUILD_COMMANDS:
            args = (args[0], f"--disk_cache={self.disk_cache}", *args[1:])
        return ["bazel", *startup, *args]

    def bazel(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = self.command(*args)
        result = subprocess.run(command, cwd=self.root, env=self.env, capture_output=True, text=True, check=False)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed:\n{result.stderr[-6000:]}")
        return result

    def fails(self, *args: str) -> str:
        result = self.bazel(*args, check=False)
        assert result.returncode != 0, f"{' '.join(args)} unexpectedly succeeded"
        return result.stderr

    def spawns(self, *targets: str) -> list[dict[str, Any]]:
        """Build (targets and flags) and return the spawns Bazel executed, from its JSON execution log."""
        return self.logged_build(*targets)[1]

    def logged_build(self, *args: str) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
        """`bazel build ARGS` with an execution log: (the finished command, the spawns of the log)."""
        log = self.root.parent / "exec.json"
        result = self.bazel("build", f"--execution_log_json_file={log}", *args)
        return result, read_execution_log(log)

    def shutdown(self, expunge: bool = False) -> None:
        if expunge:
            self.bazel("clean", "--expunge", check=False)
        self.bazel("shutdown", check=False)


def read_execution_log(path: Path) -> list[dict[str, Any]]:
    """Bazel's `--execution_log_json_file`: concatenated JSON objects, one per spawn."""
    text, decoder, i = path.read_text(), json.JSONDecoder(), 0
    spawns: list[dict[str, Any]] = []
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            return spawns
        spawn, i = decoder.raw_decode(text, i)
        spawns.append(spawn)


def workspace_files() -> list[str]:
    """Files git would check out: tracked and untracked, not ignored."""
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    )
    return [f for f in listing.stdout.decode().split("\0") if f]


def copy_workspace(root: Path, *, venv: bool = False) -> Path:
    """Copy the workspace to `root` (a fresh checkout, as far as Bazel can tell); returns root."""
    for name in workspace_files():
        if (ROOT / name).is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, root / name)
    distdir = root / ".cache" / "distdir"
    distdir.mkdir(parents=True, exist_ok=True)
    for archive in (ROOT / ".cache" / "distdir").glob("*"):
        os.symlink(archive, distdir / archive.name)
    os.symlink(ROOT / ".cache" / "wheels", root / ".cache" / "wheels")
    if venv:
        os.symlink(ROOT / ".venv", root / ".venv")
    return root


def process_summary(stderr: str) -> tuple[int, dict[str, int]]:
    """The last "INFO: N processes: 39 remote cache hit, 7 internal." line: (N, {"remote cache hit": 39, ...})."""
    matches = _SUMMARY.findall(stderr)
    assert matches, f"no 'INFO: N processes' line in:\n{stderr[-3000:]}"
    total, detail = matches[-1]
    kinds: dict[str, int] = {}
    for part in detail.split(","):
        count, _, kind = part.strip().partition(" ")
        if count:
            kinds[kind] = int(count)
    return int(total), kinds


def action_key(spawn: dict[str, Any]) -> str:
    """Digest of what a remote cache keys this spawn on: command line, environment, platform, inputs (path and
    digest) and declared outputs. Equal keys on two machines or checkouts mean the same cache entry."""
    key = {
        "args": spawn.get("commandArgs", []),
        "env": sorted((e["name"], e["value"]) for e in spawn.get("environmentVariables", [])),
        "platform": spawn.get("platform", {}),
        "inputs": sorted((i["path"], i.get("digest", {}).get("hash", "")) for i in spawn.get("inputs", [])),
        "outputs": sorted(spawn.get("listedOutputs", [])),
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


def output_digests(spawns: list[dict[str, Any]]) -> dict[str, str]:
    """Every output file of the spawns (files of tree artifacts included), by exec-root-relative path."""
    return {o["path"]: o["digest"]["hash"] for s in spawns for o in s.get("actualOutputs", []) if "digest" in o}


def file_digests(directory: Path) -> dict[str, str]:
    """sha256 of every file under `directory` (links followed), by relative path."""
    return {
        p.relative_to(directory).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


# The release the reproducibility and remote-cache tests build from scratch: that of //packages:core (every recipe but
# the slow ones such as numpy, which //:release ships), so that a cold build stays within the suite's time budget.
RELEASE = "//packages:core_release"
# Where that release directory is, under the output tree (`.bazel/bin`).
RELEASE_DIR = Path("packages/core_release")


@dataclass
class Producer:
    """The first release build: its workspace and the spawns it ran (all local, all uploaded to the HTTP cache)."""

    ws: Workspace
    spawns: list[dict[str, Any]]

    @property
    def release(self) -> Path:
        return self.ws.root / ".bazel" / "bin" / RELEASE_DIR


def checkout(base: Path, relative: str, path_prefix: str = "", disk_cache: Path | None = None) -> Workspace:
    """A fresh checkout at `base/relative` set up as by `make setup` (recipe sources and the tool's wheels; no
    $RULES_PYODIDE_PYTHON), with its own output base and TMPDIR, and `path_prefix` put before the host PATH."""
    root = copy_workspace(base / relative)
    tmpdir = base / "tmp"
    tmpdir.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "RULES_PYODIDE_PYTHON"}
    env.update(TMPDIR=str(tmpdir), PATH=path_prefix + os.environ["PATH"])
    return Workspace(root, base / "output_base", env, disk_cache)


def ci_flags(server: CacheServer, *targets: str) -> tuple[str, ...]:
    return ("--config=ci", f"--remote_cache={server.url}", *targets)
