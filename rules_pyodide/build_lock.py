"""Per-recipe build requirements: `packages/<name>/build-requirements.lock`, its writer, its reader and its installer.

    rules-pyodide lock-build NAME ... | --all [--packages packages] [--distdir .cache/distdir]    (needs PyPI)

`lock-build` reads the recipe's source archive from the distdir (`rules-pyodide fetch` puts it there; its digest is
checked), takes `[build-system] requires` from the `pyproject.toml` at its top (PEP 518's default, `setuptools>=40.8.0`
and `wheel`, when there is none), adds `requirements.build-extras`, leaves out what `requirements.host` recipes
provide (their built trees are on PYTHONPATH), and resolves the rest with pip (`pip install --dry-run --report`,
binary wheels only, PyPI only, the machine's pip configuration ignored) for every host Python the tool supports
(TARGETS: CPython 3.11 and 3.13 on Linux x86_64, as tools/lock_tool_requirements.py), honouring
`requirements.constraint` (`pip -c`). A version with a pure wheel (`py3-none-any`) is locked to that wheel; binary
wheels (ninja, cmake) are locked per Python. The lock is pip's requirements format, sorted, deterministic:

    # header: how to regenerate, the sdist read (`# source: FILE`), what was resolved (`# requires: [JSON]`,
    # `# constraints: [JSON]`) and for which Pythons (`# pythons: 3.11 3.13`)
    # wheel: <url> sha256=<hex>
    name==version [; python_version == "3.11"] \\
        --hash=sha256:<hex>

`rules-pyodide fetch` downloads each `# wheel:` file into the distdir (hash checked), the recipes repository rule
makes them declared inputs of that recipe's build action only, and the build installs them into a fresh isolated
environment (`build_env`): a venv of the base interpreter, without the tool's own packages, filled by pip
(`--no-index --no-deps --require-hashes`, from the declared wheels only) and running the PEP 517 backend. A recipe
without a lock builds with the tool's own backends, as before.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version

from rules_pyodide.errors import RulesPyodideError, prog, run_command
from rules_pyodide.outputs import sha256_file, write_atomic

if sys.version_info >= (3, 11):
    import tomllib
else:  # the tool runs on 3.11+; pip's own copy serves the 3.10 library users
    from pip._vendor import tomli as tomllib

PROG = prog("lock-build")
LOCK_NAME = "build-requirements.lock"
# PEP 518: what a source tree without `[build-system] requires` is built with.
DEFAULT_REQUIRES = ("setuptools>=40.8.0", "wheel")
INDEX = "https://pypi.org/simple"
# (python_version, python_full_version for markers, wheel ABI): the hosts' Pythons (tools/lock_tool_requirements.py).
TARGETS = (("3.11", "3.11.2", "cp311"), ("3.13", "3.13.5", "cp313"))
PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux_2_28_x86_64")
_ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".zip")
_WHEEL = re.compile(r"^# wheel: (\S+) sha256=([0-9a-f]{64})$")
_PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)\s*(?:;\s*([^\\]*?))?\s*\\?$")
_HASH = re.compile(r"^--hash=sha256:([0-9a-f]{64})\s*\\?$")
_MARKER = re.compile(r'^python_version == "(\d+\.\d+)"$')


class BuildLockError(RulesPyodideError):
    """A build-requirements lock is malformed, stale, incomplete, or cannot be written or installed."""


@dataclass(frozen=True)
class LockedWheel:
    """One wheel file of a lock: its pin, where it comes from, its digest and the Pythons it is for."""

    name: str
    version: str
    url: str
    sha256: str
    pythons: tuple[str, ...]

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class BuildLock:
    """A parsed `build-requirements.lock`."""

    path: Path
    requires: tuple[str, ...]
    pythons: tuple[str, ...]
    wheels: tuple[LockedWheel, ...]
    source: str = ""  # the sdist's file name the requirements were read from

    def for_python(self, python: str) -> list[LockedWheel]:
        """The wheels to install on CPython `python` (major.minor): pins for it whose file's tags fit it."""
        return [w for w in self.wheels if python in w.pythons and fits(w.filename, python)]


def fits(filename: str, python: str) -> bool:
    """Whether a wheel's python tag fits CPython `python` (`3.11`: py3, py311, cp311, ...)."""
    nodot = python.replace(".", "")
    tags = parse_wheel_filename(filename)[3]
    return any(t.interpreter in ("py3", f"py{nodot}", f"cp{nodot}") for t in tags)


# ---------------------------------------------------------------------------------------------------------------------
# Reading and writing the lock file.


