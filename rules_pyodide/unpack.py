"""Safe, atomic unpacking of source archives (tar, tar.gz, tar.bz2, tar.xz, zip).

    python -m rules_pyodide.unpack --archive A --output DIR [--extract-dir D]

Refused, with the archive and the member named: absolute names, `..` components, symlinks or hardlinks whose target
leaves the tree, members written through a symlink, device files and FIFOs. Modes are normalized (0o644, or 0o755 when
any execute bit is set; directories 0o755), ownership is not restored, and file mtimes come from the archive.
Extraction happens in a temporary directory beside `--output`, renamed into place at the end; on error nothing is left.

`--extract-dir D` takes the tree under top-level directory D; without it, an archive whose members all sit under one
top-level directory is unwrapped from it, and any other archive is extracted as it is.
"""

from __future__ import annotations

import argparse
import calendar
import os
import posixpath
import shutil
import stat
import sys
import tarfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, NoReturn

from rules_pyodide.errors import RulesPyodideError, prog, run_command
from rules_pyodide.outputs import atomic_dir

PROG = prog("unpack")
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


class UnpackError(RulesPyodideError):
    """The archive cannot be unpacked safely; the message names the archive and the member."""


@dataclass(frozen=True)
class Member:
    """One archive entry, independent of the archive format. `name` is normalized and relative."""

    name: str
    kind: str  # "file", "dir", "symlink", "hardlink"
    mode: int
    mtime: float = 0.0
    link: str = ""  # symlink target as written, or hardlink target member name
    opener: Callable[[], IO[bytes]] | None = None
    origin: str = ""  # the name as written in the archive, for messages


def _fail(archive: Path, member: str, message: str) -> NoReturn:
    raise UnpackError(f"{archive}: member {member!r}: {message}")


def _normalize(archive: Path, raw: str) -> str:
    """Relative, normalized member name; refuses absolute names and '..' components."""
    if raw.startswith("/") or (len(raw) > 1 and raw[1] == ":"):
        _fail(archive, raw, "absolute path refused")
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if ".." in parts:
        _fail(archive, raw, "'..' in path refused")
    return "/".join(parts)


# ---------------------------------------------------------------------------------------------------------------------
# Readers: turn each format into Members.


def _tar_members(archive: Path, tar: tarfile.TarFile) -> Iterator[Member]:
    for info in tar.getmembers():
        name = _normalize(archive, info.name)
        if info.isdir():
            yield Member(name, "dir", 0o755, info.mtime, origin=info.name)
        elif info.isreg():
            yield Member(name, "file", info.mode, info.mtime, opener=_tar_opener(tar, info), origin=info.name)
        elif info.issym():
            yield Member(name, "symlink", 0o777, info.mtime, link=info.linkname, origin=info.name)
        elif info.islnk():
            yield Member(
                name, "hardlink", info.mode, info.mtime, link=_hardlink_target(archive, info), origin=info.name
            )
        else:
            _fail(archive, info.name, "device files, FIFOs and other special files are refused")


def _hardlink_target(archive: Path, info: tarfile.TarInfo) -> str:
    try:
        return _normalize(archive, info.linkname)
    except UnpackError:
        _fail(archive, info.name, f"hardlink to {info.linkname!r} escapes the tree")


def _tar_opener(tar: tarfile.TarFile, info: tarfile.TarInfo) -> Callable[[], IO[bytes]]:
    def open_member() -> IO[bytes]:
        stream = tar.extractfile(info)
        assert stream is not None  # regular files always have data
        return stream

    return open_member


