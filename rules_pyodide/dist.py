"""Assemble a Pyodide package directory: every package file, and the index files merged from per-package fragments.

    python -m rules_pyodide.dist --output DIR --platform emscripten_3_1_14 --pyodide-version 0.21.3
        --python 3.10.2 [--arch wasm32] [--abi-version V] [--fragment F.json ...] [--file F ...]

Every `--file` is copied into DIR under its base name (two different files with one base name are an error). The
fragments (rules_pyodide.index) are merged into `packages.json`, `repodata.json` and `pyodide-lock.json`, with info
sections from the profile flags; each fragment's `file_name` must be one of the files. DIR is written beside its
final place and renamed at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from rules_pyodide.errors import RulesPyodideError, prog, run_command
from rules_pyodide.index import FORMATS, check_info, dump_index, merge, read_fragment
from rules_pyodide.outputs import atomic_dir

PROG = prog("dist")
INDEX_FILES = FORMATS


class DistError(RulesPyodideError):
    """The package directory cannot be assembled; the message names the file."""


def infos(
    arch: str, platform: str, pyodide_version: str, python: str, abi_version: str | None
) -> dict[str, dict[str, str]]:
    """The info section of each index format for one profile."""
    lock = {"arch": arch, "platform": platform, "python": python, "version": pyodide_version}
    if abi_version:
        lock["abi_version"] = abi_version
    raw = {
        "packages.json": {"arch": arch, "platform": platform},
        "repodata.json": {"arch": arch, "platform": platform, "version": pyodide_version, "python": python},
        "pyodide-lock.json": lock,
    }
    return {fmt: check_info(fmt, info, "profile") for fmt, info in raw.items()}


def collect_files(files: Sequence[Path]) -> dict[str, Path]:
    by_name: dict[str, Path] = {}
    for path in files:
        if path.name in INDEX_FILES:
            raise DistError(f"{path}: {path.name} is written from the fragments, it cannot also be a package file")
        other = by_name.get(path.name)
        if other is not None and other != path:
            raise DistError(f"{path} and {other} would both be {path.name} in the package directory")
        by_name[path.name] = path
    return by_name


def assemble(
    output: Path, files: Sequence[Path], fragment_paths: Sequence[Path], info: dict[str, dict[str, str]]
) -> None:
    by_name = collect_files(files)
    fragments = [(str(p), read_fragment(p)) for p in sorted(fragment_paths)]
    for origin, fragment in fragments:
        if fragment.file_name not in by_name:
            raise DistError(f"{origin}: package {fragment.name!r}: file {fragment.file_name!r} is not among the files")
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise DistError(f"{output}: output exists and is not an empty directory")
    with atomic_dir(output) as tmp:
        for name, path in sorted(by_name.items()):
            shutil.copyfile(path, tmp / name)
            os.chmod(tmp / name, 0o644)
        for fmt in INDEX_FILES:
            (tmp / fmt).write_text(dump_index(merge(fmt, info[fmt], fragments)), encoding="utf-8")
            os.chmod(tmp / fmt, 0o644)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    parser.add_argument("--output", required=True, type=Path, help="directory to create")
    parser.add_argument("--arch", default="wasm32", help="info.arch")
    parser.add_argument("--platform", required=True, help="info.platform, e.g. emscripten_3_1_14")
    parser.add_argument("--pyodide-version", required=True, help="info.version, e.g. 0.21.3")
    parser.add_argument("--python", required=True, help="info.python, e.g. 3.10.2")
    parser.add_argument("--abi-version", help="info.abi_version of pyodide-lock.json (Pyodide 0.26+)")
    parser.add_argument("--fragment", action="append", default=[], type=Path, help="an index fragment (repeat)")
    parser.add_argument("--file", action="append", default=[], type=Path, help="a file to ship (repeat)")
    args = parser.parse_args(argv)
    return run_command(PROG, lambda: _command(args))


def _command(args: argparse.Namespace) -> None:
    info = infos(args.arch, args.platform, args.pyodide_version, args.python, args.abi_version)
    assemble(args.output, args.file, args.fragment, info)


if __name__ == "__main__":
    sys.exit(main())