def parse_lock(text: str, path: Path) -> BuildLock:
    """The lock written by `render` (see the module docstring); anything else is an error naming the line."""
    requires: tuple[str, ...] | None = None
    pythons: tuple[str, ...] | None = None
    source = ""
    pending: list[tuple[str, str]] = []
    pins: list[tuple[str, str, tuple[str, ...], list[tuple[str, str]], list[str], int]] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("# requires:"):
            requires = _json_strings(line.removeprefix("# requires:"), path, number)
        elif line.startswith("# source:"):
            source = line.removeprefix("# source:").strip()
        elif line.startswith("# pythons:"):
            pythons = tuple(line.removeprefix("# pythons:").split())
        elif line.startswith("# wheel:"):
            match = _WHEEL.match(line)
            if not match:
                raise BuildLockError(f"{path}:{number}: expected `# wheel: URL sha256=HEX`, got {line!r}")
            pending.append((match.group(1), match.group(2)))
        elif line.startswith("#"):
            continue
        elif _HASH.match(line):
            if not pins:
                raise BuildLockError(f"{path}:{number}: --hash before any requirement")
            pins[-1][4].append(_HASH.match(line).group(1))  # type: ignore[union-attr]
        else:
            match = _PIN.match(line)
            if not match:
                raise BuildLockError(f"{path}:{number}: expected `name==version [; marker] \\`, got {line!r}")
            marked: list[str] = []
            for part in filter(None, (match.group(3) or "").split(" or ")):
                marker = _MARKER.match(part.strip())
                if not marker:
                    raise BuildLockError(f'{path}:{number}: marker {part!r} is not `python_version == "X.Y"`')
                marked.append(marker.group(1))
            pins.append((match.group(1), match.group(2), tuple(marked), pending, [], number))
            pending = []
    if requires is None or pythons is None:
        raise BuildLockError(
            f"{path}: no `# requires:` or `# pythons:` line: not written by `rules-pyodide lock-build`"
        )
    wheels = []
    for name, version, only, files, hashes, number in pins:
        if not files or sorted(hashes) != sorted(sha for _, sha in files):
            raise BuildLockError(f"{path}:{number}: {name}=={version}: its --hash values and `# wheel:` lines differ")
        for url, sha in files:
            wheels.append(LockedWheel(str(canonicalize_name(name)), version, url, sha, only or pythons))
    return BuildLock(path, requires, pythons, tuple(wheels), source)


def _json_strings(text: str, path: Path, number: int) -> tuple[str, ...]:
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BuildLockError(f"{path}:{number}: expected a JSON list of strings, got {text.strip()!r}")
    return tuple(value)


def read_lock(path: Path) -> BuildLock:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise BuildLockError(f"{path}: cannot read: {err.strerror or err}") from None
    return parse_lock(text, path)


def render(
    recipe: str, origin: str, requires: Sequence[str], constraints: Sequence[str], wheels: Sequence[LockedWheel]
) -> str:
    """The lock text: header, then one pin per (name, version) with its files; sorted, so equal input, equal bytes."""
    pythons = [version for version, _, _ in TARGETS]
    lines = [
        f"# Generated by `rules-pyodide lock-build {recipe}` (needs PyPI): do not edit; run it again to update.",
        f"# The build requirements of {origin}, resolved for CPython {' and '.join(pythons)} (Linux x86_64).",
        f"# `rules-pyodide fetch {recipe}` puts these wheels into the distdir; the build installs them, offline.",
        f"# source: {origin}",
        f"# requires: {json.dumps(list(requires))}",
        f"# constraints: {json.dumps(list(constraints))}",
        f"# pythons: {' '.join(pythons)}",
    ]
    pins: dict[tuple[str, str], list[LockedWheel]] = {}
    for wheel in wheels:
        pins.setdefault((wheel.name, wheel.version), []).append(wheel)
    for (name, version), files in sorted(pins.items()):
        targets = sorted({p for w in files for p in w.pythons}, key=pythons.index)
        marker = "" if targets == pythons else " ; " + " or ".join(f'python_version == "{t}"' for t in targets)
        unique = sorted({(w.filename, w.url, w.sha256) for w in files})
        lines += [f"# wheel: {url} sha256={sha}" for _, url, sha in unique]
        hashes = [f"    --hash=sha256:{sha}" for _, _, sha in unique]
        lines.append(f"{name}=={version}{marker} \\")
        lines += [h + " \\" for h in hashes[:-1]] + hashes[-1:]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------------------------------
# Resolving (lock-build).