def _zip_members(archive: Path, zf: zipfile.ZipFile) -> Iterator[Member]:
    for info in zf.infolist():
        name = _normalize(archive, info.filename)
        unix_mode = (info.external_attr >> 16) if info.create_system == 3 else 0
        fmt = stat.S_IFMT(unix_mode)
        mtime = _zip_mtime(info)
        if info.is_dir() or fmt == stat.S_IFDIR:
            yield Member(name, "dir", 0o755, mtime, origin=info.filename)
        elif fmt == stat.S_IFLNK:
            yield Member(
                name,
                "symlink",
                0o777,
                mtime,
                link=zf.read(info).decode("utf-8", "surrogateescape"),
                origin=info.filename,
            )
        elif fmt in (0, stat.S_IFREG):
            yield Member(name, "file", unix_mode or 0o644, mtime, opener=_zip_opener(zf, info), origin=info.filename)
        else:
            _fail(archive, info.filename, "device files, FIFOs and other special files are refused")


def _zip_opener(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> Callable[[], IO[bytes]]:
    return lambda: zf.open(info)


def _zip_mtime(info: zipfile.ZipInfo) -> float:
    year, month, day, hour, minute, second = info.date_time
    return float(calendar.timegm((max(year, 1980), max(month, 1), max(day, 1), hour, minute, second, 0, 0, 0)))


# ---------------------------------------------------------------------------------------------------------------------
# Selecting the tree (extract_dir) and checking links.


def _top_level_dir(members: Sequence[Member]) -> str | None:
    """The single top-level directory every member sits under, if there is one."""
    tops = {m.name.split("/", 1)[0] for m in members if m.name}
    if len(tops) != 1:
        return None
    (top,) = tops
    is_dir = any(m.name.startswith(top + "/") or (m.name == top and m.kind == "dir") for m in members)
    return top if is_dir else None


def _select(archive: Path, members: Sequence[Member], extract_dir: str | None) -> list[Member]:
    """Members under the chosen top directory, renamed relative to it (hardlink targets too)."""
    if extract_dir is None:
        extract_dir = _top_level_dir(members)
        if extract_dir is None:
            return [m for m in members if m.name]
    else:
        extract_dir = _normalize(archive, extract_dir)
    prefix = extract_dir + "/"
    selected = []
    for m in members:
        if not m.name.startswith(prefix):
            continue
        link = m.link
        if m.kind == "hardlink":
            if not link.startswith(prefix):
                _fail(archive, m.origin, f"hardlink to {link!r} escapes {extract_dir!r}")
            link = link[len(prefix) :]
        selected.append(Member(m.name[len(prefix) :], m.kind, m.mode, m.mtime, link, m.opener, m.origin))
    if not selected and not any(m.name == extract_dir and m.kind == "dir" for m in members):
        raise UnpackError(f"{archive}: extract_dir {extract_dir!r} is not a directory in the archive")
    return selected


def _check_links(archive: Path, members: Sequence[Member]) -> None:
    """Lexical checks: symlink targets stay inside; no member is written through a symlink."""
    symlinks = {m.name for m in members if m.kind == "symlink"}
    for m in members:
        parents = m.name.split("/")[:-1]
        for i in range(1, len(parents) + 1):
            if "/".join(parents[:i]) in symlinks:
                _fail(archive, m.origin, f"written through the symlink {'/'.join(parents[:i])!r}, refused")
        if m.kind == "symlink":
            target = posixpath.normpath(posixpath.join(posixpath.dirname(m.name), m.link))
            if m.link.startswith("/") or target == ".." or target.startswith("../"):
                _fail(archive, m.origin, f"symlink to {m.link!r} escapes the tree")


# ---------------------------------------------------------------------------------------------------------------------
# Writing.


def _file_mode(mode: int) -> int:
    return 0o755 if mode & 0o111 else 0o644


def _write_file(root: Path, m: Member) -> None:
    assert m.opener is not None
    dest = root / m.name
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.is_dir() and not dest.is_symlink():
        raise UnpackError(f"member {m.origin!r}: a directory of the same name is also in the archive")
    with m.opener() as src, open(dest, "wb") as out:
        shutil.copyfileobj(src, out)
    os.chmod(dest, _file_mode(m.mode))
    os.utime(dest, (m.mtime, m.mtime))


def _write_hardlink(root: Path, m: Member) -> None:
    """Hardlinks become copies of their (already extracted, regular) target."""
    source, dest = root / m.link, root / m.name
    if source.is_symlink() or not source.is_file():
        raise UnpackError(f"member {m.origin!r}: hardlink target {m.link!r} is not a regular file in the tree")
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, dest)
    os.chmod(dest, _file_mode(m.mode))
    os.utime(dest, (m.mtime, m.mtime))


