"""Test support: the recipes' dist built by Bazel, the compiled package `rpdemo` (tests/fixtures/rpdemo/_rpdemo.c
built with Debian's emcc for Pyodide 0.21.x) as a wheel, and a dist that adds it to the recipes' dist.

Used by the bundle tests until packages/ has compiled recipes; then the app can import one of those instead and
the tests can use the Bazel dist as it is.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import zipfile
from functools import cache
from pathlib import Path

from rules_pyodide.index import dump_index, fragments_from_index, make_fragment, merge, sha256_file

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"
WHEEL_NAME = "rpdemo-1.0-cp310-cp310-emscripten_3_1_14_wasm32.whl"
EXTENSION = "rpdemo/_rpdemo.cpython-310-wasm32-emscripten.so"


@cache
def recipes_dist() -> Path:
    """`bazel build //packages:all` in this workspace (once per process; cached by Bazel); the dist directory.

    `RULES_PYODIDE_TEST_DIST=DIR` names an already built dist to use instead.
    """
    prebuilt = os.environ.get("RULES_PYODIDE_TEST_DIST")
    if prebuilt:
        return Path(prebuilt).resolve()
    proc = subprocess.run(["bazel", "build", "//packages:all"], cwd=REPO, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"bazel build //packages:all failed:\n{proc.stderr[-4000:]}"
    dist = REPO / ".bazel" / "bin" / "packages" / "dist"
    assert (dist / "repodata.json").is_file(), dist
    return dist


def _emcc(*args: str | Path) -> None:
    emcc = shutil.which("emcc")
    assert emcc is not None, "emcc is not on PATH; run `make setup`"
    proc = subprocess.run([emcc, *map(str, args)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"emcc failed:\n{proc.stdout}\n{proc.stderr}"


def build_extension(out_dir: Path) -> Path:
    """`_rpdemo` as a wasm side module for CPython 3.10 (headers from the exodide wheel)."""
    spec = importlib.util.find_spec("exodide")
    assert spec is not None and spec.submodule_search_locations, "exodide is not installed; run `make setup`"
    include = Path(next(iter(spec.submodule_search_locations))) / "cpython"
    obj, so = out_dir / "_rpdemo.o", out_dir / "_rpdemo.so"
    _emcc("-O2", "-fPIC", f"-I{include}", "-c", FIXTURES / "rpdemo" / "_rpdemo.c", "-o", obj)
    _emcc("-O2", "-sSIDE_MODULE=1", "-sWASM_BIGINT", obj, "-o", so)
    return so


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_wheel(out_dir: Path) -> Path:
    """The wheel: `rpdemo/__init__.py`, the extension, a test module and docs (which a bundle leaves out)."""
    files = {
        "rpdemo/__init__.py": b'"""Sum of squares in C."""\nfrom rpdemo._rpdemo import sum_squares\n\n'
        b'__all__ = ["sum_squares"]\n',
        EXTENSION: build_extension(out_dir).read_bytes(),
        "rpdemo/tests/__init__.py": b"",
        "rpdemo/tests/test_rpdemo.py": b"from rpdemo import sum_squares\n\n\ndef test_small():\n"
        b"    assert sum_squares([1, 2]) == 5\n",
        "rpdemo/README.md": b"# rpdemo\n\nA C extension used by the rules_pyodide tests.\n" * 20,
        "rpdemo-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: rpdemo\nVersion: 1.0\n",
        "rpdemo-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: rules_pyodide tests\nRoot-Is-Purelib: false\n"
        b"Tag: cp310-cp310-emscripten_3_1_14_wasm32\n",
        "rpdemo-1.0.dist-info/top_level.txt": b"rpdemo\n",
    }
    record = [_record_line(name, data) for name, data in files.items()] + ["rpdemo-1.0.dist-info/RECORD,,"]
    files["rpdemo-1.0.dist-info/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = out_dir / WHEEL_NAME
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), data)
    return wheel


def extend_dist(dist: Path, wheel: Path, out: Path) -> Path:
    """A dist with every file of `dist` (symlinked) plus `wheel` as package `rpdemo`; repodata.json only."""
    out.mkdir(parents=True)
    for entry in sorted(dist.iterdir()):
        if entry.is_file() and entry.suffix != ".json":
            (out / entry.name).symlink_to(entry.resolve())
    shutil.copyfile(wheel, out / wheel.name)
    raw = json.loads((dist / "repodata.json").read_text(encoding="utf-8"))
    fragments = fragments_from_index(raw, str(dist / "repodata.json"))
    extra = make_fragment("rpdemo", "1.0", wheel.name, sha256_file(out / wheel.name), imports=["rpdemo"])
    index = merge("repodata.json", raw["info"], [*fragments, ("rpdemo", extra)])
    (out / "repodata.json").write_text(dump_index(index), encoding="utf-8")
    return out
