"""`rules-pyodide dist-archive`: rules_pyodide's release artifacts, what a user downloads (`//:dist_archive`).

    rules-pyodide dist-archive --output DIR --pyproject pyproject.toml --pex rules-pyodide.pex
        --file REL=PATH ... [--url-prefix URL]

Writes into DIR (a new, empty directory, written atomically):

- `rules_pyodide-<version>.tar.gz`: every `--file` (REL is its path in the repository) under
  `rules_pyodide-<version>/`, deterministic (rules_pyodide.outputs.write_tar_gz: sorted, fixed mtime, owner and
  modes, gzip without name or time); `<version>` is pyproject.toml's `project.version`;
- `rules-pyodide-<version>.pex`: the tool, also the single-file CLI (`rules-pyodide-<version>.pex --help`);
- `SHA256SUMS` of both;
- `http_archive.bzl`: the exact WORKSPACE lines that fetch this archive (name, sha256, strip_prefix, urls).
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from rules_pyodide.errors import RulesPyodideError, prog, run_command
from rules_pyodide.outputs import sha256_file, write_tar_gz

PROG = prog("dist-archive")
HTTP_ARCHIVE = """\
load("@bazel_tools//tools/build_defs/repo:http.bzl", "http_archive")

http_archive(
    name = "rules_pyodide",
    sha256 = "{sha256}",
    strip_prefix = "{prefix}",
    urls = ["{url}"],
)
"""


class DistArchiveError(RulesPyodideError):
    """Bad input: the message names the flag or file."""


def project_version(pyproject: Path) -> str:
    """`version = "..."` of pyproject.toml's [project] table (no TOML parser in Python 3.10's standard library)."""
    section = ""
    for line in pyproject.read_text(encoding="utf-8").splitlines():
        header = re.match(r"^\[([^\]]+)\]\s*$", line)
        if header:
            section = header.group(1).strip()
            continue
        match = re.match(r'^version\s*=\s*"([^"]+)"\s*$', line)
        if section == "project" and match:
            return match.group(1)
    raise DistArchiveError(f"{pyproject}: no version in its [project] table")


def parse_files(values: Sequence[str]) -> dict[str, Path]:
    """`REL=PATH` pairs; REL must be a relative path inside the archive, each given once."""
    files: dict[str, Path] = {}
    for value in values:
        rel, eq, path = value.partition("=")
        pure = PurePosixPath(rel)
        if not eq or not rel or not path or pure.is_absolute() or ".." in pure.parts:
            raise DistArchiveError(f"--file {value!r}: expected REL=PATH with a relative REL inside the archive")
        if rel in files:
            raise DistArchiveError(f"--file {rel}: given twice")
        files[rel] = Path(path)
    return files


def write(output: Path, version: str, files: dict[str, Path], pex: Path, url_prefix: str) -> None:
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise DistArchiveError(f"{output}: exists and is not an empty directory")
    output.parent.mkdir(parents=True, exist_ok=True)
    prefix = f"rules_pyodide-{version}"
    with tempfile.TemporaryDirectory(prefix=f".{output.name}.", dir=output.parent) as tmp:
        stage, out = Path(tmp, prefix), Path(tmp, "out")
        out.mkdir()
        for rel, path in sorted(files.items()):
            if not path.is_file():
                raise DistArchiveError(f"--file {rel}={path}: not a file")
            (stage / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, stage / rel)
            (stage / rel).chmod(0o755 if path.stat().st_mode & 0o111 else 0o644)
        archive = out / f"{prefix}.tar.gz"
        write_tar_gz(stage, archive, prefix=prefix)
        tool = out / f"rules-pyodide-{version}.pex"
        shutil.copyfile(pex, tool)
        tool.chmod(0o755)
        sums = {p.name: sha256_file(p) for p in (archive, tool)}
        (out / "SHA256SUMS").write_text("".join(f"{sums[name]}  {name}\n" for name in sorted(sums)))
        url = f"{url_prefix.rstrip('/')}/{archive.name}"
        (out / "http_archive.bzl").write_text(HTTP_ARCHIVE.format(sha256=sums[archive.name], prefix=prefix, url=url))
        if output.exists():
            output.rmdir()
        out.rename(output)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    p.add_argument("--output", type=Path, required=True, help="the directory to write")
    p.add_argument("--pyproject", type=Path, required=True, help="pyproject.toml (project.version)")
    p.add_argument("--pex", type=Path, required=True, help="the rules-pyodide PEX")
    p.add_argument("--file", action="append", default=[], help="REL=PATH: a file of the archive (repeat)")
    p.add_argument("--url-prefix", default="https://example.invalid/rules_pyodide", help="where it is published")
    args = p.parse_args(argv)
    return run_command(
        PROG,
        lambda: write(args.output, project_version(args.pyproject), parse_files(args.file), args.pex, args.url_prefix),
    )


if __name__ == "__main__":
    sys.exit(main())
