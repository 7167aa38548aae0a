"""Tests of rules_pyodide.file_packager against Debian emscripten 3.1.6's tools/file_packager.py.

The reference packer runs as a subprocess; ours runs in-process through ``main`` (or ``pack``) unless the test is
about the command line itself. JS behaviour is checked by evaluating the generated loader in Node with a recording
``Module`` (and, for the pyodide-marked test, in a real Pyodide runtime).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import xxhash
from installed import installed
from installed import node as installed_node

from rules_pyodide import file_packager as fp
from rules_pyodide.toolchain_tree import tree_path

ROOT = Path(__file__).resolve().parents[1]
EMSCRIPTEN_ROOT = tree_path("emscripten-3.1.6") / "usr" / "share" / "emscripten"  # the reference packager
EMSCRIPTEN_PACKER = EMSCRIPTEN_ROOT / "tools" / "file_packager.py"
MINI_LZ4 = EMSCRIPTEN_ROOT / "third_party" / "mini-lz4.js"
PYODIDE_RUNTIME = ROOT / "js" / "node_modules" / "pyodide-0.21.3"


# The references `make setup` installs: a test that compares against one fails when it is missing (tests/installed.py).
@pytest.fixture
def emscripten_packer() -> Path:
    return installed(EMSCRIPTEN_PACKER, "emscripten 3.1.6's file_packager.py (the emscripten-3.1.6 toolchain tree)")


@pytest.fixture
def mini_lz4() -> Path:
    return installed(MINI_LZ4, "emscripten 3.1.6's third_party/mini-lz4.js (the emscripten-3.1.6 toolchain tree)")


@pytest.fixture
def pyodide_runtime() -> Path:
    return installed(PYODIDE_RUNTIME / "pyodide.js", "the Pyodide 0.21.3 npm runtime").parent


@pytest.fixture
def node() -> str:
    return installed_node()


needs_emscripten = pytest.mark.usefixtures("emscripten_packer")
needs_node = pytest.mark.usefixtures("node")

# Names that are data, never code. Emscripten 3.1.6 copes with all of these as *file* names (it JSON-encodes
# them), so they are also compared against it; it breaks on such characters in the TARGET name (see below).
WEIRD_NAMES = [
    "plain.txt",
    "h\u00e9llo w\u00f6rld.txt",
    "\u65e5\u672c\u8a9e.py",
    'it\'s "quoted".txt',
    "back\\slash.txt",
    "new\nline.txt",
    "line\u2028separator.txt",
    "__proto__",
    "con$t #1.txt",
    "a@b.txt",
    "snd.ogg",
]


def _bytes(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


def make_tree(root: Path) -> dict[str, bytes]:
    """A tree with nested and empty directories, empty/binary/text files and hostile names.

    Returns {path relative to root (POSIX): content}.
    """
    files: dict[str, bytes] = {
        "empty": b"",
        "nested/deeper/deepest/leaf.bin": _bytes(1, 5000),
        "nested/text.py": b"VALUE = 42\n" * 300,
        "nested/deeper/zero.bin": bytes(10_000),
        ".hidden": b"dot files are packed (emscripten only skips Win32-hidden files)",
        ".git/config": b"[core]\n",
        # A directory ending in "<" holding "script>..." puts "</script>" into the destination path.
        "html<" + "/script>alert(1).txt": b"<script>",
    }
    for index, name in enumerate(WEIRD_NAMES):
        files[name] = f"content of {name!r}\n".encode() + _bytes(100 + index, index * 7)
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    (root / "empty_dir" / "also_empty").mkdir(parents=True)
    return files


def escape_at(path: str) -> str:
    return path.replace("@", "@@")


def run_emscripten(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EMSCRIPTEN_PACKER), *args], cwd=cwd, capture_output=True, text=True, check=False
    )


def run_ours(args: list[str], cwd: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.chdir(cwd)
    return fp.main(args)


def inline_metadata(js: str) -> dict[str, Any]:
    """The object passed to ``loadPackage(...)`` at the end of a generated loader (one line in both packers)."""
    lines = [line.strip() for line in js.splitlines() if line.strip().startswith("loadPackage({")]
    assert len(lines) == 1, "expected exactly one inline loadPackage({...}) call"
    parsed: dict[str, Any] = json.loads(lines[0][len("loadPackage(") : -len(");")])
    return parsed


def without_uuid(metadata: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in metadata.items() if key != "package_uuid"}


def contents_by_name(data: bytes, metadata: dict[str, Any]) -> dict[str, bytes]:
    return {f["filename"]: data[f["start"] : f["end"]] for f in metadata["files"]}


def listing(directory: Path) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    root = tmp_path / "tree"
    return root, make_tree(root)


# ----------------------------------------------------------------------------------------------------------------
# Byte-for-byte comparison with emscripten


@needs_emscripten
def test_plain_data_and_metadata_match_emscripten(
    tmp_path: Path, tree: tuple[Path, dict[str, bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, files = tree
    # emscripten 3.1.6 keeps os.walk order (file system order); newer emscripten and we sort by destination. To
    # compare bytes, emscripten gets the same files as an explicit list in destination order.
    explicit = [f"{escape_at(str(root / rel))}@{escape_at('/pkg/' + rel)}" for rel in sorted(files)]
    # (sorted by rel == sorted by destination, as every destination shares the "/pkg/" prefix)
    ref = run_emscripten(["ref.data", "--preload", *explicit, "--js-output=ref.js"], tmp_path)
    assert ref.returncode == 0, ref.stderr

    assert (
        run_ours(["ours.data", "--preload", f"{root}@/pkg", "--js-output=ours.js", "--quiet"], tmp_path, monkeypatch)
        == 0
    )

    ours_data = (tmp_path / "ours.data").read_bytes()
    assert ours_data == (tmp_path / "ref.data").read_bytes()
    ours_meta = inline_metadata((tmp_path / "ours.js").read_text())
    ref_meta = inline_metadata((tmp_path / "ref.js").read_text())
    assert without_uuid(ours_meta) == without_uuid(ref_meta)
    assert contents_by_name(ours_data, ours_meta) == {"/pkg/" + rel: content for rel, content in files.items()}
    assert {f["filename"]: f.get("audio") for f in ours_meta["files"]}["/pkg/snd.ogg"] == 1


@needs_emscripten
def test_separate_metadata_file_matches_emscripten(
    tmp_path: Path, small_src: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ["--preload", "src/a.txt@/lib/a.txt", "src/d/b.txt@/lib/d/b.txt", "--separate-metadata"]
    ref = run_emscripten(["ref.data", *args, "--js-output=ref.js"], tmp_path)
    assert ref.returncode == 0, ref.stderr
    assert run_ours(["ours.data", *args, "--js-output=ours.js", "--quiet"], tmp_path, monkeypatch) == 0
    ref_text = (tmp_path / "ref.js.metadata").read_text()
    ours_text = (tmp_path / "ours.js.metadata").read_text()
    ref_uuid = json.loads(ref_text)["package_uuid"]
    ours_uuid = json.loads(ours_text)["package_uuid"]
    assert ours_text.replace(ours_uuid, "UUID") == ref_text.replace(ref_uuid, "UUID")  # same JSON text
    assert (tmp_path / "ours.data").read_bytes() == (tmp_path / "ref.data").read_bytes()
    assert '"ours.js.metadata"' in (tmp_path / "ours.js").read_text()


@needs_emscripten
def test_directory_walk_matches_emscripten_content(
    tmp_path: Path, tree: tuple[Path, dict[str, bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, _ = tree
    excludes = ["--exclude", "*.bin", "*/deepest", "*/empty"]
    ref = run_emscripten(["ref.data", "--preload", f"{root}@/pkg", *excludes, "--js-output=ref.js"], tmp_path)
    assert ref.returncode == 0, ref.stderr
    args = ["ours.data", "--preload", f"{root}@/pkg", *excludes, "--js-output=ours.js", "--quiet"]
    assert run_ours(args, tmp_path, monkeypatch) == 0

    ref_meta = inline_metadata((tmp_path / "ref.js").read_text())
    ours_meta = inline_metadata((tmp_path / "ours.js").read_text())
    ref_files = contents_by_name((tmp_path / "ref.data").read_bytes(), ref_meta)
    ours_files = contents_by_name((tmp_path / "ours.data").read_bytes(), ours_meta)
    assert ours_files == ref_files
    assert "/pkg/nested/text.py" in ours_files
    assert not any(name.endswith(".bin") or name == "/pkg/empty" for name in ours_files)
    assert ours_meta["remote_package_size"] == ref_meta["remote_package_size"]
    assert [f["filename"] for f in ours_meta["files"]] == sorted(ours_files)


@needs_emscripten
def test_relative_sources_groups_and_at_escaping_match_emscripten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "src" / "sub").mkdir(parents=True)
    (tmp_path / "src" / "a@b.txt").write_bytes(b"at sign")
    (tmp_path / "src" / "sub" / "x.py").write_bytes(b"x = 1\n")
    (tmp_path / "src" / "sub" / "skip.pyc").write_bytes(b"compiled")
    (tmp_path / "one.txt").write_bytes(b"one")
    (tmp_path / "two.wav").write_bytes(b"RIFF")
    # emscripten 3.1.6 decides "relative to the current directory?" from the *last* preload argument only (a stale
    # loop variable), so it fails on mixes ending in a plain path; here the explicit SRC@DST arguments come last.
    args = [
        "--preload", "src/sub", "src",  # src/sub twice (also through src): deduplicated, not a clash
        "--exclude", "*.pyc",
        "--preload", "src/a@@b.txt@/x@@y/z", "one.txt@one.txt", "two.wav@/media/",
    ]  # fmt: skip
    ref = run_emscripten(["ref.data", *args, "--js-output=ref.js"], tmp_path)
    assert ref.returncode == 0, ref.stderr
    assert run_ours(["ours.data", *args, "--js-output=ours.js", "--quiet"], tmp_path, monkeypatch) == 0

    ref_meta = inline_metadata((tmp_path / "ref.js").read_text())
    ours_meta = inline_metadata((tmp_path / "ours.js").read_text())
    ref_files = contents_by_name((tmp_path / "ref.data").read_bytes(), ref_meta)
    ours_files = contents_by_name((tmp_path / "ours.data").read_bytes(), ours_meta)
    assert (
        ours_files
        == ref_files
        == {
            "/x@y/z": b"at sign",
            "/one.txt": b"one",
            "/media/two.wav": b"RIFF",
            "/src/sub/x.py": b"x = 1\n",
            "/src/a@b.txt": b"at sign",
        }
    )
    audio = {f["filename"] for f in ours_meta["files"] if f.get("audio")}
    assert audio == {f["filename"] for f in ref_meta["files"] if f.get("audio")} == {"/media/two.wav"}


@needs_emscripten
@needs_node
def test_lz4_metadata_and_size_match_emscripten(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "lib"
    shutil.copytree(Path(json.__file__).parent, root / "json", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(Path(re.__file__).parent, root / "re", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "random.bin").write_bytes(_bytes(7, 9000))
    names = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    explicit = [f"{root / rel}@/lib/{rel}" for rel in names]
    ref = run_emscripten(["ref.data", "--lz4", "--preload", *explicit, "--js-output=ref.js"], tmp_path)
    assert ref.returncode == 0, ref.stderr
    args = ["ours.data", "--lz4", "--preload", f"{root}@/lib", "--js-output=ours.js", "--quiet"]
    assert run_ours(args, tmp_path, monkeypatch) == 0

    ours_meta = inline_metadata((tmp_path / "ours.js").read_text())
    assert without_uuid(ours_meta) | {"remote_package_size": 0} == without_uuid(
        inline_metadata((tmp_path / "ref.js").read_text())
    ) | {"remote_package_size": 0}
    ours_size = (tmp_path / "ours.data").stat().st_size
    ref_size = (tmp_path / "ref.data").stat().st_size
    assert ours_meta["remote_package_size"] == ours_size
    assert ours_size <= ref_size * 1.02, (ours_size, ref_size)
    ours_table = compressed_table((tmp_path / "ours.js").read_text())
    ref_table = compressed_table((tmp_path / "ref.js").read_text())
    assert list(ours_table) == list(ref_table)  # same keys, same order (JSON.stringify of compressPackage)
    assert len(ours_table["sizes"]) == len(ref_table["sizes"])  # same number of 2048-byte chunks


# ----------------------------------------------------------------------------------------------------------------
# The generated JS, run in Node

RECORDING_LOADER = r"""
const fs = require('fs');
const path = require('path');
const [jsFile] = process.argv.slice(2);
const dir = path.dirname(jsFile);
const pending = new Set();
const created = {};
const dirs = [];
let started = false;
const Module = {
  calledRun: true,
  locateFile: (name, prefix) => path.join(dir, name),
  FS_createPath: (parent, name) => { dirs.push([parent, name]); },
  FS_createDataFile: (parent, name, data) => {
    created[name === null ? parent : parent + '/' + name] = Buffer.from(data).toString('base64');
  },
  addRunDependency: (id) => { started = true; pending.add(id); },
  removeRunDependency: (id) => {
    if (!pending.delete(id)) throw new Error('unknown run dependency ' + id);
    if (pending.size === 0) console.log(JSON.stringify({created, dirs}));
  },
};
new Function('Module', 'require', fs.readFileSync(jsFile, 'utf8'))(Module, require);
setTimeout(() => { if (pending.size) { console.error('stuck on', [...pending]); process.exit(3); } }, 5000).unref();
"""


def run_loader_in_node(tmp_path: Path, js: Path) -> dict[str, Any]:
    script = tmp_path / "recording_loader.js"
    script.write_text(RECORDING_LOADER)
    node = installed_node()
    done = subprocess.run([node, str(script), str(js)], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@needs_node
@pytest.mark.parametrize("separate", [False, True], ids=["inline-metadata", "separate-metadata"])
def test_js_creates_every_file_in_node(
    tmp_path: Path, tree: tuple[Path, dict[str, bytes]], monkeypatch: pytest.MonkeyPatch, separate: bool
) -> None:
    root, files = tree
    # A target name emscripten cannot handle: it pastes it into JS strings (backslash -> "/", newline unescaped).
    target = 'we\'ird\\ "q" <!-- \u2028 na\nme.data'
    extra = ["--separate-metadata"] if separate else []
    args = [target, "--preload", f"{root}@/pkg", "--js-output=loader.js", *extra, "--quiet"]
    assert run_ours(args, tmp_path, monkeypatch) == 0
    js = (tmp_path / "loader.js").read_text()
    assert "</script" not in js.lower() and "<!--" not in js
    assert "\u2028" not in js and "\u2029" not in js
    assert str(tmp_path) not in js
    assert (tmp_path / "loader.js.metadata").exists() == separate

    result = run_loader_in_node(tmp_path, tmp_path / "loader.js")
    created = {name: base64.b64decode(data) for name, data in result["created"].items()}
    assert created == {"/pkg/" + rel: content for rel, content in files.items()}
    assert ["/pkg", "html<"] in result["dirs"]


@needs_node
def test_js_is_valid_for_every_option(tmp_path: Path, tree: tuple[Path, dict[str, bytes]]) -> None:
    root, _ = tree
    variants = {
        "cache": ["--use-preload-cache", '--indexedDB-name=my "db" </script>'],
        "plugins": ["--use-preload-plugins", "--no-node"],
        "lz4": ["--lz4", "--use-preload-plugins", "--export-name=$My_Module"],
        "separate": ["--separate-metadata", "--no-node", "--lz4"],
    }
    node = installed_node()
    for name, flags in variants.items():
        js = tmp_path / f"{name}.js"
        assert (
            fp.main([str(tmp_path / f"{name}.data"), "--preload", f"{root}@/p", f"--js-output={js}", "--quiet", *flags])
            == 0
        )
        checked = subprocess.run([node, "--check", str(js)], capture_output=True, text=True, check=False)
        assert checked.returncode == 0, (name, checked.stderr)
        text = js.read_text()
        assert ("require" in text) == ("--no-node" not in flags)
    assert 'var DB_NAME = "my \\"db\\" \\u003c/script\\u003e";' in (tmp_path / "cache.js").read_text()
    assert "typeof $My_Module !== 'undefined' ? $My_Module : {}" in (tmp_path / "lz4.js").read_text()


def compressed_table(js: str) -> dict[str, Any]:
    match = re.search(r"var compressedData = (\{.*?\})\s*;", js)
    assert match, "no compressedData table in the loader"
    table: dict[str, Any] = json.loads(match.group(1))
    return table


LZ4_READER = r"""
// Reads every file back through emscripten's own decompressor (third_party/mini-lz4.js) with the chunk logic of
// src/library_lz4.js (LZ4.loadPackage cache set-up + stream_ops.read), in odd-sized reads that cross chunks.
const fs = require('fs');
const vm = require('vm');
const crypto = require('crypto');
const [miniLz4, dataFile, tableFile] = process.argv.slice(2);
globalThis.assert = function(check, message) { if (!check) throw new Error('assertion failed: ' + message); };
vm.runInThisContext(fs.readFileSync(miniLz4, 'utf8') + '\nglobalThis.MiniLZ4 = MiniLZ4;');
const CHUNK_SIZE = MiniLZ4.CHUNK_SIZE;
const {metadata, compressedData} = JSON.parse(fs.readFileSync(tableFile, 'utf8'));
compressedData['data'] = new Uint8Array(fs.readFileSync(dataFile));
for (let i = 0; i < compressedData['cachedIndexes'].length; i++) {
  compressedData['cachedIndexes'][i] = -1;
  compressedData['cachedChunks'][i] = compressedData['data'].subarray(compressedData['cachedOffset'] + i*CHUNK_SIZE,
                                                                compressedData['cachedOffset'] + (i+1)*CHUNK_SIZE);
  assert(compressedData['cachedChunks'][i].length === CHUNK_SIZE, 'cache slot ' + i);
}
function read(contents, buffer, offset, length, position) {
  var written = 0;
  while (written < length) {
    var start = contents.start + position + written;
    var desired = length - written;
    var chunkIndex = Math.floor(start / CHUNK_SIZE);
    var compressedStart = compressedData['offsets'][chunkIndex];
    var compressedSize = compressedData['sizes'][chunkIndex];
    var currChunk;
    if (compressedData['successes'][chunkIndex]) {
      var found = compressedData['cachedIndexes'].indexOf(chunkIndex);
      if (found >= 0) {
        currChunk = compressedData['cachedChunks'][found];
      } else {
        compressedData['cachedIndexes'].pop();
        compressedData['cachedIndexes'].unshift(chunkIndex);
        currChunk = compressedData['cachedChunks'].pop();
        compressedData['cachedChunks'].unshift(currChunk);
        var compressed = compressedData['data'].subarray(compressedStart, compressedStart + compressedSize);
        var originalSize = MiniLZ4.uncompress(compressed, currChunk);
        if (chunkIndex < compressedData['successes'].length-1) assert(originalSize === CHUNK_SIZE, chunkIndex);
      }
    } else {
      currChunk = compressedData['data'].subarray(compressedStart, compressedStart + CHUNK_SIZE);
    }
    var startInChunk = start % CHUNK_SIZE;
    var endInChunk = Math.min(startInChunk + desired, CHUNK_SIZE);
    buffer.set(currChunk.subarray(startInChunk, endInChunk), offset + written);
    written += endInChunk - startInChunk;
  }
  return written;
}
const out = {};
for (const file of metadata.files) {
  const size = file.end - file.start;
  const buffer = new Uint8Array(size);
  for (let position = 0; position < size; position += 777) {
    read(file, buffer, position, Math.min(777, size - position), position);
  }
  out[file.filename] = crypto.createHash('sha256').update(buffer).digest('hex');
}
console.log(JSON.stringify(out));
"""


@needs_node
@pytest.mark.usefixtures("mini_lz4")
def test_lz4_round_trip_through_emscripten_decompressor(tmp_path: Path, tree: tuple[Path, dict[str, bytes]]) -> None:
    root, files = tree
    # Incompressible chunks (stored raw, successes 0), a file spanning many chunks, and a tail chunk < 2048 bytes.
    files["big_random.bin"] = _bytes(99, 3 * fp.CHUNK_SIZE + 123)
    files["big_text.txt"] = b"".join(b"line %d of a compressible file\n" % i for i in range(3000))
    for rel in ("big_random.bin", "big_text.txt"):
        (root / rel).write_bytes(files[rel])
    options = fp.Options(
        data_target=str(tmp_path / "z.data"),
        preloads=(fp.PreloadSpec(str(root), "/pkg"),),
        js_output=str(tmp_path / "z.js"),
        lz4=True,
        quiet=True,
    )
    result = fp.pack(options)
    data = (tmp_path / "z.data").read_bytes()
    table = compressed_table((tmp_path / "z.js").read_text())
    assert result.lz4 is not None and table == result.lz4.to_json_object()

    total = sum(len(content) for content in files.values())
    assert len(table["sizes"]) == -(-total // fp.CHUNK_SIZE)
    assert table["offsets"] == [sum(table["sizes"][:i]) for i in range(len(table["sizes"]))]
    assert table["cachedOffset"] == sum(table["sizes"]) and len(data) == table["cachedOffset"] + 2 * fp.CHUNK_SIZE
    assert data[table["cachedOffset"] :] == bytes(2 * fp.CHUNK_SIZE)
    assert set(table["successes"]) == {0, 1}
    assert all(
        size == fp.CHUNK_SIZE for size, ok in zip(table["sizes"], table["successes"], strict=True) if not ok
    ), "raw"
    assert result.metadata["files"][-1]["end"] == total  # offsets in the uncompressed stream

    table_file = tmp_path / "table.json"
    table_file.write_text(json.dumps({"metadata": result.metadata, "compressedData": table}))
    (tmp_path / "reader.js").write_text(LZ4_READER)
    node = installed_node()
    done = subprocess.run(
        [node, str(tmp_path / "reader.js"), str(MINI_LZ4), str(tmp_path / "z.data"), str(table_file)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"/pkg/" + rel: hashlib.sha256(c).hexdigest() for rel, c in files.items()}


PYODIDE_LOADER = r"""
const fs = require('fs');
const path = require('path');
const [runtimeDir, ...packages] = process.argv.slice(2);
const { loadPyodide } = require(path.join(runtimeDir, 'pyodide.js'));
(async () => {
  const pyodide = await loadPyodide({ indexURL: runtimeDir + '/', stdout: () => {}, stderr: () => {} });
  const Module = pyodide._module;
  for (const jsFile of packages) {
    const dir = path.dirname(jsFile);
    Module.locateFile = (name) => path.join(dir, name);
    const drained = new Promise((resolve) => { Module.monitorRunDependencies = (left) => { if (!left) resolve(); }; });
    new Function('Module', fs.readFileSync(jsFile, 'utf8'))(Module);
    await drained;
  }
  console.log(pyodide.runPython(`
import hashlib, importlib, sys
sys.path[:0] = ["/plain", "/lz4", "/separate"]
import plainmod, lz4mod, separatemod
rows = [m.VALUE for m in (plainmod, lz4mod, separatemod)]
rows.append(hashlib.sha256(open("/lz4/blob.bin", "rb").read()).hexdigest())
repr(rows)
`));
})().catch((error) => { console.error(error); process.exit(1); });
"""


@pytest.mark.pyodide
@needs_node
@pytest.mark.usefixtures("pyodide_runtime")
def test_packages_load_into_real_pyodide(tmp_path: Path) -> None:
    blob = _bytes(5, 70_000) + bytes(20_000)
    loaders = []
    for name, flags in {"plain": [], "lz4": ["--lz4"], "separate": ["--separate-metadata", "--lz4"]}.items():
        src = tmp_path / f"src_{name}"
        src.mkdir()
        (src / f"{name}mod.py").write_text(f"VALUE = {name!r}\n")
        (src / "blob.bin").write_bytes(blob)
        js = tmp_path / f"{name}.js"
        assert (
            fp.main(
                [str(tmp_path / f"{name}.data"), "--preload", f"{src}@/{name}", f"--js-output={js}", "--quiet", *flags]
            )
            == 0
        )
        loaders.append(str(js))
    (tmp_path / "load.js").write_text(PYODIDE_LOADER)
    node = installed_node()
    done = subprocess.run(
        [node, str(tmp_path / "load.js"), str(PYODIDE_RUNTIME), *loaders],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == repr(["plain", "lz4", "separate", hashlib.sha256(blob).hexdigest()])


# ----------------------------------------------------------------------------------------------------------------
# Determinism and the command line


def test_same_bytes_from_any_working_directory(tmp_path: Path, tree: tuple[Path, dict[str, bytes]]) -> None:
    root, _ = tree
    outputs = []
    for index, cwd in enumerate((tmp_path, root / "nested")):
        out = tmp_path / f"out{index}"
        out.mkdir()
        for lz4 in ([], ["--lz4"]):
            stem = "z" if lz4 else "p"
            cmd = [sys.executable, "-m", "rules_pyodide.file_packager", str(out / f"{stem}.data")]
            cmd += ["--preload", f"{root}@/pkg", f"--js-output={out / stem}.js", "--separate-metadata", *lz4]
            subprocess.run(cmd, cwd=cwd, check=True, capture_output=True)
        outputs.append({p.name: p.read_bytes() for p in sorted(out.iterdir())})
    assert outputs[0] == outputs[1]
    assert sorted(outputs[0]) == ["p.data", "p.js", "p.js.metadata", "z.data", "z.js", "z.js.metadata"]
    for content in outputs[0].values():
        assert str(tmp_path).encode() not in content
    metadata = json.loads(outputs[0]["p.js.metadata"])
    digest = xxhash.xxh3_128(outputs[0]["p.data"]).hexdigest()
    assert metadata["package_uuid"].replace("-", "") == digest[:32]


def test_args_file_is_expanded_in_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "with space.txt").write_bytes(b"spaced")
    (tmp_path / "src" / "drop.tmp").write_bytes(b"dropped")
    params = tmp_path / "params"
    params.write_text("a.data\n--preload\nsrc/with space.txt@/d/\n--exclude\n*.tmp\n")
    assert run_ours([f"--args-file={params}", "--js-output=a.js", "--quiet"], tmp_path, monkeypatch) == 0
    assert (
        run_ours(
            ["b.data", "--preload", "src/with space.txt@/d/", "--js-output=b.js", "--quiet"], tmp_path, monkeypatch
        )
        == 0
    )
    assert (tmp_path / "a.data").read_bytes() == (tmp_path / "b.data").read_bytes() == b"spaced"
    assert inline_metadata((tmp_path / "a.js").read_text())["files"] == [
        {"filename": "/d/with space.txt", "start": 0, "end": 6}
    ]


def test_js_goes_to_stdout_without_js_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "f.txt").write_bytes(b"abc")
    assert run_ours(["x.data", "--preload", "f.txt", "--quiet"], tmp_path, monkeypatch) == 0
    captured = capsys.readouterr()
    assert inline_metadata(captured.out)["files"] == [{"filename": "/f.txt", "start": 0, "end": 3}]
    assert captured.err == ""
    assert listing(tmp_path) == ["f.txt", "x.data"]


def test_depfile_lists_outputs_then_inputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "src" / "sub").mkdir(parents=True)
    (tmp_path / "src" / "a b.txt").write_bytes(b"1")
    (tmp_path / "src" / "sub" / "$x#.txt").write_bytes(b"2")
    (tmp_path / "lone.txt").write_bytes(b"3")
    args = ["out.data", "--preload", "src@/s", "lone.txt", "--js-output=out.js", "--depfile=deps.d", "--quiet"]
    assert run_ours(args, tmp_path, monkeypatch) == 0
    assert (tmp_path / "deps.d").read_text() == (
        "out.data \\\nout.js \\\n: \\\nlone.txt \\\nsrc \\\nsrc/a\\ b.txt \\\nsrc/sub \\\nsrc/sub/$$x\\#.txt \\\n"
    )


def test_export_name_and_audio(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.mp3").write_bytes(b"ID3")
    assert (
        run_ours(
            ["x.data", "--preload", "a.mp3", "--js-output=x.js", "--export-name=Pyo_1", "--quiet"],
            tmp_path,
            monkeypatch,
        )
        == 0
    )
    js = (tmp_path / "x.js").read_text()
    assert "var Module = typeof Pyo_1 !== 'undefined' ? Pyo_1 : {};" in js
    assert inline_metadata(js)["files"] == [{"filename": "/a.mp3", "start": 0, "end": 3, "audio": 1}]


@pytest.mark.parametrize(
    ("arg", "src", "dst"),
    [
        ("a.txt", "a.txt", None),
        ("a.txt@/b", "a.txt", "/b"),
        ("a@@b@c@@d", "a@b", "c@d"),
        ("a@@@b", "a@", "b"),  # first lone "@" splits, as in emscripten
        ("@@x", "@x", None),
        ("dir@", "dir", ""),
    ],
)
def test_preload_spec_parse(arg: str, src: str, dst: str | None) -> None:
    assert fp.PreloadSpec.parse(arg) == fp.PreloadSpec(src, dst)


# ----------------------------------------------------------------------------------------------------------------
# Bad input: exit code 1, one line naming the path, nothing left behind


def assert_failed(
    code: int, capsys: pytest.CaptureFixture[str], directory: Path, before: list[str], *needles: str
) -> None:
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert len(err.splitlines()) == 1, err
    for needle in needles:
        assert needle in err, (needle, err)
    assert listing(directory) == before, "outputs or temporary files left behind"


@pytest.fixture
def small_src(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    (src / "d").mkdir(parents=True)
    (src / "a.txt").write_bytes(b"a" * 100)
    (src / "d" / "b.txt").write_bytes(b"b" * 100)
    return src


def test_missing_source(
    tmp_path: Path, small_src: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    before = listing(tmp_path)
    code = run_ours(["x.data", "--preload", "src", "nope/missing.txt", "--js-output=x.js"], tmp_path, monkeypatch)
    assert_failed(code, capsys, tmp_path, before, "nope/missing.txt")


def test_destination_clashes(
    tmp_path: Path, small_src: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    before = listing(tmp_path)
    code = run_ours(
        ["x.data", "--preload", "src/a.txt@/same", "src/d/b.txt@/same", "--js-output=x.js", "--quiet"],
        tmp_path,
        monkeypatch,
    )
    assert_failed(code, capsys, tmp_path, before, "src/a.txt", "src/d/b.txt", "/same")
    code = run_ours(
        ["x.data", "--preload", "src/a.txt@/d", "src@/", "--js-output=x.js", "--quiet"], tmp_path, monkeypatch
    )
    assert_failed(code, capsys, tmp_path, before, '"/d"')


def test_unreadable_file_keeps_previous_outputs(
    tmp_path: Path, small_src: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "x.data").write_bytes(b"previous data")
    (tmp_path / "x.js").write_text("previous js")
    before = listing(tmp_path)
    real_open = os.open
    victim = os.path.join("src", "d", "b.txt")

    def deny(path: str, flags: int, *args: Any, **kwargs: Any) -> int:
        if path == victim:
            raise PermissionError(13, "Permission denied", path)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", deny)
    code = run_ours(["x.data", "--preload", "src", "--js-output=x.js", "--quiet"], tmp_path, monkeypatch)
    assert_failed(code, capsys, tmp_path, before, victim, "Permission denied")
    assert (tmp_path / "x.data").read_bytes() == b"previous data"
    assert (tmp_path / "x.js").read_text() == "previous js"


@pytest.mark.parametrize("lz4", [False, True], ids=["plain", "lz4"])
def test_file_vanishing_mid_run(
    tmp_path: Path, small_src: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, lz4: bool
) -> None:
    before = listing(tmp_path)
    real_collect = fp.collect_files

    def collect_then_delete(options: fp.Options, log: Callable[[str], None]) -> tuple[list[fp.DataFile], list[str]]:
        collected = real_collect(options, log)
        (small_src / "d" / "b.txt").unlink()
        return collected

    monkeypatch.setattr(fp, "collect_files", collect_then_delete)
    args = ["x.data", "--preload", "src", "--js-output=x.js", "--separate-metadata", "--depfile=x.d", "--quiet"]
    code = run_ours(args + (["--lz4"] if lz4 else []), tmp_path, monkeypatch)
    assert_failed(code, capsys, tmp_path, [p for p in before if p != "src/d/b.txt"], "src/d/b.txt", "No such file")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_non_regular_file(
    tmp_path: Path, small_src: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    os.mkfifo(small_src / "d" / "pipe")
    before = listing(tmp_path)
    code = run_ours(["x.data", "--preload", "src", "--js-output=x.js", "--quiet"], tmp_path, monkeypatch)
    assert_failed(code, capsys, tmp_path, before, "src/d/pipe", "not a regular file")


def test_source_outside_cwd_needs_explicit_destination(
    tmp_path: Path, small_src: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    code = run_ours(["x.data", "--preload", "../src", "--js-output=x.js", "--quiet"], work, monkeypatch)
    assert_failed(code, capsys, work, [], "../src", "SRC@DST")


@pytest.mark.parametrize(
    ("flag", "needle"),
    [
        ("--embed", "--embed"),
        ("--obj-output=x.o", "--obj-output"),
        ("--from-emcc", "--from-emcc"),
        ("--plugin=p.py", "--plugin"),
        ("--export-name=not-valid", "--export-name"),
        ("--export-name=var", "--export-name"),
        ("--bogus", "--bogus"),
    ],
)
def test_refused_flags(
    tmp_path: Path,
    small_src: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    flag: str,
    needle: str,
) -> None:
    before = listing(tmp_path)
    code = run_ours(["x.data", flag, "--preload", "src", "--js-output=x.js", "--quiet"], tmp_path, monkeypatch)
    assert_failed(code, capsys, tmp_path, before, needle)


def test_nothing_to_pack(
    tmp_path: Path, small_src: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    before = listing(tmp_path)
    args = ["x.data", "--preload", "src", "--exclude", "*.txt", "--js-output=x.js", "--quiet"]
    assert run_ours([*args, "--no-force"], tmp_path, monkeypatch) == 0
    assert listing(tmp_path) == before
    capsys.readouterr()
    code = run_ours(args, tmp_path, monkeypatch)
    assert_failed(code, capsys, tmp_path, before, "Nothing to do")


def test_outputs_inside_a_preloaded_directory_are_not_packed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "f.txt").write_bytes(b"f")
    for _ in range(2):  # the second run sees the first run's outputs in "."
        assert run_ours(["x.data", "--preload", ".", "--js-output=x.js", "--quiet"], tmp_path, monkeypatch) == 0
        assert inline_metadata((tmp_path / "x.js").read_text())["files"] == [
            {"filename": "/f.txt", "start": 0, "end": 1}
        ]


def test_pack_api(tmp_path: Path, small_src: Path) -> None:
    messages: list[str] = []
    result = fp.pack(
        fp.Options(data_target=str(tmp_path / "api.data"), preloads=(fp.PreloadSpec(str(small_src), "/lib/"),)),
        log=messages.append,
    )
    assert result.written and result.lz4 is None
    assert [(f.dst, f.start, f.end) for f in result.files] == [("/lib/a.txt", 0, 100), ("/lib/d/b.txt", 100, 200)]
    assert result.data_size == 200 == (tmp_path / "api.data").stat().st_size
    assert inline_metadata(result.js) == result.metadata
    assert any("FORCE_FILESYSTEM" in message for message in messages)
    assert not (tmp_path / "api.js").exists()


needs_two_cpus = pytest.mark.skipif(
    not hasattr(os, "fork") or len(os.sched_getaffinity(0)) < 2, reason="parallel LZ4 needs fork and two CPUs"
)


@needs_two_cpus
def test_parallel_lz4_writes_the_same_bytes(
    tmp_path: Path, tree: tuple[Path, dict[str, bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, _ = tree
    (root / "big.bin").write_bytes(_bytes(3, 50_000) + b"abc" * 30_000)
    args = ["--preload", f"{root}@/p", "--lz4", "--quiet"]
    monkeypatch.setattr(fp, "PARALLEL_MIN_BYTES", 10**12)
    assert run_ours(["seq.data", *args, "--js-output=seq.js"], tmp_path, monkeypatch) == 0
    monkeypatch.setattr(fp, "PARALLEL_MIN_BYTES", 0)
    forks: list[int] = []
    real_fork = os.fork

    def counting_fork() -> int:
        forks.append(1)
        return real_fork()

    monkeypatch.setattr(os, "fork", counting_fork)
    assert run_ours(["par.data", *args, "--js-output=par.js"], tmp_path, monkeypatch) == 0
    assert forks == [1]
    assert (tmp_path / "par.data").read_bytes() == (tmp_path / "seq.data").read_bytes()
    assert (tmp_path / "par.js").read_text() == (tmp_path / "seq.js").read_text().replace("seq.data", "par.data")


@needs_two_cpus
def test_parallel_lz4_reports_errors_of_the_second_process(
    tmp_path: Path, small_src: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The forked process compresses the second half of the stream, which holds all of the last file, d/b.txt.
    (small_src / "a.txt").write_bytes(_bytes(4, 20_000))
    (small_src / "d" / "b.txt").write_bytes(_bytes(5, 5_000))
    before = listing(tmp_path)
    real_stat_sizes = fp._stat_sizes

    def stat_then_truncate(files: list[fp.DataFile]) -> list[int]:
        sizes = real_stat_sizes(files)
        (small_src / "d" / "b.txt").write_bytes(b"short")
        return sizes

    monkeypatch.setattr(fp, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(fp, "_stat_sizes", stat_then_truncate)
    code = run_ours(["x.data", "--preload", "src", "--lz4", "--js-output=x.js", "--quiet"], tmp_path, monkeypatch)
    assert_failed(code, capsys, tmp_path, before, "src/d/b.txt", "changed while it was being packed")
