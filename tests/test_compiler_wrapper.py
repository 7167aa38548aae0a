"""Unit tests of the compiler wrapper (rules_pyodide/compiler_wrapper.py) and the profile generator's pure parts."""

from __future__ import annotations

from typing import Any

import pytest

from rules_pyodide.compiler_wrapper import command, filter_args
from rules_pyodide.profile_gen import ProfileError, alltypes_overlay, check_pyconfig, pyconfig_from_template


def config(**extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "emcc": "EMCC",
        "emxx": "EMXX",
        "emar": "EMAR",
        "emranlib": "EMRANLIB",
        "profile_cflags": ["-O2", "-fPIC"],
        "profile_cxxflags": ["-fexceptions"],
        "profile_ldflags": ["-O2", "-sWASM_BIGINT"],
        "cflags": ["-DRECIPE"],
        "cxxflags": ["-DRECIPE_CXX"],
        "ldflags": ["-lextra"],
        "python_include": "/py/include",
        "sysroot_overlay": "",
        "include_dirs": ["/lib1/include"],
        "lib_dirs": ["/lib1/lib"],
        "host_include_dirs": ["/host/include/python3.11"],
        "host_lib_dirs": ["/host/lib"],
        "replace_libs": {"m": "", "z": "zlib"},
        "exports": "pyinit",
    }
    base.update(extra)
    return base


def test_host_flags_and_directories_are_dropped() -> None:
    args = ["-pthread", "-g", "-O3", "-march=x86-64", "-I/host/include/python3.11", "-I", "/host/include/python3.11",
            "-Isrc", "-L/host/lib", "-Wl,-rpath,/x", "-lm", "-lz", "-lfoo", "-c", "a.c"]  # fmt: skip
    assert filter_args(args, config()) == ["-Isrc", "-lzlib", "-lfoo", "-c", "a.c"]


def test_host_site_include_maps_to_the_compiled_requirement(tmp_path: Any) -> None:
    target = tmp_path / "numpy_build" / "site"
    (target / "numpy" / "core" / "include").mkdir(parents=True)
    cfg = config(host_site_dirs=["/venv/lib/python3.11/site-packages"], target_sites=[str(target)])
    site = "/venv/lib/python3.11/site-packages"
    args = [f"-I{site}/numpy/core/include", "-isystem", f"{site}/numpy/core/include", f"-I{site}/pybind11/include",
            "-Isrc", "-c", "a.c"]  # fmt: skip
    mapped = str(target / "numpy" / "core" / "include")
    assert filter_args(args, cfg) == [
        "-I" + mapped,
        "-isystem",
        mapped,
        f"-I{site}/pybind11/include",  # no compiled requirement has it: kept
        "-Isrc",
        "-c",
        "a.c",
    ]


@pytest.mark.parametrize(("host", "target"), [("core", "_core"), ("_core", "core"), ("_core", "_core")])
def test_numpy_include_maps_across_major_versions(tmp_path: Any, host: str, target: str) -> None:
    """The host's numpy 2 (numpy/_core/include) serves a numpy 1 requirement (numpy/core/include) and back."""
    tree = tmp_path / "numpy_build" / "site"
    (tree / "numpy" / target / "include").mkdir(parents=True)
    site = "/venv/lib/python3.11/site-packages"
    cfg = config(host_site_dirs=[site], target_sites=[str(tree)])
    assert filter_args([f"-I{site}/numpy/{host}/include", "-c", "a.c"], cfg)[0] == f"-I{tree}/numpy/{target}/include"


def test_programs_link_at_O0() -> None:
    """A configure check's program: the profile's flags, then -O0 (last wins) for the link."""
    cmd = command("cc", ["conftest.c", "-o", "conftest", "-lm"], config())
    assert cmd[:3] == ["EMCC", "-O2", "-fPIC"] and cmd[-1] == "-O0"
    assert command("cc", ["-c", "a.c", "-o", "a.o"], config())[-1] == "a.o"  # compiles keep -O2


