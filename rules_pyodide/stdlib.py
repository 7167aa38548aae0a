"""A Pyodide runtime's Python standard library: where the runtime keeps it, and a trimmed replacement for a bundle.

How the runtimes find it (the replacement has the same name, so the runtime loads it instead of its own):
- 0.21.x: `/lib/python3.10` is the runtime's own emscripten file package, LZ4-compressed: the bytes in
  `pyodide.asm.data`, the file list and the LZ4 chunk table in `pyodide.asm.js`; and `distutils.tar`, which
  `loadPyodide` loads at start-up unless `fullStdLib: false`. The bundle replaces `pyodide.asm.data` (only the kept
  files, chunks stored raw so that the server's compression works on plain text) and `pyodide.asm.js` (the same
  code with the new file list and chunk table); the app's distutils files, if any, move into that archive, and the
  page starts the runtime with `fullStdLib: false`.
- 0.23 and later: `python_stdlib.zip`, fetched from `indexURL` (or loadPyodide's `stdLibURL`) and imported from
  `/lib/python3XY.zip`. The bundle replaces it (entries stored, not deflated, for the same reason).
- Anything else is refused with a message naming the runtime.

What the bundle keeps: the file of every module in `sys.modules` after the app ran (that is what the runtime
imported at start-up, for loading packages and for the app), every stdlib file read through the file system, the
`__init__.py` of their packages, and the modules named with `--keep-stdlib` (with their submodules).
"""

from __future__ import annotations

import json
import posixpath
import re
import tarfile
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lz4.block

from rules_pyodide.errors import RulesPyodideError
from rules_pyodide.outputs import ZIP_FLOOR_DATE

FILE_PACKAGE_METADATA = re.compile(rb'loadPackage\((\{"files":\[[^\]]*\],"remote_package_size":\d+\})\)')
LZ4_TABLE = re.compile(rb'var compressedData=(\{"data":null,"cachedOffset":\d+,[^;]*?"successes":\[[\d,]*\]\});')
LZ4_CHUNK = 2048
"""emscripten's LZ4 chunk size (its `LZ4.CHUNK_SIZE`; 0.21's `pyodide.asm.data` is LZ4-compressed)."""
ASM_JS = "pyodide.asm.js"
ASM_DATA = "pyodide.asm.data"
STDLIB_ZIP = "python_stdlib.zip"
STARTUP_PACKAGES = {"distutils": "distutils.tar"}
"""Packages 0.21 loads at start-up with `fullStdLib` (their files install under /lib/python3.X)."""


class StdlibError(RulesPyodideError):
    """The runtime's standard library cannot be read or trimmed; the message names the runtime and the file."""


@dataclass(frozen=True)
class Stdlib:
    """A runtime's standard library as files: absolute path in the runtime's file system -> bytes."""

    version: str
    kind: str
    """`file_package` (0.21) or `zip` (0.23+)."""
    root: str
    """`/lib/python3.10` or `/lib/python3XY.zip`: every file is below it."""
    files: Mapping[str, bytes]
    originals: tuple[str, ...]
    """The runtime files that hold it (and that a page fetches for it)."""
    replaces: tuple[str, ...]
    """The runtime files the trimmed stdlib replaces (a page no longer fetches the other originals)."""

    def rel(self, path: str) -> str:
        return path[len(self.root) + 1 :]


def _python_dir(python: str) -> tuple[int, int]:
    parts = python.split(".")
    if len(parts) < 2 or not all(p.isdigit() for p in parts[:2]):
        raise StdlibError(f"info.python: expected a version like 3.10.2, got {python!r}")
    return int(parts[0]), int(parts[1])


def read(directory: Path, version: str, python: str) -> Stdlib:
    """The standard library of the runtime in `directory` (Pyodide `version`, Python `python`)."""
    major, minor = _python_dir(python)
    if (directory / STDLIB_ZIP).is_file():
        return _read_zip(directory / STDLIB_ZIP, version, f"/lib/python{major}{minor}.zip")
    if (directory / ASM_DATA).is_file() and (directory / ASM_JS).is_file():
        return _read_file_package(directory, version, f"/lib/python{major}.{minor}")
    raise StdlibError(
        f"Pyodide {version} ({directory}): neither {STDLIB_ZIP} nor {ASM_DATA} + {ASM_JS}: "
        "do not know where this runtime keeps its standard library, so it cannot be trimmed"
    )


