"""Checks file_package's outputs against emscripten's own file_packager, and their determinism.

Run by `bazel test //tests/bazel:file_package_test`: the working directory is the workspace's runfiles directory,
so every path below is a workspace-relative path.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path
from typing import Any

import lz4.block

SITE = "/lib/python3.10/site-packages/hello/"
EXPECTED_FILES = [
    SITE + name
    for name in ("__init__.py", "data/blob.bin", "data/deep/nested/greeting.txt", "data/mail@example.txt", "greet.py")
]
SOURCE_DIR = Path("examples/file_package/site/hello")
# `rules-pyodide` (the PEX launcher of @rules_pyodide_tool, in runfiles beside the main repository).
CLI = Path("../rules_pyodide_tool/cli")
LZ4_CHUNK_SIZE = 2048  # emscripten's LZ4 chunking; its runtime keeps 2 decompressed chunks cached after the data


def json_after(text: str, marker: str, where: str) -> dict[str, Any]:
    """The JSON object literal that starts at the `{` ending the last occurrence of marker in text."""
    start = text.rfind(marker)
    if start < 0:
        raise AssertionError(f"{where} has no {marker}...}}")
    value, _ = json.JSONDecoder().raw_decode(text, start + len(marker) - 1)
    if not isinstance(value, dict):
        raise AssertionError(f"{where}: {marker}...}} is not an object")
    return value


def metadata_of(package: Path) -> dict[str, Any]:
    """The loader metadata of PACKAGE (a path without suffix): from PACKAGE.js.metadata, else inlined in PACKAGE.js.

    package_uuid is dropped: emscripten's reference draws a random one.
    """
    separate = package.with_name(package.name + ".js.metadata")
    if separate.exists():
        metadata: dict[str, Any] = json.loads(separate.read_text(encoding="utf-8"))
    else:
        metadata = json_after(js_of(package), "loadPackage({", f"{package}.js")
    metadata.pop("package_uuid", None)
    return metadata


def js_of(package: Path) -> str:
    return package.with_name(package.name + ".js").read_text(encoding="utf-8")


def data_of(package: Path) -> bytes:
    return package.with_name(package.name + ".data").read_bytes()


def decompress_lz4_package(package: Path) -> tuple[bytes, int]:
    """(the uncompressed stream, number of chunks) of an LZ4 package, from the chunk table in its .js."""
    table = json_after(js_of(package), "compressedData = {", f"{package}.js")
    data = data_of(package)
    if len(data) != table["cachedOffset"] + 2 * LZ4_CHUNK_SIZE:
        raise AssertionError(f"{package}.data: no room for the 2 cached chunks after offset {table['cachedOffset']}")
    size = metadata_of(package)["files"][-1]["end"]
    stream = bytearray()
    for index, (offset, length, compressed) in enumerate(
        zip(table["offsets"], table["sizes"], table["successes"], strict=True)
    ):
        chunk = data[offset : offset + length]
        expected = min(LZ4_CHUNK_SIZE, size - index * LZ4_CHUNK_SIZE)
        stream += lz4.block.decompress(chunk, uncompressed_size=expected) if compressed else chunk
    return bytes(stream), len(table["offsets"])


def digest_tree(root: Path) -> dict[str, str]:
    """sha256 of every file under root, by relative path."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


class FilePackageMatchesEmscripten(unittest.TestCase):
    def assert_same_package(self, ours: Path, reference: Path) -> None:
        self.assertEqual(data_of(ours), data_of(reference), f"{ours}.data differs from {reference}.data")
        self.assertEqual(metadata_of(ours), metadata_of(reference), f"{ours} metadata differs from {reference}")

    def test_plain_matches_reference(self) -> None:
        self.assert_same_package(Path("examples/file_package/hello"), Path("tests/bazel/reference_hello"))

    def test_lz4_matches_reference(self) -> None:
        # Not byte-identical: rules_pyodide compresses with liblz4, emscripten with its JS port (different, equally
        # valid LZ4 blocks). Same metadata, same chunking, and both decompress to the reference's plain .data.
        ours, reference = Path("examples/file_package/hello_lz4"), Path("tests/bazel/reference_hello_lz4")
        ours_metadata, reference_metadata = metadata_of(ours), metadata_of(reference)
        self.assertEqual(ours_metadata.pop("remote_package_size"), len(data_of(ours)))
        self.assertEqual(reference_metadata.pop("remote_package_size"), len(data_of(reference)))
        self.assertEqual(ours_metadata, reference_metadata)
        plain = data_of(Path("tests/bazel/reference_hello"))
        ours_stream, ours_chunks = decompress_lz4_package(ours)
        reference_stream, reference_chunks = decompress_lz4_package(reference)
        self.assertEqual(reference_stream, plain)
        self.assertEqual(ours_stream, plain)
        self.assertEqual(ours_chunks, reference_chunks)

    def test_directory_input_gives_the_same_package(self) -> None:
        self.assert_same_package(Path("tests/bazel/hello_from_tree"), Path("tests/bazel/reference_hello"))

    def test_separate_metadata(self) -> None:
        package = Path("tests/bazel/hello_separate_metadata")
        self.assert_same_package(package, Path("tests/bazel/reference_hello"))
        self.assertNotIn('"files"', package.with_name(package.name + ".js").read_text(encoding="utf-8"))

    def test_destinations_excludes_and_contents(self) -> None:
        metadata = metadata_of(Path("examples/file_package/hello"))
        files = metadata["files"]
        self.assertEqual([f["filename"] for f in files], EXPECTED_FILES)
        data = data_of(Path("examples/file_package/hello"))
        for entry in files:
            source = SOURCE_DIR / entry["filename"][len(SITE) :]
            self.assertEqual(data[entry["start"] : entry["end"]], source.read_bytes(), entry["filename"])
        self.assertEqual(metadata["remote_package_size"], len(data))
        lz4 = data_of(Path("examples/file_package/hello_lz4"))
        self.assertNotEqual(lz4, data)
        self.assertEqual(metadata_of(Path("examples/file_package/hello_lz4"))["remote_package_size"], len(lz4))


class PackerIsDeterministic(unittest.TestCase):
    def run_packer(self, workdir: Path) -> dict[str, str]:
        """Packs the example sources (copied into workdir/src) into workdir/out; returns the outputs' digests."""
        shutil.copytree(SOURCE_DIR, workdir / "src")
        args = ["out/hello.data", "--js-output=out/hello.js", "--lz4", "--exclude", "*.md"]
        args += ["--preload", f"src@{SITE.rstrip('/')}"]
        (workdir / "out").mkdir()
        env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
        result = subprocess.run(
            [str(CLI.absolute()), "file-packager", *args],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        js = (workdir / "out" / "hello.js").read_text(encoding="utf-8")
        self.assertNotIn(str(workdir), js)
        return digest_tree(workdir / "out")

    def test_two_runs_give_identical_bytes(self) -> None:
        with tempfile.TemporaryDirectory() as first, tempfile.TemporaryDirectory() as second:
            self.assertEqual(self.run_packer(Path(first)), self.run_packer(Path(second)))


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