def pyproject_requires(archive: Path) -> tuple[str, ...] | None:
    """`[build-system] requires` of the `pyproject.toml` at the top of the sdist; None when it has none."""
    try:
        text = _top_member(archive, "pyproject.toml")
    except (OSError, tarfile.TarError, zipfile.BadZipFile) as err:
        raise BuildLockError(f"{archive}: cannot read the archive: {err}") from None
    if text is None:
        return None
    try:
        data = tomllib.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise BuildLockError(f"{archive}: pyproject.toml: {err}") from None
    requires = data.get("build-system", {}).get("requires")
    if requires is None:
        return None
    if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires):
        raise BuildLockError(f"{archive}: pyproject.toml: build-system.requires: expected a list of strings")
    return tuple(requires)


def _top_member(archive: Path, name: str) -> bytes | None:
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                if len(PurePosixPath(info.filename).parts) == 2 and PurePosixPath(info.filename).name == name:
                    return zf.read(info)
        return None
    with tarfile.open(archive) as tf:
        for member in tf.getmembers():
            parts = PurePosixPath(member.name).parts
            if member.isfile() and len(parts) == 2 and parts[1] == name:
                f = tf.extractfile(member)
                return f.read() if f else None
    return None


def build_requirements(
    sdist_requires: Sequence[str] | None, extras: Sequence[str], provided: Sequence[str]
) -> list[str]:
    """What to resolve: the sdist's requires (PEP 518's default without), the build extras, minus `provided` (the
    canonical names of `requirements.host` recipes)."""
    skip = {str(canonicalize_name(p)) for p in provided}
    out: list[str] = []
    for text in [*(DEFAULT_REQUIRES if sdist_requires is None else sdist_requires), *extras]:
        try:
            req = Requirement(text)
        except InvalidRequirement as err:
            raise BuildLockError(f"build requirement {text!r}: {err}") from None
        if str(canonicalize_name(req.name)) not in skip and text not in out:
            out.append(text)
    return out


def requirements_for(requires: Sequence[str], version: str, full_version: str) -> list[str]:
    """The requirements whose marker holds on the target Python, markers removed (pip evaluates its own Python's)."""
    env = {"python_version": version, "python_full_version": full_version, "implementation_name": "cpython"}
    kept = []
    for text in requires:
        req = Requirement(text)
        if req.marker is None or req.marker.evaluate(env):
            req.marker = None
            kept.append(str(req))
    return kept


def pip_resolve(requires: Sequence[str], constraints: Sequence[str], version: str, abi: str) -> list[LockedWheel]:
    """Every wheel pip picks for `requires` on CPython `version`, Linux x86_64, from PyPI."""
    with tempfile.TemporaryDirectory(prefix="rules-pyodide-lock-") as tmp:
        req_file, con_file, report = Path(tmp, "requires.txt"), Path(tmp, "constraints.txt"), Path(tmp, "report.json")
        req_file.write_text("".join(f"{r}\n" for r in requires), encoding="utf-8")
        con_file.write_text("".join(f"{c}\n" for c in constraints), encoding="utf-8")
        command = [sys.executable, "-m", "pip", "install", "--isolated", "--dry-run", "--ignore-installed", "--quiet"]
        command += ["--disable-pip-version-check", "--index-url", INDEX, "--only-binary=:all:"]
        command += ["--python-version", version, "--implementation", "cp", "--abi", abi]
        for platform in PLATFORMS:
            command += ["--platform", platform]
        command += ["--target", str(Path(tmp, "target")), "--report", str(report), "-r", str(req_file)]
        command += ["-c", str(con_file)]
        env = dict(os.environ, PIP_CONFIG_FILE=os.devnull)
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            tail = " ".join(result.stderr.strip().splitlines()[-3:])
            raise BuildLockError(f"pip cannot resolve {', '.join(requires)} for Python {version}: {tail}")
        data = json.loads(report.read_text(encoding="utf-8"))
    wheels = []
    for item in data["install"]:
        info = item["download_info"]
        name = str(canonicalize_name(item["metadata"]["name"]))
        url = info["url"]
        wheels.append(
            LockedWheel(name, item["metadata"]["version"], url, info["archive_info"]["hashes"]["sha256"], (version,))
        )
    return wheels


