"""Write a new recipe, `packages/<name>/meta.yaml`, from a PyPI sdist's metadata.

    rules-pyodide mkpkg NAME[==VERSION] [--packages DIR] [--python 3.10] [--force] [--no-lock-build]

1. `pip download --no-binary :all: --no-deps NAME[==VERSION]` into a temporary directory (pip is the client that
   reaches PyPI here); the newest version when none is given.
2. From the archive (read, never extracted): `PKG-INFO` at its top for Name, Version, Summary, Home-page /
   Project-URL, License-Expression / License / license classifiers and Requires-Dist (else `*.egg-info/requires.txt`);
   top-level modules from `*.egg-info/top_level.txt`, else the packages and modules found at the top of `src/` or
   of the tree.
3. `requirements.run`: the requirements whose environment markers hold in Pyodide (sys_platform `emscripten`,
   platform_system `Emscripten`, platform_machine `wasm32`, the `--python` version, no extra), as canonical names.
4. `source.url` = the https URL pip downloaded the file from (read from its `-vv` log: the index's own link, e.g.
   `https://files.pythonhosted.org/packages/c7/bf/.../bitarray-2.9.2.tar.gz`), else the short form
   `https://files.pythonhosted.org/packages/source/<first letter>/<name>/<file>` (a redirect that some mirrors do not
   serve); the file's base name is what `rules-pyodide fetch` and Bazel's --distdir match. `source.sha256` of the file.

The recipe goes to `<packages>/<canonical name>/meta.yaml`, is checked with rules_pyodide.recipe.load_recipe before
it replaces anything, and is written atomically. An existing recipe for the name is kept unless `--force`.
Then its `build-requirements.lock` is written from the same sdist (rules_pyodide.build_lock, as `rules-pyodide
lock-build NAME` would), unless `--no-lock-build`.
Requirements that have no recipe yet are listed on stderr.
"""

from __future__ import annotations

import argparse
import email.message
import email.parser
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

import yaml
from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from rules_pyodide.errors import RulesPyodideError, prog, run_command
from rules_pyodide.outputs import atomic_file, sha256_file
from rules_pyodide.recipe import RecipeError, load_recipe
from rules_pyodide.runtimes import load_table

#: Full Python version of the Pyodide runtime that embeds each `major.minor` (for `python_full_version` markers).
PROG = prog("mkpkg")
PYTHON_FULL_VERSION = {r.python: r.python_version for r in load_table().runtimes.values()}
DEFAULT_PYTHON = load_table().runtime_of_profile(load_table().default_profile).python
SOURCE_URL = "https://files.pythonhosted.org/packages/source/{letter}/{name}/{file}"
_ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".zip")
_NOT_TOP_LEVEL = {"setup", "conftest", "noxfile", "tasks", "test", "tests", "testing", "doc", "docs", "examples"}
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# A download step: the archive, or (the archive, the URL it came from).
Downloader = Callable[[str, "str | None", Path], "Path | tuple[Path, str | None]"]
_PIP_ADDED = re.compile(r"^\s*Added \S+ from (https://\S+?)(?:#\S*)? to build tracker", re.MULTILINE)


class MkpkgError(RulesPyodideError):
    """The recipe cannot be made; the message names the file or the field."""


@dataclass(frozen=True)
class SdistInfo:
    """What a recipe needs from an sdist."""

    name: str
    version: str
    requires_dist: tuple[str, ...]
    top_level: tuple[str, ...]
    summary: str | None
    home: str | None
    license: str | None


def parse_spec(spec: str) -> tuple[str, str | None]:
    """`NAME` or `NAME==VERSION` -> (name, version or None); anything else is refused."""
    try:
        req = Requirement(spec)
    except InvalidRequirement as err:
        raise MkpkgError(f"{spec!r}: expected NAME or NAME==VERSION ({err})") from err
    specifiers = list(req.specifier)
    if req.extras or req.marker or req.url or len(specifiers) > 1:
        raise MkpkgError(f"{spec!r}: expected NAME or NAME==VERSION")
    if specifiers and (specifiers[0].operator != "==" or "*" in specifiers[0].version):
        raise MkpkgError(f"{spec!r}: only an exact version (NAME==VERSION) can be given")
    return req.name, specifiers[0].version if specifiers else None


def _base_name(url: str) -> str:
    return unquote(PurePosixPath(urlsplit(url).path).name)


