"""Builds the `rules-pyodide` PEX at fetch time (toolchains/tool.bzl), offline, from a directory of locked wheels.

    python3 tool_pex.py --sources DIR --lock tools/tool-requirements.lock --pex-lock tools/pex-requirements.lock
        --wheels DIR --cache DIR --output rules-pyodide.pex [--key-extra TEXT]

Run by the interpreter the PEX is for (toolchains/tool.bzl: Debian's /usr/bin/python3), with the standard library
only: the tool's own requirements are what it installs. Steps:

1. the lock's pins that hold for this interpreter (a pin's marker is `python_version == "X.Y"` or none) are looked up
   in `--wheels` by the file names the lock lists; each file's sha256 must be one of the pin's `--hash` values. The
   verified wheels are the only ones pex sees (a fresh find-links directory, `--no-pypi --no-build`). So are those
   of the pex lock's other pins, the pip (with its setuptools and wheel) that pex resolves with, `--pip-version`:
   pex's vendored pip does not run on Python 3.12+, where pex would otherwise bootstrap one from PyPI;
2. the cache key is the sha256 of the lock, the pex pin, the sources (path + sha256 each), the interpreter's version
   and the build flags: `--cache/pex/<key>/rules-pyodide.pex`, built once per machine and copied to `--output`;
3. the PEX (`--venv prepend --sh-boot`, entry point rules_pyodide.cli:main) is built by pex from its wheel (pex builds
   reproducibly: the same inputs give the same bytes), then run once with `PEX_ROOT=--cache/pex_root` so that its
   virtualenv exists before any action runs it (the `--sh-boot` launcher then execs that venv directly);
4. prints one JSON object: {"key", "pex_version", "python", "venv"}: `venv` is the installed venv relative to PEX_ROOT.

Any problem is one line on stderr and exit status 1; nothing is left at `--output`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# Part of the cache key: change it when the pex command line below changes.
BUILD_FLAGS = (
    "--venv",
    "prepend",
    "--sh-boot",
    "--no-pypi",
    "--no-build",
    "--entry-point",
    "rules_pyodide.cli:main",
    "--no-compile",
)
_PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)\s*(?:;\s*([^\\]*?))?\s*\\?$")
_HASH = re.compile(r"^--hash=sha256:([0-9a-f]{64})\s*\\?$")
_MARKER = re.compile(r'^python_version == "(\d+\.\d+)"$')
_INSTALLED = re.compile(rb'INSTALLED_PEX="\$\{PEX_ROOT\}/([^"]+)"')


# Not a rules_pyodide.errors.RulesPyodideError: this script runs on its own (`python3 tool_pex.py`, from a repository
# rule, standard library only), with no rules_pyodide package to import.
class ToolError(Exception):
    """A problem with the inputs: the message says which file and what to do."""


@dataclass
class Pin:
    name: str
    version: str
    pythons: list[str]  # empty: every Python
    files: list[str]
    hashes: list[str]


def parse_lock(path: Path) -> list[Pin]:
    """The pins of a lock written by tools/lock_tool_requirements.py (`# file` lines, then the pin and its hashes)."""
    pins: list[Pin] = []
    files: list[str] = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            name = line[1:].strip()
            if name.endswith(".whl"):
                files.append(name)
            continue
        hash_match = _HASH.match(line)
        if hash_match:
            if not pins:
                raise ToolError(f"{path}:{number}: --hash before any requirement")
            pins[-1].hashes.append(hash_match.group(1))
            continue
        pin_match = _PIN.match(line)
        if not pin_match:
            raise ToolError(f"{path}:{number}: not `name==version [; marker] \\`: {line!r}")
        pythons = []
        for part in filter(None, (pin_match.group(3) or "").split(" or ")):
            marker = _MARKER.match(part.strip())
            if not marker:
                raise ToolError(f'{path}:{number}: marker {part!r} is not `python_version == "X.Y"`')
            pythons.append(marker.group(1))
        pins.append(Pin(pin_match.group(1), pin_match.group(2), pythons, files, []))
        files = []
    for pin in pins:
        if not pin.hashes or not pin.files:
            raise ToolError(f"{path}: {pin.name}=={pin.version} has no wheel file or no --hash")
    return pins


# Not rules_pyodide.outputs.sha256_file, for the reason given at ToolError.
def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fits(filename: str, python: str) -> bool:
    """Whether a wheel's python tag fits CPython `python` (`3.11`: cp311, py3, py311, ...)."""
    tags = filename[:-4].split("-")[-3].split(".")
    nodot = python.replace(".", "")
    return any(tag in ("py3", "py" + nodot, "cp" + nodot) for tag in tags)


