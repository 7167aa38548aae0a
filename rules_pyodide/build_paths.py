"""The absolute paths of a compiled build, and keeping them out of what it ships.

A build runs in a scratch directory inside Bazel's sandbox. Its absolute path changes with the checkout (the output
base), the sandbox slot and the scratch directory's random name, so whatever records it differs from build to build
(and a remote cache would serve different bytes for the same key). Each way a path gets in has one answer:

- C and C++ (`__FILE__`, debug info): `-ffile-prefix-map` for `build_prefixes`, in the compiler wrappers' flags;
- Cython (each module names its `.pyx` / `.pxd` files for tracebacks): the `cython` shim runs it from the source
  tree, and it names files under its working directory relatively (rules_pyodide/cython_wrapper.py);
- text files that name the tools (numpy 2's `__config__.py` names the compilers and the build interpreter):
  `scrub_text_files` rewrites each prefix of `output_prefixes` in the installed tree;
- anything else that still holds one of them (a binary) stops the build: `files_holding` names the files.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path


def build_prefixes(scratch: Path) -> dict[str, str]:
    """The action's own directories and their names in the outputs: the scratch directory `/build`, the exec root
    (the sandbox's, as given and resolved) `.`. In this order for the compilers' `-ffile-prefix-map` flags."""
    return {str(scratch): "/build", os.getcwd(): ".", str(Path.cwd().resolve()): "."}


def output_prefixes(scratch: Path, environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """`build_prefixes` and Bazel's `external` directory of the output base, named `external` as in the exec root:
    the build interpreter is the tool's venv, in the tool's repository there ($RULES_PYODIDE_TOOL_DIR, which
    toolchains/tool.bzl's launcher sets)."""
    prefixes = build_prefixes(scratch)
    tool_dir = environ.get("RULES_PYODIDE_TOOL_DIR", "")
    external = Path(tool_dir).parent if tool_dir else None
    if external is not None and external.name == "external":
        prefixes[str(external)] = "external"
    return prefixes


def _pattern(prefixes: Mapping[str, str]) -> re.Pattern[bytes]:
    # Longest first (the scratch directory is inside the exec root), and only whole path components: the exec root
    # of `rules_pyodide` is not a prefix of `rules_pyodide_tool`.
    alternatives = b"|".join(re.escape(p.encode()) for p in sorted(prefixes, key=len, reverse=True))
    return re.compile(b"(?:" + alternatives + rb")(?![\w.+-])")


def _files(tree: Path) -> list[Path]:
    return sorted(p for p in tree.rglob("*") if p.is_file() and not p.is_symlink()) if tree.is_dir() else []


def _is_text(data: bytes) -> bool:
    if b"\0" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def scrub_text_files(tree: Path, prefixes: Mapping[str, str]) -> list[Path]:
    """Rewrites every prefix in the UTF-8 text files of `tree` to its name; returns the files it changed."""
    pattern = _pattern(prefixes)
    names = {p.encode(): n.encode() for p, n in prefixes.items()}
    changed = []
    for path in _files(tree):
        data = path.read_bytes()
        if pattern.search(data) and _is_text(data):
            path.write_bytes(pattern.sub(lambda match: names[match.group(0)], data))
            changed.append(path)
    return changed


def files_holding(tree: Path, prefixes: Mapping[str, str]) -> dict[Path, str]:
    """Each file of `tree` that still holds one of the prefixes, with the first one found."""
    pattern = _pattern(prefixes)
    found = {}
    for path in _files(tree):
        match = pattern.search(path.read_bytes())
        if match:
            found[path] = match.group(0).decode()
    return found
