"""Compiler and linker wrapper that a package's own build runs instead of gcc/g++/ld/ar (see rules_pyodide.emcc_build).

    python compiler_wrapper.py TOOL ARGS...      TOOL: cc, c++, ar, ranlib

emcc_build puts shims named cc, gcc, c++, g++, ld, ar, ranlib, ... first on PATH (and in CC, CXX, LDSHARED, AR),
each running this file with the tool's role; the settings come from the JSON file named by
`RULES_PYODIDE_WRAPPER_CONFIG` (written by emcc_build): emcc/em++/emar/emranlib, the profile's flags, the recipe's
cflags/cxxflags/ldflags, replace-libs and exports, include and library directories, and the host's Python include
and library directories, which are dropped (the host's headers describe x86_64). Standard library only, so it runs
with any interpreter and no PYTHONPATH.

- Compile (`-c`, `-E`, `-S`, `-M*`): emcc (em++ for C++) + profile cflags (+ cxxflags) + `-isystem <overlay>` +
  `-I <Python headers>` + library includes + recipe cflags (+ cxxflags) + the arguments.
- Shared link (`-shared`, or an output ending in `.so`): the arguments + library directories + profile ldflags +
  side-module and export flags + recipe ldflags. Exports: `pyinit` exports only `PyInit_<module>` (`-sSIDE_MODULE=2`),
  a list exports those symbols, `requested`/`whole_archive` export everything (`-sSIDE_MODULE=1`; whole_archive also
  links archives whole). Shared libraries (`build.type: shared_library`) export everything.
- Other links (configure's test programs): compiled and linked as a program with the profile's flags.
Include directories inside the host's site-packages (`numpy.get_include()` of the host's numpy) become the same
directory of a compiled host requirement's tree (`target_sites`, e.g. the numpy recipe's wasm32 headers) when it
has one; others (architecture-independent headers such as pybind11's) are kept. numpy's include directory moved
from `numpy/core/include` (1.x) to `numpy/_core/include` (2.x): either one maps to whichever the requirement has,
so the host's numpy 2 serves recipes built against numpy 1.22.4 (0.21.3) and 2.2.5 (0.29.5) alike.
Host-only flags (-pthread, -march, -g, -O*, -Wl,-rpath, -fstack-protector*, ...) are dropped; the profile's -O2
applies, except to programs (a configure check's test program, linked by emcc as JS + wasm): `-O0` there, which
finds the same symbols and skips wasm-opt and the JS optimizer (a third of each check's time; numpy's meson setup
links about 130 of them). Every command and its output is appended to the build log.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

CXX_SOURCES = (".cc", ".cpp", ".cxx", ".c++", ".C", ".mm")
COMPILE_ONLY = ("-c", "-E", "-S", "-M", "-MM")
# Optimization of programs (configure checks): the last -O wins.
PROGRAM_OPT = "-O0"
DROP = ("-pthread", "-g", "-g3", "-ggdb", "-fno-semantic-interposition", "-flto", "-fno-plt")
DROP_PREFIXES = (
    "-march=",
    "-mtune=",
    "-O",
    "-fstack-protector",
    "-fstack-clash-protection",
    "-fcf-protection",
    "-ffile-prefix-map=",
    "-fdebug-prefix-map=",
    "-Wl,-rpath",
    "-Wl,-z,",
    "-Wl,--as-needed",
    "-Wl,-Bsymbolic",
    "-Wl,-O",
    "-Wl,--hash-style",
    "-Wl,--build-id",
    "-Wl,-soname",
    "-specs=",
    "-B/usr",
    "-flto=",
)


def load_config() -> dict[str, Any]:
    path = os.environ.get("RULES_PYODIDE_WRAPPER_CONFIG")
    if not path:
        sys.exit("compiler_wrapper: RULES_PYODIDE_WRAPPER_CONFIG is not set (run through rules_pyodide.emcc_build)")
    with open(path, encoding="utf-8") as f:
        config: dict[str, Any] = json.load(f)
    return config


def _host_path(arg: str, flag: str, host_dirs: Sequence[str]) -> bool:
    if not arg.startswith(flag):
        return False
    path = os.path.normpath(arg[len(flag) :])
    return any(path == d or path.startswith(d + "/") for d in host_dirs)


# The same include directory under another name in another major version of a package (numpy 2 moved numpy.core).
INCLUDE_ALIASES = {"numpy/core/include": "numpy/_core/include", "numpy/_core/include": "numpy/core/include"}


def map_include(path: str, config: dict[str, Any]) -> str:
    """A directory under the host's site-packages -> the same directory of a compiled host requirement, if any."""
    norm = os.path.normpath(path)
    for site in config.get("host_site_dirs", []):
        site = os.path.normpath(site)
        if norm.startswith(site + "/"):
            rel = norm[len(site) + 1 :]
            candidates = [rel]
            for old, new in INCLUDE_ALIASES.items():
                if rel == old or rel.startswith(old + "/"):
                    candidates.append(new + rel[len(old) :])
            for target in config.get("target_sites", []):
                for candidate in candidates:
                    if os.path.isdir(os.path.join(target, candidate)):
                        return os.path.join(target, candidate)
    return path


