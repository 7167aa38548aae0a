"""File packages load byte-exact into real Pyodide runtimes through js/load_file_package.js.

Packages are built from generated trees (nested dirs, empty, binary and unicode files, names with quotes,
backslashes and ``</script>``) by each packer (emscripten's reference and ours), plain, ``--lz4`` and
``--separate-metadata``, loaded into every runtime, and checked from inside Python: the sha256 of every file, the
import of Python modules installed into site-packages, and a call into a shared library of the package.
A CPython C extension, built for each ABI profile (rules_pyodide/runtimes.json) with that profile's toolchain tree,
headers and flags, is imported in every runtime a profile serves (0.26.4 and 314.0.7 have no profile: no compiled
package is built for them).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import random
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pyodide_runner import (
    RUNTIME_VERSIONS,
    TABLE,
    PyodideRunError,
    node_executable,
    run_in_pyodide,
    runtime_dir,
    site_packages,
)

from rules_pyodide.toolchain_tree import CONFIG, EMSCRIPTEN_ROOT, tree_path

pytestmark = pytest.mark.pyodide

FIXTURES = Path(__file__).resolve().parent / "fixtures"
PROFILES_DIR = Path(__file__).resolve().parent.parent / "toolchains" / "profiles"
PROFILE_OF = {runtime: name for name, profile in TABLE.profiles.items() for runtime in profile.runtimes}
# The host's python3 runs emcc.py, as the Bazel toolchain does (the trees' own python3 is not used).
HOST_PYTHON = shutil.which("python3", path="/usr/bin:/bin") or sys.executable
EMSCRIPTEN_PACKER = tree_path("emscripten-3.1.6") / "usr/share/emscripten/tools/file_packager.py"
OUR_PACKER_MODULE = "rules_pyodide.file_packager"

PACKERS = ("emscripten", "ours")


@dataclass(frozen=True)
class Variant:
    """One way of packing: the flags given to the packer."""

    name: str
    lz4: bool
    separate_metadata: bool


VARIANTS = (
    Variant("plain", lz4=False, separate_metadata=False),
    Variant("lz4", lz4=True, separate_metadata=False),
    Variant("meta", lz4=False, separate_metadata=True),
    Variant("lz4_meta", lz4=True, separate_metadata=True),
)

# Text of the Python modules installed into site-packages; exercises non-ASCII source and escapes.
GREETING = "héllo wörld 🐍 </script> \\ \" '"


# --- building ---------------------------------------------------------------------------------------------------


def built_tree(name: str) -> Path:
    """The pinned toolchain tree `name` (toolchains/trees/), which `make setup` builds."""
    tree = tree_path(name)
    if not (tree / CONFIG).is_file():
        pytest.fail(f"the toolchain tree {name} is not built at {tree}: run `make setup`", pytrace=False)
    return tree


def emcc(toolchain: str, work: Path, *args: str | Path) -> None:
    """Runs the emcc of a toolchain tree with its own config in `work`; fails the test with its output on error."""
    tree = built_tree(toolchain)
    # PATH holds only python3: every tool comes from the tree (Debian's emcc 3.1.6 looks binaryen up in PATH).
    bindir = work / "path"
    if not bindir.is_dir():
        bindir.mkdir(parents=True)
        (bindir / "python3").symlink_to(HOST_PYTHON)
    env = dict(os.environ, EM_CONFIG=str(tree / CONFIG), PATH=str(bindir))
    command = [HOST_PYTHON, str(tree / EMSCRIPTEN_ROOT / "emcc.py"), *map(str, args)]
    proc = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"emcc {' '.join(map(str, args))} failed:\n{proc.stdout}\n{proc.stderr}"


def build_side_module(source: Path, output: Path) -> Path:
    """Compiles ``source`` into a plain wasm side module (``-O2 -fPIC``, ``-sSIDE_MODULE=1 -sWASM_BIGINT``) with the
    default profile's toolchain; every runtime loads it (no Python ABI is involved)."""
    toolchain = TABLE.profiles[TABLE.default_profile].toolchain
    obj = output.with_suffix(".o")
    emcc(toolchain, output.parent, "-O2", "-fPIC", "-c", source, "-o", obj)
    emcc(toolchain, output.parent, "-O2", "-sSIDE_MODULE=1", "-sWASM_BIGINT", obj, "-o", output)
    return output