def _read_zip(path: Path, version: str, root: str) -> Stdlib:
    try:
        with zipfile.ZipFile(path) as zf:
            files = {f"{root}/{i.filename}": zf.read(i) for i in zf.infolist() if not i.is_dir()}
    except (OSError, zipfile.BadZipFile) as err:
        raise StdlibError(f"Pyodide {version}: {path}: not a readable zip: {err}") from err
    for name in files:
        _check_rel(name[len(root) + 1 :], f"Pyodide {version}: {path}")
    return Stdlib(version, "zip", root, files, (STDLIB_ZIP,), (STDLIB_ZIP,))


def _check_rel(rel: str, where: str) -> None:
    if not rel or rel.startswith("/") or ".." in rel.split("/"):
        raise StdlibError(f"{where}: entry {rel!r} is not a relative path inside the archive")


def _one(pattern: re.Pattern[bytes], asm_js: bytes, where: str, what: str) -> tuple[re.Match[bytes], Any]:
    matches = list(pattern.finditer(asm_js))
    if len(matches) != 1:
        raise StdlibError(f"{where}: expected exactly one embedded {what}, found {len(matches)}")
    return matches[0], json.loads(matches[0].group(1))


def file_package_metadata(asm_js: bytes, where: str) -> tuple[re.Match[bytes], list[dict[str, object]]]:
    """The one file package file list embedded in `pyodide.asm.js` (0.21), and where it is."""
    match, metadata = _one(FILE_PACKAGE_METADATA, asm_js, where, "file package list")
    files = metadata["files"]
    if not isinstance(files, list):
        raise StdlibError(f"{where}: files: expected a list")
    return match, files


def _uncompress(asm_js: bytes, data: bytes, where: str) -> bytes:
    """The file package's data stream: `data` itself, or, when the loader is LZ4 (an embedded `compressedData`
    table), its chunks uncompressed."""
    if b"var compressedData=" not in asm_js:
        return data
    _, table = _one(LZ4_TABLE, asm_js, where, "LZ4 table")
    chunks = []
    for offset_value, size_value, compressed in zip(table["offsets"], table["sizes"], table["successes"], strict=True):
        offset, size = int(offset_value), int(size_value)  # the minifier writes some as 1e3
        raw = data[offset : offset + size]
        if len(raw) != size:
            raise StdlibError(f"{where}: LZ4 chunk at {offset} ends past the end of {ASM_DATA}")
        chunks.append(lz4.block.decompress(raw, uncompressed_size=LZ4_CHUNK) if compressed else raw)
    return b"".join(chunks)


def _read_file_package(directory: Path, version: str, root: str) -> Stdlib:
    where = f"Pyodide {version}: {directory / ASM_JS}"
    asm_js = (directory / ASM_JS).read_bytes()
    _, entries = file_package_metadata(asm_js, where)
    try:
        data = _uncompress(asm_js, (directory / ASM_DATA).read_bytes(), where)
    except lz4.block.LZ4BlockError as err:
        raise StdlibError(f"{where}: {ASM_DATA} is not the LZ4 data the loader describes: {err}") from err
    files: dict[str, bytes] = {}
    for entry in entries:
        name, start, end = entry.get("filename"), entry.get("start"), entry.get("end")
        if not (isinstance(name, str) and isinstance(start, int) and isinstance(end, int) and 0 <= start <= end):
            raise StdlibError(f"{where}: bad file entry {entry!r}")
        if end > len(data):
            raise StdlibError(f"{where}: {name} ends at {end}, past the end of {ASM_DATA} ({len(data)} bytes)")
        if not name.startswith(root + "/"):
            raise StdlibError(f"{where}: {name} is not under {root}")
        files[name] = data[start:end]
    originals = [ASM_JS, ASM_DATA]
    for tar_name in STARTUP_PACKAGES.values():
        if (directory / tar_name).is_file():
            files.update(_read_tar(directory / tar_name, root, f"Pyodide {version}: {directory / tar_name}"))
            originals.append(tar_name)
    return Stdlib(version, "file_package", root, files, tuple(originals), (ASM_JS, ASM_DATA))


def _read_tar(path: Path, root: str, where: str) -> dict[str, bytes]:
    files = {}
    with tarfile.open(path) as tf:
        for member in tf.getmembers():
            if member.isdir():
                continue
            if not member.isfile():
                raise StdlibError(f"{where}: {member.name} is not a regular file")
            rel = member.name.removeprefix("./")
            _check_rel(rel, where)
            extracted = tf.extractfile(member)
            assert extracted is not None
            files[f"{root}/{rel}"] = extracted.read()
    return files


def kept_modules(stdlib: Stdlib, keep: Sequence[str]) -> set[str]:
    """The files of the modules named in `keep` (dotted names; a package with all its submodules)."""
    chosen: set[str] = set()
    for name in keep:
        base = f"{stdlib.root}/{name.replace('.', '/')}"
        found = {p for p in stdlib.files if p == base + ".py" or p.startswith(base + "/")}
        if not found:
            raise StdlibError(f"--keep-stdlib {name}: not a module of Pyodide {stdlib.version}'s standard library")
        chosen |= found
    return chosen


