"""Tests of rules_pyodide.toolchain_tree.

Unit tests use tiny fake .debs (made with `dpkg-deb -b`, or by hand for malformed ones) served from a `file://`
mirror: no network. `test_real_tree_*` compile side modules with the pinned trees of toolchains/trees/ when they are
built in the cache (tools/setup.sh builds them), with PATH holding only python3, load them with ctypes in the real
Pyodide each tree serves (0.21.3, 0.29.5) and check the tree is unchanged afterwards; they fail when a tree is not
built (what they check is what `make setup` builds).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from pyodide_runner import run_in_pyodide

from rules_pyodide import toolchain_tree as tt

REPO = Path(__file__).resolve().parent.parent
LOCKS = REPO / "toolchains" / "trees"


# ------------------------------------------------------------------------------------------------------ fake debs


def dpkg_deb(tmp: Path, package: str, files: dict[str, bytes | str], executables: tuple[str, ...] = ()) -> Path:
    """A real .deb built with `dpkg-deb -b`; `files` maps paths to contents (bytes) or symlink targets (str)."""
    if shutil.which("dpkg-deb") is None:
        pytest.skip("dpkg-deb is not installed")
    src = tmp / f"src-{package}"
    (src / "DEBIAN").mkdir(parents=True)
    (src / "DEBIAN" / "control").write_text(
        f"Package: {package}\nVersion: 1.0\nArchitecture: amd64\nMaintainer: t <t@example.org>\nDescription: test\n"
    )
    for rel, content in files.items():
        path = src / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.symlink_to(content)
        else:
            path.write_bytes(content)
            path.chmod(0o755 if rel in executables else 0o644)
    out = tmp / f"{package}_1.0_amd64.deb"
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "-Zxz", "-b", str(src), str(out)], check=True, capture_output=True
    )
    return out


def hand_deb(path: Path, members: list[tarfile.TarInfo], data: dict[str, bytes]) -> Path:
    """A .deb assembled by hand (ar + tar), for entries dpkg-deb would refuse to build."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for info in members:
            payload = data.get(info.name, b"")
            info.size = len(payload) if info.isfile() else 0
            tar.addfile(info, io.BytesIO(payload) if info.isfile() else None)
    out = bytearray(b"!<arch>\n")
    for name, body in (("debian-binary", b"2.0\n"), ("control.tar", b""), ("data.tar", buf.getvalue())):
        out += f"{name:<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{len(body):<10}`\n".encode()
        out += body + (b"\n" if len(body) % 2 else b"")
    path.write_bytes(bytes(out))
    return path


FAKE_ELF = b"\x7fELF fake program\n"


def fake_toolchain_debs(tmp: Path) -> list[Path]:
    """Three debs that look like a toolchain: a libc with a loader, llvm with clang, emscripten."""
    libc = dpkg_deb(
        tmp,
        "libc6",
        {
            "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2": b"#!/bin/sh\nprintf '%s\\n' \"$@\"\n",
            "usr/lib64/ld-linux-x86-64.so.2": "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
            "usr/lib/x86_64-linux-gnu/libc.so.6": b"libc",
        },
        executables=("usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",),
    )
    llvm = dpkg_deb(
        tmp,
        "clang-19",
        {
            "usr/lib/llvm-19/bin/clang": FAKE_ELF,
            "usr/lib/llvm-19/bin/clang++": "clang",
            "usr/lib/llvm-19/bin/wasm-ld": FAKE_ELF,
            "usr/lib/llvm-19/bin/scan-build": b"#!/usr/bin/perl\n",
            "usr/lib/llvm-19/lib/clang/19/include/stddef.h": b"",
            "usr/lib/llvm-19/lib/libLLVM.so.19.1": b"lib",
            "usr/bin/clang-19": "../lib/llvm-19/bin/clang",
        },
        executables=("usr/lib/llvm-19/bin/clang", "usr/lib/llvm-19/bin/wasm-ld", "usr/lib/llvm-19/bin/scan-build"),
    )
    emscripten = dpkg_deb(
        tmp,
        "emscripten",
        {
            "usr/share/emscripten/emscripten-version.txt": b'"3.1.69"\n',
            "usr/share/emscripten/cache/sysroot/lib/libc.a": b"!<arch>\n",
            "usr/include/python3.13/Python.h": b"/* Python.h */\n",
        },
    )
    return [emscripten, libc, llvm]


