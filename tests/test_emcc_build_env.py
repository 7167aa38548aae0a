"""Unit tests for the build-script environment of rules_pyodide.emcc_build: every variable pyodide-build gives
`build.script` / `build.cross-script` / `build.post`, and the emconfigure/emmake/emcmake/embuilder helpers."""

from __future__ import annotations

import dataclasses
import os
import shlex
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from rules_pyodide import emcc_build
from rules_pyodide.emcc_build import HELPERS, SHIMS, Options, _environment, parse_options, run_script


def _args(tmp_path: Path, *extra: str) -> Options:
    tools = tmp_path / "emsdk"
    (tools / "cmake" / "Modules" / "Platform").mkdir(parents=True)
    (tools / "cmake" / "Modules" / "Platform" / "Emscripten.cmake").write_text("")
    for tool in ("emcc", "em++", "emar", "emranlib"):
        (tools / tool).write_text("#!/bin/sh\n")
    include = tmp_path / "include"
    include.mkdir()
    numpy_site = tmp_path / "numpy-site"
    (numpy_site / "numpy").mkdir(parents=True)
    return parse_options(
        [
            *("--source", str(tmp_path / "src"), "--name", "demo", "--version", "1.2.3", "--type", "package"),
            *("--emcc", str(tools / "emcc"), "--emxx", str(tools / "em++")),
            *("--emar", str(tools / "emar"), "--emranlib", str(tools / "emranlib")),
            *("--python-include", str(include), "--ext-suffix", ".cpython-310-wasm32-emscripten.so"),
            *("--profile-cflag=-O2", "--profile-cflag=-fPIC", "--profile-cxxflag=-fexceptions"),
            *("--profile-ldflag=-sSIDE_MODULE=1", "--profile-ldflag=-sWASM_BIGINT"),
            *("--pyodide-version", "0.21.3", "--python-version", "3.10.2", "--platform", "emscripten_3_1_14"),
            *("--jobs", "3", "--host-site", str(numpy_site), "--pkgdir", str(tmp_path / "pkg")),
            *("--log", str(tmp_path / "log"), "--fragments", str(tmp_path / "fragments")),
            *extra,
        ]
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    scratch = tmp_path / "scratch"
    (scratch / "src").mkdir(parents=True)
    config = scratch / "wrapper.json"
    config.write_text("{}")
    return _environment(_args(tmp_path), scratch, config)


def test_every_pyodide_build_variable(tmp_path: Path, env: dict[str, str]) -> None:
    scratch = tmp_path / "scratch"
    include = str((tmp_path / "include").resolve())
    expected = {
        "PKG_VERSION": "1.2.3",
        "PKG_BUILD_DIR": str(scratch / "src"),
        "DISTDIR": str(scratch / "src" / "dist"),
        "PKGDIR": str((tmp_path / "pkg").resolve()),
        "WASM_LIBRARY_DIR": str(scratch / "prefix"),
        "EM_PKG_CONFIG_PATH": str(scratch / "prefix" / "lib" / "pkgconfig"),
        "PKG_CONFIG_LIBDIR": str(scratch / "prefix" / "lib" / "pkgconfig"),
        "PYODIDE_JOBS": "3",
        "PYMAJOR": "3",
        "PYMINOR": "10",
        "PYMICRO": "2",
        "PYVERSION": "3.10.2",
        "PYODIDE_VERSION": "0.21.3",
        "PYODIDE_EMSCRIPTEN_VERSION": "3.1.14",
        "PLATFORM_TRIPLET": "wasm32-emscripten",
        "SIDE_MODULE_CFLAGS": f"-O2 -fPIC -I{include}",
        "STDLIB_MODULE_CFLAGS": f"-O2 -fPIC -I{include}",
        "SIDE_MODULE_CXXFLAGS": "-fexceptions",
        "SIDE_MODULE_LDFLAGS": "-sSIDE_MODULE=1 -sWASM_BIGINT",
        "CFLAGS_BASE": "-O2 -fPIC",
        "CXXFLAGS_BASE": "-fexceptions",
        "LDFLAGS_BASE": "-sSIDE_MODULE=1 -sWASM_BIGINT",
        "PYTHONINCLUDE": include,
        "TARGETINSTALLDIR": str(scratch / "target"),
        "HOSTINSTALLDIR": sys.prefix,
        "HOSTSITEPACKAGES": sysconfig.get_paths()["purelib"],
        "NUMPY_LIB": str(tmp_path / "numpy-site" / "numpy"),
        "PYODIDE_ROOT": str(scratch),
        "CMAKE_TOOLCHAIN_FILE": str((tmp_path / "emsdk" / "cmake/Modules/Platform/Emscripten.cmake").resolve()),
        "MESON_CROSS_FILE": str(scratch / "emscripten.meson.cross"),
        "PYODIDE": "1",
    }
    assert {k: env.get(k) for k in expected} == expected
    assert (scratch / "target" / "include" / "python3.10").resolve() == Path(include)
    cross = (scratch / "emscripten.meson.cross").read_text()
    assert f"c = '{scratch / 'bin' / 'cc'}'" in cross and "system = 'emscripten'" in cross
    assert "cpu_family = 'wasm32'" in cross
    # The compiler variables and emscripten's own names are the wrappers.
    assert env["CC"] == str(scratch / "bin" / "cc") and env["PATH"].startswith(str(scratch / "bin") + ":")
    for name in ("emcc", "em++", "emar", "emranlib", *HELPERS):
        assert os.access(scratch / "bin" / name, os.X_OK), name
    assert SHIMS["emcc"] == "cc" and SHIMS["em++"] == "c++"


def test_python_version_falls_back_to_the_ext_suffix(tmp_path: Path) -> None:
    args = dataclasses.replace(_args(tmp_path), python_version="")
    assert emcc_build._python_parts(args) == ("3", "10", "")


def _fake_tool(bin_dir: Path, name: str) -> None:
    (bin_dir / name).write_text(f'#!/bin/sh\necho "{name} $*" >> "$RUN_LOG"\n')
    (bin_dir / name).chmod(0o755)


def test_helpers_run_what_pyodide_build_scripts_run(tmp_path: Path, env: dict[str, str]) -> None:
    scratch = tmp_path / "scratch"
    fake = tmp_path / "fake"
    fake.mkdir()
    for tool in ("cmake", "make", "configure-tool"):
        _fake_tool(fake, tool)
    bin_dir, rest = env["PATH"].split(":", 1)
    env = {**env, "PATH": f"{bin_dir}:{fake}:{rest}", "RUN_LOG": str(tmp_path / "runs")}
    script = (
        "emconfigure configure-tool --prefix=$WASM_LIBRARY_DIR\n"
        "emmake make -j ${PYODIDE_JOBS:-1}\n"
        "emcmake cmake -S . -B build\n"
        "export FROM_SCRIPT=$PKG_VERSION\n"
    )
    log = tmp_path / "build.log"
    log.write_text("")
    after = run_script(script, scratch / "src", env, log, "script", scratch)
    runs = (tmp_path / "runs").read_text().splitlines()
    assert runs[0] == f"configure-tool --prefix={scratch / 'prefix'}"
    assert runs[1] == "make -j 3"
    cmake = shlex.split(runs[2])
    assert cmake[0] == "cmake" and cmake[-4:] == ["-S", ".", "-B", "build"]
    assert f"-DCMAKE_TOOLCHAIN_FILE={env['CMAKE_TOOLCHAIN_FILE']}" in cmake
    assert f"-DCMAKE_C_COMPILER={env['CC']}" in cmake and f"-DCMAKE_CXX_COMPILER={env['CXX']}" in cmake
    assert after["FROM_SCRIPT"] == "1.2.3"  # exports carry into the build


def test_embuilder_says_why_it_cannot_work(env: dict[str, str], tmp_path: Path) -> None:
    result = subprocess.run(["embuilder", "build", "zlib"], env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert "embuilder build zlib: emscripten ports cannot be built here" in result.stderr


def test_cross_script_exports_reach_the_build_not_post(tmp_path: Path, env: dict[str, str]) -> None:
    scratch = tmp_path / "scratch"
    log = tmp_path / "build.log"
    log.write_text("")
    after_script = run_script("export A=script", scratch / "src", env, log, "script", scratch)
    after_cross = run_script("export B=cross", scratch / "src", after_script, log, "cross-script", scratch)
    assert (after_cross["A"], after_cross["B"]) == ("script", "cross") and "B" not in after_script


def test_post_sees_the_installed_tree_as_sitepackages_and_wheeldir(tmp_path: Path, env: dict[str, str]) -> None:
    site = tmp_path / "site"
    (site / "rebound").mkdir(parents=True)
    (site / "rebound" / "rebound.h").write_text("/* header */\n")
    (tmp_path / "src").mkdir()
    log = tmp_path / "build.log"
    log.write_text("")
    post = "cp $WHEELDIR/rebound/*.h $SITEPACKAGES/../copied.h\n"
    run_script(post, tmp_path / "src", emcc_build.post_environment(env, site), log, "post", tmp_path)
    assert (tmp_path / "copied.h").read_text() == "/* header */\n"


def test_missing_executable_is_named(tmp_path: Path) -> None:
    from rules_pyodide.pure_build import BuildError, check_executables

    check_executables(["sh"], os.defpath)
    with pytest.raises(BuildError, match=r"requirements.executable: 'no-such-tool-x' not found on the build's PATH"):
        check_executables(["sh", "no-such-tool-x"], os.defpath)


def test_constraints_and_build_extras_are_checked_against_the_build_environment() -> None:
    from importlib import metadata

    from rules_pyodide.pure_build import BuildError, check_build_requirements

    setuptools = metadata.version("setuptools")
    check_build_requirements([f"setuptools=={setuptools}", "no-such-dist-x<1"], [f"setuptools>={setuptools}"])
    check_build_requirements(["setuptools<1; python_version < '3'"], [])  # a marker that does not hold
    with pytest.raises(BuildError, match=rf"requirements.constraint: 'setuptools<1' does not hold: .* {setuptools}$"):
        check_build_requirements(["setuptools<1"], [])
    with pytest.raises(BuildError, match=r"requirements.build-extras: 'no-such-dist-x' is not installed"):
        check_build_requirements([], ["no-such-dist-x"])
