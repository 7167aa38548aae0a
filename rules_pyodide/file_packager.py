"""A drop-in replacement for emscripten's ``tools/file_packager.py`` (preload mode).

Usage (the same arguments as emscripten's packer)::

    python -m rules_pyodide.file_packager TARGET.data [--preload SRC[@DST] ...] [--exclude PATTERN ...]
        [--js-output=FILE] [--export-name=NAME] [--no-force] [--use-preload-cache] [--indexedDB-name=NAME]
        [--separate-metadata] [--lz4] [--use-preload-plugins] [--no-node] [--depfile=FILE] [--quiet]
        [--args-file=FILE]

``--preload`` (and ``--exclude``) take every following argument that is not a flag.  ``SRC@DST`` places ``SRC``
at ``DST`` in the virtual file system (``@@`` stands for a literal ``@``; a ``DST`` ending in ``/`` keeps the
source's base name).  Without ``@DST`` the source path itself is used and must lie inside the current directory.
Directories are walked; ``--exclude`` patterns are :func:`fnmatch.fnmatch`-ed against each source path as the
walk spells it (``dir/sub/name``), so ``*.pyc`` and ``*/__pycache__`` work as with emscripten.

``--args-file=FILE`` (not in emscripten; for Bazel): FILE holds further arguments, one per line (Bazel's
"multiline" param file format: no quoting, a trailing newline is optional); they are inserted in place of the
flag, so the target itself may come from the file too.  Nested ``--args-file`` flags are expanded as well.

``--embed``, ``--obj-output``, ``--from-emcc`` and ``--plugin`` are refused (exit code 1).

What is the same as emscripten 3.1.6: argument meaning, the ``.data`` bytes (files concatenated in destination
order, as newer emscripten sorts them; 3.1.6 itself keeps the directory-listing order of a walk, so its bytes match
ours when that order is sorted or the files are listed one by one), the metadata (``files`` with ``filename``/
``start``/``end``/``audio``, ``remote_package_size``, ``package_uuid``), the generated JS (same ``Module`` hooks
and run dependencies), and the ``--lz4`` layout that emscripten's runtime ``Module.LZ4.loadPackage`` reads.

What differs, on purpose:

* deterministic output: files are sorted by destination, ``package_uuid`` is a 128-bit content hash of the
  ``.data`` (xxh3-128; sha256 if the ``xxhash`` package is missing) formatted as a UUID, and only the *base name*
  of ``TARGET`` appears in the JS (emscripten embeds the path as given, which may be absolute);
* every string embedded in JS is a JSON literal with ``<``, ``>``, ``&``, U+2028 and U+2029 escaped, so any file
  name is safe and the JS can be inlined in HTML; ``--export-name`` must be a JS identifier;
* ``--separate-metadata`` also works in Node (the metadata file is read with ``fs`` like the ``.data``);
* bad input (missing or unreadable source, non-regular file, two different sources for one destination, a file
  where another needs a directory, a file that vanishes or changes size while packing) is a one-line error,
  exit code 1, and nothing is written: every output goes to a temporary file in its directory and is renamed at
  the end;
* ``--no-force`` with nothing to pack writes nothing and exits 0 (emscripten 3.1.6 exits 1);
* ``--lz4`` compresses with liblz4 (the ``lz4`` package) instead of emscripten's JS port, in two processes for
  big inputs (same bytes either way); the chunk layout is the same, a chunk whose compressed form is not smaller
  is stored raw;
* a source given without ``@DST`` keeps its own name even when it is a symbolic link (emscripten resolves links),
  and the "inside the current directory" check is made for each such source (emscripten's 3.1.6 check looks at
  the last ``--preload`` argument only);
* outputs found inside a preloaded directory (e.g. ``--preload .``) are not packed into themselves;
* the "Remember to build with -sFORCE_FILESYSTEM" reminder comes after the work (``--quiet`` drops it).
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import itertools
import json
import os
import posixpath
import re
import signal
import stat
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, BinaryIO, Protocol

__all__ = [
    "CHUNK_SIZE",
    "FilePackagerError",
    "Lz4Table",
    "Options",
    "PackResult",
    "PackedFile",
    "PreloadSpec",
    "main",
    "pack",
    "parse_args",
]

CHUNK_SIZE = 2048
"""LZ4 chunk size of emscripten's runtime (``MiniLZ4.CHUNK_SIZE``)."""
CACHED_CHUNKS = 2
"""Number of decompressed-chunk cache slots the runtime expects after the compressed data."""
AUDIO_SUFFIXES = (".ogg", ".wav", ".mp3")
BIG_BUNDLE_BYTES = 256 * 1024 * 1024
READ_BLOCK = 1024 * 1024
PARALLEL_MIN_BYTES = 4 * 1024 * 1024
"""LZ4 mode compresses in two processes (when it can fork and has two CPUs) from this many input bytes on."""
MAX_ARGS_FILE_DEPTH = 8

USAGE = (
    "usage: python -m rules_pyodide.file_packager TARGET [--preload A [B..]] [--exclude E [F..]] "
    "[--js-output=OUTPUT.js] [--export-name=NAME] [--no-force] [--use-preload-cache] "
    "[--indexedDB-name=EM_PRELOAD_CACHE] [--separate-metadata] [--lz4] [--use-preload-plugins] [--no-node] "
    "[--depfile=FILE] [--quiet] [--args-file=FILE]"
)

_IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*\Z")
_JS_RESERVED = frozenset(
    "await break case catch class const continue debugger default delete do else enum export extends false "
    "finally for function if implements import in instanceof interface let new null package private protected "
    "public return static super switch this throw true try typeof var void while with yield arguments eval "
    "undefined NaN Infinity".split()
)

Log = Callable[[str], None]


class FilePackagerError(Exception):
    """Bad input or an I/O failure; the message is one line and names the offending path or argument."""


def _q(path: str) -> str:
    """Quotes a path for a one-line message (newlines and other controls escaped)."""
    return json.dumps(path, ensure_ascii=False)


def _io_error(action: str, path: str, error: OSError) -> FilePackagerError:
    return FilePackagerError(f"cannot {action} {_q(path)}: {error.strerror or error}")


# --------------------------------------------------------------------------------------------------------------
# Options and command line


@dataclass(frozen=True)
class PreloadSpec:
    """One ``--preload`` argument: a source path and, with ``SRC@DST``, its explicit destination."""

    src: str
    dst: str | None = None

    @classmethod
    def parse(cls, arg: str) -> PreloadSpec:
        """Splits ``SRC[@DST]``; ``@@`` is a literal ``@`` (emscripten's rule: the first lone ``@`` splits)."""
        at = arg.replace("@@", "__").find("@")
        if at == -1:
            return cls(arg.replace("@@", "@"))
        return cls(arg[:at].replace("@@", "@"), arg[at + 1 :].replace("@@", "@"))


@dataclass(frozen=True)
class Options:
    """Everything one packer run needs; the fields mirror the command-line flags."""

    data_target: str
    preloads: tuple[PreloadSpec, ...] = ()
    excludes: tuple[str, ...] = ()
    js_output: str | None = None
    export_name: str = "Module"
    force: bool = True
    use_preload_cache: bool = False
    indexeddb_name: str = "EM_PRELOAD_CACHE"
    separate_metadata: bool = False
    lz4: bool = False
    use_preload_plugins: bool = False
    support_node: bool = True
    depfile: str | None = None
    quiet: bool = False

    @property
    def metadata_output(self) -> str | None:
        """Path of the ``--separate-metadata`` file (``JS_OUTPUT.metadata``), if any."""
        if self.separate_metadata and self.js_output:
            return self.js_output + ".metadata"
        return None

    @property
    def output_paths(self) -> list[str]:
        """Every file a run writes: TARGET, --js-output, its .metadata, --depfile."""
        outputs = (self.data_target, self.js_output, self.metadata_output, self.depfile)
        return [path for path in outputs if path]