def pure_alternative(wheel: LockedWheel) -> LockedWheel:
    """The `py3-none-any` wheel of the same release, when the index has one (pure wheels are preferred); else
    `wheel`. The index is asked through its JSON simple API (PEP 691), the one pip uses."""
    if _is_pure(wheel.filename):
        return wheel
    request = urllib.request.Request(
        f"{INDEX}/{wheel.name}/", headers={"Accept": "application/vnd.pypi.simple.v1+json", "User-Agent": PROG}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            files = json.load(response).get("files", [])
    except (urllib.error.URLError, TimeoutError, ValueError):
        return wheel
    for file in sorted(files, key=lambda f: str(f.get("filename"))):
        filename = str(file.get("filename", ""))
        sha = str((file.get("hashes") or {}).get("sha256", ""))
        if not filename.endswith(".whl") or not sha or file.get("yanked"):
            continue
        _, version, _, _ = parse_wheel_filename(filename)
        if str(version) == str(Version(wheel.version)) and _is_pure(filename):
            return LockedWheel(wheel.name, wheel.version, str(file["url"]), sha, wheel.pythons)
    return wheel


def _is_pure(filename: str) -> bool:
    tags = parse_wheel_filename(filename)[3]
    return all(t.abi == "none" and t.platform == "any" for t in tags) and any(t.interpreter == "py3" for t in tags)


def resolve(requires: Sequence[str], constraints: Sequence[str]) -> list[LockedWheel]:
    """The wheels of every target Python, each file once with the Pythons it serves."""
    merged: dict[tuple[str, str, str], LockedWheel] = {}
    for version, full, abi in TARGETS:
        for wheel in pip_resolve(requirements_for(requires, version, full), constraints, version, abi):
            wheel = pure_alternative(wheel)
            key = (wheel.name, wheel.version, wheel.url)
            old = merged.get(key)
            pythons = tuple(sorted({*(old.pythons if old else ()), version}))
            merged[key] = LockedWheel(wheel.name, wheel.version, wheel.url, wheel.sha256, pythons)
    return sorted(merged.values(), key=lambda w: (w.name, w.version, w.filename))


def lock_recipe(packages: Path, directory: str, distdir: Path) -> Path:
    """Writes `packages/<directory>/build-requirements.lock`; returns its path."""
    from rules_pyodide.recipe import load_recipe
    from rules_pyodide.recipes_bzl import archive_name

    meta = packages / directory / "meta.yaml"
    recipe = load_recipe(meta)
    source = recipe.source
    if source is None or source.url is None:
        raise BuildLockError(f"{meta}: lock-build needs a source.url (an sdist whose pyproject.toml it reads)")
    archive = distdir / archive_name(source.url)
    if not archive.is_file():
        raise BuildLockError(f"{meta}: {archive} is missing: run `rules-pyodide fetch {directory}` first")
    if source.sha256 and sha256_file(archive) != source.sha256:
        raise BuildLockError(f"{meta}: {archive} does not have source.sha256: run `rules-pyodide fetch {directory}`")
    return lock_archive(packages, directory, archive)


def lock_archive(packages: Path, directory: str, archive: Path) -> Path:
    """Writes the lock of the recipe `packages/<directory>` from its sdist `archive`; returns its path (also what
    `rules-pyodide mkpkg` calls for the recipe it writes)."""
    from rules_pyodide.recipe import load_recipe

    meta = packages / directory / "meta.yaml"
    recipe = load_recipe(meta)
    if archive.name.endswith(".whl"):
        raise BuildLockError(f"{meta}: source.url is a wheel: nothing is built, so there is nothing to lock")
    requires = build_requirements(
        pyproject_requires(archive), recipe.requirements.build_extras, recipe.requirements.host
    )
    constraints = list(recipe.requirements.constraint)
    wheels = resolve(requires, constraints)
    path = packages / directory / LOCK_NAME
    write_atomic(path, render(directory, archive.name, requires, constraints, wheels))
    return path


def lock_build(packages: Path, names: Sequence[str], every: bool, distdir: Path) -> list[Path]:
    directories = sorted(p.parent.name for p in packages.glob("*/meta.yaml"))
    if every:
        chosen = [d for d in directories if (packages / d / LOCK_NAME).is_file()]
    else:
        by_name = {str(canonicalize_name(d)): d for d in directories}
        unknown = [n for n in names if str(canonicalize_name(n)) not in by_name]
        if unknown:
            raise BuildLockError(f"no recipe named {', '.join(unknown)} in {packages}")
        chosen = [by_name[str(canonicalize_name(n))] for n in names]
    return [lock_recipe(packages, d, distdir) for d in chosen]


# ---------------------------------------------------------------------------------------------------------------------
# Installing (the build actions).


def pip_package_dir() -> Path:
    """The directory of this interpreter's `pip` package: the front-end, shared with the isolated environment."""
    spec = importlib.util.find_spec("pip")
    if spec is None or not spec.submodule_search_locations:
        raise BuildLockError("pip is not importable by the build tool")
    return Path(next(iter(spec.submodule_search_locations)))


def select_wheels(lock: BuildLock, given: Sequence[Path], recipe: str) -> list[Path]:
    """The declared wheel files this Python installs, each checked against the lock's sha256."""
    python = f"{sys.version_info[0]}.{sys.version_info[1]}"
    if python not in lock.pythons:
        raise BuildLockError(
            f"{lock.path}: locked for CPython {', '.join(lock.pythons)}, not this build's {python}: "
            f"run `rules-pyodide lock-build {recipe}`"
        )
    by_name = {p.name: p for p in given}
    chosen = []
    for wheel in lock.for_python(python):
        path = by_name.get(wheel.filename)
        if path is None or not path.is_file():
            raise BuildLockError(
                f"{lock.path}: {wheel.filename} ({wheel.name}=={wheel.version}) is not among the build's inputs: "
                f"run `rules-pyodide fetch {recipe}` and `bazel sync --only=pyodide_recipes`"
            )
        actual = sha256_file(path)
        if actual != wheel.sha256:
            raise BuildLockError(
                f"{lock.path}: {wheel.filename}: sha256 {actual}, the lock says {wheel.sha256}: delete it from the "
                f"distdir and run `rules-pyodide fetch {recipe}`"
            )
        chosen.append(path)
    if not chosen:
        raise BuildLockError(f"{lock.path}: no wheel for CPython {python}: run `rules-pyodide lock-build {recipe}`")
    return chosen


@dataclass(frozen=True)
class BuildEnv:
    """The isolated environment a locked build runs in: its interpreter, its `bin/`, its site-packages, and the
    directory holding only the front-end (pip)."""

    python: Path
    bin: Path
    site: Path
    frontend: Path


def create_build_env(scratch: Path, lock: BuildLock, wheels: Sequence[Path], recipe: str) -> BuildEnv:
    """A fresh venv of the base interpreter under `scratch` (none of the tool's packages), with exactly the locked
    wheels installed by pip, offline (`--no-index --no-deps --require-hashes`, from `wheels` only)."""
    chosen = select_wheels(lock, wheels, recipe)
    links = scratch / "build-wheels"
    links.mkdir()
    for path in chosen:
        os.symlink(path.resolve(), links / path.name)
    root = scratch / "build-env"
    _run(
        [sys.executable, "-m", "venv", "--without-pip", str(root)],
        scratch,
        dict(os.environ),
        "creating the build environment",
    )
    frontend = scratch / "build-frontend"
    frontend.mkdir()
    os.symlink(pip_package_dir(), frontend / "pip")
    python = root / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON"))}
    env.update(PYTHONPATH=str(frontend), PIP_CONFIG_FILE=os.devnull, HOME=str(scratch), PYTHONDONTWRITEBYTECODE="1")
    command = [
        str(python),
        "-m",
        "pip",
        "install",
        "--no-index",
        "--no-deps",
        "--require-hashes",
        "--only-binary=:all:",
    ]
    command += ["--no-compile", "--no-cache-dir", "--disable-pip-version-check", "--no-warn-script-location", "--quiet"]
    command += ["--find-links", str(links), "-r", str(lock.path.resolve())]
    _run(command, scratch, env, f"installing {lock.path}")
    site = root / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    return BuildEnv(python=python, bin=root / "bin", site=site, frontend=frontend)


def _run(command: Sequence[str], cwd: Path, env: dict[str, str], what: str) -> None:
    result = subprocess.run(
        command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        tail = " | ".join((result.stdout + result.stderr).strip().splitlines()[-5:])
        raise BuildLockError(f"{what} failed (exit {result.returncode}): {tail}")


# ---------------------------------------------------------------------------------------------------------------------
# Entry point.


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help="recipes to lock")
    parser.add_argument("--all", action="store_true", help="every recipe that has a lock already")
    parser.add_argument("--packages", type=Path, default=Path("packages"), help="the recipes directory")
    parser.add_argument("--distdir", type=Path, default=Path(".cache/distdir"), help="where `fetch` put the sources")
    args = parser.parse_args(argv)
    if bool(args.names) == args.all:
        parser.error("name the recipes to lock, or give --all")
    return run_command(PROG, lambda: _command(args))


def _command(args: argparse.Namespace) -> None:
    for path in lock_build(args.packages, args.names, args.all, args.distdir):
        print(path)


if __name__ == "__main__":
    sys.exit(main())
