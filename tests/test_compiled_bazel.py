"""Compiled recipes through Bazel, in a temporary copy of the workspace: switching the Pyodide profile rebuilds the
compiled packages only (execution log), and the errors of issue 4 have clear messages: no toolchain, wrong toolchain
version, a compiler error (log tail shown), a missing library. A user's own Emscripten registered before ours
(`emscripten_local`, `emscripten_sdk`) serves every profile; `emscripten_sdk` (a pinned emsdk release) is resolved
from a --distdir holding a stand-in release built here, never downloaded. Runtime checks are Bazel tests
(tests/bazel/compiled: each compiled recipe doing real work in every runtime of every profile).
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from bazel_workspace import Workspace, copy_workspace, machine_disk_cache

from rules_pyodide.toolchain_tree import tree_path

pytestmark = [pytest.mark.bazel]

PROBE_C = "packages/rp-abiprobe/src/rp_abiprobe/_probe.c"
PROBE_META = "packages/rp-abiprobe/meta.yaml"
# The user's own Emscripten in these tests is the 3.1.6 tree's, reached the way a user's install would be.
TREE = tree_path("emscripten-3.1.6")
TREE_EMSCRIPTEN = TREE / "usr" / "share" / "emscripten"
TREE_TOOLS = TREE / "wrappers" / "bin"
# Where WORKSPACE sets up (and registers) our toolchains: a toolchain registered before it serves every profile.
REGISTER_OURS = 'load("//rules:toolchains.bzl", "rules_pyodide_register_toolchains")'


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    base = tmp_path_factory.mktemp("bazel_compiled")
    root = copy_workspace(base / "rules_pyodide")
    env = {k: v for k, v in os.environ.items() if k != "RULES_PYODIDE_PYTHON"}
    env.pop("EM_CONFIG", None)
    env.pop("EMSDK", None)
    workspace = Workspace(root, base / "output_base", env, machine_disk_cache())
    yield workspace
    workspace.shutdown(expunge=True)


def _compiled(ws: Workspace) -> set[str]:
    """Target names of the compiled recipes (their `_build` is a pyodide_emcc_build)."""
    out = ws.bazel("query", "kind(pyodide_emcc_build, deps(//packages:core))", "--output=label").stdout
    return {line.split(":")[1] for line in out.split()}


def test_profile_switch_rebuilds_compiled_packages_only(ws: Workspace) -> None:
    start = time.monotonic()
    cold = ws.spawns("//packages:core")
    cold_s = time.monotonic() - start
    compiled = _compiled(ws)
    assert {"markupsafe_build", "rp-abiprobe_build"} <= compiled
    built = {s["progressMessage"].split(" ")[1] for s in cold if s["mnemonic"] == "PyodideEmccBuild"}
    assert built == {f"//packages:{name}" for name in compiled}

    start = time.monotonic()
    switched = ws.spawns("//packages:core", "--//:pyodide=0.23.4")
    switch_s = time.monotonic() - start
    mnemonics = sorted({s["mnemonic"] for s in switched})
    # Only compiled packages, their file packages and the dist ran again; every pure-Python build was reused.
    assert "PyodideBuild" not in mnemonics and "PyodideUnpack" not in mnemonics, mnemonics
    rebuilt = sorted(s["progressMessage"] for s in switched if s["mnemonic"] == "PyodideEmccBuild")
    assert len(rebuilt) == len(compiled) and all("for Pyodide 0.23.4" in m for m in rebuilt), rebuilt
    # Same output directory for both profiles (that is what lets pure outputs be reused); the wheel is the profile's.
    wheel = ws.root / ".bazel/bin/packages/markupsafe_build/markupsafe-2.1.5-cp311-cp311-emscripten_3_1_32_wasm32.whl"
    assert wheel.is_file()
    print(f"cold build {cold_s:.1f}s ({len(cold)} spawns), profile switch {switch_s:.1f}s ({len(switched)} spawns)")


def _edit(path: Path, old: str, new: str) -> str:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))
    return text


def test_compiler_error_shows_the_log_tail(ws: Workspace) -> None:
    source = ws.root / PROBE_C
    original = _edit(source, "time_t t = time(NULL);", "time_t t = time(NULL) +;")
    try:
        err = ws.fails("build", "//packages:rp-abiprobe")
    finally:
        source.write_text(original)
    assert "rp-abiprobe: the package build (pip wheel) failed" in err
    assert "last lines of the log" in err and "_probe.c" in err and "error: expected expression" in err


def test_missing_library_names_it(ws: Workspace) -> None:
    meta = ws.root / PROBE_META
    original = _edit(meta, "  cflags: -Wall -Werror\n", "  cflags: -Wall -Werror\n  ldflags: -lrp_no_such_lib\n")
    try:
        err = ws.fails("build", "//packages:rp-abiprobe")
    finally:
        meta.write_text(original)
    assert "unable to find library -lrp_no_such_lib" in err


def test_missing_toolchain_tree_says_how_to_get_one(ws: Workspace) -> None:
    ws.bazel("build", "//packages:six")
    env = dict(ws.env, RULES_PYODIDE_TOOLCHAINS="/nonexistent/toolchains")
    other = Workspace(ws.root, ws.output_base, env, ws.disk_cache)
    try:
        err = other.fails("build", "//packages:markupsafe")
    finally:
        other.bazel("shutdown", check=False)  # the next command refetches with the default environment
    assert "no Emscripten toolchain: toolchain tree emscripten-3.1.6 is missing" in err
    assert "/nonexistent/toolchains/emscripten-3.1.6-" in err and "run `make setup`" in err
    assert ws.spawns("//packages:six") == []  # pure-Python packages never need the toolchain


def _register_first(ws: Workspace, repository: str) -> str:
    """Puts `repository` (declared in WORKSPACE by the caller's edit) before our toolchains; returns the original."""
    workspace = ws.root / "WORKSPACE"
    original = workspace.read_text()
    assert REGISTER_OURS in original
    register = f'{repository}\nregister_toolchains("@my_emscripten//:toolchain")\n\n{REGISTER_OURS}'
    workspace.write_text(original.replace(REGISTER_OURS, register))
    return original


def test_a_users_own_emscripten_of_the_wrong_version_is_refused(ws: Workspace, tmp_path: Path) -> None:
    # An "install" whose emscripten-version.txt says 2.0.0: the 0.21.3 profile accepts 3.1.6 and 3.1.14 only.
    fake = tmp_path / "emsdk"
    (fake / "emscripten").mkdir(parents=True)
    (fake / "emscripten" / "emscripten-version.txt").write_text('"2.0.0"\n')
    (fake / "emscripten" / "emcc.py").symlink_to(TREE_EMSCRIPTEN / "emcc.py")
    (fake / "bin").mkdir()
    for tool in ("clang", "clang++", "wasm-ld", "llvm-ar", "llvm-nm", "wasm-opt"):
        (fake / "bin" / tool).write_text(_FORWARD_TOOL.format(target=TREE_TOOLS / tool))
        (fake / "bin" / tool).chmod(0o755)
    load = 'load("//toolchains:emscripten_repository.bzl", "emscripten_local")\n\n'
    original = _register_first(ws, load + f'emscripten_local(name = "my_emscripten", path = "{fake}/emscripten")')
    try:
        err = ws.fails("build", "//packages:markupsafe")
    finally:
        (ws.root / "WORKSPACE").write_text(original)
    assert "the Emscripten toolchain is version 2.0.0" in err
    assert "the Pyodide 0.21.3 profile needs one of 3.1.6, 3.1.14" in err


# A stand-in emsdk release (`wasm-binaries.tbz2`, the layout emscripten_sdk unpacks: install/emscripten,
# install/bin): its scripts and tools forward to the emscripten-3.1.6 toolchain tree, which is all this machine has.
_FORWARD_SCRIPT = """\
# Stand-in emsdk release (tests/test_compiled_bazel.py): runs the 3.1.6 tree's {name} with the tree's own config.
import os
import sys

os.environ["EM_CONFIG"] = "{tree}/emscripten.config"
os.environ.pop("EM_CACHE", None)
os.execv(sys.executable, [sys.executable, "{emscripten}/{name}", *sys.argv[1:]])
"""
_FORWARD_TOOL = '#!/bin/sh\nexec {target} "$@"\n'


def emsdk_fixture(distdir: Path, version: str = "3.1.6") -> str:
    """Writes distdir/wasm-binaries.tbz2; returns its sha256."""
    files = {"install/emscripten/emscripten-version.txt": (f'"{version}"\n', 0o644)}
    for script in ("emcc.py", "em++.py", "emar.py", "emranlib.py"):
        text = _FORWARD_SCRIPT.format(name=script, tree=TREE, emscripten=TREE_EMSCRIPTEN)
        files[f"install/emscripten/{script}"] = (text, 0o644)
    for tool in ("clang", "clang++", "wasm-ld", "llvm-ar", "llvm-nm", "llvm-ranlib", "wasm-opt"):
        files[f"install/bin/{tool}"] = (_FORWARD_TOOL.format(target=TREE_TOOLS / tool), 0o755)
    distdir.mkdir(parents=True, exist_ok=True)
    archive = distdir / "wasm-binaries.tbz2"
    with tarfile.open(archive, "w:bz2") as tar:
        for name, (text, mode) in sorted(files.items()):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), mode, 315532800
            tar.addfile(info, io.BytesIO(data))
    return hashlib.sha256(archive.read_bytes()).hexdigest()