def expand_args_files(argv: Sequence[str], depth: int = 0) -> list[str]:
    """Replaces each ``--args-file=F`` by the lines of F (one argument per line)."""
    expanded: list[str] = []
    for arg in argv:
        if not arg.startswith("--args-file"):
            expanded.append(arg)
            continue
        name, eq, path = arg.partition("=")
        if name != "--args-file" or not eq or not path:
            raise FilePackagerError(f"--args-file needs a file: --args-file=FILE (got {_q(arg)})")
        if depth >= MAX_ARGS_FILE_DEPTH:
            raise FilePackagerError(f"--args-file nested too deeply at {_q(path)}")
        try:
            with open(path, encoding="utf-8", newline="") as handle:
                text = handle.read()
        except OSError as error:
            raise _io_error("read args file", path, error) from error
        except UnicodeDecodeError as error:
            raise FilePackagerError(f"args file {_q(path)} is not UTF-8: {error.reason}") from error
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        expanded.extend(expand_args_files(lines, depth + 1))
    return expanded


def _flag_value(arg: str, flag: str) -> str | None:
    """``--flag=VALUE`` -> VALUE; ``--flag`` -> ``""``; anything else -> None."""
    if arg == flag:
        return ""
    if arg.startswith(flag + "="):
        return arg[len(flag) + 1 :]
    return None


_REFUSED = {
    "--embed": "--embed is not supported (use --preload)",
    "--obj-output": "--obj-output is not supported (it only applies to --embed)",
    "--from-emcc": "--from-emcc is not supported (this packer is standalone; run it before or after emcc)",
    "--plugin": "--plugin is not supported (it evaluates arbitrary Python code)",
}
_SWITCHES = {
    "--no-force": ("force", False),
    "--use-preload-cache": ("use_preload_cache", True),
    "--separate-metadata": ("separate_metadata", True),
    "--lz4": ("lz4", True),
    "--use-preload-plugins": ("use_preload_plugins", True),
    "--no-node": ("support_node", False),
    "--quiet": ("quiet", True),
}
_VALUED = {
    "--js-output": "js_output",
    "--export-name": "export_name",
    "--indexedDB-name": "indexeddb_name",
    "--depfile": "depfile",
}


def parse_args(argv: Sequence[str], log: Log | None = None) -> Options:
    """Parses emscripten's file_packager arguments (after ``--args-file`` expansion) into :class:`Options`."""
    args = expand_args_files(argv)
    if not args:
        raise FilePackagerError(USAGE)
    if args[0].startswith("--"):
        raise FilePackagerError(f"the first argument must be the TARGET .data file, not {_q(args[0])}")
    values: dict[str, Any] = {"data_target": args[0]}
    preloads: list[PreloadSpec] = []
    excludes: list[str] = []
    leading = ""
    for arg in args[1:]:
        if arg in ("--preload", "--exclude"):
            leading = arg
            continue
        refused = next((msg for flag, msg in _REFUSED.items() if _flag_value(arg, flag) is not None), None)
        if refused:
            raise FilePackagerError(refused)
        if arg in _SWITCHES:
            key, value = _SWITCHES[arg]
            values[key] = value
            leading = ""
        elif arg == "--no-heap-copy":
            if log:
                log("ignoring legacy flag --no-heap-copy (that is the only mode supported now)")
            leading = ""
        elif any(_flag_value(arg, flag) is not None for flag in _VALUED):
            _set_valued(values, arg)
            leading = ""
        elif leading == "--preload":
            preloads.append(PreloadSpec.parse(arg))
        elif leading == "--exclude":
            excludes.append(arg)
        else:
            raise FilePackagerError(f"unknown parameter: {_q(arg)}")
    return Options(preloads=tuple(preloads), excludes=tuple(excludes), **values)


def _set_valued(values: dict[str, Any], arg: str) -> None:
    for flag, key in _VALUED.items():
        value = _flag_value(arg, flag)
        if value is None:
            continue
        if value:
            values[key] = value
        elif flag in ("--js-output", "--depfile"):
            values[key] = None  # like emscripten: a bare flag means "none"
        elif flag == "--indexedDB-name":
            raise FilePackagerError("--indexedDB-name needs a value: --indexedDB-name=NAME")
        return


def validate_options(options: Options) -> None:
    """Checks option combinations emscripten checks, plus the export name."""
    name = options.export_name
    if not _IDENTIFIER.match(name) or name in _JS_RESERVED:
        raise FilePackagerError(f"--export-name must be a JavaScript identifier, got {_q(name)}")
    if options.separate_metadata and (not options.preloads or not options.js_output):
        raise FilePackagerError("cannot separate-metadata without both --preload files and a specified --js-output")
    real = [os.path.abspath(path) for path in options.output_paths]
    if len(set(real)) != len(real):
        raise FilePackagerError("TARGET, --js-output, its .metadata and --depfile must be different files")


# --------------------------------------------------------------------------------------------------------------
# Collecting files


@dataclass(frozen=True)
class DataFile:
    """One file to pack: where it is read from and its absolute path in the virtual file system."""

    src: str
    dst: str


@dataclass
class _Collection:
    files: list[DataFile] = field(default_factory=list)
    walked_dirs: list[str] = field(default_factory=list)


def _has_hidden_attribute(path: str) -> bool:
    """Win32's hidden attribute (emscripten skips such files); always False elsewhere."""
    if sys.platform != "win32":
        return False
    import ctypes  # pragma: no cover

    attrs = ctypes.windll.kernel32.GetFileAttributesW(path)  # pragma: no cover
    return attrs != -1 and bool(attrs & 2)  # pragma: no cover


class Excluder:
    """emscripten's ``should_ignore``: a Win32-hidden file, or any ``--exclude`` pattern matches the source path
    (:func:`fnmatch.fnmatch` semantics: ``*`` also matches ``/``), compiled into one regular expression."""

    def __init__(self, patterns: Sequence[str]) -> None:
        joined = "|".join(f"(?:{fnmatch.translate(os.path.normcase(p))})" for p in patterns)
        self._match = re.compile(joined).match if patterns else None

    def __call__(self, path: str) -> bool:
        if _has_hidden_attribute(path):
            return True
        return self._match is not None and self._match(os.path.normcase(path)) is not None


def is_ignored(path: str, excludes: Sequence[str]) -> bool:
    """emscripten's ``should_ignore`` for one path (see :class:`Excluder`)."""
    return Excluder(excludes)(path)


def _raise_walk_error(error: OSError) -> None:
    raise _io_error("list directory", str(error.filename), error)


@dataclass(frozen=True)
class _Skip:
    """Outputs that a walk must not pack (e.g. ``--preload .`` with the outputs in the current directory)."""

    names: frozenset[str]
    paths: frozenset[str]

    def __call__(self, name: str, fullname: str) -> bool:
        return name in self.names and os.path.abspath(fullname) in self.paths