def write_lock(
    tmp: Path,
    debs: list[Path],
    name: str = "emscripten-3.1.69",
    tree_digest: str | None = None,
    sha_override: dict[str, str] | None = None,
) -> tuple[Path, str]:
    """Puts `debs` into a file:// mirror's pool and writes a lock for them; returns (lock path, mirror)."""
    mirror = tmp / "mirror"
    entries = []
    for deb in debs:
        package = deb.name.split("_")[0]
        pool = f"pool/main/{package[0]}/{package}/{deb.name}"
        (mirror / pool).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(deb, mirror / pool)
        digest = (sha_override or {}).get(package) or hashlib.sha256(deb.read_bytes()).hexdigest()
        entries.append(tt.Deb(package, "1.0", "amd64", pool, deb.stat().st_size, digest))
    entries.sort(key=lambda d: (d.package, d.architecture))
    lock = tt.Lock(name, "trixie", "amd64", ("emscripten",), tuple(entries), tree_digest)
    path = tmp / f"{name}.lock.json"
    path.write_text(lock.to_json())
    return path, mirror.as_uri()


# ---------------------------------------------------------------------------------------------------------- locks


def good_lock_data() -> dict[str, object]:
    return {
        "format": 1,
        "name": "emscripten-3.1.6",
        "suite": "bookworm",
        "architecture": "amd64",
        "packages": ["emscripten"],
        "tree_digest": None,
        "debs": [
            {
                "package": "a",
                "version": "1",
                "architecture": "all",
                "filename": "pool/main/a/a/a_1_all.deb",
                "size": 3,
                "sha256": "0" * 64,
            },
            {
                "package": "b",
                "version": "2",
                "architecture": "amd64",
                "filename": "pool/main/b/b/b_2_amd64.deb",
                "size": 4,
                "sha256": "1" * 64,
            },
        ],
    }


def test_parse_lock_round_trips() -> None:
    lock = tt.parse_lock(json.dumps(good_lock_data()), "x.lock.json")
    assert [d.package for d in lock.debs] == ["a", "b"]
    assert lock.debs[1].basename == "b_2_amd64.deb"
    assert tt.parse_lock(lock.to_json(), "again") == lock


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("name"), "x.lock.json: missing key 'name'"),
        (lambda d: d.update(tree_digest="abc"), "'tree_digest' must be null or 64 lowercase hex digits"),
        (lambda d: d["debs"][0].update(sha256="XYZ"), "debs[0] (a): 'sha256' must be 64 lowercase hex digits"),
        (lambda d: d["debs"][1].update(filename="/etc/passwd.deb"), "debs[1] (b): 'filename' must be a relative"),
        (lambda d: d["debs"][1].update(filename="pool/../../x.deb"), "debs[1] (b): 'filename' must be a relative"),
        (lambda d: d["debs"].reverse(), "'debs' must be sorted by package"),
        (lambda d: d["debs"][0].update(size="3"), "debs[0]: 'size' must be int, got str"),
        (lambda d: d.update(format=2), "'format' must be 1, got 2"),
    ],
)
def test_parse_lock_rejects_bad_locks(change: object, message: str) -> None:
    data = good_lock_data()
    change(data)  # type: ignore[operator]
    with pytest.raises(tt.TreeError, match=None) as err:
        tt.parse_lock(json.dumps(data), "x.lock.json")
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_committed_locks_parse() -> None:
    for path in sorted(LOCKS.glob("*.lock.json")):
        lock, _ = tt.read_lock(path)
        assert path.name == f"{lock.name}.lock.json"
        assert {"emscripten", "libc6", "nodejs", "binaryen"} <= {d.package for d in lock.debs}
        assert lock.tree_digest is not None, f"{path}: record the tree_digest after the first build"
        assert "://" not in path.read_text(), f"{path}: pool paths must be relative to the mirror"


