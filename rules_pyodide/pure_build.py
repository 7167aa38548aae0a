"""Build a pure-Python recipe: wheel (deterministic), installed site-packages tree, unvendored tests, index fragments.

    python -m rules_pyodide.pure_build --source TREE --name NAME --version V --wheel OUT.whl --site OUT_DIR
        --fragments OUT_DIR [--tests OUT_DIR] [--unvendor-tests] [--depends NAME ...] [--imports MOD ...]
        [--host-site DIR ...] [--meta packages/NAME/meta.yaml]

1. The (patched, read-only) source tree is copied to a scratch directory and built with its PEP 517 backend:
   `pip wheel --no-deps --no-build-isolation --no-index`, with pip's configuration files ignored, so the backend comes
   from this interpreter's environment and nothing is downloaded. `--host-site` trees (host requirements) are put on
   PYTHONPATH. SOURCE_DATE_EPOCH defaults to 315532800 (1980-01-01, the earliest zip timestamp; rules_pyodide.outputs).
   The host's compilers are out of reach: failing shims named cc, gcc, g++, c++, clang, clang++, cpp, ld, gfortran,
   rustc, cargo, ... (and their `x86_64-linux-gnu-` forms) go first on PATH and into CC, CXX, CPP, LDSHARED,
   LDCXXSHARED, FC, F77, F90; any run of one fails the build, even one the backend would survive (an optional
   extension that falls back to pure Python), naming the recipe and the file it tried to compile. A package that
   compiles is built by the emcc path, which rules_pyodide.recipes_bzl chooses from the source (sdist_kind).
   Each `--executable` (requirements.executable) must be on PATH first, or the build stops at once saying which;
   `--constraint` / `--build-extra` (requirements.constraint / build-extras) are checked against the build
   environment (check_build_requirements).
   With `--build-lock` (the recipe's build-requirements.lock) and its `--build-wheel` files, the backend does not
   come from this interpreter: a fresh isolated environment in the scratch directory gets exactly the locked wheels
   (rules_pyodide.build_lock.create_build_env: offline, hashes checked), and its interpreter runs `pip wheel` (this
   pip as the front-end) and the backend; its `bin/` goes first on PATH.
2. The wheel must be pure (every tag `*-none-any`, no extension module or shared object in it) and its metadata
   must name the recipe's package and version.
3. It is installed as Pyodide installs a wheel: unpacked into the site-packages tree (`--site`).
4. With `--unvendor-tests`, tests are moved out as Pyodide's build does: directories named `test`/`tests`, and files
   `test_*.py`, `*_test.py`, `conftest.py`. If any were found, `--tests` receives `NAME-tests.tar` (paths relative to
   site-packages); otherwise `--tests` stays empty.
5. The wheel is written again from the tree: tag `py3-none-any`, RECORD regenerated, members sorted (`.dist-info`
   last, RECORD at the end), fixed timestamps and modes, so equal inputs give equal bytes whatever the backend did.
6. `--fragments` receives `NAME.json` (and `NAME-tests.json` when tests were unvendored): index fragments, see
   rules_pyodide.index.
"""

from __future__ import annotations

import argparse
import base64
import csv
import fnmatch
import hashlib
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path, PurePosixPath

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from rules_pyodide.cli import option_values
from rules_pyodide.errors import RulesPyodideError, prog, run_command
from rules_pyodide.index import fragment_to_json, make_fragment
from rules_pyodide.outputs import (
    add_zip_member,
    atomic_file,
    file_mode,
    sha256_file,
    source_date_epoch,
    write_atomic,
    write_tar,
    zip_date_time,
)

PROG = prog("pure-build")
TEST_DIRS = ("test", "tests")
TEST_FILES = ("test_*.py", "*_test.py", "conftest.py")
# Compilers and linkers a backend may run; the pure build puts failing shims of these names first on PATH.
HOST_TOOLS: tuple[str, ...] = ("cc", "gcc", "g++", "c++", "clang", "clang++", "cpp", "ld", "ld.gold", "ld.lld")
HOST_TOOLS += ("gfortran", "f77", "f95")
HOST_TOOLS += ("rustc", "cargo", "nvcc", "icc", "icpc", "emcc", "em++")
HOST_TOOLS += tuple(f"x86_64-linux-gnu-{t}" for t in ("gcc", "g++", "cpp", "ld", "gfortran"))
HOST_TOOLS += tuple(f"{t}-{v}" for t in ("gcc", "g++", "clang", "clang++") for v in range(9, 20))
# Files a pure wheel must not hold: extension modules and shared objects (`x.so`, `libx.so.1.2`, `x.pyd`, ...).
_COMPILED_RE = re.compile(r"\.(so|pyd|dylib|dll)(\.[0-9.]+)?$")
_PROBES = {"--version", "-v", "-V", "-dumpversion", "-dumpmachine", "-dumpfullversion", "--help"}
_SOURCE_SUFFIXES = (".c", ".cc", ".cpp", ".cxx", ".c++", ".m", ".mm", ".f", ".f90", ".f95", ".for", ".rs", ".o")