def test_emscripten_sdk_comes_from_the_distdir(ws: Workspace, tmp_path: Path) -> None:
    distdir = tmp_path / "distdir"
    sha256 = emsdk_fixture(distdir)
    # The pinned 3.1.6 release gives the revision (so the url); the stand-in's sha256 replaces the real one.
    load = 'load("//toolchains:emscripten_repository.bzl", "emscripten_sdk")\n\n'
    sdk = load + 'emscripten_sdk(name = "my_emscripten", version = "{}", sha256 = {{"linux": "{}"}})'
    original = _register_first(ws, sdk.format("3.1.6", sha256))
    try:
        ws.bazel("build", f"--distdir={distdir}", "//packages:rp-abiprobe")
        generated = (ws.output_base / "external" / "my_emscripten" / "BUILD.bazel").read_text()
        assert "emsdk release 3.1.6 (linux), emscripten 3.1.6" in generated
        log = (ws.root / ".bazel/bin/packages/rp-abiprobe_build/build.log").read_text()
        assert "/external/my_emscripten/bin/emcc" in log and "_probe.c" in log

        # A sha256 that the distdir's file does not have: nothing is downloaded, the message says what to do.
        (ws.root / "WORKSPACE").write_text(original)
        _register_first(ws, sdk.format("3.1.6", "0" * 64))
        err = ws.fails("build", f"--distdir={distdir}", "//packages:rp-abiprobe")
        assert "emscripten_sdk @my_emscripten: cannot download https://storage.googleapis.com/" in err
        assert "8791c3e936141cbc2dd72d76290ea9b2726d39f3/wasm-binaries.tbz2" in err  # the pinned revision
        assert "put `wasm-binaries.tbz2` in the --distdir" in err

        # The release must be the version asked for.
        (ws.root / "WORKSPACE").write_text(original)
        _register_first(ws, sdk.format("3.1.14", sha256))
        err = ws.fails("build", f"--distdir={distdir}", "//packages:rp-abiprobe")
        assert "found emscripten 3.1.6" in err and "but version 3.1.14 was requested" in err
    finally:
        (ws.root / "WORKSPACE").write_text(original)