def test_host_debian_mirror_reads_both_source_formats(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "other.list").write_text("deb [arch=amd64] https://example.org/apt stable main\n")
    (tmp_path / "sources.list.d" / "z.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm\nComponents: main\n"
    )
    assert tt.host_debian_mirror(tmp_path) == "http://mirror.example/debian"
    (tmp_path / "sources.list").write_text("# c\ndeb [signed-by=/k.gpg] http://m2.example/debian bookworm main\n")
    assert tt.host_debian_mirror(tmp_path) == "http://m2.example/debian"
    with pytest.raises(tt.TreeError, match="no Debian archive"):
        tt.host_debian_mirror(tmp_path / "sources.list.d")


def test_parse_stanzas() -> None:
    text = "Package: a\nVersion: 1\nDescription: x\n more\n\nPackage: b\nSHA256: ff\n"
    assert tt.parse_stanzas(text) == [
        {"Package": "a", "Version": "1", "Description": "x"},
        {"Package": "b", "SHA256": "ff"},
    ]


# ----------------------------------------------------------------------------------------------------- extraction


def test_extract_deb_modes_and_relative_links(tmp_path: Path) -> None:
    deb = dpkg_deb(
        tmp_path,
        "hello",
        {
            "usr/bin/hello": b"#!/bin/sh\necho hi\n",
            "usr/bin/abs": "/usr/bin/hello",
            "usr/share/doc/hello/README": b"readme",
        },
        executables=("usr/bin/hello",),
    )
    root = tmp_path / "root"
    root.mkdir()
    written = tt.extract_deb(deb, root)
    assert "usr/bin/hello" in written and "usr/share/doc/hello/README" in written
    assert (root / "usr/bin/hello").stat().st_mode & 0o777 == 0o755
    assert (root / "usr/share/doc/hello/README").stat().st_mode & 0o777 == 0o644
    assert os.readlink(root / "usr/bin/abs") == "hello"  # absolute link made relative inside the tree
    assert (root / "usr/bin/abs").resolve() == (root / "usr/bin/hello").resolve()


@pytest.mark.parametrize("name", ["../evil", "/etc/evil", "./usr/../../evil"])
def test_extract_deb_refuses_escaping_entries(tmp_path: Path, name: str) -> None:
    info = tarfile.TarInfo(name)
    deb = hand_deb(tmp_path / "bad.deb", [info], {name: b"x"})
    root = tmp_path / "root"
    root.mkdir()
    with pytest.raises(tt.TreeError, match="refusing entry"):
        tt.extract_deb(deb, root)
    assert not (tmp_path / "evil").exists()


def test_extract_deb_refuses_writing_through_escaping_link(tmp_path: Path) -> None:
    link = tarfile.TarInfo("./usr/out")
    link.type, link.linkname = tarfile.SYMTYPE, "../../.."
    inner = tarfile.TarInfo("./usr/out/evil")
    deb = hand_deb(tmp_path / "bad.deb", [link, inner], {"./usr/out/evil": b"x"})
    root = tmp_path / "a" / "root"
    root.mkdir(parents=True)
    with pytest.raises(tt.TreeError, match="outside the tree"):
        tt.extract_deb(deb, root)
    assert not (tmp_path / "evil").exists()


def test_not_a_deb(tmp_path: Path) -> None:
    (tmp_path / "x.deb").write_bytes(b"PK\x03\x04")
    with pytest.raises(tt.TreeError, match="not a .deb"):
        tt.extract_deb(tmp_path / "x.deb", tmp_path)


# --------------------------------------------------------------------------------------------------------- digest


