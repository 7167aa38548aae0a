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

``--args-file=FILE`` (not in emscripten; for command lines too long for the OS): FILE holds further arguments,
one per line (Bazel's "multiline" param file format: no quoting, a trailing newline is optional); they are inserted
in place of the flag, so the target itself may come from the file too.  Nested ``--args-file`` flags are expanded
as well.  ``@FILE`` is not expanded here (emscripten's packer does not either); the rules pass their whole command
line as ``rules-pyodide @FILE``, which rules_pyodide.cli expands.

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

from rules_pyodide.errors import RulesPyodideError, prog, run_command
from rules_pyodide.file_packager_js import JsInputs, generate_js

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

PROG = prog("file-packager")
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


class FilePackagerError(RulesPyodideError):
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
        js = generate_js(
            JsInputs(
                package_name=os.path.basename(options.data_target),
                destinations=tuple(packed.dst for packed in written.files),
                metadata=metadata,
                lz4_table=written.lz4.to_json_object() if written.lz4 else None,
                export_name=options.export_name,
                support_node=options.support_node,
                use_preload_cache=options.use_preload_cache,
                use_preload_plugins=options.use_preload_plugins,
                indexeddb_name=options.indexeddb_name,
                metadata_file=os.path.basename(options.metadata_output) if options.metadata_output else None,
            )
        )
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
    return run_command(PROG, lambda: _command(args, stdout))


def _command(args: Sequence[str], stdout: IO[str] | None) -> None:
    try:
        options = parse_args(args, log=_stderr)
        result = pack(options)
    except OSError as error:  # anything not attributed to a path above
        raise FilePackagerError(f"{_q(str(error.filename))}: {error.strerror or error}") from error
    if result.written and options.js_output is None:
        print(result.js, file=stdout or sys.stdout)


if __name__ == "__main__":
    sys.exit(main())
