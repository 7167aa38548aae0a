"""Unit tests of rules_pyodide.emcc_build's own steps, without emscripten: the options, the outputs a build needs,
the compiler-wrapper configuration and shims, the meson cross file it writes, renaming and checking what the build
made, and the shared-library zip. (The build-script environment is tests/test_emcc_build_env.py; real builds are
the Bazel tests of the compiled recipes.)"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from rules_pyodide import cython_wrapper, emcc_build
from rules_pyodide.emcc_build import Options, parse_options
from rules_pyodide.pure_build import BuildError

HOST = ".cpython-311-x86_64-linux-gnu.so"
TARGET = ".cpython-310-wasm32-emscripten.so"
WASM = b"\0asm\x01\0\0\0"


def _argv(tmp_path: Path, *extra: str, kind: str = "package") -> list[str]:
    tools = [f"--{tool}={tmp_path / 'emsdk' / tool}" for tool in ("emcc", "emxx", "emar", "emranlib")]
    return [
        *("--source", str(tmp_path / "src"), "--name", "demo", "--version", "1.0", "--type", kind, *tools),
        *("--python-include", str(tmp_path / "include"), "--ext-suffix", TARGET),
        *("--log", str(tmp_path / "log"), "--fragments", str(tmp_path / "fragments")),
        *extra,
    ]


def test_options_are_the_flags_frozen_with_the_script_files_read(tmp_path: Path) -> None:
    (tmp_path / "script.sh").write_text("make -j2\n")
    (tmp_path / "post.sh").write_text("rm -r $SITEPACKAGES/demo/tests\n")
    options = parse_options(
        _argv(
            tmp_path,
            *("--script-file", str(tmp_path / "script.sh"), "--post-file", str(tmp_path / "post.sh")),
            *("--profile-cflag=-O2", "--profile-cflag=-fPIC", "--depends", "numpy", "--host-site", "h1"),
        )
    )
    assert (options.script, options.post, options.cross_script) == (
        "make -j2\n",
        "rm -r $SITEPACKAGES/demo/tests\n",
        "",
    )
    assert options.profile_cflag == ("-O2", "-fPIC") and options.depends == ("numpy",)
    assert options.host_site == (Path("h1"),) and options.exports == ("pyinit",)  # the default export keyword
    assert parse_options(_argv(tmp_path, "--exports", "PyInit_a", "--exports", "helper")).exports == (
        "PyInit_a",
        "helper",
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.name = "other"  # type: ignore[misc]


def test_a_build_that_ships_needs_its_wheel_site_and_tests_outputs(tmp_path: Path) -> None:
    static = parse_options(_argv(tmp_path, kind="static_library"))
    assert static.type == "static_library" and emcc_build.shipped_outputs(static) is None
    package = parse_options(_argv(tmp_path, "--site", "s", "--tests", "t"))
    with pytest.raises(BuildError, match=r"^--wheel is required for build.type package$"):
        emcc_build.shipped_outputs(package)
    with pytest.raises(BuildError, match=r"^--site is required for build.type shared_library$"):
        emcc_build.shipped_outputs(dataclasses.replace(package, type="shared_library", site=None))
    shipped = emcc_build.shipped_outputs(dataclasses.replace(package, wheel=Path("w.whl")))
    assert shipped == emcc_build.Shipped(Path("w.whl"), Path("s"), Path("t"))


def test_extension_modules_get_the_profiles_suffix_and_must_be_wasm(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "demo" / "sub").mkdir(parents=True)
    (site / "demo" / f"_speedups{HOST}").write_bytes(WASM)
    (site / "demo" / "sub" / f"_core{TARGET}").write_bytes(WASM)  # already named for the profile: kept
    (site / "demo" / "pure.py").write_text("")
    modules = emcc_build.rename_extensions(site, HOST, TARGET, "demo")
    assert [m.relative_to(site).as_posix() for m in modules] == [f"demo/_speedups{TARGET}", f"demo/sub/_core{TARGET}"]
    assert not list(site.rglob(f"*{HOST}"))
    (site / "demo" / f"_host{HOST}").write_bytes(b"\x7fELF")
    with pytest.raises(BuildError, match=rf"^demo: demo/_host{TARGET} is not a WebAssembly module: it was not built"):
        emcc_build.rename_extensions(site, HOST, TARGET, "demo")


def test_libraries_must_be_installed_and_of_the_right_kind(tmp_path: Path) -> None:
    prefix = tmp_path / "prefix"
    (prefix / "include").mkdir(parents=True)
    (prefix / "include" / "z.h").write_text("")
    with pytest.raises(BuildError, match=r"installed no lib/\*\.a into \$WASM_LIBRARY_DIR \(found: \['include', "):
        emcc_build._check_archives(prefix, "zlib", ".a")
    (prefix / "lib").mkdir()
    (prefix / "lib" / "libz.a").write_bytes(b"!<arch>\nrest")
    (prefix / "lib" / "libz.so").write_bytes(b"\x7fELF")
    assert emcc_build._check_archives(prefix, "zlib", ".a") == [prefix / "lib" / "libz.a"]
    with pytest.raises(BuildError, match=r"^zlib: libz\.so is not a WebAssembly module$"):
        emcc_build._check_archives(prefix, "zlib", ".so")


def test_the_shared_library_zip_is_flat_sorted_and_stamped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    (tmp_path / "b").mkdir()
    libs = [tmp_path / "b" / "libz.so", tmp_path / "liba.so"]
    for lib in libs:
        lib.write_bytes(WASM + lib.name.encode())
    emcc_build.write_zip(libs, tmp_path / "one.zip")
    emcc_build.write_zip(list(reversed(libs)), tmp_path / "two.zip")
    assert (tmp_path / "one.zip").read_bytes() == (tmp_path / "two.zip").read_bytes()
    with zipfile.ZipFile(tmp_path / "one.zip") as zf:
        infos = zf.infolist()
        assert [i.filename for i in infos] == ["liba.so", "libz.so"]
        assert {(i.date_time, i.external_attr >> 16) for i in infos} == {((2023, 11, 14, 22, 13, 20), 0o100755)}
        assert zf.read("libz.so") == WASM + b"libz.so"


def test_compiled_host_requirements_are_told_apart_by_the_profiles_suffix(tmp_path: Path) -> None:
    pure, compiled = tmp_path / "six", tmp_path / "numpy"
    (pure / "six").mkdir(parents=True)
    (compiled / "numpy" / "core").mkdir(parents=True)
    (compiled / "numpy" / "core" / f"_multiarray{TARGET}").write_bytes(WASM)
    assert emcc_build.split_host_sites([pure, compiled], TARGET) == ([pure], [compiled])


def test_the_wrapper_configuration_carries_the_profile_the_recipe_and_the_libraries(tmp_path: Path) -> None:
    lib, numpy = tmp_path / "zlib-prefix", tmp_path / "numpy-site"
    (numpy / "numpy").mkdir(parents=True)
    (numpy / "numpy" / f"_core{TARGET}").write_bytes(WASM)
    options = parse_options(
        _argv(
            tmp_path,
            *("--profile-cflag=-O2", "--profile-ldflag=-sSIDE_MODULE=1", "--cflags=-DX='a b'", "--ldflags=-lz"),
            *("--replace-lib=-lm=", "--exports", "requested", "--library", str(lib), "--host-site", str(numpy)),
        )
    )
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    config = json.loads(emcc_build._wrapper_config(options, scratch, tmp_path / "log").read_text())
    assert config["profile_cflags"][0] == "-O2"
    assert f"-ffile-prefix-map={scratch}=/build" in config["profile_cflags"]  # no scratch path in any output
    assert (config["cflags"], config["ldflags"], config["replace_libs"]) == (["-DX=a b"], ["-lz"], {"-lm": ""})
    assert config["exports"] == "requested" and config["library"] is False
    assert config["include_dirs"] == [str(lib.resolve() / "include"), str(scratch / "prefix" / "include")]
    assert config["target_sites"] == [str(numpy.resolve())] and config["log"] == str(tmp_path / "log")
    several = dataclasses.replace(options, exports=("PyInit_a", "helper"), type="shared_library")
    config = json.loads(emcc_build._wrapper_config(several, scratch, tmp_path / "log").read_text())
    assert config["exports"] == ["PyInit_a", "helper"] and config["library"] is True


def test_the_shims_run_the_compiler_wrapper_in_their_role(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    emcc_build.write_shims(bin_dir, tmp_path / "wrapper.json", tmp_path / "src")
    for name, role in emcc_build.SHIMS.items():
        text = (bin_dir / name).read_text()
        assert text.startswith("#!/bin/sh\nexport RULES_PYODIDE_WRAPPER_CONFIG=") and os.access(bin_dir / name, os.X_OK)
        assert text.rstrip().endswith(f'{emcc_build.WRAPPER} {role} "$@"'), name
    (tmp_path / "src").mkdir()
    cython = subprocess.run([bin_dir / "cython", "--version"], capture_output=True, text=True, check=False)
    assert cython.returncode == 0 and "Cython" in cython.stdout + cython.stderr


def test_the_cython_shim_names_sources_relative_to_the_source_tree(tmp_path: Path) -> None:
    # What meson does: Cython run from its build directory, the source named by absolute path, the rest relative.
    scratch = tmp_path / "some" / "sandbox" / ".x.1234.build"
    src, build = scratch / "src", scratch / "src" / "build"
    (src / "pkg").mkdir(parents=True)
    (src / "pkg" / "mod.pyx").write_text("def f(x):\n    raise ValueError(x)\n")
    (src / "pkg" / "inc.pxd").write_text("cdef int g(int x)\n")
    (build / "pkg").mkdir(parents=True)
    emcc_build.write_shims(scratch / "bin", scratch / "wrapper.json", src)
    command: list[str | Path] = [
        scratch / "bin" / "cython",
        "-3",
        "-I",
        "../pkg",
        "-o",
        "pkg/mod.c",
        str(src / "pkg" / "mod.pyx"),
    ]
    subprocess.run(command, cwd=build, check=True)
    generated = (build / "pkg" / "mod.c").read_text()
    assert '"pkg/mod.pyx"' in generated
    assert str(scratch) not in generated and not (src / "pkg" / "mod.c").exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["-o", "a.c", "x.pyx"], ["-o", "/b/a.c", "/b/x.pyx"]),
        (
            ["--output-file=a.c", "-Iinc", "--include-dir", "i2", "/abs/x.pyx"],
            ["--output-file=/b/a.c", "-I/b/inc", "--include-dir", "/b/i2", "/abs/x.pyx"],
        ),
        (
            ["-X", "boundscheck=False", "--module-name", "m.n", "-3", "--fast-fail", "-M", "x.pyx"],
            ["-X", "boundscheck=False", "--module-name", "m.n", "-3", "--fast-fail", "-M", "/b/x.pyx"],
        ),
        (
            ["-Xlanguage_level=3", "-Wextra", "--embed=main", "-w", "w", "x.pyx"],
            ["-Xlanguage_level=3", "-Wextra", "--embed=main", "-w", "/b/w", "/b/x.pyx"],
        ),
    ],
)
def test_cython_wrapper_makes_only_path_arguments_absolute(args: list[str], expected: list[str]) -> None:
    assert cython_wrapper.absolute_arguments(args, "/b") == expected


def test_the_meson_cross_file_names_the_shims_node_and_the_profiles_flags(tmp_path: Path) -> None:
    options = parse_options(_argv(tmp_path, "--profile-cflag=-O2", "--profile-ldflag=-sSIDE_MODULE=1"))
    path = emcc_build.meson_cross_file(tmp_path / "cross.ini", tmp_path / "bin", options)
    text = path.read_text()
    assert f"c = '{tmp_path / 'bin' / 'cc'}'" in text and f"cpp = '{tmp_path / 'bin' / 'c++'}'" in text
    assert "# The compiler wrappers add the profile's compile flags: -O2" in text
    assert "# and, to shared links, its link flags: -sSIDE_MODULE=1" in text
    node = shutil.which("node")
    assert (f"exe_wrapper = '{node}'" in text) == (node is not None)


def test_cmake_toolchain_file_is_found_beside_emcc_or_in_debians_layout(tmp_path: Path) -> None:
    debian = tmp_path / "usr"
    (debian / "bin").mkdir(parents=True)
    (debian / "bin" / "emcc").write_text("")
    assert emcc_build.cmake_toolchain_file(debian / "bin" / "emcc") == ""
    platform = debian / "share" / "emscripten" / "cmake" / "Modules" / "Platform"
    platform.mkdir(parents=True)
    (platform / "Emscripten.cmake").write_text("")
    assert emcc_build.cmake_toolchain_file(debian / "bin" / "emcc") == str(platform / "Emscripten.cmake")


def test_an_empty_script_runs_nothing(tmp_path: Path) -> None:
    env = {"A": "1"}
    assert emcc_build.run_script("  \n", tmp_path, env, tmp_path / "log", "post", tmp_path) is env
    assert not (tmp_path / "log").exists() and not (tmp_path / "post.sh").exists()


def test_a_failed_step_names_it_and_quotes_the_end_of_the_log(tmp_path: Path) -> None:
    log = tmp_path / "build.log"
    log.write_text("".join(f"line {i}\n" for i in range(100)))
    with pytest.raises(BuildError) as err:
        emcc_build._run(["sh", "-c", "echo boom; exit 3"], tmp_path, dict(os.environ), log, "build.script")
    message = str(err.value)
    assert message.startswith("build.script failed (exit 3); last lines of the log (build.log):\n")
    assert message.endswith("boom") and "line 99" in message and "line 40\n" not in message  # LOG_TAIL lines


def test_main_reports_a_missing_output_flag_as_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert emcc_build.main(_argv(tmp_path, "--site", str(tmp_path / "s"), "--tests", str(tmp_path / "t"))) == 1
    assert capsys.readouterr().err == "rules-pyodide emcc-build: error: --wheel is required for build.type package\n"
    assert not (tmp_path / "s").exists() and not (tmp_path / "log").exists()  # checked before anything is written


def test_options_cover_every_flag() -> None:
    flags = {action.dest for action in emcc_build._parser()._actions} - {"help"}
    files = {"script_file", "post_file", "cross_script_file"}  # read into script, post, cross_script
    assert {f.name for f in dataclasses.fields(Options)} == flags - files