def make_tree(root: Path, order: list[str]) -> None:
    root.mkdir()
    for name in order:
        (root / name).mkdir()
        (root / name / "f").write_bytes(name.encode())
    (root / "a" / "x").write_bytes(b"exe")
    (root / "a" / "x").chmod(0o755)
    (root / "a" / "l").symlink_to("x")


def test_tree_digest_is_stable_and_sensitive(tmp_path: Path) -> None:
    make_tree(tmp_path / "one", ["a", "b", "c"])
    make_tree(tmp_path / "two", ["c", "b", "a"])  # other creation order, same content
    (tmp_path / "two" / tt.MANIFEST).write_text("{}")  # the manifest files are not part of the digest
    (tmp_path / "two" / tt.ENTRIES).write_text("")
    first, count = tt.tree_digest(tmp_path / "one")
    assert count == 8
    assert tt.tree_digest(tmp_path / "two") == (first, count)
    (tmp_path / "two" / "a" / "x").chmod(0o644)
    assert tt.tree_digest(tmp_path / "two")[0] != first  # the executable bit counts
    (tmp_path / "two" / "a" / "x").chmod(0o755)
    (tmp_path / "two" / "a" / "l").unlink()
    (tmp_path / "two" / "a" / "l").symlink_to("f")
    assert tt.tree_digest(tmp_path / "two")[0] != first  # a link's target counts


# ------------------------------------------------------------------------------------------------------- wrappers


