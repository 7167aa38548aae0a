"""Pinned Emscripten toolchain trees, built from Debian packages at exact versions into a per-user cache.

    rules-pyodide toolchain-tree lock --suite trixie --package emscripten ... --out toolchains/trees/NAME.lock.json
    rules-pyodide toolchain-tree build --lock toolchains/trees/NAME.lock.json [--cache-dir DIR] [--mirror URL]
    rules-pyodide toolchain-tree verify --tree DIR --lock toolchains/trees/NAME.lock.json [--fast]

`lock` (a developer command, run deliberately) resolves the dependency closure of the given packages with apt-get
itself, in a private apt configuration (its own sources.list for the suite, an empty dpkg status, Debian's archive
keyring), and writes every .deb's name, version, architecture, pool path, size and sha256, sorted. Pool paths are
relative to the mirror; the mirror is taken from the host's apt sources at run time (or `--mirror`).

`build` downloads the locked .debs into `<cache>/debs/` (checked against the lock), unpacks them in sorted order (no
maintainer scripts), writes wrapper scripts that run the tree's own ELF binaries through the tree's own loader (so the
tree runs on Debian 12 and 13 hosts alike, without chroot or root), an emscripten config file whose paths are relative
to its own location, and the manifest `TREE.json`. The tree is built in a temporary directory inside the cache and
renamed into `<cache>/<name>-<first 16 hex of the lock file's sha256>` at the end; nothing is left on failure. A tree
that is already there with a matching manifest is returned at once.

`verify` recomputes a tree's digest (every entry's relative path, type, executable bit and content sha256 or link
target) and compares it with the lock; `--fast` only checks the manifest against the lock and the entry count.
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import hashlib
import io
import json
import lzma
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from rules_pyodide.errors import RulesPyodideError, prog, run_command
from rules_pyodide.outputs import atomic_file, sha256_file, write_atomic

PROG = prog("toolchain-tree")
MANIFEST = "TREE.json"
ENTRIES = "TREE.entries"  # one JSON line per entry (path, kind, content): tells which file differs on a mismatch
CONFIG = "emscripten.config"
WRAPPERS = "wrappers/bin"
EMSCRIPTEN_ROOT = "usr/share/emscripten"
NODE_PATH = "usr/share/nodejs"
KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
LOCK_SUFFIX = ".lock.json"
LOCK_FORMAT = 1
TREE_FORMAT = 2
_TIMEOUT_S = 120
_CHUNK = 1 << 20
# Candidate locations of the dynamic loader and of shared-library directories, relative to a tree's root
# (bookworm ships them under /lib, trixie under /usr/lib).
_LOADERS = (
    "lib64/ld-linux-x86-64.so.2",
    "usr/lib64/ld-linux-x86-64.so.2",
    "lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
    "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
)
_LIB_DIRS = ("lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu", "lib64", "usr/lib64")
# Packages whose usr/bin ELF programs get a wrapper (LLVM's come from usr/lib/llvm-N/bin).
_WRAPPED_PACKAGES = ("binaryen", "nodejs")
# Debian's libnode loads some of its builtins (cjs-module-lexer, undici, acorn, ...) from files under this absolute
# directory, compiled in, and aborts when they are missing. The tree's libnode is patched to read them through a
# directory descriptor instead, which the node wrapper opens on the tree's own usr/share/nodejs (same length: the
# ELF layout is unchanged).
_NODEJS_DIR = b"/usr/share/nodejs/"
_NODEJS_FD = 9
_NODEJS_FD_DIR = f"/proc/self/fd/{_NODEJS_FD}/".encode().ljust(len(_NODEJS_DIR), b"/")


class TreeError(RulesPyodideError):
    """A lock, a download or a tree is wrong; the message is one line naming what and why."""


# ---------------------------------------------------------------------------------------------------------- lock file


@dataclass(frozen=True)
class Deb:
    """One locked Debian package file."""

    package: str
    version: str
    architecture: str
    filename: str  # pool path relative to the mirror, e.g. pool/main/e/emscripten/emscripten_3.1.6~dfsg-5_all.deb
    size: int
    sha256: str

    @property
    def basename(self) -> str:
        return self.filename.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Lock:
    """A tree's lock: the suite, the requested packages, the resolved closure and the expected digest."""

    name: str
    suite: str
    architecture: str
    packages: tuple[str, ...]
    debs: tuple[Deb, ...]
    tree_digest: str | None

    def to_json(self) -> str:
        data: dict[str, Any] = {
            "format": LOCK_FORMAT,
            "name": self.name,
            "suite": self.suite,
            "architecture": self.architecture,
            "packages": list(self.packages),
            "tree_digest": self.tree_digest,
            "debs": [asdict(d) for d in self.debs],
        }
        return json.dumps(data, indent=1, sort_keys=False) + "\n"


_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+~_-]*$")