def pip_download(name: str, version: str | None, into: Path) -> tuple[Path, str | None]:
    """The sdist of `name` (`version`, else the newest) downloaded by pip into `into`, and the https URL it came
    from (None when pip took it from a local index)."""
    spec = f"{name}=={version}" if version else name
    command = [sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps", "-vv"]
    command += ["--disable-pip-version-check", "--dest", str(into), spec]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise MkpkgError(f"pip download {spec} failed:\n{result.stderr.strip()}")
    files = sorted(into.iterdir())
    if len(files) != 1 or not files[0].name.endswith(_ARCHIVE_SUFFIXES):
        raise MkpkgError(f"pip download {spec}: expected one sdist archive, got {[f.name for f in files]}")
    urls = [u for u in _PIP_ADDED.findall(result.stdout) if _base_name(u) == files[0].name]
    return files[0], urls[0] if urls else None


def _wanted(name: str) -> bool:
    """Members whose content is read: `<root>/PKG-INFO` and the egg-info's requires.txt and top_level.txt."""
    parts = PurePosixPath(name).parts
    if parts[1:] == ("PKG-INFO",):
        return True
    return len(parts) in (3, 4) and parts[-2].endswith(".egg-info") and parts[-1] in ("requires.txt", "top_level.txt")


def _read_archive(archive: Path) -> tuple[list[str], dict[str, bytes]]:
    """(every regular file's path, the content of the `_wanted` ones); nothing is extracted."""
    names: list[str] = []
    contents: dict[str, bytes] = {}
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                if not info.is_dir():
                    names.append(info.filename)
                    if _wanted(info.filename):
                        contents[info.filename] = zf.read(info)
        return names, contents
    with tarfile.open(archive) as tf:
        for member in tf.getmembers():
            if member.isfile():
                names.append(member.name)
                f = tf.extractfile(member) if _wanted(member.name) else None
                if f is not None:
                    contents[member.name] = f.read()
    return names, contents


def _text(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise MkpkgError(f"{where}: not UTF-8: {err}") from err


def _requires_txt(text: str) -> list[str]:
    """setuptools' `requires.txt`: unconditional lines, then `[extra]`, `[:marker]` or `[extra:marker]` sections."""
    out: list[str] = []
    marker: str | None = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            extra, _, condition = line[1:-1].partition(":")
            marker = None if extra else condition
            continue
        if marker is not None:
            out.append(f"{line}; {marker}" if marker else line)
    return out


def _top_level_from_tree(paths: Iterable[PurePosixPath]) -> list[str]:
    """Packages (dirs with `__init__.py`) and modules at the top of `src/`, else of the tree."""
    paths = list(paths)
    base: tuple[str, ...] = ("src",) if any(p.parts[:1] == ("src",) for p in paths) else ()
    found: set[str] = set()
    for path in paths:
        rest = path.parts[len(base) :] if path.parts[: len(base)] == base else None
        if not rest:
            continue
        if len(rest) == 2 and rest[1] == "__init__.py":
            found.add(rest[0])
        elif len(rest) == 1 and rest[0].endswith(".py"):
            found.add(rest[0][:-3])
    return sorted(
        name
        for name in found
        if _IDENTIFIER.match(name)
        and name not in _NOT_TOP_LEVEL
        and not name.startswith("test_")
        and not name.endswith("_test")
    )


def _license(meta: email.message.Message) -> str | None:
    expression = meta.get("License-Expression")
    if expression:
        return str(expression).strip()
    text = meta.get("License")
    if text and "\n" not in str(text).strip() and len(str(text).strip()) <= 80 and str(text).strip() != "UNKNOWN":
        return str(text).strip()
    for classifier in meta.get_all("Classifier") or []:
        parts = [p.strip() for p in str(classifier).split("::")]
        if parts[0] == "License" and len(parts) > 1 and parts[-1] != "OSI Approved":
            return parts[-1]
    return None


def _home(meta: email.message.Message) -> str | None:
    home = meta.get("Home-page")
    if home and str(home).strip() != "UNKNOWN":
        return str(home).strip()
    urls = {}
    for entry in meta.get_all("Project-URL") or []:
        label, _, url = str(entry).partition(",")
        urls[label.strip().lower().replace("-", "").replace("_", "")] = url.strip()
    for label in ("homepage", "home", "documentation", "source", "sourcecode", "repository", "github"):
        if urls.get(label):
            return urls[label]
    return None


def read_sdist(archive: Path) -> SdistInfo:
    """The recipe-relevant metadata of an sdist (never extracted: members are only read)."""
    try:
        names, members = _read_archive(archive)
    except (OSError, tarfile.TarError, zipfile.BadZipFile) as err:
        raise MkpkgError(f"{archive}: cannot read the archive: {err}") from err
    paths = {PurePosixPath(name): name for name in names}
    roots = {p.parts[0] for p in paths if len(p.parts) > 1}
    if len(roots) != 1:
        raise MkpkgError(f"{archive}: expected one top directory, found {sorted(roots) or 'none'}")
    root = roots.pop()
    pkg_info = f"{root}/PKG-INFO"
    if pkg_info not in members:
        raise MkpkgError(f"{archive}: {pkg_info} is missing: not an sdist")
    meta = email.parser.HeaderParser().parsestr(_text(members[pkg_info], f"{archive}: {pkg_info}"))
    for field in ("Name", "Version"):
        if not meta.get(field):
            raise MkpkgError(f"{archive}: {pkg_info}: {field}: required field is missing")
    inner = [PurePosixPath(*p.parts[1:]) for p in paths if p.parts[0] == root and len(p.parts) > 1]
    egg_info = sorted(str(p.parent) for p in inner if len(p.parts) <= 3 and p.parent.name.endswith(".egg-info"))
    requires = [str(r) for r in meta.get_all("Requires-Dist") or []]
    if not requires and egg_info and f"{root}/{egg_info[0]}/requires.txt" in members:
        where = f"{archive}: {root}/{egg_info[0]}/requires.txt"
        requires = _requires_txt(_text(members[f"{root}/{egg_info[0]}/requires.txt"], where))
    top_level: list[str] = []
    if egg_info and f"{root}/{egg_info[0]}/top_level.txt" in members:
        where = f"{archive}: {root}/{egg_info[0]}/top_level.txt"
        top_level = [
            t.strip() for t in _text(members[f"{root}/{egg_info[0]}/top_level.txt"], where).splitlines() if t.strip()
        ]
        top_level = sorted({t for t in top_level if _IDENTIFIER.match(t) and t not in _NOT_TOP_LEVEL})
    if not top_level:
        top_level = _top_level_from_tree(inner)
    summary = meta.get("Summary")
    return SdistInfo(
        name=str(meta["Name"]).strip(),
        version=str(meta["Version"]).strip(),
        requires_dist=tuple(requires),
        top_level=tuple(top_level),
        summary=str(summary).strip() if summary and str(summary).strip() != "UNKNOWN" else None,
        home=_home(meta),
        license=_license(meta),
    )


def pyodide_environment(python: str) -> dict[str, str]:
    """Marker environment of a Pyodide runtime embedding Python `python` (major.minor)."""
    full = PYTHON_FULL_VERSION.get(python, f"{python}.0")
    return {
        "implementation_name": "cpython",
        "implementation_version": full,
        "os_name": "posix",
        "platform_machine": "wasm32",
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_system": "Emscripten",
        "platform_version": "",
        "python_full_version": full,
        "python_version": python,
        "sys_platform": "emscripten",
        "extra": "",
    }


def run_requirements(requires_dist: Sequence[str], python: str, origin: str) -> list[str]:
    """Canonical names of the requirements that apply in Pyodide, in order, without duplicates."""
    env = pyodide_environment(python)
    out: dict[str, None] = {}
    for i, text in enumerate(requires_dist):
        try:
            req = Requirement(text)
        except InvalidRequirement as err:
            raise MkpkgError(f"{origin}: Requires-Dist[{i}]: {text!r}: {err}") from err
        marker: Marker | None = req.marker
        if marker is None or marker.evaluate(env):
            out[str(canonicalize_name(req.name))] = None
    return list(out)


def recipe_yaml(info: SdistInfo, archive: Path, run: Sequence[str], url: str | None = None) -> str:
    """The meta.yaml text (sections in the usual order; YAML quoting by PyYAML)."""
    name = str(canonicalize_name(info.name))
    sha256 = sha256_file(archive)
    package: dict[str, object] = {"name": name, "version": info.version}
    if info.top_level:
        package["top-level"] = list(info.top_level)
    url = url or SOURCE_URL.format(letter=info.name[0], name=info.name, file=archive.name)
    doc: dict[str, object] = {"package": package, "source": {"url": url, "sha256": sha256}}
    if run:
        doc["requirements"] = {"run": list(run)}
    if info.top_level:
        doc["test"] = {"imports": list(info.top_level)}
    about = {"home": info.home, "PyPI": f"https://pypi.org/project/{name}", "summary": info.summary}
    about["license"] = info.license
    doc["about"] = {k: v for k, v in about.items() if v is not None}
    header = f"# Generated by `rules-pyodide mkpkg {name}=={info.version}` from {archive.name}; review before use.\n"
    body: str = yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, allow_unicode=True, width=1000)
    return header + body


def existing_recipe(packages: Path, name: str) -> Path | None:
    """The recipe directory whose name is `name` once canonicalized, if any."""
    canonical = canonicalize_name(name)
    if packages.is_dir():
        for directory in sorted(packages.iterdir()):
            if directory.is_dir() and canonicalize_name(directory.name) == canonical:
                return directory
    return None


def write_recipe(path: Path, text: str) -> None:
    """Writes `text` to `path` atomically, once load_recipe accepts it (nothing is left behind otherwise)."""
    with atomic_file(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
        try:
            load_recipe(tmp)
        except RecipeError as err:
            raise MkpkgError(f"{path}: the generated recipe is invalid: {err}") from err


def mkpkg(
    spec: str,
    packages: Path,
    *,
    python: str = DEFAULT_PYTHON,
    force: bool = False,
    download: Downloader = pip_download,
    lock: Callable[[Path, str, Path], Path] | None = None,
) -> tuple[Path, list[str]]:
    """Writes the recipe for `spec`; returns its path and the run requirements that have no recipe yet. `lock`
    (build_lock.lock_archive) is called with the recipes directory, the recipe's directory name and the sdist."""
    name, version = parse_spec(spec)
    existing = existing_recipe(packages, name)
    if existing is not None and (existing / "meta.yaml").exists() and not force:
        raise MkpkgError(f"{existing / 'meta.yaml'}: a recipe for {name} exists (use --force to overwrite it)")
    created_dir = existing is None
    with tempfile.TemporaryDirectory(prefix="rules-pyodide-mkpkg-") as tmp:
        downloaded = download(name, version, Path(tmp))
        archive, url = downloaded if isinstance(downloaded, tuple) else (downloaded, None)
        info = read_sdist(archive)
        if canonicalize_name(info.name) != canonicalize_name(name):
            raise MkpkgError(f"{archive.name}: PKG-INFO: Name: {info.name!r}, but {name!r} was asked for")
        if version is not None and info.version != version:
            raise MkpkgError(f"{archive.name}: PKG-INFO: Version: {info.version!r}, but {version!r} was asked for")
        run = run_requirements(info.requires_dist, python, f"{archive.name}: PKG-INFO")
        text = recipe_yaml(info, archive, run, url)
        directory = existing or packages / str(canonicalize_name(info.name))
        try:
            write_recipe(directory / "meta.yaml", text)
        except BaseException:
            if created_dir and directory.is_dir() and not any(directory.iterdir()):
                directory.rmdir()
            raise
        if lock is not None:
            lock(packages, directory.name, archive)
    missing = [dep for dep in run if existing_recipe(packages, dep) is None]
    return directory / "meta.yaml", missing


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    parser.add_argument("spec", metavar="NAME[==VERSION]", help="the PyPI project (default: its newest version)")
    parser.add_argument("--packages", type=Path, default=Path("packages"), help="recipes directory")
    parser.add_argument(
        "--python",
        default=DEFAULT_PYTHON,
        help=f"Python major.minor of the target Pyodide, for environment markers (default {DEFAULT_PYTHON})",
    )
    parser.add_argument("--force", action="store_true", help="overwrite an existing recipe")
    parser.add_argument("--no-lock-build", action="store_true", help="do not write build-requirements.lock")
    args = parser.parse_args(argv)
    if not re.match(r"^3\.\d+$", args.python):
        parser.error(f"--python {args.python}: expected major.minor, e.g. 3.10")
    return run_command(PROG, lambda: _command(args))


def _command(args: argparse.Namespace) -> None:
    from rules_pyodide.build_lock import lock_archive

    lock = None if args.no_lock_build else lock_archive
    path, missing = mkpkg(args.spec, args.packages, python=args.python, force=args.force, lock=lock)
    print(path)
    for dep in missing:
        print(f"note: requirement {dep} has no recipe yet: rules-pyodide mkpkg {dep}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