def test_wrappers_run_through_the_trees_loader_from_a_moved_tree(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    root.mkdir()
    owners = {}
    for deb in fake_toolchain_debs(tmp_path):
        owners[deb.name.split("_")[0]] = tt.extract_deb(deb, root)
    names = tt.write_wrappers(root, owners)
    assert names["clang"] == "usr/lib/llvm-19/bin/clang"
    assert names["clang++"] == "usr/lib/llvm-19/bin/clang++"  # through the link: clang picks its mode by argv[0]
    assert "scan-build" not in names  # not an ELF program
    moved = tmp_path / "elsewhere" / "tree"
    moved.parent.mkdir()
    root.rename(moved)
    for path in (moved / tt.WRAPPERS).iterdir():
        assert str(tmp_path) not in path.read_text()
    out = subprocess.run(
        [str(moved / tt.WRAPPERS / "clang++"), "-c", "a b.c"], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    # The fake loader prints its arguments: ld.so's options, then the program and its arguments.
    assert out[0] == "--inhibit-cache"
    assert out[1] == "--library-path"
    assert [os.path.realpath(p) for p in out[2].split(":")] == [
        str(moved / "usr/lib/x86_64-linux-gnu"),
        str(moved / "usr/lib64"),
        str(moved / "usr/lib/llvm-19/lib"),
    ]
    assert os.path.realpath(out[3]) == str(moved / "usr/lib/llvm-19/bin/clang")
    assert out[3].endswith("/clang++")
    assert out[4] == "-resource-dir"
    assert os.path.realpath(out[5]) == str(moved / "usr/lib/llvm-19/lib/clang/19")
    assert out[6:] == ["-c", "a b.c"]
    wasm_ld = subprocess.run(
        [str(moved / tt.WRAPPERS / "wasm-ld"), "-v"], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert "-resource-dir" not in wasm_ld and wasm_ld[-1] == "-v"


def test_patch_libnode_keeps_the_length(tmp_path: Path) -> None:
    lib = tmp_path / "usr/lib/x86_64-linux-gnu"
    lib.mkdir(parents=True)
    data = b"\0/usr/share/nodejs/acorn/dist/acorn.js\0other\0"
    (lib / "libnode.so.115").write_bytes(data)
    assert tt.patch_libnode(tmp_path) == ["usr/lib/x86_64-linux-gnu/libnode.so.115"]
    patched = (lib / "libnode.so.115").read_bytes()
    assert len(patched) == len(data)
    assert b"\0/proc/self/fd/9///acorn/dist/acorn.js\0" in patched


def test_patch_sources_points_emscripten_3_1_6_at_binaryen_root(tmp_path: Path) -> None:
    building = tmp_path / tt.EMSCRIPTEN_ROOT / "tools" / "building.py"
    building.parent.mkdir(parents=True)
    building.write_text("def run_binaryen_command(tool):\n  cmd = [tool]\n  return cmd\n")
    assert tt.patch_sources(tmp_path) == [f"{tt.EMSCRIPTEN_ROOT}/tools/building.py"]
    assert "  cmd = [os.path.join(config.BINARYEN_ROOT, 'bin', tool)]\n" in building.read_text()
    assert tt.patch_sources(tmp_path) == []  # 3.1.69 already has it: nothing to do
    building.write_text("  cmd = [tool]\n  cmd = [tool]\n")
    with pytest.raises(tt.TreeError, match="occurs 2 times"):
        tt.patch_sources(tmp_path)


def test_config_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    text = tt.emscripten_config()
    assert "/root" not in text and str(tmp_path) not in text
    (tmp_path / "emscripten.config").write_text(text)

    # What emscripten's tools/config.py does: exec() the text from a function of a module whose globals hold the
    # EM_CONFIG path it read.
    module: dict[str, object] = {"EM_CONFIG": str(tmp_path / "emscripten.config"), "text": text}
    exec("def parse_config_file():\n    config = {}\n    exec(text, config)\n    return config\n", module)
    config = module["parse_config_file"]()  # type: ignore[operator]
    assert config["LLVM_ROOT"] == str(tmp_path / "wrappers/bin")
    assert config["BINARYEN_ROOT"] == str(tmp_path / "wrappers")
    assert config["NODE_JS"] == [str(tmp_path / "wrappers/bin/node"), "--no-experimental-fetch"]
    assert config["CACHE"] == str(tmp_path / "usr/share/emscripten/cache")
    assert config["FROZEN_CACHE"] is True


# ---------------------------------------------------------------------------------------------------------- build


def test_build_is_atomic_idempotent_and_verifiable(tmp_path: Path) -> None:
    lock, mirror = write_lock(tmp_path, fake_toolchain_debs(tmp_path))
    cache = tmp_path / "cache"
    cache.mkdir()
    tree = tt.build(lock, cache, mirror)
    lock_sha = hashlib.sha256(lock.read_bytes()).hexdigest()
    assert tree == cache / f"emscripten-3.1.69-{lock_sha[:16]}"
    manifest = json.loads((tree / tt.MANIFEST).read_text())
    assert manifest["emscripten_version"] == "3.1.69"
    assert manifest["python_include"] == "usr/include/python3.13"
    assert manifest["loader"] == "usr/lib64/ld-linux-x86-64.so.2"
    assert manifest["lock_sha256"] == lock_sha
    assert sorted(p.name for p in cache.iterdir()) == ["debs", tree.name]  # no temporary directory left
    assert len((tree / tt.ENTRIES).read_text().splitlines()) == manifest["entries"]
    assert tt.verify(tree, lock) == manifest["tree_digest"]
    assert tt.verify(tree, lock, fast=True) == manifest["tree_digest"]
    # Idempotent: a second build returns at once, even with the debs and the mirror gone.
    shutil.rmtree(cache / "debs")
    assert tt.build(lock, cache, "file:///nonexistent") == tree
    # The same lock in another cache gives the same digest.
    other = tmp_path / "other"
    other.mkdir()
    assert (
        json.loads((tt.build(lock, other, mirror) / tt.MANIFEST).read_text())["tree_digest"] == manifest["tree_digest"]
    )
    # A changed file is found by verify.
    (tree / "usr/share/emscripten/cache/sysroot/lib/libc.a").write_bytes(b"changed")
    with pytest.raises(
        tt.TreeError, match="digest .*, expected .*: usr/share/emscripten/cache/sysroot/lib/libc.a " r"changed \(f "
    ):
        tt.verify(tree, lock)
    (tree / "extra").write_bytes(b"")
    with pytest.raises(tt.TreeError, match="extra was added"):
        tt.verify(tree, lock)
    with pytest.raises(tt.TreeError, match="entries"):
        tt.verify(tree, lock, fast=True)


def test_build_with_wrong_tree_digest_leaves_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lock, mirror = write_lock(tmp_path, fake_toolchain_debs(tmp_path), tree_digest="e" * 64)
    cache = tmp_path / "cache"
    cache.mkdir()
    assert tt.main(["build", "--lock", str(lock), "--cache-dir", str(cache), "--mirror", mirror]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("rules-pyodide toolchain-tree: error: emscripten-3.1.69: the built tree has digest ")
    assert f"expects {'e' * 64}; nothing was installed" in err
    assert sorted(p.name for p in cache.iterdir()) == ["debs"]


def test_build_with_wrong_deb_sha256_names_the_package(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    debs = fake_toolchain_debs(tmp_path)
    lock, mirror = write_lock(tmp_path, debs, sha_override={"libc6": "a" * 64})
    cache = tmp_path / "cache"
    cache.mkdir()
    assert tt.main(["build", "--lock", str(lock), "--cache-dir", str(cache), "--mirror", mirror]) == 1
    actual = hashlib.sha256(debs[1].read_bytes()).hexdigest()
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == (
        f"rules-pyodide toolchain-tree: error: libc6 1.0: {mirror}/pool/main/l/libc6/libc6_1.0_amd64.deb has sha256 "
        f"{actual}, the lock expects {'a' * 64}"
    )
    assert not (cache / "debs" / "libc6_1.0_amd64.deb").exists()
    assert [p.name for p in cache.iterdir()] == ["debs"]
    # A corrupt file already in debs/ is named too.
    (cache / "debs" / "libc6_1.0_amd64.deb").write_bytes(b"junk")
    assert tt.main(["build", "--lock", str(lock), "--cache-dir", str(cache), "--mirror", mirror]) == 1
    assert "libc6 1.0: " in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------------- real trees


C_SOURCE = "int add(int a, int b) { return a + b; }\nlong long twice(long long x) { return 2 * x; }\n"
CXX_SOURCE = """#include <stdexcept>
extern "C" int catches(int x) {
  try { if (x) throw std::runtime_error("boom"); return 0; } catch (const std::exception&) { return 42; }
}
"""


def built_tree(version: str) -> tuple[Path, Path]:
    lock = LOCKS / f"emscripten-{version}.lock.json"
    parsed, sha = tt.read_lock(lock)
    tree = tt.default_cache_dir() / tt.tree_dir_name(parsed, sha)
    problem = tt.manifest_matches(tree, parsed, sha)
    if problem is not None:
        pytest.fail(f"the toolchain tree is not built ({problem}): run `make setup`", pytrace=False)
    return tree, lock


# The host's python3 runs emcc.py, as the Bazel toolchain does (the trees' own python3 is not used).
HOST_PYTHON = shutil.which("python3", path="/usr/bin:/bin") or sys.executable


def emcc(tree: Path, *args: str, cwd: Path) -> None:
    # PATH holds only python3: every tool must come from the tree (Debian's 3.1.6 looked binaryen up in PATH).
    bindir = cwd / "path"
    if not bindir.is_dir():
        bindir.mkdir()
        (bindir / "python3").symlink_to(HOST_PYTHON)
    env = dict(os.environ, EM_CONFIG=str(tree / tt.CONFIG), PATH=str(bindir))
    cmd = [HOST_PYTHON, str(tree / tt.EMSCRIPTEN_ROOT / "emcc.py"), *args]
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "warning" not in proc.stderr, proc.stderr  # e.g. -Wversion-check, which -Werror would turn into an error


def assert_side_module(path: Path) -> None:
    data = path.read_bytes()
    assert data[:4] == b"\0asm", f"{path} is not WebAssembly"
    assert b"dylink.0" in data or b"dylink" in data, f"{path} is not a side module"


def load_in_pyodide(runtime: str, libraries: dict[str, Path], calls: str) -> object:
    """Writes the side modules into a real Pyodide's file system, dlopens them with ctypes and evaluates `calls`."""
    code = "import base64, ctypes\n"
    for name, path in libraries.items():
        data = base64.b64encode(path.read_bytes()).decode()
        code += (
            f"open('/tmp/{name}.so', 'wb').write(base64.b64decode({data!r}))\n{name} = ctypes.CDLL('/tmp/{name}.so')\n"
        )
    return run_in_pyodide(runtime, [], code + calls).result


# The runtime each tree's side modules are loaded into (same libc ABI: 0.21.3 for 3.1.6, see platform notes).
RUNTIME_OF_TREE = {"3.1.6": "0.21.3", "3.1.69": "0.29.5"}
TWICE = "m.twice.restype = ctypes.c_longlong\nm.twice.argtypes = [ctypes.c_longlong]\n"


@pytest.mark.pyodide
@pytest.mark.parametrize("version", ["3.1.6", "3.1.69"])
def test_real_tree_builds_a_side_module(tmp_path: Path, version: str) -> None:
    tree, lock = built_tree(version)
    manifest = json.loads((tree / tt.MANIFEST).read_text())
    assert manifest["emscripten_version"] == version
    assert manifest["format"] == tt.TREE_FORMAT
    assert (tree / manifest["python_include"] / "Python.h").is_file()
    (tmp_path / "m.c").write_text(C_SOURCE)
    emcc(tree, "-O2", "-fPIC", "-c", "m.c", "-o", "m.o", cwd=tmp_path)
    emcc(tree, "m.o", "-sSIDE_MODULE=1", "-sWASM_BIGINT", "-O2", "-o", "m.so", cwd=tmp_path)
    assert_side_module(tmp_path / "m.so")
    if version == "3.1.69":
        (tmp_path / "e.cpp").write_text(CXX_SOURCE)
        flags = ["-fwasm-exceptions", "-sSUPPORT_LONGJMP=wasm"]
        emcc(tree, "-O2", "-fPIC", *flags, "-c", "e.cpp", "-o", "e.o", cwd=tmp_path)
        emcc(tree, "e.o", "-sSIDE_MODULE=1", "-sWASM_BIGINT", "-O2", *flags, "-o", "e.so", cwd=tmp_path)
        assert_side_module(tmp_path / "e.so")
        libraries = {"m": tmp_path / "m.so", "e": tmp_path / "e.so"}
        result = load_in_pyodide(
            RUNTIME_OF_TREE[version],
            libraries,
            TWICE + "[m.add(2, 3), m.twice(1 << 40), " "e.catches(0), e.catches(1)]",
        )
        assert result == [5, 2 << 40, 0, 42]  # i64 through WASM_BIGINT; a C++ exception thrown and caught
    else:
        result = load_in_pyodide(
            RUNTIME_OF_TREE[version], {"m": tmp_path / "m.so"}, TWICE + "[m.add(2, 3), m.twice(1 << 40)]"
        )
        assert result == [5, 2 << 40]
    # A program: runs the JS compiler and the tree's node; the compiler leaves the tree unchanged.
    (tmp_path / "h.c").write_text('#include <stdio.h>\nint main(void) { printf("hi %d\\n", (int)sizeof(long)); }\n')
    emcc(tree, "-O2", "h.c", "-o", "h.js", cwd=tmp_path)
    # --no-experimental-fetch: emscripten 3.1.6's loader uses the global fetch when there is one (NODE_JS does too).
    node = [str(tree / tt.WRAPPERS / "node"), "--no-experimental-fetch"]
    out = subprocess.run([*node, "h.js"], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert out.stdout == "hi 4\n"
    resource = subprocess.run(
        [str(tree / tt.WRAPPERS / "clang"), "-print-resource-dir"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert Path(resource, "include", "stddef.h").is_file()
    assert tt.verify(tree, lock) == manifest["tree_digest"]