def used(stdlib: Stdlib, module_files: Iterable[str], reads: Iterable[str], keep: Sequence[str] = ()) -> set[str]:
    """The stdlib files an app uses: its modules' files, the files read, their packages' `__init__.py`, and the
    modules named in `keep` (kept_modules)."""
    chosen = {p for p in [*module_files, *reads] if p in stdlib.files} | kept_modules(stdlib, keep)
    for path in list(chosen):
        parent = posixpath.dirname(path)
        while parent.startswith(stdlib.root + "/"):
            init = parent + "/__init__.py"
            if init in stdlib.files:
                chosen.add(init)
            parent = posixpath.dirname(parent)
    return chosen


def module_of(stdlib: Stdlib, module: str) -> list[str]:
    """The files of the stdlib that hold `module` (dotted): `a/b.py` or `a/b/__init__.py`, if any."""
    base = f"{stdlib.root}/{module.replace('.', '/')}"
    return [p for p in (base + ".py", base + "/__init__.py") if p in stdlib.files]


def _zip_bytes(stdlib: Stdlib, kept: Sequence[str], into: Path) -> None:
    """A deterministic zip of the kept files with their directories, sorted, stored (not deflated): the server's
    compressed transfer then compresses across files, and zipimport reads it without inflating."""
    names = {stdlib.rel(p) for p in kept}
    dirs = {posixpath.dirname(n) for n in names} - {""}
    for d in list(dirs):
        while "/" in d:
            d = posixpath.dirname(d)
            dirs.add(d)
    with zipfile.ZipFile(into, "w", compression=zipfile.ZIP_STORED) as zf:
        for name in sorted(names | {d + "/" for d in dirs}):
            info = zipfile.ZipInfo(name, date_time=ZIP_FLOOR_DATE)
            info.external_attr = (0o40755 << 16 | 0x10) if name.endswith("/") else 0o644 << 16
            zf.writestr(info, b"" if name.endswith("/") else stdlib.files[f"{stdlib.root}/{name}"])


def write(stdlib: Stdlib, runtime_dir: Path, kept: Iterable[str], into: Path) -> list[str]:
    """Writes the runtime files that replace the stdlib's (`stdlib.replaces`) into the existing `into`, holding
    only the `kept` files; returns their names."""
    ordered = sorted(kept)
    if stdlib.kind == "zip":
        _zip_bytes(stdlib, ordered, into / STDLIB_ZIP)
        return [STDLIB_ZIP]
    entries: list[dict[str, object]] = []
    offset, chunks = 0, []
    for path in ordered:
        content = stdlib.files[path]
        entries.append({"filename": path, "start": offset, "end": offset + len(content)})
        chunks.append(content)
        offset += len(content)
    data = b"".join(chunks)
    asm_js = (runtime_dir / ASM_JS).read_bytes()
    where = f"Pyodide {stdlib.version}: {runtime_dir / ASM_JS}"
    spans: list[tuple[re.Match[bytes], bytes]] = []
    if b"var compressedData=" in asm_js:
        # Keep the runtime's LZ4 loader, with every chunk stored raw (emscripten's "successes" 0): the server's
        # compressed transfer does better on the plain bytes than on LZ4's. The loader wants two chunks of cache
        # space after the data.
        match, table = _one(LZ4_TABLE, asm_js, where, "LZ4 table")
        count = (len(data) + LZ4_CHUNK - 1) // LZ4_CHUNK
        table.update(
            cachedOffset=len(data),
            offsets=[i * LZ4_CHUNK for i in range(count)],
            sizes=[min(LZ4_CHUNK, len(data) - i * LZ4_CHUNK) for i in range(count)],
            successes=[0] * count,
        )
        spans.append((match, json.dumps(table, separators=(",", ":")).encode()))
        data += bytes(2 * LZ4_CHUNK)
    match, _ = file_package_metadata(asm_js, where)
    metadata = {"files": entries, "remote_package_size": len(data)}
    spans.append((match, json.dumps(metadata, separators=(",", ":")).encode()))
    patched = asm_js
    for m, text in sorted(spans, key=lambda s: -s[0].start(1)):  # from the end, so earlier offsets stay valid
        patched = patched[: m.start(1)] + text + patched[m.end(1) :]
    (into / ASM_DATA).write_bytes(data)
    (into / ASM_JS).write_bytes(patched)
    return [ASM_JS, ASM_DATA]
