"""Writing outputs: atomically (a temporary file or directory beside the target, renamed onto it), with their sha256,
and as deterministic archives (sorted members, fixed time, owner and modes).

One time for every output: `source_date_epoch()`, SOURCE_DATE_EPOCH from the environment (the Bazel actions set it),
raised to ZIP_FLOOR (1980-01-01) when it is earlier or unset. Zip entries cannot store an earlier date (DOS date
fields), and wheels, tarballs and provenance records must all carry the same one, so the floor applies to tar members
and file times too. The Starlark of file_package, pyodide_pack and pyodide_bundle sets SOURCE_DATE_EPOCH=0: those
actions read no time (their zips use ZIP_FLOOR_DATE, their gzip headers mtime 0), so that value reaches no output.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ZIP_FLOOR = 315532800
"""1980-01-01T00:00:00Z: the earliest time a zip entry can store, and the default (and floor) of SOURCE_DATE_EPOCH."""
DEFAULT_SOURCE_DATE_EPOCH = ZIP_FLOOR
ZIP_FLOOR_DATE = (1980, 1, 1, 0, 0, 0)
"""ZIP_FLOOR as a zip entry's date_time: the fixed date of the zips that do not follow SOURCE_DATE_EPOCH (bundles,
trimmed standard libraries)."""
FILE_MODE = 0o644
_CHUNK = 1 << 20

ZipDate = tuple[int, int, int, int, int, int]


def source_date_epoch() -> int:
    """SOURCE_DATE_EPOCH, or DEFAULT_SOURCE_DATE_EPOCH when unset; never before ZIP_FLOOR."""
    return max(int(os.environ.get("SOURCE_DATE_EPOCH", DEFAULT_SOURCE_DATE_EPOCH)), ZIP_FLOOR)


def zip_date_time(epoch: int) -> ZipDate:
    """A zip entry's date_time for `epoch` (UTC)."""
    year, month, day, hour, minute, second = time.gmtime(epoch)[:6]
    return year, month, day, hour, minute, second


# ---------------------------------------------------------------------------------------------------------------------
# Atomic outputs


@contextmanager
def atomic_file(path: Path, mode: int = FILE_MODE) -> Iterator[Path]:
    """A new temporary file beside `path` (its parents are created) that becomes `path`, with `mode`, when the block
    succeeds, and is removed otherwise: `path` is either untouched or complete."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(path: Path, content: str | bytes) -> None:
    """Writes `content` (str as UTF-8) to `path` atomically, mode 0644."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    with atomic_file(path) as tmp:
        tmp.write_bytes(data)


@contextmanager
def atomic_dir(output: Path, *, mode: int | None = None, replace: bool = False) -> Iterator[Path]:
    """A new temporary directory beside `output` that becomes `output` when the block succeeds (`mode` applied if
    given) and is removed otherwise. An existing `output` must be an empty directory, unless `replace` (then it is
    removed with its contents); callers check what their output may hold first, with their own message."""
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{output.name}.", suffix=".tmp", dir=output.parent))
    try:
        yield tmp
        if mode is not None:
            os.chmod(tmp, mode)
        if output.exists():
            if replace:
                shutil.rmtree(output)
            else:
                output.rmdir()
        os.rename(tmp, output)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


# ---------------------------------------------------------------------------------------------------------------------
# Digests


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """Hex digest of the file's bytes (`algorithm` as hashlib names it: sha256, md5, ...), read in 1 MiB blocks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_file(path: Path) -> str:
    return file_digest(path, "sha256")


# ---------------------------------------------------------------------------------------------------------------------
# Deterministic archives


def file_mode(executable: bool) -> int:
    """The st_mode an archive member records for a regular file: 0755 when any execute bit is set, else 0644."""
    return 0o100755 if executable else 0o100644


def add_zip_member(zf: zipfile.ZipFile, name: str, data: bytes, date_time: ZipDate, mode: int) -> None:
    """One deflated (level 9) entry made on Unix, with `date_time` and `mode` (the whole st_mode, e.g. 0o100644, or
    just the permission bits where the format's readers expect those) as its external attributes."""
    info = zipfile.ZipInfo(name, date_time=date_time)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3
    info.external_attr = mode << 16
    zf.writestr(info, data, compresslevel=9)


def _tar_tree(tar: tarfile.TarFile, root: Path, prefix: str | None, epoch: int) -> None:
    """Adds `root`'s directories and files, sorted by path: named relative to root (root itself left out), or, with
    `prefix`, root as `prefix` and the rest under `prefix/`. Time `epoch`, owner 0 without names, modes 0755 for
    directories and executables, 0644 otherwise (links are followed)."""
    paths = sorted(root.rglob("*"), key=lambda p: p.relative_to(root).as_posix())
    for path in paths if prefix is None else [root, *paths]:
        rel = path.relative_to(root).as_posix()
        name = rel if prefix is None else (prefix if rel == "." else f"{prefix}/{rel}")
        info = tarfile.TarInfo(name)
        info.mtime, info.uid, info.gid, info.uname, info.gname = epoch, 0, 0, "", ""
        if path.is_dir():
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        else:
            info.size, info.mode = path.stat().st_size, 0o755 if path.stat().st_mode & 0o111 else 0o644
            with open(path, "rb") as f:
                tar.addfile(info, f)


def write_tar(root: Path, output: Path, prefix: str | None = None) -> None:
    """A deterministic plain (PAX) tar of `root` (see _tar_tree), at source_date_epoch(), written atomically."""
    with atomic_file(output) as tmp, tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        _tar_tree(tar, root, prefix, source_date_epoch())


def write_tar_gz(root: Path, output: Path, prefix: str | None = None) -> None:
    """write_tar, gzipped at level 9 with neither a file name nor a time in the gzip header."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        _tar_tree(tar, root, prefix, source_date_epoch())
    # The tar is compressed in one piece, as it always was: the archive's bytes (and the sha256 users pin) stay equal.
    with (
        atomic_file(output) as tmp,
        open(tmp, "wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz,
    ):
        gz.write(buffer.getvalue())