def _field(obj: dict[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in obj:
        raise TreeError(f"{where}: missing key {key!r}")
    value = obj[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise TreeError(f"{where}: {key!r} must be {kind.__name__}, got {type(value).__name__}")
    return value


def parse_lock(text: str, where: str) -> Lock:
    """Parses and checks a lock file's text; `where` names the file in errors."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise TreeError(f"{where}: not JSON: {e}") from None
    if not isinstance(data, dict):
        raise TreeError(f"{where}: must be a JSON object")
    if data.get("format") != LOCK_FORMAT:
        raise TreeError(f"{where}: 'format' must be {LOCK_FORMAT}, got {data.get('format')!r}")
    name = _field(data, "name", str, where)
    if not _NAME.match(name):
        raise TreeError(f"{where}: 'name' {name!r} is not a plain file name")
    digest = data.get("tree_digest")
    if digest is not None and (not isinstance(digest, str) or not _HEX64.match(digest)):
        raise TreeError(f"{where}: 'tree_digest' must be null or 64 lowercase hex digits, got {digest!r}")
    debs: list[Deb] = []
    for i, raw in enumerate(_field(data, "debs", list, where)):
        at = f"{where}: debs[{i}]"
        if not isinstance(raw, dict):
            raise TreeError(f"{at}: must be an object")
        deb = Deb(
            package=_field(raw, "package", str, at),
            version=_field(raw, "version", str, at),
            architecture=_field(raw, "architecture", str, at),
            filename=_field(raw, "filename", str, at),
            size=_field(raw, "size", int, at),
            sha256=_field(raw, "sha256", str, at),
        )
        if not _HEX64.match(deb.sha256):
            raise TreeError(f"{at} ({deb.package}): 'sha256' must be 64 lowercase hex digits")
        parts = deb.filename.split("/")
        if not deb.filename.startswith("pool/") or ".." in parts or not deb.filename.endswith(".deb"):
            raise TreeError(f"{at} ({deb.package}): 'filename' must be a relative pool/...deb path: {deb.filename!r}")
        debs.append(deb)
    if not debs:
        raise TreeError(f"{where}: 'debs' is empty")
    keys = [(d.package, d.architecture) for d in debs]
    if keys != sorted(keys) or len(set(keys)) != len(keys):
        raise TreeError(f"{where}: 'debs' must be sorted by package and hold each package once")
    if len({d.basename for d in debs}) != len(debs):
        raise TreeError(f"{where}: two debs share a file name")
    packages = _field(data, "packages", list, where)
    if not all(isinstance(p, str) for p in packages):
        raise TreeError(f"{where}: 'packages' must be a list of strings")
    return Lock(
        name=name,
        suite=_field(data, "suite", str, where),
        architecture=_field(data, "architecture", str, where),
        packages=tuple(packages),
        debs=tuple(debs),
        tree_digest=digest,
    )


def read_lock(path: Path) -> tuple[Lock, str]:
    """Returns the lock and the sha256 of the lock file's bytes."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise TreeError(f"{path}: cannot read lock: {e.strerror}") from None
    return parse_lock(raw.decode("utf-8"), str(path)), hashlib.sha256(raw).hexdigest()


def tree_dir_name(lock: Lock, lock_sha256: str) -> str:
    return f"{lock.name}-{lock_sha256[:16]}"


def default_cache_dir() -> Path:
    """$RULES_PYODIDE_TOOLCHAINS, else ${XDG_CACHE_HOME:-~/.cache}/rules_pyodide/toolchains (toolchains/trees.bzl)."""
    if os.environ.get("RULES_PYODIDE_TOOLCHAINS"):
        return Path(os.environ["RULES_PYODIDE_TOOLCHAINS"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "rules_pyodide" / "toolchains"


LOCKS_DIR = Path(__file__).resolve().parent.parent / "toolchains" / "trees"


def tree_path(name: str, cache_dir: Path | None = None) -> Path:
    """Where `make setup` builds the tree of `toolchains/trees/<name>.lock.json` (it may not exist yet)."""
    lock, lock_sha256 = read_lock(LOCKS_DIR / f"{name}{LOCK_SUFFIX}")
    return (cache_dir or default_cache_dir()) / tree_dir_name(lock, lock_sha256)


# ------------------------------------------------------------------------------------------------------- apt mirror


def _source_files(etc: Path) -> Iterator[Path]:
    if (etc / "sources.list").is_file():
        yield etc / "sources.list"
    parts = etc / "sources.list.d"
    if parts.is_dir():
        yield from sorted(p for p in parts.iterdir() if p.suffix in (".list", ".sources"))


def host_debian_mirror(etc: Path = Path("/etc/apt")) -> str:
    """The Debian archive URI the host's apt uses (the first `.../debian` URI of its sources), without trailing `/`."""
    for path in _source_files(etc):
        text = path.read_text(encoding="utf-8", errors="replace")
        uris: list[str] = []
        if path.suffix == ".sources":
            for line in text.splitlines():
                key, _, value = line.partition(":")
                if key.strip().lower() == "uris":
                    uris += value.split()
        else:
            for line in text.splitlines():
                words = re.sub(r"\[[^]]*\]", " ", line.split("#", 1)[0]).split()
                if len(words) >= 2 and words[0] == "deb":
                    uris.append(words[1])
        for uri in uris:
            if uri.rstrip("/").endswith("/debian"):
                return uri.rstrip("/")
    raise TreeError(f"no Debian archive (a URI ending in /debian) in the apt sources under {etc}; pass --mirror URL")


# ---------------------------------------------------------------------------------------------------------- locking


def _apt_env(tmp: Path, mirror: str, suite: str, arch: str, keyring: Path) -> dict[str, str]:
    """Writes a private apt configuration under `tmp` and returns the environment that selects it."""
    subdirs = ("apt.conf.d", "preferences.d", "trusted.gpg.d", "sources.list.d")
    for sub in (
        *(f"etc/apt/{d}" for d in subdirs),
        "var/lib/apt/lists/partial",
        "var/cache/apt/archives/partial",
        "var/lib/dpkg",
        "log",
    ):
        (tmp / sub).mkdir(parents=True, exist_ok=True)
    (tmp / "var/lib/dpkg/status").write_text("", encoding="utf-8")
    (tmp / "etc/apt/sources.list").write_text(f"deb [signed-by={keyring}] {mirror} {suite} main\n", encoding="utf-8")
    options = {
        "Dir": f"{tmp}/",
        "Dir::Etc": "etc/apt/",
        "Dir::Etc::Parts": "apt.conf.d/",
        "Dir::Etc::PreferencesParts": "preferences.d/",
        "Dir::Etc::TrustedParts": "trusted.gpg.d/",
        "Dir::Etc::SourceParts": "sources.list.d/",
        "Dir::State": "var/lib/apt/",
        "Dir::State::status": f"{tmp}/var/lib/dpkg/status",
        "Dir::Cache": "var/cache/apt/",
        "Dir::Log": "log/",
        "APT::Architecture": arch,
        "APT::Architectures": arch,
        "APT::Install-Recommends": "false",
        "APT::Install-Suggests": "false",
        "Acquire::Languages": "none",
        "Debug::NoLocking": "true",
    }
    if os.getuid() == 0:
        options["APT::Sandbox::User"] = "root"  # the private lists dir is not readable by _apt
    conf = "".join(f'{key} "{value}";\n' for key, value in options.items())
    (tmp / "apt.conf").write_text(conf, encoding="utf-8")
    env = dict(os.environ)
    env.update(APT_CONFIG=str(tmp / "apt.conf"), LC_ALL="C", DEBIAN_FRONTEND="noninteractive")
    return env


def _run(cmd: list[str], env: dict[str, str]) -> str:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise TreeError(f"{shlex.join(cmd[:3])} ... failed (exit {proc.returncode}): {last}")
    return proc.stdout


def parse_stanzas(text: str) -> list[dict[str, str]]:
    """Parses deb822 stanzas (apt-cache show output); continuation lines are dropped."""
    stanzas: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if current:
                stanzas.append(current)
            current = {}
        elif not line[0].isspace() and ":" in line:
            key, _, value = line.partition(":")
            current[key] = value.strip()
    if current:
        stanzas.append(current)
    return stanzas


_INST = re.compile(r"^Inst (\S+) \((\S+) .*\[(\S+)\]\)")


def resolve(
    suite: str, packages: Sequence[str], mirror: str, arch: str = "amd64", keyring: Path = KEYRING
) -> list[Deb]:
    """The full dependency closure of `packages` in `suite`, as apt-get resolves it on an empty system."""
    with tempfile.TemporaryDirectory(prefix="rules_pyodide-apt-") as tmpdir:
        env = _apt_env(Path(tmpdir), mirror, suite, arch, keyring)
        print(f"[toolchain-tree] apt-get update ({suite} from {mirror})", file=sys.stderr)
        _run(["apt-get", "update", "-q"], env)
        out = _run(["apt-get", "install", "-s", "-q", "-y", "--no-install-recommends", *packages], env)
        selected = sorted({(m[1], m[2], m[3]) for m in map(_INST.match, out.splitlines()) if m})
        if not selected:
            raise TreeError(f"apt-get selected no package for {' '.join(packages)} in {suite}")
        shown = _run(["apt-cache", "show", *(f"{p}:{a}={v}" for p, v, a in selected)], env)
    by_key: dict[tuple[str, str, str], Deb] = {}
    for st in parse_stanzas(shown):
        key = (st.get("Package", ""), st.get("Version", ""), st.get("Architecture", ""))
        if key in by_key or "Filename" not in st:
            continue
        by_key[key] = Deb(key[0], key[1], key[2], st["Filename"], int(st["Size"]), st["SHA256"])
    debs: list[Deb] = []
    for p, v, a in selected:
        deb = by_key.get((p, v, a))
        if deb is None:
            raise TreeError(f"apt-cache show gave no record for {p}:{a}={v}")
        debs.append(deb)
    return sorted(debs, key=lambda d: (d.package, d.architecture))


def lock_main(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if not out.name.endswith(LOCK_SUFFIX):
        raise TreeError(f"--out {out}: the file name must be <tree name>{LOCK_SUFFIX}")
    name = out.name[: -len(LOCK_SUFFIX)]
    mirror = args.mirror or host_debian_mirror()
    debs = resolve(args.suite, args.package, mirror, args.arch)
    digest = args.tree_digest
    if digest is None and out.exists():
        old, _ = read_lock(out)
        if old.debs == tuple(debs):
            digest = old.tree_digest  # same closure: the same tree
    lock = Lock(name, args.suite, args.arch, tuple(args.package), tuple(debs), digest)
    parse_lock(lock.to_json(), str(out))
    write_atomic(out, lock.to_json())
    total = sum(d.size for d in debs)
    print(f"[toolchain-tree] {out}: {len(debs)} debs, {total / 1e6:.1f} MB, tree_digest {digest}", file=sys.stderr)
    return 0


# -------------------------------------------------------------------------------------------------------- downloads


def _progress(msg: str) -> None:
    print(f"[toolchain-tree] {msg}", file=sys.stderr, flush=True)


def fetch_debs(lock: Lock, debs_dir: Path, mirror: str | None) -> list[Path]:
    """Every locked .deb in `debs_dir` (downloaded when missing), each checked against the lock's sha256."""
    debs_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    missing = [d for d in lock.debs if not (debs_dir / d.basename).is_file()]
    total = sum(d.size for d in missing)
    if missing:
        mirror = mirror or host_debian_mirror()
        _progress(f"downloading {len(missing)} of {len(lock.debs)} debs ({total / 1e6:.1f} MB) from {mirror}")
    done, shown, start = 0, 0, time.monotonic()
    for deb in lock.debs:
        path = debs_dir / deb.basename
        if deb in missing:
            assert mirror is not None
            _download(f"{mirror}/{deb.filename}", path, deb)
            done += deb.size
            if done - shown >= total / 10 or done == total:
                shown = done
                _progress(f"  {done / 1e6:6.1f}/{total / 1e6:.1f} MB ({time.monotonic() - start:.0f} s)")
        actual = sha256_file(path)
        if actual != deb.sha256:
            raise TreeError(f"{deb.package} {deb.version}: {path} has sha256 {actual}, the lock expects {deb.sha256}")
        paths.append(path)
    return paths


def _download(url: str, dest: Path, deb: Deb) -> None:
    h = hashlib.sha256()
    with atomic_file(dest) as tmp:
        with open(tmp, "wb") as f:
            try:
                with urllib.request.urlopen(url, timeout=_TIMEOUT_S) as resp:
                    for block in iter(lambda: resp.read(_CHUNK), b""):
                        h.update(block)
                        f.write(block)
            except (urllib.error.URLError, OSError) as e:
                raise TreeError(f"{deb.package} {deb.version}: cannot download {url}: {e}") from None
        if h.hexdigest() != deb.sha256:
            actual = h.hexdigest()
            raise TreeError(f"{deb.package} {deb.version}: {url} has sha256 {actual}, the lock expects {deb.sha256}")


# ------------------------------------------------------------------------------------------------------- extraction


def _ar_members(f: IO[bytes], where: str) -> Iterator[tuple[str, bytes]]:
    if f.read(8) != b"!<arch>\n":
        raise TreeError(f"{where}: not a .deb (ar archive)")
    while True:
        header = f.read(60)
        if not header:
            return
        if len(header) != 60 or header[58:60] != b"`\n":
            raise TreeError(f"{where}: truncated or corrupt ar header")
        name = header[:16].decode("ascii").strip().rstrip("/")
        size = int(header[48:58].decode("ascii").strip())
        data = f.read(size)
        if size % 2:
            f.read(1)
        yield name, data


def _data_tar(deb: Path) -> bytes:
    """The uncompressed data.tar of a .deb."""
    with open(deb, "rb") as f:
        for name, data in _ar_members(f, str(deb)):
            if name == "data.tar":
                return data
            if name == "data.tar.xz":
                return lzma.decompress(data)
            if name == "data.tar.gz":
                return gzip.decompress(data)
            if name == "data.tar.bz2":
                return bz2.decompress(data)
            if name.startswith("data.tar"):
                raise TreeError(f"{deb}: unsupported member {name}")
    raise TreeError(f"{deb}: no data.tar member")


def _inside(root: Path, path: Path) -> bool:
    real = os.path.realpath(path)
    base = os.path.realpath(root)
    return real == base or real.startswith(base + os.sep)


def _clean_member_name(name: str, where: str) -> str:
    name = name[2:] if name.startswith("./") else name
    name = name.rstrip("/")
    parts = name.split("/")
    if name.startswith("/") or ".." in parts:
        raise TreeError(f"{where}: refusing entry {name!r} (absolute or '..')")
    return name


def extract_deb(deb: Path, root: Path) -> list[str]:
    """Unpacks a .deb's data into `root` (no maintainer scripts) and returns the entries it wrote.

    Files get mode 0755 or 0644 (by their executable bit), directories 0755; absolute symlinks are rewritten as
    relative links inside the tree; device files are skipped. A later package's file replaces an earlier one's.
    """
    written: list[str] = []
    where = str(deb)
    with tarfile.open(fileobj=io.BytesIO(_data_tar(deb)), mode="r:") as tar:
        for member in tar:
            name = _clean_member_name(member.name, where)
            if not name or name == ".":
                continue
            dest = root / name
            if not _inside(root, dest.parent):
                raise TreeError(f"{where}: entry {name!r} would be written outside the tree through a link")
            if member.isdir():
                if dest.is_symlink() or (dest.exists() and not dest.is_dir()):
                    if dest.is_symlink() and dest.is_dir():
                        continue  # a directory symlink (usrmerge) already stands there
                    dest.unlink()
                dest.mkdir(parents=True, exist_ok=True)
                os.chmod(dest, 0o755)
            elif member.issym():
                target = member.linkname
                if target.startswith("/"):
                    target = os.path.relpath(root / target.lstrip("/"), dest.parent)
                _replace(dest)
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.symlink(target, dest)
            elif member.islnk():
                source = root / _clean_member_name(member.linkname, where)
                _replace(dest)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, dest, follow_symlinks=False)
                os.chmod(dest, 0o755 if member.mode & 0o111 else 0o644)
            elif member.isfile():
                _replace(dest)
                dest.parent.mkdir(parents=True, exist_ok=True)
                src = tar.extractfile(member)
                assert src is not None
                with open(dest, "wb") as out:
                    shutil.copyfileobj(src, out, _CHUNK)
                os.chmod(dest, 0o755 if member.mode & 0o111 else 0o644)
            else:
                continue  # devices, fifos: not part of a toolchain
            written.append(name)
    return written


def _replace(dest: Path) -> None:
    if dest.is_symlink() or dest.is_file():
        dest.unlink()
    elif dest.is_dir():
        shutil.rmtree(dest)


# ----------------------------------------------------------------------------------------------------------- digest


def tree_entries(root: Path) -> Iterator[tuple[str, str, str]]:
    """(relative path, kind, content) for every entry under `root` except the manifest files, sorted by path.

    kind is `d` (directory), `l` (symlink: content is the target), `x` or `f` (executable or plain file: content is the
    sha256 of its bytes).
    """
    stack = [""]
    names: list[str] = []
    while stack:
        rel = stack.pop()
        with os.scandir(root / rel if rel else root) as it:
            for entry in it:
                path = f"{rel}/{entry.name}" if rel else entry.name
                names.append(path)
                if entry.is_dir(follow_symlinks=False):
                    stack.append(path)
    for path in sorted(names):
        if path in (MANIFEST, ENTRIES):
            continue
        full = root / path
        st = os.lstat(full)
        if stat.S_ISLNK(st.st_mode):
            yield path, "l", os.readlink(full)
        elif stat.S_ISDIR(st.st_mode):
            yield path, "d", ""
        elif stat.S_ISREG(st.st_mode):
            yield path, "x" if st.st_mode & 0o100 else "f", sha256_file(full)
        else:
            raise TreeError(f"{full}: not a file, directory or symlink")


Entry = tuple[str, str, str]


def digest_entries(entries: Sequence[Entry]) -> str:
    h = hashlib.sha256()
    for path, kind, content in entries:
        h.update(f"{path}\0{kind}\0{content}\n".encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def tree_digest(root: Path) -> tuple[str, int]:
    """The tree's digest and its number of entries."""
    entries = list(tree_entries(root))
    return digest_entries(entries), len(entries)


def count_entries(root: Path) -> int:
    count = 0
    for _, dirs, files in os.walk(root):
        count += len(dirs) + len(files)
    return count - sum(1 for name in (MANIFEST, ENTRIES) if (root / name).exists())


def first_difference(recorded: Sequence[Entry], actual: Sequence[Entry]) -> str:
    """Names the first entry (in path order) that differs between two listings."""
    old = {e[0]: e for e in recorded}
    new = {e[0]: e for e in actual}
    for path in sorted(old.keys() | new.keys()):
        if path not in new:
            return f"{path} is missing"
        if path not in old:
            return f"{path} was added"
        if old[path] != new[path]:
            return f"{path} changed ({old[path][1]} {old[path][2][:16]} -> {new[path][1]} {new[path][2][:16]})"
    return "no entry differs from the recorded listing"


def read_entries(tree: Path) -> list[Entry] | None:
    try:
        lines = (tree / ENTRIES).read_text(encoding="utf-8", errors="surrogateescape").splitlines()
        return [(str(a), str(b), str(c)) for a, b, c in map(json.loads, lines)]
    except (OSError, ValueError, TypeError):
        return None


def write_entries(tree: Path, entries: Sequence[Entry]) -> None:
    text = "".join(json.dumps(list(e), ensure_ascii=False) + "\n" for e in entries)
    (tree / ENTRIES).write_text(text, encoding="utf-8", errors="surrogateescape")
    os.chmod(tree / ENTRIES, 0o644)


# --------------------------------------------------------------------------------------------------------- wrappers


def _is_elf(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


def find_loader(root: Path) -> str:
    for rel in _LOADERS:
        if (root / rel).exists() and _inside(root, root / rel):
            return rel
    raise TreeError(f"{root}: no dynamic loader (ld-linux-x86-64.so.2) in the tree; is libc6 in the lock?")


def llvm_dirs(root: Path) -> list[str]:
    """`usr/lib/llvm-N` directories of the tree (normally exactly one)."""
    base = root / "usr/lib"
    if not base.is_dir():
        return []
    return sorted(f"usr/lib/{p.name}" for p in base.iterdir() if re.fullmatch(r"llvm-\d+", p.name) and p.is_dir())


def library_path(root: Path) -> list[str]:
    dirs = [d for d in _LIB_DIRS if (root / d).is_dir() and not (root / d).is_symlink()]
    dirs += [f"{d}/lib" for d in llvm_dirs(root) if (root / d / "lib").is_dir()]
    return dirs


def clang_resource_dir(root: Path, llvm: str) -> str | None:
    base = root / llvm / "lib/clang"
    if not base.is_dir():
        return None
    versions = sorted(p.name for p in base.iterdir())
    return f"{llvm}/lib/clang/{versions[-1]}" if versions else None


def patch_libnode(root: Path) -> list[str]:
    """Points the tree's libnode at its builtins through the node wrapper's directory descriptor; returns the files."""
    patched: list[str] = []
    libdir = root / "usr/lib/x86_64-linux-gnu"
    for path in sorted(libdir.glob("libnode.so.*")) if libdir.is_dir() else []:
        if path.is_symlink() or not path.is_file():
            continue
        data = path.read_bytes()
        if _NODEJS_DIR in data:
            path.write_bytes(data.replace(_NODEJS_DIR, _NODEJS_FD_DIR))
            patched.append(str(path.relative_to(root)))
    return patched


# Source fixes applied to the unpacked tree: (file, text, replacement, why). Each text must occur exactly once where
# the file has it; files without it are left alone.
_SOURCE_PATCHES = (
    (
        f"{EMSCRIPTEN_ROOT}/tools/building.py",
        "  cmd = [tool]\n",
        "  cmd = [os.path.join(config.BINARYEN_ROOT, 'bin', tool)]\n",
        "Debian's emscripten 3.1.6 runs binaryen's tools from PATH (the host's /usr/bin), not from BINARYEN_ROOT as "
        "upstream and 3.1.69 do (upstream's get_binaryen_bin() would also warn that binaryen 108 is not 105)",
    ),
)


def patch_sources(root: Path) -> list[str]:
    """Applies `_SOURCE_PATCHES` to the tree; returns the files changed."""
    changed: list[str] = []
    for rel, old, new, _why in _SOURCE_PATCHES:
        path = root / rel
        if not path.is_file() or path.is_symlink():
            continue
        text = path.read_text(encoding="utf-8")
        if text.count(old) > 1:
            raise TreeError(f"{path}: {old.strip()!r} occurs {text.count(old)} times; the patch expects one")
        if old in text:
            path.write_text(text.replace(old, new), encoding="utf-8")
            changed.append(rel)
    return changed


def wrapper_script(
    name: str,
    program: str,
    loader: str,
    libs: Sequence[str],
    extra: Sequence[str] = (),
    env: Sequence[tuple[str, str]] = (),
    dir_fd: tuple[int, str] | None = None,
) -> str:
    """A POSIX sh wrapper in `<root>/wrappers/bin` that runs `<root>/<program>` through `<root>/<loader>`.

    The root is found from the wrapper's own path, so the tree can move; no absolute path is written.
    """

    def q(rel: str) -> str:
        return '"$ROOT"/' + shlex.quote(rel)

    lines = [
        "#!/bin/sh",
        f"# {name}: runs the tree's {program} through the tree's own loader (rules_pyodide.toolchain_tree).",
        'case "$0" in */*) ROOT="${0%/*}/../.." ;; *) ROOT=$(dirname "$(command -v "$0")")/../.. ;; esac',
    ]
    for key, rel in env:
        lines.append(f'{key}={q(rel)}"${{{key}:+:${key}}}"; export {key}')
    if dir_fd is not None:
        lines.append(f"exec {dir_fd[0]}<{q(dir_fd[1])}")
    args = [
        "exec",
        q(loader),
        "--inhibit-cache",
        "--library-path",
        '"' + ":".join(f"$ROOT/{d}" for d in libs) + '"',
        q(program),
        *extra,
        '"$@"',
    ]
    lines.append(" ".join(args))
    return "\n".join(lines) + "\n"


def write_wrappers(root: Path, owners: dict[str, list[str]], node_patched: bool = False) -> dict[str, str]:
    """Writes a wrapper for every LLVM program and every binaryen/nodejs program; returns name -> program.

    With `node_patched` (see `patch_libnode`), node's wrapper opens the tree's builtins directory for it.
    """
    loader = find_loader(root)
    libs = library_path(root)
    programs: dict[str, tuple[str, list[str], list[tuple[str, str]]]] = {}
    node_fd = (_NODEJS_FD, NODE_PATH) if node_patched else None
    for llvm in llvm_dirs(root):
        resource = clang_resource_dir(root, llvm)
        bindir = root / llvm / "bin"
        for entry in sorted(bindir.iterdir()) if bindir.is_dir() else []:
            if not _is_elf(entry) or not _inside(root, entry):
                continue
            extra: list[str] = []
            if resource and re.fullmatch(r"clang(\+\+|-cpp|-cl|-\d+)?", entry.name):
                extra = ["-resource-dir", '"$ROOT"/' + shlex.quote(resource)]
            programs[entry.name] = (f"{llvm}/bin/{entry.name}", extra, [])
    for package in _WRAPPED_PACKAGES:
        for rel in owners.get(package, []):
            if rel.startswith("usr/bin/") and rel.count("/") == 2 and _is_elf(root / rel) and _inside(root, root / rel):
                env = [("NODE_PATH", NODE_PATH)] if package == "nodejs" else []
                programs[rel.rsplit("/", 1)[1]] = (rel, [], env)
    if "nodejs" in programs and "node" not in programs:
        programs["node"] = programs["nodejs"]
    out = root / WRAPPERS
    out.mkdir(parents=True, exist_ok=True)
    for name, (program, extra, env) in sorted(programs.items()):
        path = out / name
        fd = node_fd if env else None
        path.write_text(wrapper_script(name, program, loader, libs, extra, env, fd), encoding="utf-8")
        os.chmod(path, 0o755)
    for d in (root / "wrappers", out):
        os.chmod(d, 0o755)
    return {name: program for name, (program, _, _) in programs.items()}


def emscripten_config(node_args: Sequence[str] = ("--no-experimental-fetch",)) -> str:
    """An emscripten config file whose paths are relative to the config file's own location (the tree's root).

    emscripten evaluates the config with exec() and no `__file__`; its own `EM_CONFIG` (the path it read) is found
    in the caller's globals, with the environment variable as a fallback.
    """
    node = json.dumps([f"{WRAPPERS}/node", *node_args])
    return f"""# Emscripten config of a rules_pyodide toolchain tree (rules_pyodide.toolchain_tree).
# Paths are relative to this file's directory, so the tree can be moved or shared.
import os as _os
import sys as _sys


def _tree_root():
    frame = _sys._getframe(1)
    while frame is not None:
        path = frame.f_globals.get('EM_CONFIG')
        if isinstance(path, str) and _os.path.isfile(path):
            return _os.path.dirname(_os.path.abspath(path))
        frame = frame.f_back
    return _os.path.dirname(_os.path.abspath(_os.environ['EM_CONFIG']))


_ROOT = _tree_root()
EMSCRIPTEN_ROOT = _os.path.join(_ROOT, {EMSCRIPTEN_ROOT!r})
LLVM_ROOT = _os.path.join(_ROOT, {WRAPPERS!r})
BINARYEN_ROOT = _os.path.join(_ROOT, 'wrappers')
NODE_JS = [_os.path.join(_ROOT, {json.loads(node)[0]!r}), *{list(node_args)!r}]
FROZEN_CACHE = True
CACHE = _os.path.join(_ROOT, {EMSCRIPTEN_ROOT + '/cache'!r})
"""


# ------------------------------------------------------------------------------------------------------------ build


def _python_include(root: Path) -> str | None:
    found = sorted(p.name for p in (root / "usr/include").glob("python3.*") if (p / "Python.h").is_file())
    return f"usr/include/{found[-1]}" if found else None


def _python_config_include(root: Path, include: str | None) -> str | None:
    """Debian's multiarch directory holding the x86_64 `pyconfig.h` (a template for a wasm32 one)."""
    if include is None:
        return None
    rel = f"usr/include/x86_64-linux-gnu/{include.rsplit('/', 1)[1]}"
    return rel if (root / rel / "pyconfig.h").is_file() else None


def read_manifest(tree: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((tree / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def manifest_matches(tree: Path, lock: Lock, lock_sha256: str) -> str | None:
    """None when the tree's manifest fits the lock; else why not (one line)."""
    manifest = read_manifest(tree)
    if manifest is None:
        return f"{tree}: no readable {MANIFEST}"
    if manifest.get("format") != TREE_FORMAT:
        return f"{tree}/{MANIFEST}: format {manifest.get('format')!r}, expected {TREE_FORMAT}"
    if manifest.get("lock_sha256") != lock_sha256:
        return f"{tree}/{MANIFEST}: built from lock {manifest.get('lock_sha256')}, this lock is {lock_sha256}"
    if lock.tree_digest is not None and manifest.get("tree_digest") != lock.tree_digest:
        return f"{tree}/{MANIFEST}: tree_digest {manifest.get('tree_digest')}, the lock expects {lock.tree_digest}"
    return None


def assemble(lock: Lock, lock_sha256: str, debs: Sequence[Path], root: Path) -> dict[str, Any]:
    """Unpacks `debs` into the empty directory `root`, adds wrappers, config and manifest; returns the manifest."""
    owners: dict[str, list[str]] = {}
    start = time.monotonic()
    for i, (deb, path) in enumerate(zip(lock.debs, debs, strict=True), 1):
        owners[deb.package] = extract_deb(path, root)
        if i % 10 == 0 or i == len(debs):
            _progress(f"  extracted {i}/{len(debs)} debs ({time.monotonic() - start:.0f} s)")
    patched = patch_sources(root)
    node_patched = patch_libnode(root)
    write_wrappers(root, owners, bool(node_patched))
    (root / CONFIG).write_text(emscripten_config(), encoding="utf-8")
    os.chmod(root / CONFIG, 0o644)
    os.chmod(root, 0o755)
    version_file = root / EMSCRIPTEN_ROOT / "emscripten-version.txt"
    if not version_file.is_file():
        raise TreeError(f"{lock.name}: no {EMSCRIPTEN_ROOT}/emscripten-version.txt in the tree; is emscripten locked?")
    _progress("hashing the tree")
    entries = list(tree_entries(root))
    digest, count = digest_entries(entries), len(entries)
    write_entries(root, entries)
    manifest: dict[str, Any] = {
        "format": TREE_FORMAT,
        "name": lock.name,
        "suite": lock.suite,
        "emscripten_version": version_file.read_text(encoding="utf-8").strip().strip('"'),
        "lock_sha256": lock_sha256,
        "emscripten_root": EMSCRIPTEN_ROOT,
        "config": CONFIG,
        "cache": f"{EMSCRIPTEN_ROOT}/cache",
        "wrappers": WRAPPERS,
        "node": f"{WRAPPERS}/node",
        "node_path": NODE_PATH,
        "python_include": _python_include(root),
        "python_config_include": _python_config_include(root, _python_include(root)),
        "loader": find_loader(root),
        "library_path": library_path(root),
        "entries": count,
        "patched": sorted(patched + node_patched),
        "tree_digest": digest,
    }
    return manifest


def _install(tmp: Path, target: Path, lock: Lock, lock_sha256: str) -> None:
    """Renames the finished tree `tmp` to `target`, replacing a stale tree; a concurrent build's good tree wins."""
    if manifest_matches(target, lock, lock_sha256) is None:
        shutil.rmtree(tmp)  # another build (another clone's setup) finished first
        return
    if target.exists() or target.is_symlink():
        old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".old-{lock.name}-"))
        os.rename(target, old / "tree")
        shutil.rmtree(old)
    try:
        os.rename(tmp, target)
    except OSError:
        if manifest_matches(target, lock, lock_sha256) is not None:
            raise
        shutil.rmtree(tmp)


def build(lock_path: Path, cache_dir: Path, mirror: str | None = None) -> Path:
    """Builds (or finds) the tree of the lock and returns its directory."""
    lock, lock_sha256 = read_lock(lock_path)
    target = cache_dir / tree_dir_name(lock, lock_sha256)
    if manifest_matches(target, lock, lock_sha256) is None:
        return target
    begin = time.monotonic()
    debs = fetch_debs(lock, cache_dir / "debs", mirror)
    _progress(f"building {target} from {len(debs)} debs")
    tmp = Path(tempfile.mkdtemp(dir=cache_dir, prefix=f".tmp-{lock.name}-"))
    try:
        manifest = assemble(lock, lock_sha256, debs, tmp)
        if lock.tree_digest is not None and manifest["tree_digest"] != lock.tree_digest:
            raise TreeError(
                f"{lock.name}: the built tree has digest {manifest['tree_digest']}, {lock_path} expects "
                f"{lock.tree_digest}; nothing was installed"
            )
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        os.chmod(tmp / MANIFEST, 0o644)
        _install(tmp, target, lock, lock_sha256)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _progress(
        f"built {target} ({manifest['entries']} entries, digest {manifest['tree_digest'][:16]}, "
        f"{time.monotonic() - begin:.0f} s)"
    )
    if lock.tree_digest is None:
        _progress(f"{lock_path} has no tree_digest yet; once checked, record tree_digest {manifest['tree_digest']}")
    return target


def verify(tree: Path, lock_path: Path, fast: bool = False) -> str:
    """Checks a tree against its lock; returns the digest or raises TreeError with one line."""
    lock, lock_sha256 = read_lock(lock_path)
    problem = manifest_matches(tree, lock, lock_sha256)
    if problem is not None:
        raise TreeError(problem)
    manifest = read_manifest(tree)
    assert manifest is not None
    recorded = str(manifest.get("tree_digest"))
    if fast:
        count = count_entries(tree)
        if count != manifest.get("entries"):
            raise TreeError(f"{tree}: {count} entries, {MANIFEST} records {manifest.get('entries')}")
        return recorded
    expected = lock.tree_digest or recorded
    entries = list(tree_entries(tree))
    digest = digest_entries(entries)
    if digest != expected:
        listing = read_entries(tree)
        hint = first_difference(listing, entries) if listing is not None else f"no readable {ENTRIES}"
        raise TreeError(f"{tree}: digest {digest}, expected {expected}: {hint}")
    return digest


# ------------------------------------------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    lock = sub.add_parser("lock", help="resolve packages with apt-get and write a lock file")
    lock.add_argument("--suite", required=True, help="Debian suite, e.g. bookworm or trixie")
    lock.add_argument("--package", action="append", required=True, help="package to install (repeatable)")
    lock.add_argument("--out", required=True, help="lock file to write: <dir>/<tree name>.lock.json")
    lock.add_argument("--arch", default="amd64")
    lock.add_argument("--mirror", help="Debian archive URI (default: the host's apt sources)")
    lock.add_argument("--tree-digest", help="record this tree digest (else kept when the closure is unchanged)")
    b = sub.add_parser("build", help="build the tree of a lock into the cache (no-op when it is there)")
    b.add_argument("--lock", required=True, action="append", help="lock file (repeatable: one tree each)")
    b.add_argument("--cache-dir", help="default: ${XDG_CACHE_HOME:-~/.cache}/rules_pyodide/toolchains")
    b.add_argument("--mirror", help="Debian archive URI (default: the host's apt sources)")
    v = sub.add_parser("verify", help="check a tree against its lock")
    v.add_argument("--tree", required=True)
    v.add_argument("--lock", required=True)
    v.add_argument("--fast", action="store_true", help="check the manifest against the lock and the entry count only")
    return parser.parse_args(list(argv))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    return run_command(PROG, lambda: _command(args))


def _command(args: argparse.Namespace) -> int:
    if args.command == "lock":
        return lock_main(args)
    if args.command == "build":
        cache = Path(args.cache_dir) if args.cache_dir else default_cache_dir()
        cache.mkdir(parents=True, exist_ok=True)
        for lock in args.lock:
            print(build(Path(lock), cache, args.mirror))
        return 0
    start = time.monotonic()
    digest = verify(Path(args.tree), Path(args.lock), args.fast)
    kind = "manifest" if args.fast else "digest"
    print(f"{args.tree}: {kind} OK ({digest[:16]}, {time.monotonic() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