def _write_symlink(root: Path, m: Member) -> None:
    dest = root / m.name
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.is_dir() and not dest.is_symlink():
        raise UnpackError(f"member {m.origin!r}: a directory of the same name is also in the archive")
    if dest.is_symlink() or dest.exists():
        dest.unlink()
    os.symlink(m.link, dest)


def _verify_symlink(root: Path, m: Member) -> None:
    """Physical check, once every link exists: chains of links can leave the tree where each one alone does not."""
    real_root = os.path.realpath(root)
    resolved = os.path.realpath(root / m.name)
    if os.path.commonpath([real_root, resolved]) != real_root:
        raise UnpackError(f"member {m.origin!r}: symlink to {m.link!r} escapes the tree")


def _extract(root: Path, members: Sequence[Member]) -> None:
    for m in members:
        if m.kind == "dir":
            (root / m.name).mkdir(parents=True, exist_ok=True)
        elif m.kind == "file":
            _write_file(root, m)
    for m in members:
        if m.kind == "hardlink":
            _write_hardlink(root, m)
    links = [m for m in members if m.kind == "symlink"]
    for m in links:
        _write_symlink(root, m)
    for m in links:
        _verify_symlink(root, m)
    for path in [root, *(p for p in root.rglob("*") if p.is_dir() and not p.is_symlink())]:
        os.chmod(path, 0o755)


# ---------------------------------------------------------------------------------------------------------------------
# Entry points.


def detect_format(archive: Path) -> str:
    """'zip' or 'tar' (compressed or not), by content; the suffix is only used in the error message."""
    try:
        with open(archive, "rb") as f:
            head = f.read(4)
        if head in _ZIP_MAGIC:
            return "zip"
        if tarfile.is_tarfile(archive):
            return "tar"
    except OSError as err:
        raise UnpackError(f"{archive}: cannot read: {err}") from err
    raise UnpackError(
        f"{archive}: not a tar (plain, gz, bz2, xz) or zip archive (suffix {''.join(archive.suffixes)!r})"
    )


def _read_members(archive: Path, fmt: str, extract_dir: str | None, into: Path) -> None:
    if fmt == "zip":
        with zipfile.ZipFile(archive) as zf:
            _unpack_members(archive, list(_zip_members(archive, zf)), extract_dir, into)
    else:
        with tarfile.open(archive, "r:*") as tar:
            _unpack_members(archive, list(_tar_members(archive, tar)), extract_dir, into)


def _unpack_members(archive: Path, members: list[Member], extract_dir: str | None, into: Path) -> None:
    selected = _select(archive, members, extract_dir)
    _check_links(archive, selected)
    try:
        _extract(into, selected)
    except UnpackError as err:
        raise UnpackError(f"{archive}: {err}") from None


def unpack(archive: str | Path, output: str | Path, extract_dir: str | None = None) -> None:
    """Unpack `archive` into `output` (absent or an empty directory), atomically."""
    archive, output = Path(archive), Path(output)
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise UnpackError(f"{output}: output exists and is not an empty directory")
    fmt = detect_format(archive)
    try:
        with atomic_dir(output) as tmp:
            _read_members(archive, fmt, extract_dir, tmp)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as err:
        raise UnpackError(f"{archive}: cannot unpack: {err}") from err


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    parser.add_argument("--archive", required=True, type=Path, help="tar, tar.gz/bz2/xz or zip archive")
    parser.add_argument("--output", required=True, type=Path, help="directory to create")
    parser.add_argument("--extract-dir", help="top-level directory of the archive to take (default: auto)")
    args = parser.parse_args(argv)
    return run_command(PROG, lambda: unpack(args.archive, args.output, args.extract_dir))


if __name__ == "__main__":
    sys.exit(main())
