"""Unit tests for rules_pyodide.meson_cross (the profile's meson cross file)."""

from __future__ import annotations

import configparser
from pathlib import Path

from rules_pyodide.meson_cross import backend_flags, cross_file, uses_meson_python


def test_cross_file_names_the_wrappers_and_wasm32(tmp_path: Path) -> None:
    text = cross_file(
        tmp_path / "bin",
        "/usr/bin/node",
        ["-O2", "-fwasm-exceptions"],
        ["-sWASM_BIGINT"],
        "/usr/bin/pkg-config",
    )
    parser = configparser.ConfigParser()
    parser.read_string(text)
    binaries = dict(parser["binaries"])
    assert binaries["c"] == repr(str(tmp_path / "bin" / "cc"))
    assert binaries["cpp"] == repr(str(tmp_path / "bin" / "c++"))
    assert binaries["ar"] == repr(str(tmp_path / "bin" / "ar"))
    assert binaries["cython"] == repr(str(tmp_path / "bin" / "cython"))
    assert binaries["exe_wrapper"] == "'/usr/bin/node'"
    assert dict(parser["host_machine"]) == {
        "system": "'emscripten'",
        "cpu_family": "'wasm32'",
        "cpu": "'wasm32'",
        "endian": "'little'",
    }
    assert parser["properties"]["needs_exe_wrapper"] == "true"
    assert parser["properties"]["longdouble_format"] == "'IEEE_QUAD_LE'"
    assert "-fwasm-exceptions" in text and "-sWASM_BIGINT" in text


def test_cross_file_quotes_paths_and_leaves_out_missing_tools(tmp_path: Path) -> None:
    text = cross_file(Path("/it's/bin"), None, [], [])
    assert "c = '/it\\'s/bin/cc'" in text
    assert "\nexe_wrapper =" not in text and "pkg-config" not in text


def test_uses_meson_python(tmp_path: Path) -> None:
    assert not uses_meson_python(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[build-system]\nbuild-backend = "setuptools.build_meta"\n')
    assert not uses_meson_python(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[build-system]\nrequires = ["meson-python"]\nbuild-backend = "mesonpy"\n')
    assert uses_meson_python(tmp_path)


def test_backend_flags_keep_the_recipes_build_dir(tmp_path: Path) -> None:
    cross = tmp_path / "x.cross"
    assert backend_flags(cross, ["setup-args=-Dblas=none"]) == [f"setup-args=--cross-file={cross}", "build-dir=build"]
    assert backend_flags(cross, ["build-dir=out"]) == [f"setup-args=--cross-file={cross}"]