def _walk(spec_src: str, spec_dst: str, excluded: Excluder, skip: _Skip, out: _Collection) -> None:
    """emscripten's ``add``: walks a directory (links to directories are not followed), pruning excludes."""
    for dirpath, dirnames, filenames in os.walk(spec_src, onerror=_raise_walk_error):
        out.walked_dirs.append(dirpath)
        dirnames[:] = sorted(name for name in dirnames if not excluded(os.path.join(dirpath, name)))
        dst_dir = os.path.join(spec_dst, os.path.relpath(dirpath, spec_src))
        for name in sorted(filenames):
            fullname = os.path.join(dirpath, name)
            if not excluded(fullname) and not skip(name, fullname):
                out.files.append(DataFile(fullname, os.path.join(dst_dir, name)))


def _relative_to_cwd(path: str, cwd: str) -> str:
    """Destination of a source given without ``@DST``: its path relative to the current directory.

    Like emscripten, a path that only reaches the current directory through symbolic links in its directories is
    accepted (the directories are resolved); unlike emscripten, the base name itself is kept.
    """
    absolute = os.path.abspath(path)
    resolved = os.path.join(os.path.realpath(os.path.dirname(absolute)), os.path.basename(absolute))
    prefix = cwd.rstrip(os.sep) + os.sep
    for candidate in (absolute, resolved):
        if candidate == cwd:
            return ""
        if candidate.startswith(prefix):
            return candidate[len(prefix) :]
    raise FilePackagerError(
        f"{_q(path)} is not inside the current directory, which becomes the root the generated code sees; "
        "use SRC@DST to place it explicitly"
    )


def _normalize_dst(dst: str, src: str) -> str:
    dst = dst.replace(os.sep, "/")
    if dst.endswith("/"):
        dst += os.path.basename(src)
    dst = posixpath.normpath(posixpath.join("/", dst))
    dst = "/" + dst.lstrip("/")  # normpath keeps a leading "//"
    if dst == "/":
        raise FilePackagerError(f"destination of {_q(src)} is the root directory")
    try:
        dst.encode("utf-8")
    except UnicodeEncodeError as error:
        raise FilePackagerError(f"file name {_q(src)} is not valid UTF-8") from error
    return dst


def _expand_spec(
    spec: PreloadSpec, options: Options, excluded: Excluder, skip: _Skip, out: _Collection, log: Log
) -> None:
    if not (os.path.isfile(spec.src) or os.path.isdir(spec.src)):
        raise FilePackagerError(f"{_q(spec.src)} does not exist")
    if excluded(spec.src):
        return
    explicit = spec.dst is not None
    dst = spec.dst if spec.dst is not None else spec.src
    if not explicit:
        cwd = os.getcwd()
        relative = _relative_to_cwd(spec.src, cwd)
        if os.path.isabs(spec.src) and not options.quiet:
            log(f"warning: embedding an absolute path {_q(spec.src)} as {_q(relative)}; use SRC@DST to place it")
        dst = relative
    if os.path.isdir(spec.src):
        _walk(spec.src, dst, excluded, skip, out)
    elif skip(os.path.basename(spec.src), spec.src):
        raise FilePackagerError(f"{_q(spec.src)} is an output of this run and cannot be packed")
    else:
        out.files.append(DataFile(spec.src, dst))


def _dedupe_and_check(files: list[DataFile]) -> list[DataFile]:
    """Sorts by destination, drops repeats of the same source, refuses clashes."""
    result: list[DataFile] = []
    by_dst: dict[str, DataFile] = {}
    for data_file in sorted(files, key=lambda f: f.dst):
        first = by_dst.get(data_file.dst)
        if first is None:
            by_dst[data_file.dst] = data_file
            result.append(data_file)
        elif os.path.realpath(first.src) != os.path.realpath(data_file.src):
            raise FilePackagerError(
                f"destination clash: {_q(first.src)} and {_q(data_file.src)} both map to {_q(data_file.dst)}"
            )
    for data_file in result:
        parent = posixpath.dirname(data_file.dst)
        while parent != "/":
            if parent in by_dst:
                raise FilePackagerError(
                    f"destination clash: {_q(by_dst[parent].src)} is packed as the file {_q(parent)}, "
                    f"but {_q(data_file.src)} needs it to be a directory"
                )
            parent = posixpath.dirname(parent)
    return result


def collect_files(options: Options, log: Log) -> tuple[list[DataFile], list[str]]:
    """Expands the ``--preload`` arguments into the sorted files to pack, and the directories walked."""
    outputs = options.output_paths
    skip = _Skip(frozenset(os.path.basename(p) for p in outputs), frozenset(os.path.abspath(p) for p in outputs))
    excluded = Excluder(options.excludes)
    collection = _Collection()
    for spec in options.preloads:
        _expand_spec(spec, options, excluded, skip, collection, log)
    files = [DataFile(f.src, _normalize_dst(f.dst, f.src)) for f in collection.files]
    return _dedupe_and_check(files), collection.walked_dirs


# --------------------------------------------------------------------------------------------------------------
# Writing the data


@dataclass(frozen=True)
class PackedFile:
    """A packed file: its source, destination and byte range in the (uncompressed) data stream."""

    src: str
    dst: str
    start: int
    end: int

    @property
    def audio(self) -> bool:
        return self.dst[-4:] in AUDIO_SUFFIXES


@dataclass(frozen=True)
class Lz4Table:
    """The ``compressedData`` table of emscripten's LZ4 runtime (without ``data``, which is the .data itself)."""

    cached_offset: int
    offsets: tuple[int, ...]
    sizes: tuple[int, ...]
    successes: tuple[int, ...]

    def to_json_object(self) -> dict[str, Any]:
        """Same keys and order as ``JSON.stringify`` of emscripten's ``MiniLZ4.compressPackage`` result."""
        return {
            "data": None,
            "cachedOffset": self.cached_offset,
            "cachedIndexes": [-1] * CACHED_CHUNKS,
            "cachedChunks": [None] * CACHED_CHUNKS,
            "offsets": list(self.offsets),
            "sizes": list(self.sizes),
            "successes": list(self.successes),
        }


class _Hasher(Protocol):
    def update(self, data: bytes | bytearray | memoryview, /) -> None: ...
    def digest(self) -> bytes: ...


def _new_hasher() -> _Hasher:
    """xxh3-128 (fast enough to be free next to the I/O); sha256 where the xxhash package is missing."""
    try:
        import xxhash
    except ImportError:  # pragma: no cover - xxhash is a dependency; the fallback only keeps odd setups working
        return hashlib.sha256()
    return xxhash.xxh3_128()