def python_include_dir(profile: str, into: Path) -> Path:
    """The CPython headers of `profile`, as toolchains/python_headers.bzl assembles them: a module's (exodide's
    CPython 3.10.2 with a wasm32 pyconfig.h), or a toolchain tree's include directory with the profile's generated
    pyconfig.h in place of the host's."""
    headers = TABLE.profiles[profile].headers
    if "python_module" in headers:
        spec = importlib.util.find_spec(headers["python_module"])
        assert spec is not None and spec.submodule_search_locations, f"{headers['python_module']}: run `make setup`"
        return Path(next(iter(spec.submodule_search_locations))) / headers["subdir"]
    source = built_tree(headers["tree"]) / headers["include"]
    into.mkdir(parents=True)
    for entry in sorted(source.iterdir()):
        if entry.name != "pyconfig.h":
            (into / entry.name).symlink_to(entry)
    (into / "pyconfig.h").symlink_to(PROFILES_DIR / profile / "pyconfig.h")
    return into


def build_extension(profile: str, source: Path, out: Path) -> Path:
    """Compiles the CPython extension ``source`` for `profile` (its toolchain, headers, cflags and ldflags, and the
    sysroot overlay it may have) into ``out/<module><EXT_SUFFIX>``."""
    facts = json.loads((PROFILES_DIR / profile / "profile.json").read_text())
    include = python_include_dir(profile, out / "include")
    overlay = ["-isystem", str(PROFILES_DIR / profile / "sysroot_overlay")] if facts["sysroot_overlay"] else []
    toolchain = TABLE.profiles[profile].toolchain
    obj = out / f"{source.stem}.o"
    emcc(toolchain, out, *facts["cflags"], *overlay, f"-I{include}", "-c", source, "-o", obj)
    output = out / f"{source.stem}{facts['ext_suffix']}"
    emcc(toolchain, out, *facts["ldflags"], "-sSIDE_MODULE=1", obj, "-o", output)
    return output


def pack(packer: str, js: Path, preloads: list[tuple[Path, str]], variant: Variant) -> Path:
    """Packs ``preloads`` (host dir, destination) into ``js`` + ``js.with_suffix('.data')`` with ``packer``."""
    if packer == "emscripten":
        cmd = [sys.executable, str(EMSCRIPTEN_PACKER)]
    else:
        cmd = [sys.executable, "-m", OUR_PACKER_MODULE]
    cmd.append(str(js.with_suffix(".data")))
    for src, dst in preloads:
        cmd += ["--preload", f"{str(src).replace('@', '@@')}@{dst.replace('@', '@@')}"]
    cmd.append(f"--js-output={js}")
    if variant.lz4:
        cmd.append("--lz4")
    if variant.separate_metadata:
        cmd.append("--separate-metadata")
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"{packer} packer failed: {' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}"
    return js


