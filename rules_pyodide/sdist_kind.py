"""Compiled or pure: found out from a recipe's source (an sdist archive or a directory), never declared.

`classify_archive(path)` / `classify_tree(path)` return a `Kind`: `compiled` True when the source compiles anything,
with the `reason` (the first evidence, by sorted member name). The rule, which errs on the side of compiling (a
false "compiled" only sends a package through the emcc path, where a build that makes no extension module fails
with a clear error; a false "pure" is caught by the pure build, which refuses host compilers):

1. a C, C++, Objective-C, Cython or Fortran source file (`.c .cc .cpp .cxx .c++ .m .mm .pyx .f .f90 .f95 .for`),
   except under a directory named `test`, `tests`, `testing`, `doc`, `docs`, `example`, `examples`, `bench`,
   `benchmarks` (test fixtures and documentation snippets are not built);
2. `setup.py` that declares extension modules (`Extension(`, `ext_modules`, `cythonize(`, `cffi_modules`);
3. `pyproject.toml` whose `build-backend` compiles (meson-python, scikit-build-core, maturin, setuptools-rust,
   py-build-cmake), or a top-level `Cargo.toml` (a Rust extension).

Only the member names and the top-level `setup.py`/`pyproject.toml` (at most 1 MiB each) are read, so this is cheap
even for numpy's sdist. Archives: `.tar`, `.tar.gz`/`.tgz`, `.tar.bz2`, `.tar.xz`, `.zip`.
"""

from __future__ import annotations

import re
import tarfile
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from rules_pyodide.errors import RulesPyodideError

SOURCE_SUFFIXES = (".c", ".cc", ".cpp", ".cxx", ".c++", ".m", ".mm", ".pyx", ".f", ".f90", ".f95", ".for")
IGNORED_DIRS = ("test", "tests", "testing", "doc", "docs", "example", "examples", "bench", "benchmarks")
_SETUP_RE = re.compile(r"\bExtension\s*\(|\bext_modules\b|\bcythonize\s*\(|\bcffi_modules\b")
_BACKEND_RE = re.compile(
    r"""^\s*build-backend\s*=\s*["'](mesonpy|scikit_build_core[\w.]*|maturin|setuptools_rust[\w.]*|py_build_cmake[\w.]*)["']""",
    re.MULTILINE,
)
_READ_LIMIT = 1 << 20


@dataclass(frozen=True)
class Kind:
    compiled: bool
    reason: str


class KindError(RulesPyodideError):
    """The source cannot be read (not an archive we know, or corrupt)."""


def _clean(name: str) -> str:
    while name.startswith("./"):
        name = name[2:]
    return name.lstrip("/")


def _top_relative(names: Iterable[str]) -> tuple[str, list[str]]:
    """(the common top directory or '', names relative to it); sdists have one top directory."""
    parts = [PurePosixPath(_clean(n)).parts for n in names]
    parts = [p for p in parts if p]
    tops = {p[0] for p in parts}
    if len(tops) == 1 and all(len(p) > 1 for p in parts if p != (next(iter(tops)),)):
        top = next(iter(tops))
        return top, sorted("/".join(p[1:]) for p in parts if len(p) > 1)
    return "", sorted("/".join(p) for p in parts)


def _source_file(name: str) -> bool:
    path = PurePosixPath(name)
    if path.suffix.lower() not in SOURCE_SUFFIXES:
        return False
    return not any(part.lower() in IGNORED_DIRS for part in path.parts[:-1])


def classify(names: Iterable[str], read: Callable[[str], str | None]) -> Kind:
    """The rule of the module docstring over relative member names; `read(name)` gives a top-level file's text."""
    names = sorted(names)
    for name in names:
        if _source_file(name):
            return Kind(True, f"{name} is a compiled-language source file")
    setup = read("setup.py") if "setup.py" in names else None
    if setup and (match := _SETUP_RE.search(setup)):
        return Kind(True, f"setup.py declares extension modules ({match.group(0).strip()})")
    pyproject = read("pyproject.toml") if "pyproject.toml" in names else None
    if pyproject and (match := _BACKEND_RE.search(pyproject)):
        return Kind(True, f"pyproject.toml: build-backend {match.group(1)} compiles")
    if "Cargo.toml" in names:
        return Kind(True, "Cargo.toml: a Rust extension")
    return Kind(False, "no compiled-language sources, extension modules or compiling build backend")


def _decode(data: bytes) -> str:
    return data[:_READ_LIMIT].decode("utf-8", errors="replace")


def classify_archive(path: Path) -> Kind:
    """Classify an sdist archive without unpacking it."""
    try:
        if path.name.endswith(".zip"):
            with zipfile.ZipFile(path) as zf:
                members = [i.filename for i in zf.infolist() if not i.is_dir()]
                top, names = _top_relative(members)
                by_rel = {("/".join(PurePosixPath(_clean(m)).parts[1:]) if top else _clean(m)): m for m in members}
                return classify(names, lambda n: _decode(zf.read(by_rel[n])) if n in by_rel else None)
        with tarfile.open(path) as tar:
            infos = [m for m in tar.getmembers() if m.isfile()]
            top, names = _top_relative(m.name for m in infos)
            by_name = {_clean(m.name): m for m in infos}

            def read(name: str) -> str | None:
                member = by_name.get(f"{top}/{name}" if top else name)
                handle = tar.extractfile(member) if member else None
                return _decode(handle.read(_READ_LIMIT)) if handle else None

            return classify(names, read)
    except (OSError, tarfile.TarError, zipfile.BadZipFile, EOFError) as err:
        raise KindError(f"{path.name}: cannot read the archive: {err}") from None


def classify_tree(root: Path) -> Kind:
    """Classify a source directory (`source.path` recipes)."""
    names = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())

    def read(name: str) -> str | None:
        try:
            with open(root / name, "rb") as f:
                return _decode(f.read(_READ_LIMIT))
        except OSError:
            return None

    return classify(names, read)