def test_compile_c_and_cxx() -> None:
    assert command("cc", ["-c", "a.c", "-o", "a.o"], config()) == [
        "EMCC", "-O2", "-fPIC", "-I/py/include", "-I/lib1/include", "-DRECIPE", "-c", "a.c", "-o", "a.o",
    ]  # fmt: skip
    cxx = command("c++", ["-c", "a.cpp", "-o", "a.o"], config(sysroot_overlay="/overlay"))
    assert cxx[:6] == ["EMXX", "-O2", "-fPIC", "-fexceptions", "-isystem", "/overlay"]
    assert cxx[-6:] == ["-DRECIPE", "-DRECIPE_CXX", "-c", "a.cpp", "-o", "a.o"]


@pytest.mark.parametrize(
    ("exports", "library", "expected"),
    [
        ("pyinit", False, ["-sSIDE_MODULE=2", "-sEXPORTED_FUNCTIONS=_PyInit__speedups"]),
        ("requested", False, ["-sSIDE_MODULE=1"]),
        (["foo", "bar"], False, ["-sSIDE_MODULE=2", "-sEXPORTED_FUNCTIONS=_foo,_bar"]),
        ("pyinit", True, ["-sSIDE_MODULE=1"]),
    ],
)
def test_shared_link_exports(exports: Any, library: bool, expected: list[str]) -> None:
    out = "build/pkg/_speedups.cpython-311-x86_64-linux-gnu.so"
    cmd = command("cc", ["-shared", "a.o", "-L/host/lib", "-o", out], config(exports=exports, library=library))
    assert cmd == ["EMCC", "a.o", "-o", out, "-L/lib1/lib", "-O2", "-sWASM_BIGINT", *expected, "-lextra"]


def test_archiver_passes_through() -> None:
    assert command("ar", ["rcs", "libx.a", "x.o"], config()) == ["EMAR", "rcs", "libx.a", "x.o"]
    assert command("ranlib", ["libx.a"], config()) == ["EMRANLIB", "libx.a"]


TEMPLATE = """#define SIZEOF_LONG 8
/* #undef HAVE_WASM */
#define HAVE_FORK 1
#define WITH_DOC_STRINGS
#define VERSION_NAME "x"
"""


def test_pyconfig_from_the_runtime() -> None:
    runtime = {"SIZEOF_LONG": 4, "HAVE_WASM": 1, "HAVE_FORK": 0, "WITH_DOC_STRINGS": 1, "VERSION_NAME": '"x"'}
    text, changed = pyconfig_from_template(TEMPLATE, runtime)
    assert text.splitlines()[1:] == [
        "#define SIZEOF_LONG 4",
        "#define HAVE_WASM 1",
        "/* #undef HAVE_FORK */",
        "#define WITH_DOC_STRINGS",
        '#define VERSION_NAME "x"',
    ]
    assert changed == 3
    assert check_pyconfig(text, runtime) == (5, [])


def test_pyconfig_check_refuses_abi_differences_only() -> None:
    assert check_pyconfig("/* #undef HAVE_ZLIB_COPY */\n", {"HAVE_ZLIB_COPY": 1}) == (1, ["HAVE_ZLIB_COPY"])
    with pytest.raises(ProfileError, match="SIZEOF_LONG: header 8, runtime 4"):
        check_pyconfig(TEMPLATE, {"SIZEOF_LONG": 4})


def test_alltypes_overlay_widens_time_t() -> None:
    text = "typedef long time_t;\ntypedef int clock_t;\ntypedef long suseconds_t;\n"
    out = alltypes_overlay(text)
    assert "typedef long long time_t;" in out and "typedef long long suseconds_t;" in out
    assert "typedef int clock_t;" in out
    with pytest.raises(ProfileError, match="expected `typedef long time_t;`"):
        alltypes_overlay("typedef long long time_t;\n")


def test_compiled_host_requirements_are_not_imported(tmp_path: Any) -> None:
    from rules_pyodide.emcc_build import split_host_sites

    pure, compiled = tmp_path / "pure", tmp_path / "compiled"
    (pure / "pkg").mkdir(parents=True)
    (pure / "pkg" / "__init__.py").write_text("")
    (compiled / "numpy" / "core").mkdir(parents=True)
    (compiled / "numpy" / "core" / "_multiarray_umath.cpython-310-wasm32-emscripten.so").write_bytes(b"\0asm")
    assert split_host_sites([pure, compiled], ".cpython-310-wasm32-emscripten.so") == ([pure], [compiled])