def write_tree(root: Path, shared_library: Path) -> None:
    """A tree that stresses the packer and the loader; deterministic."""
    rng = random.Random(20240521)
    files: dict[str, bytes] = {
        "top.txt": b"top level\n",
        "empty": b"",
        "nested/a/b/c/d/deep.txt": b"deep\n" * 3,
        "nested/a/empty-in-dir": b"",
        "nested/a/b/sibling.json": json.dumps({"k": [1, 2, 3]}).encode(),
        "binary/random.bin": rng.randbytes(150_000),  # ~75 LZ4 chunks, incompressible
        "binary/zeros.bin": bytes(70_001),  # compressible, odd size
        "binary/all-bytes.bin": bytes(range(256)) * 9,
        "unicodé/日本語/ファイル.txt": "こんにちは\n".encode(),
        "emoji-🐍.txt": "🐍".encode(),
        "Ωmega space.dat": b"\x00\xff\x00",
        'it\'s "quoted".txt': b"quotes",
        "back\\slash.txt": b"backslash",
        "</script>.txt": b"<script>alert(1)</script>",
        "<!-- comment.txt": b"html comment",
        "${x}`echo`.txt": b"template literal",
        "at@sign.txt": b"at sign",
        "line\nbreak.txt": b"newline in name",
        ".hidden": b"hidden",
        "lib/librpside.so": shared_library.read_bytes(),
    }
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


def write_python_package(site_dir: Path, name: str) -> None:
    """A package ``name`` with a subpackage, installed into ``site_dir`` (a stand-in for site-packages)."""
    pkg = site_dir / name
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text(
        f'"""rules_pyodide runtime test package."""\n'
        f"from .sub.greet import GREETING\n\n"
        f"VARIANT = {name!r}\n\n\n"
        f"def probe():\n"
        f'    return {{"name": VARIANT, "greeting": GREETING, "file": __file__}}\n',
        encoding="utf-8",
    )
    (pkg / "sub" / "__init__.py").write_bytes(b"")
    (pkg / "sub" / "greet.py").write_text(f"GREETING = {GREETING!r}\n", encoding="utf-8")