class BuildError(RulesPyodideError):
    """The package cannot be built; the message names the package and what went wrong."""


# ---------------------------------------------------------------------------------------------------------------------
# Building with the PEP 517 backend.


def copy_source(source: Path, into: Path) -> None:
    """Copy the tree, following symlinks (Bazel's sandbox links every input file), writable."""
    if not source.is_dir():
        raise BuildError(f"{source}: source tree is not a directory")
    shutil.copytree(source, into, symlinks=False)
    for path in [into, *into.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() or path.stat().st_mode & 0o111 else 0o644)


def build_env(scratch: Path, host_sites: Sequence[Path]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON"))}
    home = scratch / "home"
    home.mkdir(exist_ok=True)
    env.update(
        {
            "HOME": str(home),
            "TMPDIR": str(scratch),
            "SOURCE_DATE_EPOCH": str(source_date_epoch()),
            "PIP_CONFIG_FILE": os.devnull,
            "PIP_NO_INDEX": "1",
            "PIP_NO_CACHE_DIR": "1",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONNOUSERSITE": "1",
            "PYTHONHASHSEED": "0",
        }
    )
    if host_sites:
        env["PYTHONPATH"] = os.pathsep.join(str(p.resolve()) for p in host_sites)
    return env


def refuse_compilers(bin_dir: Path, log: Path, env: dict[str, str]) -> None:
    """Failing shims for every name of HOST_TOOLS, first on PATH and in the compiler variables; each run is
    appended to `log` (one line: the tool and its arguments, shell-quoted)."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    for tool in HOST_TOOLS:
        shim = bin_dir / tool
        shim.write_text(
            "#!/bin/sh\n"
            f'printf "%s" {shlex.quote(tool)} >> {shlex.quote(str(log))}\n'
            f'for a in "$@"; do printf " %s" "$a" >> {shlex.quote(str(log))}; done\n'
            f"echo >> {shlex.quote(str(log))}\n"
            f'echo "rules_pyodide: {tool}: refused: a pure-Python build may not run a host compiler" >&2\n'
            "exit 1\n",
            encoding="utf-8",
        )
        shim.chmod(0o755)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"
    for var, tool in (("CC", "cc"), ("CXX", "c++"), ("CPP", "cpp"), ("FC", "gfortran"), ("F77", "gfortran")):
        env[var] = str(bin_dir / tool)
    env["F90"] = str(bin_dir / "gfortran")
    env["LDSHARED"] = f"{bin_dir / 'cc'} -shared"
    env["LDCXXSHARED"] = f"{bin_dir / 'c++'} -shared"


def compiler_attempt(log: Path) -> str | None:
    """The first refused compiler run as `tool (file)` or `tool args`, or None when none was tried."""
    try:
        lines = [line for line in log.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    except FileNotFoundError:
        return None
    # Version probes are not compiles (pip's user agent asks `rustc --version`; they just fail here).
    lines = [line for line in lines if not set(line.split(" ")[1:]) <= _PROBES]
    if not lines:
        return None
    words = lines[0].split(" ")
    sources = [w for w in words[1:] if w.lower().endswith(_SOURCE_SUFFIXES)]
    what = sources[0] if sources else " ".join(words[1:])[:120] or "no arguments"
    more = f", {len(lines) - 1} more run(s)" if len(lines) > 1 else ""
    return f"{words[0]} on {what}{more}"


def check_executables(tools: Sequence[str], path: str) -> None:
    """`requirements.executable`: each tool must be on `path` (pyodide-build checks them before building)."""
    missing = [tool for tool in tools if shutil.which(tool, path=path) is None]
    if missing:
        raise BuildError(
            f"requirements.executable: {', '.join(repr(t) for t in missing)} not found on the build's PATH "
            f"({path}): install it on the build machine"
        )


def check_build_requirements(constraints: Sequence[str], extras: Sequence[str], site: Path | None = None) -> None:
    """`requirements.constraint` and `requirements.build-extras` against the build environment: this interpreter's,
    or the site-packages `site` of a locked build's isolated one (nothing is resolved or downloaded): a constrained
    distribution that is installed must satisfy its constraint, and every build extra must be installed and satisfy
    its specifier."""
    from importlib import metadata

    from packaging.requirements import Requirement

    for key, items, required in (("constraint", constraints, False), ("build-extras", extras, True)):
        for text in items:
            req = Requirement(text)
            if req.marker is not None and not req.marker.evaluate():
                continue
            try:
                installed = _installed_version(req.name, site)
            except metadata.PackageNotFoundError:
                if required:
                    raise BuildError(
                        f"requirements.{key}: {text!r} is not installed in the build environment (build "
                        "requirements are not installed per recipe: add it to the project's environment)"
                    ) from None
                continue
            if not req.specifier.contains(installed, prereleases=True):
                raise BuildError(
                    f"requirements.{key}: {text!r} does not hold: the build environment has {req.name} {installed}"
                )


def _installed_version(name: str, site: Path | None) -> str:
    from importlib import metadata

    if site is None:
        return metadata.version(name)
    for dist in metadata.distributions(path=[str(site)]):
        if canonicalize_name(dist.metadata["Name"] or "") == canonicalize_name(name):
            return dist.version
    raise metadata.PackageNotFoundError(name)


def locked_env(
    lock: Path | None, wheels: Sequence[Path], name: str, scratch: Path, env: dict[str, str]
) -> tuple[str, Path | None]:
    """A locked build (`--build-lock`): the isolated environment (rules_pyodide.build_lock) is created in `scratch`,
    its `bin/` goes first on PATH and the front-end (pip) on PYTHONPATH after the host requirements; returns the
    interpreter that runs pip and the backend, and its site-packages. Without a lock: this interpreter and None,
    `env` unchanged."""
    if lock is None:
        return sys.executable, None
    from rules_pyodide.build_lock import BuildLockError, create_build_env, read_lock

    try:
        built = create_build_env(scratch, read_lock(lock), wheels, name)
    except BuildLockError as err:
        raise BuildError(str(err)) from None
    env["PATH"] = f"{built.bin}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"
    env["PYTHONPATH"] = os.pathsep.join(
        [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p] + [str(built.frontend)]
    )
    return str(built.python), built.site


def _check_no_compiler(name: str, log: Path) -> None:
    attempt = compiler_attempt(log)
    if attempt:
        raise BuildError(
            f"{name}: the pure-Python build ran a host compiler ({attempt}): a package that compiles is built by the "
            "emcc path, but its source shows none of the signs rules_pyodide.sdist_kind looks for: add `compiled` "
            "to package.tag"
        )


def run_backend(name: str, tree: Path, out: Path, env: dict[str, str], python: str = sys.executable) -> Path:
    """pip wheel the tree with `python` (this one, or a locked build's isolated one); returns the one wheel."""
    command = [python, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index"]
    command += ["--no-cache-dir", "--disable-pip-version-check", "--wheel-dir", str(out), str(tree)]
    result = subprocess.run(
        command, cwd=tree, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()
        raise BuildError(f"{name}: the PEP 517 build failed (pip wheel, exit {result.returncode}):\n{output}")
    wheels = sorted(out.glob("*.whl"))
    if len(wheels) != 1:
        raise BuildError(f"{name}: expected one wheel from the build, got {[w.name for w in wheels]}")
    return wheels[0]


# ---------------------------------------------------------------------------------------------------------------------
# Checking and installing the wheel.


def _dist_info(names: Sequence[str], wheel: str) -> str:
    infos = sorted({n.split("/", 1)[0] for n in names if n.split("/", 1)[0].endswith(".dist-info")})
    if len(infos) != 1:
        raise BuildError(f"{wheel}: expected one .dist-info directory, found {infos}")
    return infos[0]


def _is_binary_module(zf: zipfile.ZipFile, member: str) -> bool:
    """An ELF or WebAssembly file, whatever its name (what a compiler run by absolute path would make here). Windows
    launchers (setuptools' `cli.exe`) are data for a pure wheel, so PE files are not counted."""
    if member.endswith("/"):
        return False
    with zf.open(member) as f:
        head = f.read(4)
    return head in (b"\x7fELF", b"\0asm")


def check_wheel(path: Path, name: str, version: str) -> None:
    """Pure (every tag *-none-any, no compiled module inside), and METADATA names the recipe's package and version."""
    check_no_compiled_module(path, name)
    tags, root_is_purelib = check_metadata(path, name, version)
    impure = [t for t in tags if not t.endswith("-none-any")]
    if not tags or impure or not root_is_purelib:
        raise BuildError(f"{name}: {path.name} is not a pure-Python wheel (tags {tags}); only pure-Python is supported")


def check_no_compiled_module(path: Path, name: str) -> None:
    """No extension module or shared object (by name or by its ELF/wasm magic) in the wheel."""
    with zipfile.ZipFile(path) as zf:
        compiled = [n for n in zf.namelist() if _COMPILED_RE.search(n) or _is_binary_module(zf, n)]
    if compiled:
        raise BuildError(
            f"{name}: {path.name} holds {compiled[0]}, a compiled module: a pure-Python build must yield none"
        )


def check_metadata(path: Path, name: str, version: str) -> tuple[list[str], bool]:
    """METADATA names the recipe's package and version; returns the WHEEL file's tags and Root-Is-Purelib."""
    with zipfile.ZipFile(path) as zf:
        info = _dist_info(zf.namelist(), path.name)
        wheel = HeaderParser().parsestr(zf.read(f"{info}/WHEEL").decode("utf-8"))
        metadata = HeaderParser().parsestr(zf.read(f"{info}/METADATA").decode("utf-8"))
    if canonicalize_name(metadata.get("Name", "")) != canonicalize_name(name):
        raise BuildError(f"{name}: the wheel's METADATA names {metadata.get('Name')!r}, not the recipe's {name!r}")
    try:
        same = Version(metadata.get("Version", "")) == Version(version)
    except InvalidVersion:
        same = False
    if not same:
        raise BuildError(
            f"{name}: the wheel's METADATA has version {metadata.get('Version')!r}, the recipe {version!r}"
        )
    return wheel.get_all("Tag") or [], wheel.get("Root-Is-Purelib", "true").strip().lower() == "true"


def install(wheel: Path, site: Path) -> None:
    """Unpack the wheel into `site`, as Pyodide's loader does; member names must stay inside."""
    with zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            pure = PurePosixPath(info.filename)
            if pure.is_absolute() or ".." in pure.parts or info.filename.startswith("\\"):
                raise BuildError(f"{wheel.name}: member {info.filename!r} leaves site-packages")
            if info.is_dir():
                continue
            dest = site / info.filename
            dest.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(dest, "wb") as out:
                shutil.copyfileobj(src, out)
            executable = (info.external_attr >> 16) & 0o111
            os.chmod(dest, 0o755 if executable else 0o644)


def unvendor_tests(site: Path, tests: Path, retain: Sequence[str] = ()) -> int:
    """Move test directories and files from `site` to the same relative place under `tests`; returns how many.

    `retain` (build._retain-test-patterns): files whose path relative to `site` matches one of these fnmatch
    patterns stay, as in pyodide-build; test directories are then moved file by file.
    """
    if retain:
        return _unvendor_files(site, tests, retain)
    moved = 0
    for root, dirs, files in os.walk(site):
        rel = Path(root).relative_to(site)
        for d in sorted(dirs):
            if d in TEST_DIRS:
                (tests / rel).mkdir(parents=True, exist_ok=True)
                shutil.move(os.path.join(root, d), tests / rel / d)
                moved += 1
        dirs[:] = sorted(d for d in dirs if d not in TEST_DIRS and d != "__pycache__")
        for f in sorted(files):
            if any(fnmatch.fnmatchcase(f, pattern) for pattern in TEST_FILES):
                (tests / rel).mkdir(parents=True, exist_ok=True)
                shutil.move(os.path.join(root, f), tests / rel / f)
                moved += 1
    return moved


def _unvendor_files(site: Path, tests: Path, retain: Sequence[str]) -> int:
    moved = 0
    for path in sorted(p for p in site.rglob("*") if p.is_file()):
        rel = path.relative_to(site)
        if "__pycache__" in rel.parts:
            continue
        in_test_dir = any(part in TEST_DIRS for part in rel.parts[:-1])
        is_test_file = any(fnmatch.fnmatchcase(rel.name, pattern) for pattern in TEST_FILES)
        if not (in_test_dir or is_test_file) or any(fnmatch.fnmatch(rel.as_posix(), p) for p in retain):
            continue
        (tests / rel.parent).mkdir(parents=True, exist_ok=True)
        shutil.move(path, tests / rel)
        moved += 1
    for directory in sorted((p for p in site.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        if not any(directory.iterdir()) and any(part in TEST_DIRS for part in directory.relative_to(site).parts):
            directory.rmdir()  # a test directory emptied by the moves
    return moved


# ---------------------------------------------------------------------------------------------------------------------
# Writing deterministic archives.


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")


def _retag(wheel_text: str, tag: str = "py3-none-any") -> str:
    """WHEEL with its Tag lines replaced by the one tag of the file name."""
    lines = [line for line in wheel_text.splitlines() if line.strip() and not line.startswith("Tag:")]
    return "\n".join([*lines, f"Tag: {tag}"]).strip("\n") + "\n"


def write_wheel(site: Path, output: Path, tag: str | None = "py3-none-any") -> None:
    """Zip `site` as a wheel: files sorted, `.dist-info` last with RECORD at the very end, fixed time and modes.
    `tag` replaces the Tag lines of WHEEL; None keeps them (a shipped wheel source keeps its own tags)."""
    names = _files(site)
    info = _dist_info(names, output.name)
    record_name = f"{info}/RECORD"
    if tag is not None:
        (site / f"{info}/WHEEL").write_text(_retag((site / f"{info}/WHEEL").read_text(encoding="utf-8"), tag))
    ordered = sorted((n for n in names if n != record_name), key=lambda n: (n.startswith(info + "/"), n))
    stamp = zip_date_time(source_date_epoch())
    buffer = io.StringIO()
    record = csv.writer(buffer, lineterminator="\n")
    with atomic_file(output) as tmp, zipfile.ZipFile(tmp, "w") as zf:
        for name in ordered:
            data = (site / name).read_bytes()
            record.writerow([name, _record_hash(data), len(data)])
            add_zip_member(zf, name, data, stamp, file_mode(os.stat(site / name).st_mode & 0o111 != 0))
        record.writerow([record_name, "", ""])
        add_zip_member(zf, record_name, buffer.getvalue().encode("utf-8"), stamp, file_mode(False))
        (site / record_name).write_bytes(buffer.getvalue().encode("utf-8"))


def ship_package(
    site: Path,
    unvendored: Path,
    moved: int,
    *,
    name: str,
    version: str,
    wheel: Path,
    wheel_tag: str | None,
    tests: Path | None,
    fragments: Path,
    depends: Sequence[str],
    imports: Sequence[str],
) -> None:
    """The last steps of every package build (pure, compiled or a shipped wheel source), once tests are unvendored:
    the wheel written again from `site` (tagged `wheel_tag`; None keeps WHEEL's tags), every installed file and
    test stamped SOURCE_DATE_EPOCH, `NAME-tests.tar` of the `moved` tests in `unvendored`, and the index
    fragments."""
    write_wheel(site, wheel, wheel_tag)
    for root in (site, unvendored):
        for path in [root, *root.rglob("*")] if root.exists() else []:
            os.utime(path, (source_date_epoch(), source_date_epoch()))
    index = {
        name: make_fragment(
            name, version, wheel.name, sha256_file(wheel), depends=depends, imports=imports, unvendored_tests=moved > 0
        )
    }
    if moved:
        if not tests:
            raise BuildError(f"{name}: tests were unvendored but no --tests directory was given")
        tar = tests / f"{name}-tests.tar"
        write_tar(unvendored, tar)
        index[f"{name}-tests"] = make_fragment(f"{name}-tests", version, tar.name, sha256_file(tar), depends=[name])
    for key, fragment in index.items():
        write_atomic(fragments / f"{key}.json", fragment_to_json(fragment))


# ---------------------------------------------------------------------------------------------------------------------
# Entry point.


def empty_output_dir(path: Path, what: str) -> None:
    """Makes sure the output directory `path` (flag `what`) exists and is empty (Bazel creates it beforehand)."""
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise BuildError(f"{path}: {what} output exists and is not an empty directory")
    path.mkdir(parents=True, exist_ok=True)


def move_tree(src: Path, dst: Path) -> None:
    """Moves the finished tree `src` onto the empty output directory `dst`, last: a failed build leaves it empty."""
    if dst.exists():
        dst.rmdir()
    os.rename(src, dst)


@dataclass(frozen=True)
class Options:
    """What one pure-build action is asked to do: its flags, named as on the command line (see _parser)."""

    source: Path
    name: str
    version: str
    wheel: Path
    site: Path
    fragments: Path
    tests: Path | None = None
    unvendor_tests: bool = False
    retain_test_pattern: tuple[str, ...] = ()
    depends: tuple[str, ...] = ()
    imports: tuple[str, ...] = ()
    host_site: tuple[Path, ...] = ()
    meta: str = ""
    executable: tuple[str, ...] = ()
    constraint: tuple[str, ...] = ()
    build_extra: tuple[str, ...] = ()
    build_lock: Path | None = None
    build_wheel: tuple[Path, ...] = ()

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Options:
        return cls(**option_values(args, cls))


def build(args: Options) -> None:
    if args.wheel.suffix != ".whl":
        raise BuildError(f"--wheel {args.wheel}: must end with .whl")
    outputs = [(args.site, "--site"), (args.fragments, "--fragments")]
    outputs += [(args.tests, "--tests")] if args.tests else []
    for path, what in outputs:
        empty_output_dir(path, what)
    scratch = Path(tempfile.mkdtemp(prefix=f".{args.name}.", suffix=".build", dir=args.site.parent)).resolve()
    try:
        copy_source(args.source, scratch / "src")
        env = build_env(scratch, args.host_site)
        try:
            check_executables(args.executable, env.get("PATH", os.defpath))
            python, site = locked_env(args.build_lock, args.build_wheel, args.name, scratch, env)
            check_build_requirements(args.constraint, args.build_extra, site)
        except BuildError as err:
            raise BuildError(f"{args.name}: {err}") from None
        attempts = scratch / "compiler-runs.log"
        refuse_compilers(scratch / "bin", attempts, env)
        try:
            built = run_backend(args.name, scratch / "src", scratch / "dist", env, python)
        except BuildError:
            _check_no_compiler(args.name, attempts)
            raise
        _check_no_compiler(args.name, attempts)
        check_wheel(built, args.name, args.version)
        site = scratch / "site"
        install(built, site)
        moved = unvendor_tests(site, scratch / "tests", args.retain_test_pattern) if args.unvendor_tests else 0
        ship_package(
            site,
            scratch / "tests",
            moved,
            name=args.name,
            version=args.version,
            wheel=args.wheel,
            wheel_tag="py3-none-any",
            tests=args.tests,
            fragments=args.fragments,
            depends=args.depends,
            imports=args.imports,
        )
        move_tree(site, args.site)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    parser.add_argument("--source", required=True, type=Path, help="patched source tree")
    parser.add_argument("--name", required=True, help="package name, as in the recipe (package.name)")
    parser.add_argument("--version", required=True, help="package version, as in the recipe")
    parser.add_argument("--wheel", required=True, type=Path, help="wheel to write (NAME-VERSION-py3-none-any.whl)")
    parser.add_argument("--site", required=True, type=Path, help="directory to create: the installed package")
    parser.add_argument("--fragments", required=True, type=Path, help="directory to create: index fragments")
    parser.add_argument("--tests", type=Path, help="directory to create: NAME-tests.tar when tests were found")
    parser.add_argument("--unvendor-tests", action="store_true", help="move tests out of the package")
    parser.add_argument("--retain-test-pattern", action="append", default=[], help="build._retain-test-patterns")
    parser.add_argument("--depends", action="append", default=[], help="a run requirement (repeat)")
    parser.add_argument("--imports", action="append", default=[], help="a top-level import name (repeat)")
    parser.add_argument("--host-site", action="append", default=[], type=Path, help="host requirement's tree")
    parser.add_argument("--meta", default="", help="the recipe file, named first in every error")
    parser.add_argument("--executable", action="append", default=[], help="requirements.executable (repeat)")
    parser.add_argument("--constraint", action="append", default=[], help="requirements.constraint (repeat)")
    parser.add_argument("--build-extra", action="append", default=[], help="requirements.build-extras (repeat)")
    parser.add_argument("--build-lock", type=Path, help="the recipe's build-requirements.lock (isolated build)")
    parser.add_argument("--build-wheel", action="append", default=[], type=Path, help="a wheel of the lock (repeat)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return run_command(PROG, lambda: build(Options.from_args(args)), reported=(zipfile.BadZipFile,), context=args.meta)


if __name__ == "__main__":
    sys.exit(main())