def select_wheels(pins: Sequence[Pin], wheels: Path, python: str, lock: Path, fetch_hint: str) -> list[Path]:
    """The verified wheel of every pin that holds for `python`, found in `wheels`."""
    chosen = []
    for pin in pins:
        if pin.pythons and python not in pin.pythons:
            continue
        candidates = [f for f in pin.files if _fits(f, python)]
        present = [wheels / f for f in candidates if (wheels / f).is_file()]
        if not present:
            raise ToolError(
                f"{lock}: no wheel of {pin.name}=={pin.version} for Python {python} in {wheels} "
                f"(one of: {', '.join(candidates) or 'none listed'}); {fetch_hint}"
            )
        wheel = present[0]
        actual = sha256_file(wheel)
        if actual not in pin.hashes:
            raise ToolError(
                f"{wheel}: sha256 {actual} is not one of {lock}'s hashes for {pin.name}=={pin.version}; "
                f"delete it and {fetch_hint}"
            )
        chosen.append(wheel)
    return chosen


def cache_key(lock: Path, pex_lock: Path, sources: Path, python: str) -> str:
    digest = hashlib.sha256()
    digest.update(b"lock\0" + lock.read_bytes() + b"\0pex\0" + pex_lock.read_bytes())
    digest.update(b"\0python\0" + python.encode() + b"\0flags\0" + " ".join(BUILD_FLAGS).encode())
    for path in sorted(p for p in sources.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(b"\0src\0" + path.relative_to(sources).as_posix().encode() + b"\0" + sha256_file(path).encode())
    return digest.hexdigest()


def _run(command: Sequence[str], env: dict[str, str], what: str) -> None:
    result = subprocess.run(command, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise ToolError(f"{what} failed (exit {result.returncode}):\n{tail}")


@dataclass(frozen=True)
class Pex:
    """pex's wheel, and the pip it resolves with: `pip_version` and its wheels (pip, setuptools, wheel)."""

    wheel: Path
    pip_version: str
    pip_wheels: tuple[Path, ...]


def build_pex(pex: Pex, wheels: Sequence[Path], sources: Path, output: Path, pex_root: Path) -> None:
    """pex, run from its own wheel, builds `output` from `sources` and exactly `wheels`; written atomically."""
    with tempfile.TemporaryDirectory(prefix="rules-pyodide-pex-") as tmp:
        pex_src = Path(tmp, "pex")
        with zipfile.ZipFile(pex.wheel) as whl:
            whl.extractall(pex_src)
        links = Path(tmp, "wheels")
        links.mkdir()
        for wheel in {*wheels, *pex.pip_wheels}:
            os.symlink(wheel.resolve(), links / wheel.name)
        src = Path(tmp, "src")
        shutil.copytree(sources, src, ignore=shutil.ignore_patterns("__pycache__"))
        requirements = []
        for wheel in wheels:
            name, version = wheel.name.split("-")[:2]
            requirements.append(f"{name}=={version}")
        # A name of its own beside the output: two workspaces may build the same PEX into the machine cache at once,
        # and pex writes `<-o>~` first, which a shared name would let one build delete under the other.
        partial = Path(tempfile.mkdtemp(prefix=f".{output.name}.", suffix=".partial", dir=output.parent)) / output.name
        command = [sys.executable, "-m", "pex", *BUILD_FLAGS, "--pip-version", pex.pip_version]
        command += ["--find-links", str(links), "-D", str(src)]
        command += ["--python", sys.executable, "--python-shebang", "/usr/bin/env python3"]
        command += ["-o", str(partial), *requirements]
        env = dict(os.environ, PYTHONPATH=str(pex_src), PEX_ROOT=str(pex_root), PIP_CONFIG_FILE=os.devnull)
        env.pop("PEX_PYTHON", None)
        try:
            _run(command, env, "pex (building the rules-pyodide tool)")
            partial.replace(output)
        finally:
            shutil.rmtree(partial.parent, ignore_errors=True)


def install_venv(pex: Path, pex_root: Path) -> str:
    """Runs the PEX once so that its venv exists under `pex_root`; returns that venv, relative to `pex_root`."""
    with pex.open("rb") as f:
        head = f.read(4096)
    match = _INSTALLED.search(head)
    if not match:
        raise ToolError(f"{pex}: no --sh-boot header naming the installed venv")
    venv = match.group(1).decode()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEX_")}
    env["PEX_ROOT"] = str(pex_root)
    _run([sys.executable, str(pex), "--help"], env, f"{pex} --help (installing its venv)")
    if not (pex_root / venv / "bin" / "python").exists():
        raise ToolError(
            f"{pex}: running it with {sys.executable} did not install the venv its launcher expects "
            f"({pex_root / venv}): the PEX must be built and run by the same interpreter"
        )
    return venv


# What the pex lock pins: pex itself and the pip it resolves with (pex bootstraps pip with these two).
PEX_LOCK_NAMES = ("pex", "pip", "setuptools", "wheel")


def pex_of(pex_lock: Path, wheels: Path, fetch_hint: str) -> Pex:
    pins = parse_lock(pex_lock)
    if sorted(pin.name for pin in pins) != sorted(PEX_LOCK_NAMES):
        raise ToolError(f"{pex_lock}: expected one pin each of {', '.join(PEX_LOCK_NAMES)}")
    python = f"{sys.version_info[0]}.{sys.version_info[1]}"
    by_name = {pin.name: pin for pin in pins}
    chosen = select_wheels([by_name[name] for name in PEX_LOCK_NAMES], wheels, python, pex_lock, fetch_hint)
    return Pex(wheel=chosen[0], pip_version=by_name["pip"].version, pip_wheels=tuple(chosen[1:]))


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sources", type=Path, required=True, help="directory holding the rules_pyodide package")
    p.add_argument("--lock", type=Path, required=True, help="tools/tool-requirements.lock")
    p.add_argument("--pex-lock", type=Path, required=True, help="tools/pex-requirements.lock")
    p.add_argument("--wheels", type=Path, required=True, help="directory of the locked wheels")
    p.add_argument("--cache", type=Path, required=True, help="machine cache: pex/<key>/ and pex_root/")
    p.add_argument("--output", type=Path, required=True, help="the PEX to write")
    p.add_argument("--fetch-hint", default="run tools/setup.sh", help="how to fill --wheels, for messages")
    args = p.parse_args(argv)
    python = f"{sys.version_info[0]}.{sys.version_info[1]}"
    try:
        if not args.wheels.is_dir():
            raise ToolError(f"wheel directory {args.wheels} does not exist; {args.fetch_hint}")
        pex = pex_of(args.pex_lock, args.wheels, args.fetch_hint)
        wheels = select_wheels(parse_lock(args.lock), args.wheels, python, args.lock, args.fetch_hint)
        key = cache_key(args.lock, args.pex_lock, args.sources, sys.version)
        pex_root = args.cache / "pex_root"
        cached = args.cache / "pex" / key / "rules-pyodide.pex"
        if not cached.is_file():
            cached.parent.mkdir(parents=True, exist_ok=True)
            build_pex(pex, wheels, args.sources, cached, pex_root)
        venv = install_venv(cached, pex_root)
        partial = args.output.with_name(args.output.name + ".partial")
        shutil.copyfile(cached, partial)
        partial.chmod(0o755)
        partial.replace(args.output)
    except (ToolError, OSError, zipfile.BadZipFile) as e:
        print(f"rules-pyodide tool: {e}", file=sys.stderr)
        return 1
    pex_version = pex.wheel.name.split("-")[1]
    print(json.dumps({"key": key, "pex_version": pex_version, "python": sys.version.split()[0], "venv": venv}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