def filter_args(args: Sequence[str], config: dict[str, Any]) -> list[str]:
    """Drop host-only flags and the host Python's include/library directories; apply replace-libs."""
    host_includes = [os.path.normpath(d) for d in config.get("host_include_dirs", [])]
    host_libs = [os.path.normpath(d) for d in config.get("host_lib_dirs", [])]
    replace = dict(config.get("replace_libs", {}))
    out: list[str] = []
    skip_next = False
    for i, arg in enumerate(args):
        if skip_next:
            skip_next = False
            continue
        if arg in DROP or (arg.startswith(DROP_PREFIXES) and not arg.startswith("-o")):
            continue
        if arg in ("-I", "-L", "-isystem") and i + 1 < len(args):
            flag = "-L" if arg == "-L" else "-I"
            dirs = host_libs if flag == "-L" else host_includes
            if _host_path(flag + args[i + 1], flag, dirs):
                skip_next = True
                continue
        if _host_path(arg, "-I", host_includes) or _host_path(arg, "-L", host_libs):
            continue
        if arg.startswith("-I") and len(arg) > 2:
            arg = "-I" + map_include(arg[2:], config)
        elif i > 0 and args[i - 1] in ("-I", "-isystem"):
            arg = map_include(arg, config)
        if arg.startswith("-l") and arg[2:] in replace:
            replacement = replace[arg[2:]]
            if replacement:
                out.append("-l" + replacement)
            continue
        out.append(arg)
    return out


def _output(args: Sequence[str]) -> str | None:
    for i, arg in enumerate(args):
        if arg == "-o" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("-o") and len(arg) > 2:
            return arg[2:]
    return None


def is_cxx(tool: str, args: Sequence[str]) -> bool:
    return tool == "c++" or any(a.endswith(CXX_SOURCES) for a in args) or "-xc++" in args or "c++" in args


def include_flags(config: dict[str, Any]) -> list[str]:
    flags: list[str] = []
    if config.get("sysroot_overlay"):
        flags += ["-isystem", config["sysroot_overlay"]]
    flags += ["-I" + config["python_include"]]
    flags += ["-I" + d for d in config.get("include_dirs", [])]
    return flags


def export_flags(output: str | None, config: dict[str, Any], args: Sequence[str]) -> list[str]:
    exports = config.get("exports", "pyinit")
    if config.get("library") or exports in ("requested", "whole_archive"):
        return ["-sSIDE_MODULE=1"]
    if isinstance(exports, list):
        symbols = ["_" + s for s in exports]
    else:
        module = os.path.basename(output or "").split(".")[0]
        if not module:
            return ["-sSIDE_MODULE=1"]
        symbols = [f"_PyInit_{module}"]
    return ["-sSIDE_MODULE=2", "-sEXPORTED_FUNCTIONS=" + ",".join(symbols)]


def whole_archive(args: Sequence[str]) -> list[str]:
    archives = [a for a in args if a.endswith(".a")]
    rest = [a for a in args if not a.endswith(".a")]
    return [*rest, "-Wl,--whole-archive", *archives, "-Wl,--no-whole-archive"] if archives else rest


def command(tool: str, argv: Sequence[str], config: dict[str, Any]) -> list[str]:
    if tool == "ar":
        return [config["emar"], *argv]
    if tool == "ranlib":
        return [config["emranlib"], *argv]
    args = filter_args(argv, config)
    cxx = is_cxx(tool, argv)
    compiler = config["emxx"] if cxx else config["emcc"]
    cflags = list(config["profile_cflags"]) + (list(config["profile_cxxflags"]) if cxx else [])
    recipe_cflags = list(config.get("cflags", [])) + (list(config.get("cxxflags", [])) if cxx else [])
    output = _output(args)
    shared = "-shared" in args or (output is not None and output.endswith(".so") and not set(args) & {"-c"})
    if any(a in COMPILE_ONLY or a.startswith("-M") for a in args) and not shared:
        return [compiler, *cflags, *include_flags(config), *recipe_cflags, *args]
    lib_dirs = ["-L" + d for d in config.get("lib_dirs", [])]
    if shared:
        args = [a for a in args if a != "-shared"]
        if config.get("exports") == "whole_archive":
            args = whole_archive(args)
        link = [*config["profile_ldflags"], *export_flags(output, config, args)]
        has_sources = any(a.endswith((".c", *CXX_SOURCES)) for a in args)
        front = [*cflags, *include_flags(config), *recipe_cflags] if has_sources else []
        return [compiler, *front, *args, *lib_dirs, *link, *config.get("ldflags", [])]
    program = [compiler, *cflags, *include_flags(config), *recipe_cflags, *args, *lib_dirs, *config.get("ldflags", [])]
    return [*program, PROGRAM_OPT]


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("cc", "c++", "ar", "ranlib"):
        sys.exit("usage: compiler_wrapper.py cc|c++|ar|ranlib ARGS...")
    config = load_config()
    cmd = command(argv[0], argv[1:], config)
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    sys.stdout.write(proc.stdout)
    sys.stderr.write(proc.stderr)
    log = config.get("log")
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(f"[{argv[0]}] {' '.join(argv[1:])}\n  -> {' '.join(cmd)}\n{proc.stdout}{proc.stderr}")
            if proc.returncode:
                f.write(f"  (exit {proc.returncode})\n")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