def host_digests(root: Path) -> dict[str, str]:
    """relative path -> sha256 of every file under ``root``."""
    digests: dict[str, str] = {}
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            path = Path(dirpath, name)
            digests[path.relative_to(root).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


# Runs inside Pyodide. CHECK_INPUT is replaced by a Python string literal (repr) holding JSON: data, not code.
CHECK_CODE = """
import ctypes, hashlib, importlib, json, os

check = json.loads(CHECK_INPUT)

def digests(root):
    out = {}
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, root)] = hashlib.sha256(f.read()).hexdigest()
    return out

result = {"trees": {root: digests(root) for root in check["trees"]}, "imports": {}, "ctypes": {}}
for module in check["imports"]:
    result["imports"][module] = importlib.import_module(module).probe()
for lib in check["libraries"]:
    result["ctypes"][lib] = ctypes.CDLL(lib).rp_triple(14)
result
"""


def check_code(check: dict[str, list[str]]) -> str:
    return CHECK_CODE.replace("CHECK_INPUT", repr(json.dumps(check)))


# --- fixtures ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """The plain side module, built once."""
    out = tmp_path_factory.mktemp("c-build")
    yield {"side": build_side_module(FIXTURES / "rpdemo" / "rp_side.c", out / "librpside.so")}


@pytest.fixture(scope="session")
def rpdemo(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """The CPython extension ``_rpdemo`` of a profile, built once per profile."""
    out = tmp_path_factory.mktemp("extensions")
    cache: dict[str, Path] = {}

    def of(profile: str) -> Path:
        if profile not in cache:
            cache[profile] = build_extension(profile, FIXTURES / "rpdemo" / "_rpdemo.c", out / profile)
        return cache[profile]

    return of


@pytest.fixture(scope="session")
def tree(tmp_path_factory: pytest.TempPathFactory, built: dict[str, Path]) -> Path:
    root = tmp_path_factory.mktemp("tree") / "data"
    write_tree(root, built["side"])
    return root


@pytest.fixture(scope="session")
def node() -> str:
    return node_executable()


# --- tests ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("packer", PACKERS)
@pytest.mark.parametrize("version", RUNTIME_VERSIONS)
def test_packages_load_byte_exact(version: str, packer: str, tree: Path, tmp_path: Path) -> None:
    """Every variant of a package, loaded into one runtime: every file has the right bytes, modules import from
    site-packages, and the shared library in the package is loaded and callable."""
    site = site_packages(version)
    packages: list[Path] = []
    expected_trees: dict[str, dict[str, str]] = {}
    expected_imports: dict[str, object] = {}
    libraries: list[str] = []
    for variant in VARIANTS:
        module = f"rp_{variant.name}"
        py_root = tmp_path / f"py-{variant.name}"
        write_python_package(py_root, module)
        data_dst = f"/rp/{variant.name}/data"
        packages.append(pack(packer, tmp_path / f"pkg_{variant.name}.js", [(tree, data_dst), (py_root, site)], variant))
        expected_trees[data_dst] = host_digests(tree)
        expected_trees[f"{site}/{module}"] = host_digests(py_root / module)
        expected_imports[module] = {"name": module, "greeting": GREETING, "file": f"{site}/{module}/__init__.py"}
        libraries.append(f"{data_dst}/lib/librpside.so")
    for variant in VARIANTS:
        if variant.separate_metadata:
            assert (tmp_path / f"pkg_{variant.name}.js.metadata").is_file()

    check = {"trees": list(expected_trees), "imports": list(expected_imports), "libraries": libraries}
    run = run_in_pyodide(version, packages, check_code(check))

    assert run.pyodide_version == version
    assert isinstance(run.result, dict)
    assert run.result["trees"] == expected_trees
    assert run.result["imports"] == expected_imports
    assert run.result["ctypes"] == {lib: 42 for lib in libraries}
    assert [p.shared_libraries for p in run.packages] == [(lib,) for lib in libraries]
    # Pyodide 0.21 warns and skips a library it cannot read (e.g. a lazy LZ4 node); the loader must prevent that.
    assert "Failed to load dynlib" not in run.stderr
    assert run.stdout == ""


@pytest.mark.parametrize("lz4", [False, True], ids=["plain", "lz4"])
@pytest.mark.parametrize("version", [v for v in RUNTIME_VERSIONS if v in PROFILE_OF])
def test_c_extension_imports(version: str, lz4: bool, rpdemo: Callable[[str], Path], tmp_path: Path) -> None:
    """A CPython C extension built for the runtime's profile, shipped in a package, imports and computes."""
    extension = rpdemo(PROFILE_OF[version])
    site = tmp_path / "site"
    site.mkdir()
    shutil.copy(extension, site / extension.name)
    variant = Variant("lz4" if lz4 else "plain", lz4=lz4, separate_metadata=False)
    js = pack("emscripten", tmp_path / "rpdemo.js", [(site, site_packages(version))], variant)

    code = """
import _rpdemo

try:
    _rpdemo.sum_squares([1, "2"])
    type_error = None
except TypeError as e:
    type_error = str(e)
try:
    _rpdemo.sum_squares([2**40])
    overflow = None
except OverflowError as e:
    overflow = str(e)
{
    "file": _rpdemo.__file__,
    "small": _rpdemo.sum_squares([1, 2, 3]),
    "big": _rpdemo.sum_squares(range(-1000, 1_000_001, 7)),
    "type_error": type_error,
    "overflow": overflow,
}
"""
    run = run_in_pyodide(version, [js], code)

    assert isinstance(run.result, dict)
    assert run.result == {
        "file": f"{site_packages(version)}/{extension.name}",
        "small": 14,
        "big": sum(i * i for i in range(-1000, 1_000_001, 7)),  # > 2**32: needs 64-bit ints across the ABI
        "type_error": "item 1 is str, not int",
        "overflow": "sum_squares() overflows a 64-bit integer",
    }
    assert run.packages[0].shared_libraries == (f"{site_packages(version)}/{extension.name}",)
    assert "Failed to load dynlib" not in run.stderr


def make_hello_package(out_dir: Path, name: str, dst_root: str, variant: Variant) -> Path:
    src = out_dir / f"src-{name}-{dst_root.strip('/')}"
    src.mkdir(parents=True)
    (src / "hello.txt").write_text(f"hello from {name}\n")
    return pack("emscripten", out_dir / f"{name}.js", [(src, f"{dst_root}/{name}")], variant)


@pytest.mark.parametrize("version", ["0.21.3", "314.0.7"])
def test_loader_errors_and_browser_path(version: str, node: str, tmp_path: Path) -> None:
    """Bad packages reject with a clear Error and leave nothing behind; the runtime stays usable; the loader also
    works as a plain browser script with fetch."""
    plain = Variant("plain", lz4=False, separate_metadata=False)
    for out_dir, root in ((tmp_path, "/rp"), (tmp_path / "browser", "/rp-browser")):
        out_dir.mkdir(exist_ok=True)
        make_hello_package(out_dir, "good", root, plain)
        make_hello_package(out_dir, "good_lz4", root, Variant("lz4", lz4=True, separate_metadata=False))
        make_hello_package(out_dir, "good_meta", root, Variant("meta", lz4=False, separate_metadata=True))
        make_hello_package(out_dir, "missing_data", root, plain).with_suffix(".data").unlink()
        truncated = make_hello_package(out_dir, "truncated", root, plain).with_suffix(".data")
        truncated.write_bytes(truncated.read_bytes()[:-1])
        meta = make_hello_package(out_dir, "missing_meta", root, Variant("m", lz4=False, separate_metadata=True))
        Path(f"{meta}.metadata").unlink()
    (tmp_path / "not_a_package.js").write_text("var x = 1;\n")

    proc = subprocess.run(
        [
            node,
            str(FIXTURES / "js" / "loader_checks.js"),
            "--pyodide",
            str(runtime_dir(version)),
            "--packages",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])

    errors = out["errors"]
    assert errors["missing_data"].startswith(f"loadFilePackage: cannot read data file {tmp_path}/missing_data.data")
    assert "ENOENT" in errors["missing_data"]
    assert errors["truncated"].startswith(f"loadFilePackage: data file {tmp_path}/truncated.data has ")
    assert "the .js and .data do not belong together" in errors["truncated"]
    assert errors["missing_meta"].startswith(f"loadFilePackage: cannot read {tmp_path}/missing_meta.js.metadata")
    assert "never asked for its data through Module.getPreloadedPackage" in errors["not_a_package"]
    assert errors["no_such_package"].startswith(f"loadFilePackage: cannot read package {tmp_path}/no_such_package.js")
    assert out["leftovers"] == {name: False for name in errors}
    hello = {name: f"hello from {name}\n" for name in ("good", "good_lz4", "good_meta")}
    assert out["node"] == hello
    assert out["twice"] == {
        name: f"loadFilePackage: /rp/{name}/hello.txt already exists; a package does not overwrite files "
        "(loaded twice?)"
        for name in ("good", "good_lz4")
    }
    assert out["browser"] == hello
    browser_base = "http://packages.test/app/browser/"
    assert out["browserErrors"]["missing_data"] == (
        f"loadFilePackage: cannot read data file {browser_base}missing_data.data of "
        f"{browser_base}missing_data.js: HTTP 404 Not Found"
    )
    assert "has " in out["browserErrors"]["truncated"]


def test_cli_reports_python_errors_and_keeps_stdout_clean() -> None:
    """The CLI exits non-zero on a Python exception and reports it; stdout holds only the JSON report."""
    version = RUNTIME_VERSIONS[0]
    with pytest.raises(PyodideRunError) as info:
        run_in_pyodide(version, [], "print('before')\nraise ValueError('boom ' + 'from python')")
    assert "ValueError: boom from python" in info.value.error
    run = run_in_pyodide(version, [], "print('out')\n{'a': [1, 2.5, None, True, 'é']}")
    assert run.stdout == "out\n"
    assert run.result == {"a": [1, 2.5, None, True, "é"]}