class _Sink:
    """Writes to the output file and hashes everything written."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.size = 0
        self.hasher = _new_hasher()

    def write(self, block: bytes | bytearray | memoryview) -> None:
        self.handle.write(block)
        self.hasher.update(block)
        self.size += len(block)


class _Lz4Writer:
    """Cuts the uncompressed stream into CHUNK_SIZE chunks; writes each as an LZ4 block, or raw when that is not
    smaller (emscripten's ``MiniLZ4.compressPackage`` layout: ``successes`` flags the compressed chunks)."""

    def __init__(self, sink: _Sink) -> None:
        import lz4.block  # only LZ4 mode pays for the import

        self._compress: Callable[..., bytes] = lz4.block.compress
        self.sink = sink
        self.pending = bytearray()
        self.sizes: list[int] = []
        self.successes: list[int] = []

    def write(self, block: memoryview) -> None:
        """Takes the next piece of the stream (``block`` may be reused by the caller afterwards)."""
        position = 0
        parts: list[bytes | memoryview] = []
        if self.pending:
            position = CHUNK_SIZE - len(self.pending)
            self.pending += block[:position]
            if len(self.pending) < CHUNK_SIZE:
                return
            self._compress_chunks(memoryview(bytes(self.pending)), 0, CHUNK_SIZE, parts)
            self.pending = bytearray()
        end = position + (len(block) - position) // CHUNK_SIZE * CHUNK_SIZE
        self._compress_chunks(block, position, end, parts)
        self.pending += block[end:]
        if parts:
            self.sink.write(b"".join(parts))

    def _compress_chunks(self, view: memoryview, start: int, end: int, parts: list[bytes | memoryview]) -> None:
        """The hot loop: one liblz4 call per chunk, no per-byte work."""
        compress, sizes, successes = self._compress, self.sizes, self.successes
        for position in range(start, end, CHUNK_SIZE):
            chunk = view[position : position + CHUNK_SIZE]
            compressed = compress(chunk, store_size=False)  # a raw LZ4 block, no size header
            if len(compressed) < len(chunk):
                parts.append(compressed)
                sizes.append(len(compressed))
                successes.append(1)
            else:
                parts.append(chunk)
                sizes.append(len(chunk))
                successes.append(0)

    def flush(self) -> None:
        """Writes the last, partial chunk."""
        if self.pending:
            parts: list[bytes | memoryview] = []
            self._compress_chunks(memoryview(bytes(self.pending)), 0, len(self.pending), parts)
            self.pending = bytearray()
            self.sink.write(b"".join(parts))

    def finish(self) -> Lz4Table:
        self.flush()
        cached_offset = sum(self.sizes)
        # Room for the runtime's two decompressed-chunk cache slots, as in emscripten's .data.
        self.sink.write(bytes(CHUNK_SIZE * CACHED_CHUNKS))
        offsets = tuple(itertools.accumulate(self.sizes[:-1], initial=0)) if self.sizes else ()
        return Lz4Table(cached_offset, offsets, tuple(self.sizes), tuple(self.successes))


def _stat_sizes(files: Sequence[DataFile]) -> list[int]:
    """Each file's size; the data layout is planned from these and every read is checked against them."""
    sizes: list[int] = []
    for data_file in files:
        try:
            info = os.stat(data_file.src)
        except OSError as error:
            raise _io_error("read", data_file.src, error) from error
        if not stat.S_ISREG(info.st_mode):
            raise FilePackagerError(f"{_q(data_file.src)} is not a regular file")
        sizes.append(info.st_size)
    return sizes


def _changed(path: str) -> FilePackagerError:
    return FilePackagerError(f"{_q(path)} changed while it was being packed")


def _read_part(path: str, size: int, first: int, last: int, view: memoryview) -> Iterator[memoryview]:
    """Bytes ``first..last`` of a file of ``size`` bytes, as views into ``view`` (valid until the next one)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as error:
        raise _io_error("read", path, error) from error
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FilePackagerError(f"{_q(path)} is not a regular file")
        if info.st_size != size:
            raise _changed(path)
        if first:
            os.lseek(fd, first, os.SEEK_SET)
        remaining = last - first
        while remaining:
            count = os.readv(fd, [view[: min(remaining, len(view))]])
            if not count:
                raise _changed(path)
            yield view[:count]
            remaining -= count
        if last == size and os.read(fd, 1):
            raise _changed(path)
    except OSError as error:
        raise _io_error("read", path, error) from error
    finally:
        os.close(fd)


def _read_stream(files: Sequence[DataFile], sizes: Sequence[int], lo: int, hi: int) -> Iterator[memoryview]:
    """Bytes ``lo..hi`` of the concatenation of ``files`` (empty files are opened by the range holding them)."""
    view = memoryview(bytearray(READ_BLOCK))
    total = sum(sizes)
    start = 0
    for data_file, size in zip(files, sizes, strict=True):
        end = start + size
        overlaps = end > lo and start < hi if size else lo <= start and (start < hi or hi == total)
        if overlaps:
            yield from _read_part(data_file.src, size, max(lo - start, 0), min(hi, end) - start, view)
        start = end


def _parallel_split(total: int) -> int | None:
    """Where a second process takes over LZ4 compression (a chunk boundary), or None to stay sequential."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if total < PARALLEL_MIN_BYTES or cpus < 2 or not hasattr(os, "fork") or threading.active_count() > 1:
        return None
    return (total // CHUNK_SIZE + 1) // 2 * CHUNK_SIZE


def _compress_in_child(files: Sequence[DataFile], sizes: Sequence[int], lo: int, part: str, pipe: int) -> None:
    """Runs in the forked child: compresses the stream from ``lo`` into ``part``, reports on ``pipe``, exits."""
    code = 1
    try:
        with open(part, "wb") as handle:
            writer = _Lz4Writer(_Sink(handle))
            for block in _read_stream(files, sizes, lo, sum(sizes)):
                writer.write(block)
            writer.flush()
        message = json.dumps({"sizes": writer.sizes, "successes": writer.successes})
        code = 0
    except FilePackagerError as error:
        message = json.dumps({"error": str(error)})
    except BaseException as error:  # report anything, never run the parent's code in the child
        message = json.dumps({"error": f"LZ4 worker failed: {error!r}"})
    finally:
        try:
            with open(pipe, "w", encoding="utf-8") as report:
                report.write(message)
        finally:
            os._exit(code)


def _run_parallel_lz4(
    files: Sequence[DataFile], sizes: Sequence[int], split: int, writer: _Lz4Writer, scratch: str
) -> None:
    """Compresses ``0..split`` here and ``split..end`` in a forked child at the same time, then appends the
    child's chunks: the bytes are the same as a sequential run's, as each chunk is compressed on its own."""
    part = f"{scratch}.{os.getpid()}.lz4part"
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child's coverage is not collected
        os.close(read_end)
        _compress_in_child(files, sizes, split, part, write_end)
    os.close(write_end)
    finished = False
    try:
        for block in _read_stream(files, sizes, 0, split):
            writer.write(block)
        with open(read_end, encoding="utf-8", closefd=False) as report_file:
            report = json.loads(report_file.read() or '{"error": "LZ4 worker died"}')
        os.waitpid(pid, 0)
        finished = True
        if "error" in report:
            raise FilePackagerError(report["error"])
        with open(part, "rb") as handle:
            while piece := handle.read(READ_BLOCK):
                writer.sink.write(piece)
        writer.sizes += report["sizes"]
        writer.successes += report["successes"]
    finally:
        if not finished:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(read_end)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(part)


@dataclass(frozen=True)
class _DataWritten:
    files: tuple[PackedFile, ...]
    size: int
    digest: bytes
    lz4: Lz4Table | None


def write_data(files: Sequence[DataFile], handle: BinaryIO, use_lz4: bool, scratch: str | None = None) -> _DataWritten:
    """Streams the files into ``handle`` (plain concatenation, or emscripten's chunked LZ4 layout).

    ``scratch`` is a path prefix for a temporary file of the parallel LZ4 mode (None: stay sequential).
    """
    sizes = _stat_sizes(files)
    total = sum(sizes)
    offsets = tuple(itertools.accumulate(sizes, initial=0))
    packed = tuple(PackedFile(f.src, f.dst, offsets[i], offsets[i + 1]) for i, f in enumerate(files))
    sink = _Sink(handle)
    table = None
    if not use_lz4:
        for block in _read_stream(files, sizes, 0, total):
            sink.write(block)
    else:
        writer = _Lz4Writer(sink)
        split = _parallel_split(total) if scratch else None
        if split is None or scratch is None:
            for block in _read_stream(files, sizes, 0, total):
                writer.write(block)
        else:
            _run_parallel_lz4(files, sizes, split, writer, scratch)
        table = writer.finish()
    return _DataWritten(packed, sink.size, sink.hasher.digest(), table)


def package_uuid(digest: bytes) -> str:
    """A deterministic ``package_uuid``: the .data's 128-bit content hash, formatted as a UUID."""
    text = digest[:16].hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def build_metadata(files: Sequence[PackedFile], size: int, uuid_text: str) -> dict[str, Any]:
    """emscripten's metadata object (same keys, same order)."""
    entries: list[dict[str, Any]] = []
    for packed in files:
        entry: dict[str, Any] = {"filename": packed.dst, "start": packed.start, "end": packed.end}
        if packed.audio:
            entry["audio"] = 1
        entries.append(entry)
    return {"files": entries, "remote_package_size": size, "package_uuid": uuid_text}


# --------------------------------------------------------------------------------------------------------------
# Generating the JS (emscripten 3.1.6's template, with every embedded string a JSON literal)


def js_literal(value: object) -> str:
    """A JSON literal that is also safe inside an HTML ``<script>`` (no ``</script>``, ``<!--``, U+2028/9)."""
    text = json.dumps(value, ensure_ascii=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


_PLACEHOLDER = re.compile(r"@([A-Z_]+)@")


def _fill(template: str, **values: str) -> str:
    """Replaces ``@NAME@`` placeholders in one pass (values are never rescanned); all must be given and used."""
    used: set[str] = set()

    def substitute(match: re.Match[str]) -> str:
        used.add(match.group(1))
        return values[match.group(1)]

    result = _PLACEHOLDER.sub(substitute, template)
    if used != set(values):
        raise AssertionError(f"template placeholders {sorted(used)} != values {sorted(values)}")
    return result


def _create_path_calls(files: Sequence[PackedFile]) -> str:
    seen: set[str] = set()
    lines: list[str] = []
    for packed in files:
        parts = posixpath.dirname(packed.dst).lstrip("/").split("/")
        if parts == [""]:
            continue
        for index in range(len(parts)):
            partial = "/".join(parts[: index + 1])
            if partial not in seen:
                seen.add(partial)
                parent = "/" + "/".join(parts[:index])
                name = parts[index]
                lines.append(f"Module['FS_createPath']({js_literal(parent)}, {js_literal(name)}, true, true);\n")
    return "".join(lines)


_JS_HEADER = """
  var Module = typeof @EXPORT_NAME@ !== 'undefined' ? @EXPORT_NAME@ : {};

  if (!Module.expectedDataFileDownloads) {
    Module.expectedDataFileDownloads = 0;
  }

  Module.expectedDataFileDownloads++;
  (function() {
    // When running as a pthread, FS operations are proxied to the main thread, so we don't need to
    // fetch the .data bundle on the worker
    if (Module['ENVIRONMENT_IS_PTHREAD']) return;
    function err(text) {
      (Module['printErr'] || console.error)(text);
    }
@NODE_HELPERS@
    var loadPackage = function(metadata) {
"""

_JS_NODE_HELPERS = """
    var ENVIRONMENT_IS_NODE = typeof process === 'object' && typeof process.versions === 'object' &&
      typeof process.versions.node === 'string';
    function nodeReadFile(filename, callback, errback) {
      var fs = typeof require === 'function' ? require('fs') :
        (typeof process.getBuiltinModule === 'function' ? process.getBuiltinModule('fs') : null);
      if (!fs) {
        errback(new Error('cannot load the Node.js fs module to read ' + filename));
        return;
      }
      fs.readFile(filename, function(error, contents) {
        if (error) {
          errback(error);
          return;
        }
        var buffer = contents.buffer;
        if (contents.byteOffset !== 0 || contents.byteLength !== buffer.byteLength) {
          buffer = buffer.slice(contents.byteOffset, contents.byteOffset + contents.byteLength);
        }
        callback(buffer);
      });
    }
"""

_JS_PACKAGE_VARS = """
      var PACKAGE_PATH = '';
      if (typeof window === 'object') {
        PACKAGE_PATH = window['encodeURIComponent'](window.location.pathname.toString().substring(0,
          window.location.pathname.toString().lastIndexOf('/')) + '/');
      } else if (typeof process === 'undefined' && typeof location !== 'undefined') {
        // web worker
        PACKAGE_PATH = encodeURIComponent(location.pathname.toString().substring(0,
          location.pathname.toString().lastIndexOf('/')) + '/');
      }
      var PACKAGE_NAME = @PACKAGE_NAME@;
      var REMOTE_PACKAGE_BASE = @PACKAGE_NAME@;
      if (typeof Module['locateFilePackage'] === 'function' && !Module['locateFile']) {
        Module['locateFile'] = Module['locateFilePackage'];
        err('warning: you defined Module.locateFilePackage, that has been renamed to Module.locateFile ' +
            '(using your locateFilePackage for now)');
      }
      var REMOTE_PACKAGE_NAME = Module['locateFile'] ? Module['locateFile'](REMOTE_PACKAGE_BASE, '') :
        REMOTE_PACKAGE_BASE;

      var REMOTE_PACKAGE_SIZE = metadata['remote_package_size'];
      var PACKAGE_UUID = metadata['package_uuid'];
"""

_JS_FETCH = """
      function fetchRemotePackage(packageName, packageSize, callback, errback) {
        @NODE_FETCH@
        var xhr = new XMLHttpRequest();
        xhr.open('GET', packageName, true);
        xhr.responseType = 'arraybuffer';
        xhr.onprogress = function(event) {
          var url = packageName;
          var size = packageSize;
          if (event.total) size = event.total;
          if (event.loaded) {
            if (!xhr.addedTotal) {
              xhr.addedTotal = true;
              if (!Module.dataFileDownloads) Module.dataFileDownloads = {};
              Module.dataFileDownloads[url] = {
                loaded: event.loaded,
                total: size
              };
            } else {
              Module.dataFileDownloads[url].loaded = event.loaded;
            }
            var total = 0;
            var loaded = 0;
            var num = 0;
            for (var download in Module.dataFileDownloads) {
            var data = Module.dataFileDownloads[download];
              total += data.total;
              loaded += data.loaded;
              num++;
            }
            total = Math.ceil(total * Module.expectedDataFileDownloads/num);
            if (Module['setStatus']) Module['setStatus']('Downloading data... (' + loaded + '/' + total + ')');
          } else if (!Module.dataFileDownloads) {
            if (Module['setStatus']) Module['setStatus']('Downloading data...');
          }
        };
        xhr.onerror = function(event) {
          throw new Error("NetworkError for: " + packageName);
        }
        xhr.onload = function(event) {
          // file URLs can return 0
          if (xhr.status == 200 || xhr.status == 304 || xhr.status == 206 || (xhr.status == 0 && xhr.response)) {
            var packageData = xhr.response;
            callback(packageData);
          } else {
            throw new Error(xhr.statusText + " : " + xhr.responseURL);
          }
        };
        xhr.send(null);
      };

      function handleError(error) {
        console.error('package error:', error);
      };
"""

_JS_NODE_FETCH = """if (ENVIRONMENT_IS_NODE) {
          nodeReadFile(packageName, callback, errback);
          return;
        }"""

_JS_ASSERT = """
      function assert(check, msg) {
        if (!check) throw msg + new Error().stack;
      }
"""

_JS_CREATE_PRELOADED = """
          Module['FS_createPreloadedFile'](this.name, null, byteArray, true, true, function() {
            Module['removeRunDependency']('fp ' + that.name);
          }, function() {
            if (that.audio) {
              // workaround for chromium bug 124926 (still no audio with this, but at least we don't hang)
              Module['removeRunDependency']('fp ' + that.name);
            } else {
              err('Preloading file ' + that.name + ' failed');
            }
          }, false, true); // canOwn this data in the filesystem, it is a slide into the heap that will never change
"""

_JS_CREATE_DATA = """// canOwn this data in the filesystem, it is a slide into the heap that will never change
          Module['FS_createDataFile'](this.name, null, byteArray, true, true, true);
          Module['removeRunDependency']('fp ' + that.name);"""

_JS_DATA_REQUEST = """
      /** @constructor */
      function DataRequest(start, end, audio) {
        this.start = start;
        this.end = end;
        this.audio = audio;
      }
      DataRequest.prototype = {
        requests: Object.create(null),
        open: function(mode, name) {
          this.name = name;
          this.requests[name] = this;
          Module['addRunDependency']('fp ' + this.name);
        },
        send: function() {},
        onload: function() {
          var byteArray = this.byteArray.subarray(this.start, this.end);
          this.finish(byteArray);
        },
        finish: function(byteArray) {
          var that = this;
          @CREATE@
          this.requests[this.name] = null;
        }
      };

      var files = metadata['files'];
      for (var i = 0; i < files.length; ++i) {
        new DataRequest(files[i]['start'], files[i]['end'], files[i]['audio'] || 0).open('GET', files[i]['filename']);
      }
"""

_JS_USE_DATA_PLAIN = """// Reuse the bytearray from the XHR as the source for file reads.
          DataRequest.prototype.byteArray = byteArray;
          var files = metadata['files'];
          for (var i = 0; i < files.length; ++i) {
            DataRequest.prototype.requests[files[i].filename].onload();
          }
          Module['removeRunDependency'](@DATAFILE_DEP@);"""

_JS_USE_DATA_LZ4 = """var compressedData = @COMPRESSED@;
            compressedData['data'] = byteArray;
            assert(typeof Module['LZ4'] === 'object', 'LZ4 not present - was your app build with  -s LZ4=1  ?');
            Module['LZ4'].loadPackage({ 'metadata': metadata, 'compressedData': compressedData }, @PLUGINS@);
            Module['removeRunDependency'](@DATAFILE_DEP@);"""

_JS_PROCESS = """
      function processPackageData(arrayBuffer) {
        assert(arrayBuffer, 'Loading data file failed.');
        assert(arrayBuffer instanceof ArrayBuffer ||
               Object.prototype.toString.call(arrayBuffer) === '[object ArrayBuffer]',
               'bad input to processPackageData');
        var byteArray = new Uint8Array(arrayBuffer);
        var curr;
        @USE_DATA@
      };
      Module['addRunDependency'](@DATAFILE_DEP@);

      if (!Module.preloadResults) Module.preloadResults = {};
"""

_JS_IDB = r"""
        var indexedDB;
        if (typeof window === 'object') {
          indexedDB = window.indexedDB || window.mozIndexedDB || window.webkitIndexedDB || window.msIndexedDB;
        } else if (typeof location !== 'undefined') {
          // worker
          indexedDB = self.indexedDB;
        } else {
          throw 'using IndexedDB to cache data can only be done on a web page or in a web worker';
        }
        var IDB_RO = "readonly";
        var IDB_RW = "readwrite";
        var DB_NAME = @DB_NAME@;
        var DB_VERSION = 1;
        var METADATA_STORE_NAME = 'METADATA';
        var PACKAGE_STORE_NAME = 'PACKAGES';
        function openDatabase(callback, errback) {
          try {
            var openRequest = indexedDB.open(DB_NAME, DB_VERSION);
          } catch (e) {
            return errback(e);
          }
          openRequest.onupgradeneeded = function(event) {
            var db = /** @type {IDBDatabase} */ (event.target.result);

            if (db.objectStoreNames.contains(PACKAGE_STORE_NAME)) {
              db.deleteObjectStore(PACKAGE_STORE_NAME);
            }
            var packages = db.createObjectStore(PACKAGE_STORE_NAME);

            if (db.objectStoreNames.contains(METADATA_STORE_NAME)) {
              db.deleteObjectStore(METADATA_STORE_NAME);
            }
            var metadata = db.createObjectStore(METADATA_STORE_NAME);
          };
          openRequest.onsuccess = function(event) {
            var db = /** @type {IDBDatabase} */ (event.target.result);
            callback(db);
          };
          openRequest.onerror = function(error) {
            errback(error);
          };
        };

        // This is needed as chromium has a limit on per-entry files in IndexedDB
        // https://cs.chromium.org/chromium/src/content/renderer/indexed_db/webidbdatabase_impl.cc?type=cs&sq=package:chromium&g=0&l=177
        // https://cs.chromium.org/chromium/src/out/Debug/gen/third_party/blink/public/mojom/indexeddb/indexeddb.mojom.h?type=cs&sq=package:chromium&g=0&l=60
        // We set the chunk size to 64MB to stay well-below the limit
        var CHUNK_SIZE = 64 * 1024 * 1024;

        function cacheRemotePackage(
          db,
          packageName,
          packageData,
          packageMeta,
          callback,
          errback
        ) {
          var transactionPackages = db.transaction([PACKAGE_STORE_NAME], IDB_RW);
          var packages = transactionPackages.objectStore(PACKAGE_STORE_NAME);
          var chunkSliceStart = 0;
          var nextChunkSliceStart = 0;
          var chunkCount = Math.ceil(packageData.byteLength / CHUNK_SIZE);
          var finishedChunks = 0;
          for (var chunkId = 0; chunkId < chunkCount; chunkId++) {
            nextChunkSliceStart += CHUNK_SIZE;
            var putPackageRequest = packages.put(
              packageData.slice(chunkSliceStart, nextChunkSliceStart),
              'package/' + packageName + '/' + chunkId
            );
            chunkSliceStart = nextChunkSliceStart;
            putPackageRequest.onsuccess = function(event) {
              finishedChunks++;
              if (finishedChunks == chunkCount) {
                var transaction_metadata = db.transaction(
                  [METADATA_STORE_NAME],
                  IDB_RW
                );
                var metadata = transaction_metadata.objectStore(METADATA_STORE_NAME);
                var putMetadataRequest = metadata.put(
                  {
                    'uuid': packageMeta.uuid,
                    'chunkCount': chunkCount
                  },
                  'metadata/' + packageName
                );
                putMetadataRequest.onsuccess = function(event) {
                  callback(packageData);
                };
                putMetadataRequest.onerror = function(error) {
                  errback(error);
                };
              }
            };
            putPackageRequest.onerror = function(error) {
              errback(error);
            };
          }
        }

        /* Check if there's a cached package, and if so whether it's the latest available */
        function checkCachedPackage(db, packageName, callback, errback) {
          var transaction = db.transaction([METADATA_STORE_NAME], IDB_RO);
          var metadata = transaction.objectStore(METADATA_STORE_NAME);
          var getRequest = metadata.get('metadata/' + packageName);
          getRequest.onsuccess = function(event) {
            var result = event.target.result;
            if (!result) {
              return callback(false, null);
            } else {
              return callback(PACKAGE_UUID === result['uuid'], result);
            }
          };
          getRequest.onerror = function(error) {
            errback(error);
          };
        }

        function fetchCachedPackage(db, packageName, metadata, callback, errback) {
          var transaction = db.transaction([PACKAGE_STORE_NAME], IDB_RO);
          var packages = transaction.objectStore(PACKAGE_STORE_NAME);

          var chunksDone = 0;
          var totalSize = 0;
          var chunkCount = metadata['chunkCount'];
          var chunks = new Array(chunkCount);

          for (var chunkId = 0; chunkId < chunkCount; chunkId++) {
            var getRequest = packages.get('package/' + packageName + '/' + chunkId);
            getRequest.onsuccess = function(event) {
              // If there's only 1 chunk, there's nothing to concatenate it with so we can just return it now
              if (chunkCount == 1) {
                callback(event.target.result);
              } else {
                chunksDone++;
                totalSize += event.target.result.byteLength;
                chunks.push(event.target.result);
                if (chunksDone == chunkCount) {
                  if (chunksDone == 1) {
                    callback(event.target.result);
                  } else {
                    var tempTyped = new Uint8Array(totalSize);
                    var byteOffset = 0;
                    for (var chunkId in chunks) {
                      var buffer = chunks[chunkId];
                      tempTyped.set(new Uint8Array(buffer), byteOffset);
                      byteOffset += buffer.byteLength;
                      buffer = undefined;
                    }
                    chunks = undefined;
                    callback(tempTyped.buffer);
                    tempTyped = undefined;
                  }
                }
              }
            };
            getRequest.onerror = function(error) {
              errback(error);
            };
          }
        }
"""

_JS_IDB_START = """
        function preloadFallback(error) {
          console.error(error);
          console.error('falling back to default preload behavior');
          fetchRemotePackage(REMOTE_PACKAGE_NAME, REMOTE_PACKAGE_SIZE, processPackageData, handleError);
        };

        openDatabase(
          function(db) {
            checkCachedPackage(db, PACKAGE_PATH + PACKAGE_NAME,
              function(useCached, metadata) {
                Module.preloadResults[PACKAGE_NAME] = {fromCache: useCached};
                if (useCached) {
                  fetchCachedPackage(db, PACKAGE_PATH + PACKAGE_NAME, metadata, processPackageData, preloadFallback);
                } else {
                  fetchRemotePackage(REMOTE_PACKAGE_NAME, REMOTE_PACKAGE_SIZE,
                    function(packageData) {
                      cacheRemotePackage(db, PACKAGE_PATH + PACKAGE_NAME, packageData, {uuid:PACKAGE_UUID},
                        processPackageData,
                        function(error) {
                          console.error(error);
                          processPackageData(packageData);
                        });
                    }
                  , preloadFallback);
                }
              }
            , preloadFallback);
          }
        , preloadFallback);

        if (Module['setStatus']) Module['setStatus']('Downloading...');
"""

_JS_EARLY_FETCH = """
      var fetchedCallback = null;
      var fetched = Module['getPreloadedPackage'] ?
        Module['getPreloadedPackage'](REMOTE_PACKAGE_NAME, REMOTE_PACKAGE_SIZE) : null;

      if (!fetched) fetchRemotePackage(REMOTE_PACKAGE_NAME, REMOTE_PACKAGE_SIZE, function(data) {
        if (fetchedCallback) {
          fetchedCallback(data);
          fetchedCallback = null;
        } else {
          fetched = data;
        }
      }, handleError);
"""

_JS_USE_FETCHED = """
      Module.preloadResults[PACKAGE_NAME] = {fromCache: false};
      if (fetched) {
        processPackageData(fetched);
        fetched = null;
      } else {
        fetchedCallback = processPackageData;
      }
"""

_JS_RUN_WITH_FS = """
    function runWithFS() {
@CODE@
    }
    if (Module['calledRun']) {
      runWithFS();
    } else {
      if (!Module['preRun']) Module['preRun'] = [];
      Module["preRun"].push(runWithFS); // FS is not initialized yet, wait for it
    }
"""

_JS_INLINE_METADATA = """
    }
    loadPackage(@METADATA@);

  })();
"""

_JS_SEPARATE_METADATA = """
    Module['removeRunDependency'](@METADATA_FILE@);
  }

  function runMetaWithFS() {
    Module['addRunDependency'](@METADATA_FILE@);
    var REMOTE_METADATA_NAME = Module['locateFile'] ? Module['locateFile'](@METADATA_FILE@, '') : @METADATA_FILE@;
    function metadataError(error) {
      console.error('package metadata error:', REMOTE_METADATA_NAME, error);
    }
@NODE_METADATA@
    var xhr = new XMLHttpRequest();
    xhr.onreadystatechange = function() {
      if (xhr.readyState !== 4) return;
      if (xhr.status === 200 || (xhr.status === 0 && xhr.responseText)) { // file URLs can return 0
        loadPackage(JSON.parse(xhr.responseText));
      } else {
        metadataError(new Error(xhr.statusText + ' : ' + xhr.responseURL));
      }
    }
    xhr.open('GET', REMOTE_METADATA_NAME, true);
    xhr.overrideMimeType('application/json');
    xhr.send(null);
  }

  if (Module['calledRun']) {
    runMetaWithFS();
  } else {
    if (!Module['preRun']) Module['preRun'] = [];
    Module["preRun"].push(runMetaWithFS);
  }

  })();
"""

_JS_NODE_METADATA = """    if (ENVIRONMENT_IS_NODE) {
      nodeReadFile(REMOTE_METADATA_NAME, function(buffer) {
        loadPackage(JSON.parse(new TextDecoder('utf-8').decode(new Uint8Array(buffer))));
      }, metadataError);
      return;
    }"""


@dataclass(frozen=True)
class _JsInputs:
    options: Options
    files: tuple[PackedFile, ...]
    metadata: dict[str, Any]
    lz4: Lz4Table | None


def _runtime_code(inputs: _JsInputs, datafile_dep: str) -> str:
    """The body of ``runWithFS``: directories, file creation, and fetching/processing the package."""
    options = inputs.options
    code = _JS_ASSERT + _create_path_calls(inputs.files)
    if inputs.lz4 is None:
        create = _JS_CREATE_PRELOADED if options.use_preload_plugins else _JS_CREATE_DATA
        code += _fill(_JS_DATA_REQUEST, CREATE=create)
        use_data = _fill(_JS_USE_DATA_PLAIN, DATAFILE_DEP=datafile_dep)
    else:
        compressed = json.dumps(inputs.lz4.to_json_object(), separators=(",", ":"))
        plugins = "true" if options.use_preload_plugins else "false"
        use_data = _fill(_JS_USE_DATA_LZ4, COMPRESSED=compressed, PLUGINS=plugins, DATAFILE_DEP=datafile_dep)
    if options.use_preload_cache:
        code += _fill(_JS_IDB, DB_NAME=js_literal(options.indexeddb_name))
    code += _fill(_JS_PROCESS, USE_DATA=use_data, DATAFILE_DEP=datafile_dep)
    code += _JS_IDB_START if options.use_preload_cache else _JS_USE_FETCHED
    return code


def generate_js(inputs: _JsInputs) -> str:
    """The loader JS, following emscripten 3.1.6's template."""
    options = inputs.options
    package_name = os.path.basename(options.data_target)
    datafile_dep = js_literal("datafile_" + package_name)
    node_helpers = _JS_NODE_HELPERS if options.support_node else ""
    js = _fill(_JS_HEADER, EXPORT_NAME=options.export_name, NODE_HELPERS=node_helpers)
    js += _fill(_JS_PACKAGE_VARS, PACKAGE_NAME=js_literal(package_name))
    js += _fill(_JS_FETCH, NODE_FETCH=_JS_NODE_FETCH if options.support_node else "")
    if not options.use_preload_cache:
        js += _JS_EARLY_FETCH
    js += _fill(_JS_RUN_WITH_FS, CODE=_runtime_code(inputs, datafile_dep))
    metadata_output = options.metadata_output
    if metadata_output is None:
        return js + _fill(_JS_INLINE_METADATA, METADATA=js_literal(inputs.metadata))
    node_metadata = _JS_NODE_METADATA if options.support_node else ""
    return js + _fill(
        _JS_SEPARATE_METADATA,
        METADATA_FILE=js_literal(os.path.basename(metadata_output)),
        NODE_METADATA=node_metadata,
    )


# --------------------------------------------------------------------------------------------------------------
# Depfile


def _escape_for_makefile(path: str) -> str:
    if "\n" in path or "\r" in path:
        raise FilePackagerError(f"cannot write a depfile entry for {_q(path)} (newline in the name)")
    return path.replace(os.sep, "/").replace("$", "$$").replace("#", "\\#").replace(" ", "\\ ")


def depfile_text(options: Options, files: Sequence[PackedFile], walked_dirs: Sequence[str]) -> str:
    """Make-style dependencies like newer emscripten: the outputs, then every packed file and walked directory."""
    targets = [options.data_target] + ([options.js_output] if options.js_output else [])
    lines = [f"{_escape_for_makefile(target)} \\\n" for target in targets]
    lines.append(": \\\n")
    dependencies = sorted({*walked_dirs, *(packed.src for packed in files)})
    lines.extend(f"{_escape_for_makefile(path)} \\\n" for path in dependencies)
    return "".join(lines)


# --------------------------------------------------------------------------------------------------------------
# Atomic outputs


class AtomicOutputs:
    """Temporary files next to their destinations, renamed into place by :meth:`commit`, removed otherwise."""

    def __init__(self) -> None:
        self._pending: list[tuple[str, str]] = []

    def __enter__(self) -> AtomicOutputs:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.discard()

    def open(self, path: str) -> BinaryIO:
        """A new binary temporary file (``.NAME.PID.N.tmp`` beside ``path``) that will become ``path``."""
        directory, name = os.path.split(os.path.abspath(path))
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        for attempt in itertools.count():
            temp = os.path.join(directory, f".{name}.{os.getpid()}.{attempt}.tmp")
            try:
                fd = os.open(temp, flags, 0o666)  # the umask applies, as for a plain open()
            except FileExistsError:
                continue
            except OSError as error:
                raise _io_error("create output", path, error) from error
            self._pending.append((temp, path))
            return open(fd, "wb")
        raise AssertionError("unreachable")

    def write_text(self, path: str, text: str, keep_if_same: bool = False) -> None:
        """Writes ``text`` (UTF-8); with ``keep_if_same`` an identical existing file is left untouched."""
        data = text.encode("utf-8")
        if keep_if_same and _has_content(path, data):
            return
        with self.open(path) as handle:
            try:
                handle.write(data)
            except OSError as error:
                raise _io_error("write", path, error) from error

    def commit(self) -> None:
        while self._pending:
            temp, path = self._pending[0]
            try:
                os.replace(temp, path)
            except OSError as error:
                raise _io_error("write", path, error) from error
            self._pending.pop(0)

    def discard(self) -> None:
        for temp, _ in self._pending:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
        self._pending.clear()


def _has_content(path: str, data: bytes) -> bool:
    try:
        if os.path.getsize(path) != len(data):
            return False
        with open(path, "rb") as handle:
            return handle.read() == data
    except OSError:
        return False


# --------------------------------------------------------------------------------------------------------------
# Public entry points


@dataclass(frozen=True)
class PackResult:
    """What :func:`pack` did. ``written`` is False when ``--no-force`` found nothing to pack."""

    files: tuple[PackedFile, ...]
    data_size: int
    package_uuid: str
    metadata: dict[str, Any]
    js: str
    written: bool
    lz4: Lz4Table | None = None


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


def pack(options: Options, log: Log = _stderr) -> PackResult:
    """Packs ``options.preloads`` into ``options.data_target`` and writes the JS (unless ``js_output`` is None:
    then the JS is only returned), the separate metadata and the depfile. All or nothing."""
    validate_options(options)
    files, walked_dirs = collect_files(options, log)
    if not files:
        if options.force:
            raise FilePackagerError("Nothing to do! (no file to pack)")
        log("Nothing to do!")
        return PackResult((), 0, "", {"files": []}, "", written=False)
    with AtomicOutputs() as outputs:
        with outputs.open(options.data_target) as handle:
            try:
                written = write_data(files, handle, options.lz4, scratch=os.path.abspath(options.data_target))
            except OSError as error:
                raise _io_error("write", options.data_target, error) from error
        if written.size > BIG_BUNDLE_BYTES:
            log(
                f"warning: file packager is creating an asset bundle of {written.size // (1024 * 1024)} MB. "
                "this is very large, and browsers might have trouble loading it."
            )
        metadata = build_metadata(written.files, written.size, package_uuid(written.digest))
        js = generate_js(_JsInputs(options, written.files, metadata, written.lz4))
        if options.js_output:
            outputs.write_text(options.js_output, js, keep_if_same=True)
        if options.metadata_output:
            outputs.write_text(options.metadata_output, json.dumps(metadata, separators=(",", ":")))
        if options.depfile:
            outputs.write_text(options.depfile, depfile_text(options, written.files, walked_dirs))
        outputs.commit()
    if not options.quiet:  # emscripten prints it first; here it comes last so that errors stay one line
        log(
            "Remember to build the main file with `-sFORCE_FILESYSTEM` "
            "so that it includes support for loading this file package"
        )
    return PackResult(written.files, written.size, metadata["package_uuid"], metadata, js, True, written.lz4)


def main(argv: Sequence[str] | None = None, stdout: IO[str] | None = None) -> int:
    """The command line: emscripten's file_packager arguments; returns the exit code."""
    args = sys.argv[1:] if argv is None else list(argv)
    if not args:
        _stderr(USAGE)
        return 1
    try:
        options = parse_args(args, log=_stderr)
        result = pack(options)
    except FilePackagerError as error:
        _stderr(f"file_packager: error: {error}")
        return 1
    except OSError as error:  # anything not attributed to a path above
        _stderr(f"file_packager: error: {_q(str(error.filename))}: {error.strerror or error}")
        return 1
    if result.written and options.js_output is None:
        print(result.js, file=stdout or sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
