"""Unit tests for rules_pyodide.build_paths: the build's absolute paths are renamed in text files, found in binaries."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rules_pyodide import build_paths, emcc_build
from rules_pyodide.pure_build import BuildError


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, Path]:
    """(output base, exec root, scratch) laid out as Bazel's linux-sandbox has them; the exec root is the cwd."""
    base = tmp_path / "_bazel_root" / "0123abcd"
    execroot = base / "sandbox" / "linux-sandbox" / "17" / "execroot" / "rules_pyodide"
    scratch = execroot / "bazel-out" / "k8-fastbuild" / "bin" / "packages" / "x_build" / ".x.q1w2e3.build"
    scratch.mkdir(parents=True)
    (base / "external" / "rules_pyodide_tool" / "pex_root").mkdir(parents=True)
    monkeypatch.chdir(execroot)
    monkeypatch.setenv("RULES_PYODIDE_TOOL_DIR", str(base / "external" / "rules_pyodide_tool"))
    return base, execroot, scratch


def test_output_prefixes_name_scratch_exec_root_and_external(sandbox: tuple[Path, Path, Path]) -> None:
    base, execroot, scratch = sandbox
    prefixes = build_paths.output_prefixes(scratch)
    assert prefixes[str(scratch)] == "/build" and prefixes[str(execroot)] == "."
    assert prefixes[str(base / "external")] == "external"
    # Without Bazel's layout (no tool directory, or one elsewhere) only the action's own directories are known.
    assert str(base / "external") not in build_paths.output_prefixes(scratch, {"RULES_PYODIDE_TOOL_DIR": "/opt/t"})
    assert build_paths.output_prefixes(scratch, {}) == build_paths.build_prefixes(scratch)


def test_text_files_get_the_names_and_binaries_are_found(sandbox: tuple[Path, Path, Path]) -> None:
    base, execroot, scratch = sandbox
    site = scratch / "site"
    (site / "pkg").mkdir(parents=True)
    python = base / "external" / "rules_pyodide_tool" / "pex_root" / "venvs" / "4" / "ab" / "bin" / "python"
    config = f'CC = r"{scratch}/bin/cc"\nHEADERS = "{execroot}/external/h"\nPYTHON = "{python}"\n'
    (site / "pkg" / "__config__.py").write_text(config)
    (site / "pkg" / "other.txt").write_text(f"{execroot}_tool/x and {execroot}x stay\n")
    module = b"\0asm\1\0\0\0" + f"{scratch}/src/pkg/mod.pyx".encode() + b"\0"
    (site / "pkg" / "mod.so").write_bytes(module)
    changed = build_paths.scrub_text_files(site, build_paths.output_prefixes(scratch))
    assert changed == [site / "pkg" / "__config__.py"]
    assert (site / "pkg" / "__config__.py").read_text() == (
        'CC = r"/build/bin/cc"\nHEADERS = "./external/h"\n'
        'PYTHON = "external/rules_pyodide_tool/pex_root/venvs/4/ab/bin/python"\n'
    )
    assert (site / "pkg" / "mod.so").read_bytes() == module
    left = build_paths.files_holding(site, build_paths.output_prefixes(scratch))
    assert left == {site / "pkg" / "mod.so": str(scratch)}


def test_a_shipped_binary_with_the_scratch_path_stops_the_build(sandbox: tuple[Path, Path, Path]) -> None:
    _, _, scratch = sandbox
    site, tests, log = scratch / "site", scratch / "tests", scratch / "build.log"
    (site / "pkg").mkdir(parents=True)
    (site / "pkg" / "conf.py").write_text(f"ROOT = {str(scratch)!r}\n")
    emcc_build._keep_build_paths_out(scratch, [site, tests], log)
    assert (site / "pkg" / "conf.py").read_text() == "ROOT = '/build'\n"
    assert "renamed (/build, ., external) in: pkg/conf.py" in log.read_text()
    (site / "pkg" / "mod.so").write_bytes(b"\0asm" + os.fsencode(scratch) + b"/src/mod.pyx\0")
    with pytest.raises(BuildError, match=r"pkg/mod.so holds .*\.x\.q1w2e3\.build\. Make the build name it relatively"):
        emcc_build._keep_build_paths_out(scratch, [site, tests], log)
