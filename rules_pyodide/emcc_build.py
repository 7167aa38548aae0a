"""Build a compiled recipe (C/C++/Cython extension, static or shared C library) for one Pyodide ABI profile.

    python -m rules_pyodide.emcc_build --source TREE --name N --version V --type package|static_library|shared_library
        --emcc F --emxx F --emar F --emranlib F --python-include DIR [--sysroot-overlay DIR]
        --profile-cflag F ... --profile-cxxflag F ... --profile-ldflag F ... --ext-suffix S --wheel-tag T
        [--cflags S] [--cxxflags S] [--ldflags S] [--replace-lib FROM=TO ...] [--exports pyinit|requested|
        whole_archive|SYM ...] [--script S | --script-file F] [--cross-script S | --cross-script-file F]
        [--post S | --post-file F] [--backend-flags S]
        [--pkgdir DIR]
        [--library PREFIX ...] [--host-site DIR ...] [--depends N ...] [--imports M ...] [--unvendor-tests]
        [--allow-pure]
        --log FILE --fragments DIR [--wheel OUT --site DIR --tests DIR] [--prefix DIR]

Everything happens in one scratch directory next to the outputs, with no network (the Bazel action blocks it).
First, each `--executable` (requirements.executable) must be on PATH, or the build stops at once saying which, and
`--constraint` / `--build-extra` must hold in the build environment (pure_build.check_build_requirements). With
`--build-lock` (the recipe's build-requirements.lock) and its `--build-wheel` files, that environment is a fresh
isolated one with exactly the locked wheels (rules_pyodide.build_lock.create_build_env): its interpreter runs
`pip wheel`, the backend and the `cython` shim, its `bin/` follows the shims on PATH (its `ninja` is $NINJA), and the
include directories of its site-packages are mapped as the host's are.

1. The source tree is copied; shims named cc/gcc/clang, c++/g++/clang++, ar, ranlib (and emcc's own names) go
   first on PATH and into CC, CXX, LDSHARED, AR, RANLIB: they run rules_pyodide/compiler_wrapper.py, which turns
   every compile and link into emcc with the profile's flags and the recipe's (see there).
   Host requirements that are compiled packages (e.g. numpy) are not put on PYTHONPATH (their modules are wasm):
   the host interpreter's own copy is imported (numpy.get_include()), and the wrappers map include directories
   inside the host's site-packages to the same directory of the requirement's wasm tree (its wasm32 headers).
2. `build.script` runs with bash in the source tree (`set -e`), with $PKGDIR (the recipe's directory),
   $WASM_LIBRARY_DIR (the library prefix: libraries install `include/` and `lib/` there), $PYODIDE_PROFILE_*, and
   pyodide-build's variables (pyodide_variables): $PKG_VERSION, $PKG_BUILD_DIR (the source tree), $DISTDIR
   (`dist/` in it: a shared library may put its `.so` files there instead of `$WASM_LIBRARY_DIR/lib`),
   $EM_PKG_CONFIG_PATH, $PKG_CONFIG_LIBDIR, $PYODIDE_JOBS (--jobs), $PYMAJOR/$PYMINOR/$PYMICRO/$PYVERSION,
   $PYODIDE_VERSION, $PYODIDE_EMSCRIPTEN_VERSION (the runtime's, from --platform), $PLATFORM_TRIPLET,
   $SIDE_MODULE_CFLAGS/CXXFLAGS/LDFLAGS and $CFLAGS_BASE/... (the profile's flags; CFLAGS with -I$PYTHONINCLUDE),
   $STDLIB_MODULE_CFLAGS (0.21), $PYTHONINCLUDE, $TARGETINSTALLDIR (`include/pythonX.Y` -> the profile's headers),
   $HOSTINSTALLDIR/$HOSTSITEPACKAGES (the build interpreter), $NUMPY_LIB (a numpy host requirement's tree),
   $PYODIDE_ROOT (the scratch directory: there is no Pyodide tree), $CMAKE_TOOLCHAIN_FILE (emscripten's) and
   $MESON_CROSS_FILE (the profile's, naming the wrappers: rules_pyodide.meson_cross); emcc/em++/emar/emranlib are
   the wrappers too, and emconfigure/emmake/emcmake/embuilder are on PATH (HELPERS);
   variables it exports are seen by the build that follows (as Pyodide's own build does). `build.cross-script`
   runs next, the same way; what it exports is seen by the build but not by `build.post`.
3. package: `pip wheel --no-build-isolation --no-index` (the package's own setup.py / PEP 517 backend), installed
   into a site-packages tree. A meson-python build gets `$MESON_CROSS_FILE` and `build-dir=build` as config settings;
   `$NINJA` is the interpreter's ninja, and `cython` on PATH runs the Cython that PYTHONPATH gives, from the source
   tree (rules_pyodide/cython_wrapper.py: its modules then name their sources relatively). Every extension
   module is renamed from the host's EXT_SUFFIX to the profile's, and
   must be a wasm module, and there must be one unless `--allow-pure` (the recipe was not known to compile: its
   source could not be looked into). Libraries: the script must have installed `lib/*.a` (static) or `lib/*.so`
   (shared).
4. `build.post` runs in the source tree with $SITEPACKAGES and $WHEELDIR (both the installed tree, as pyodide-build
   names the unpacked wheel) and $PKGDIR.
5. package: tests unvendored; the build's absolute paths renamed in the installed text files, and a shipped binary
   that holds one stops the build (rules_pyodide.build_paths); the wheel written again deterministically with the
   profile's tag; shared library: the
   `.so` files zipped (`<name>-<version>.zip`, installed by Pyodide into its dynlib directory); index fragments.

The full log (every command the wrappers ran and its output) is `--log`; on failure its last lines are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rules_pyodide import build_paths, meson_cross
from rules_pyodide.build_lock import BuildEnv, BuildLockError, create_build_env, read_lock
from rules_pyodide.cli import option_values
from rules_pyodide.errors import prog, run_command
from rules_pyodide.index import fragment_to_json, make_fragment
from rules_pyodide.outputs import (
    add_zip_member,
    atomic_file,
    file_mode,
    sha256_file,
    source_date_epoch,
    write_atomic,
    zip_date_time,
)
from rules_pyodide.pure_build import (
    BuildError,
    build_env,
    check_build_requirements,
    check_executables,
    copy_source,
    empty_output_dir,
    install,
    move_tree,
    ship_package,
    unvendor_tests,
)

PROG = prog("emcc-build")
WRAPPER = Path(__file__).with_name("compiler_wrapper.py")
CYTHON_WRAPPER = Path(__file__).with_name("cython_wrapper.py")
SHIMS = {
    "cc": "cc",
    "gcc": "cc",
    "clang": "cc",
    "x86_64-linux-gnu-gcc": "cc",
    "c++": "c++",
    "g++": "c++",
    "clang++": "c++",
    "x86_64-linux-gnu-g++": "c++",
    "ld": "cc",
    "ar": "ar",
    "x86_64-linux-gnu-ar": "ar",
    "ranlib": "ranlib",
    # Recipe scripts written for pyodide-build call emscripten's own names: they get the profile's flags too.
    "emcc": "cc",
    "em++": "c++",
    "emar": "ar",
    "emranlib": "ranlib",
}
# emscripten's configure/make/cmake helpers, as pyodide-build's scripts use them: the compiler variables already name
# the wrappers, so emconfigure and emmake run their command as is, and emcmake adds emscripten's CMake toolchain
# file and the wrappers as CMake's compilers. embuilder cannot build ports here (frozen cache): it says so.
HELPERS = {
    "emconfigure": 'exec "$@"\n',
    "emmake": 'exec "$@"\n',
    "emcmake": (
        'tool="$1"; shift\n'
        'exec "$tool" ${CMAKE_TOOLCHAIN_FILE:+"-DCMAKE_TOOLCHAIN_FILE=$CMAKE_TOOLCHAIN_FILE"} '
        '"-DCMAKE_C_COMPILER=$CC" "-DCMAKE_CXX_COMPILER=$CXX" "-DCMAKE_AR=$AR" "-DCMAKE_RANLIB=$RANLIB" '
        '"-DCMAKE_CROSSCOMPILING_EMULATOR=node" "$@"\n'
    ),
    "embuilder": (
        'echo "embuilder $*: emscripten ports cannot be built here (read-only cache, no downloads): build the '
        'library from a recipe and list it in requirements.host" >&2\nexit 1\n'
    ),
}
LOG_TAIL = 60
WASM_MAGIC = b"\0asm"
KINDS = ("package", "static_library", "shared_library")


@dataclass(frozen=True)
class Options:
    """What one emcc-build action is asked to do: its flags (named as on the command line, see _parser), with
    build.script, build.post and build.cross-script read from their files."""

    source: Path
    name: str
    version: str
    type: str  # one of KINDS
    emcc: Path
    emxx: Path
    emar: Path
    emranlib: Path
    python_include: Path
    ext_suffix: str
    log: Path
    fragments: Path
    sysroot_overlay: Path | None = None
    profile_cflag: tuple[str, ...] = ()
    profile_cxxflag: tuple[str, ...] = ()
    profile_ldflag: tuple[str, ...] = ()
    wheel_tag: str = ""
    pyodide_version: str = ""
    python_version: str = ""
    platform: str = ""
    jobs: int = 2
    cflags: str = ""
    cxxflags: str = ""
    ldflags: str = ""
    replace_lib: tuple[str, ...] = ()
    exports: tuple[str, ...] = ("pyinit",)
    script: str = ""
    post: str = ""
    cross_script: str = ""
    backend_flags: str = ""
    pkgdir: Path | None = None
    library: tuple[Path, ...] = ()
    host_site: tuple[Path, ...] = ()
    depends: tuple[str, ...] = ()
    imports: tuple[str, ...] = ()
    unvendor_tests: bool = False
    retain_test_pattern: tuple[str, ...] = ()
    allow_pure: bool = False
    executable: tuple[str, ...] = ()
    constraint: tuple[str, ...] = ()
    build_extra: tuple[str, ...] = ()
    build_lock: Path | None = None
    build_wheel: tuple[Path, ...] = ()
    wheel: Path | None = None
    site: Path | None = None
    tests: Path | None = None
    prefix: Path | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Options:
        """The parsed command line's options; reads --script-file, --post-file and --cross-script-file."""
        values = option_values(args, cls)
        for name in ("script", "post", "cross_script"):
            path: Path | None = getattr(args, f"{name}_file")
            if path:
                values[name] = path.read_text(encoding="utf-8")
        values["exports"] = values["exports"] or ("pyinit",)
        return cls(**values)


def parse_options(argv: Sequence[str]) -> Options:
    """The command line's Options (what main runs)."""
    return Options.from_args(_parser().parse_args(argv))


def _host_python_dirs() -> tuple[list[str], list[str]]:
    """Include and library directories of the host Python, which the wrappers drop."""
    paths = sysconfig.get_paths()
    includes = {paths["include"], paths["platinclude"], sysconfig.get_config_var("INCLUDEPY") or ""}
    includes |= {os.path.join(sys.base_prefix, "include"), os.path.join(sys.prefix, "include")}
    includes |= {"/usr/include/python3.11", "/usr/include/python3"}
    libs = {sysconfig.get_config_var("LIBDIR") or "", os.path.join(sys.base_prefix, "lib")}
    return sorted(d for d in includes if d), sorted(d for d in libs if d)


def _host_site_dirs() -> list[str]:
    """The host interpreter's site-packages directories (as given and resolved), whose include dirs are mapped."""
    paths = sysconfig.get_paths()
    dirs = {paths["purelib"], paths["platlib"]}
    return sorted(dirs | {os.path.realpath(d) for d in dirs})


def split_host_sites(sites: Sequence[Path], ext_suffix: str) -> tuple[list[Path], list[Path]]:
    """(pure, compiled): a host requirement's tree holding extension modules of the profile is compiled."""
    pure: list[Path] = []
    compiled: list[Path] = []
    for site in sites:
        is_compiled = any(p.name.endswith(ext_suffix) for p in site.rglob("*.so"))
        (compiled if is_compiled else pure).append(site)
    return pure, compiled


def write_shims(bin_dir: Path, config: Path, source: Path, python: str = sys.executable) -> None:
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name, role in SHIMS.items():
        shim = bin_dir / name
        shim.write_text(
            "#!/bin/sh\n"
            f"export RULES_PYODIDE_WRAPPER_CONFIG={shlex.quote(str(config))}\n"
            f'exec {shlex.quote(sys.executable)} -S {shlex.quote(str(WRAPPER))} {role} "$@"\n',
            encoding="utf-8",
        )
        shim.chmod(0o755)
    # `cython` (on PATH and in the meson cross file): the Cython of this interpreter's path, so a host requirement on
    # PYTHONPATH (packages/cython) wins over the one installed beside the interpreter; run from the source tree.
    cython = bin_dir / "cython"
    cython.write_text(
        f'#!/bin/sh\nexec {shlex.quote(python)} {shlex.quote(str(CYTHON_WRAPPER))} {shlex.quote(str(source))} "$@"\n',
        encoding="utf-8",
    )
    cython.chmod(0o755)


def write_helpers(bin_dir: Path) -> None:
    for name, body in HELPERS.items():
        helper = bin_dir / name
        helper.write_text("#!/bin/bash\n" + body, encoding="utf-8")
        helper.chmod(0o755)


def cmake_toolchain_file(emcc: Path) -> str:
    """emscripten's `cmake/Modules/Platform/Emscripten.cmake` beside the toolchain's emcc, if there is one."""
    real = emcc.resolve()
    for root in (real.parent, real.parent.parent / "share" / "emscripten", real.parent.parent):
        candidate = root / "cmake" / "Modules" / "Platform" / "Emscripten.cmake"
        if candidate.is_file():
            return str(candidate)
    return ""


def meson_cross_file(path: Path, bin_dir: Path, args: Options) -> Path:
    """The profile's meson cross file naming the wrappers (pyodide-build's MESON_CROSS_FILE; rules_pyodide.meson_cross),
    passed to meson-python builds by _build_package."""
    search = os.environ.get("PATH", "/usr/bin:/bin")
    text = meson_cross.cross_file(
        bin_dir,
        shutil.which("node", path=search),
        args.profile_cflag,
        args.profile_ldflag,
        shutil.which("pkg-config", path=search),
    )
    path.write_text(text, encoding="utf-8")
    return path


def _python_parts(args: Options) -> tuple[str, str, str]:
    """(major, minor, micro) of the runtime's Python: --python-version, else the EXT_SUFFIX's cpython-3XY."""
    if args.python_version:
        parts = args.python_version.split(".")
        return parts[0], parts[1] if len(parts) > 1 else "", parts[2] if len(parts) > 2 else ""
    tag = args.ext_suffix.split("-")[1] if args.ext_suffix.count("-") >= 1 else ""
    return (tag[:1], tag[1:], "") if tag.isdigit() else ("", "", "")


def pyodide_variables(args: Options, scratch: Path, bin_dir: Path) -> dict[str, str]:
    """The variables pyodide-build gives `build.script`, `build.cross-script` and `build.post` (see the module
    docstring), with this action's paths and the profile's values."""
    src, prefix = scratch / "src", scratch / "prefix"
    major, minor, micro = _python_parts(args)
    include = str(args.python_include.resolve())
    cflags = " ".join(shlex.quote(f) for f in [*args.profile_cflag, f"-I{include}"])
    cxxflags = " ".join(shlex.quote(f) for f in args.profile_cxxflag)
    ldflags = " ".join(shlex.quote(f) for f in args.profile_ldflag)
    platform = args.platform or ""
    emscripten_version = platform.removeprefix("emscripten_").replace("_", ".") if platform else ""
    target = scratch / "target"
    (target / "include").mkdir(parents=True, exist_ok=True)
    if major and minor and not (target / "include" / f"python{major}.{minor}").exists():
        (target / "include" / f"python{major}.{minor}").symlink_to(include)
    numpy = [str(site / "numpy") for site in args.host_site if (site / "numpy").is_dir()]
    return {
        "PKG_VERSION": args.version,
        "PKG_BUILD_DIR": str(src),
        "DISTDIR": str(src / "dist"),
        "EM_PKG_CONFIG_PATH": str(prefix / "lib" / "pkgconfig"),
        "PYODIDE_JOBS": str(args.jobs),
        "PYMAJOR": major,
        "PYMINOR": minor,
        "PYMICRO": micro,
        "PYVERSION": ".".join(p for p in (major, minor, micro) if p),
        "PYODIDE_VERSION": args.pyodide_version or "",
        "PYODIDE_EMSCRIPTEN_VERSION": emscripten_version,
        "PLATFORM_TRIPLET": "wasm32-emscripten",
        "SIDE_MODULE_CFLAGS": cflags,
        "SIDE_MODULE_CXXFLAGS": cxxflags,
        "SIDE_MODULE_LDFLAGS": ldflags,
        "STDLIB_MODULE_CFLAGS": cflags,
        "CFLAGS_BASE": " ".join(shlex.quote(f) for f in args.profile_cflag),
        "CXXFLAGS_BASE": cxxflags,
        "LDFLAGS_BASE": ldflags,
        "TARGETINSTALLDIR": str(target),
        "HOSTINSTALLDIR": sys.prefix,
        "HOSTSITEPACKAGES": sysconfig.get_paths()["purelib"],
        "NUMPY_LIB": numpy[0] if numpy else "",
        "PYODIDE_ROOT": str(scratch),
        "CMAKE_TOOLCHAIN_FILE": cmake_toolchain_file(args.emcc),
        "MESON_CROSS_FILE": str(meson_cross_file(scratch / "emscripten.meson.cross", bin_dir, args)),
    }


def _tail(log: Path) -> str:
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-LOG_TAIL:])


def _run(command: list[str], cwd: Path, env: dict[str, str], log: Path, what: str) -> None:
    with open(log, "a", encoding="utf-8") as f:
        f.write(f"\n=== {what}: {' '.join(shlex.quote(c) for c in command)}\n")
        f.flush()
        result = subprocess.run(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=f, stderr=f, check=False)
    if result.returncode != 0:
        raise BuildError(f"{what} failed (exit {result.returncode}); last lines of the log ({log.name}):\n{_tail(log)}")


def run_script(script: str, cwd: Path, env: dict[str, str], log: Path, what: str, scratch: Path) -> dict[str, str]:
    """Runs `script` with bash -e; returns the environment it leaves (its exports carry into the next step)."""
    if not script.strip():
        return env
    body = scratch / f"{what}.sh"
    env_out = scratch / f"{what}.env"
    body.write_text(
        f"set -e\n{script}\n( set +x; env -0 > {shlex.quote(str(env_out))} )\n",
        encoding="utf-8",
    )
    _run(["bash", "-e", str(body)], cwd, env, log, f"build.{what}")
    items = env_out.read_bytes().split(b"\0")
    new_env = {}
    for item in items:
        key, sep, value = item.decode("utf-8", errors="surrogateescape").partition("=")
        if sep and key and key not in ("PWD", "OLDPWD", "SHLVL", "_"):
            new_env[key] = value
    return new_env


def rename_extensions(site: Path, host_suffix: str, ext_suffix: str, name: str) -> list[Path]:
    """Renames host-suffixed extension modules to the profile's EXT_SUFFIX; every `.so` must be wasm."""
    modules = []
    for path in sorted(site.rglob("*.so")):
        target = path
        if path.name.endswith(host_suffix):
            target = path.with_name(path.name[: -len(host_suffix)] + ext_suffix)
            path.rename(target)
        with open(target, "rb") as f:
            if f.read(4) != WASM_MAGIC:
                raise BuildError(
                    f"{name}: {target.relative_to(site)} is not a WebAssembly module: it was not built by the "
                    "compiler wrappers (does the build hard-code a compiler?)"
                )
        modules.append(target)
    return modules


def _check_archives(prefix: Path, name: str, suffix: str) -> list[Path]:
    libs = sorted((prefix / "lib").glob(f"*{suffix}")) if (prefix / "lib").is_dir() else []
    if not libs:
        raise BuildError(
            f"{name}: build.script installed no lib/*{suffix} into $WASM_LIBRARY_DIR "
            f"(found: {sorted(p.relative_to(prefix).as_posix() for p in prefix.rglob('*')) or 'nothing'})"
        )
    for lib in libs:
        head = lib.read_bytes()[:8]
        if suffix == ".so" and head[:4] != WASM_MAGIC:
            raise BuildError(f"{name}: {lib.name} is not a WebAssembly module")
        if suffix == ".a" and head != b"!<arch>\n":
            raise BuildError(f"{name}: {lib.name} is not an ar archive")
    return libs


def write_zip(files: Sequence[Path], output: Path) -> None:
    """The shared library package: the `.so` files at the top level, sorted, fixed time and modes."""
    stamp = zip_date_time(source_date_epoch())
    with atomic_file(output) as tmp, zipfile.ZipFile(tmp, "w") as zf:
        for path in sorted(files, key=lambda p: p.name):
            add_zip_member(zf, path.name, path.read_bytes(), stamp, file_mode(True))


def _prefix_maps(scratch: Path) -> list[str]:
    """No absolute path in file names and debug info (e.g. `__FILE__` of an inline function in a header)."""
    return [f"-ffile-prefix-map={old}={new}" for old, new in build_paths.build_prefixes(scratch).items()]


def _keep_build_paths_out(scratch: Path, trees: Sequence[Path], log: Path) -> None:
    """Text files naming the build's directories get their names (rules_pyodide.build_paths); a file that still
    holds one, a binary, stops the build: it would differ on every build."""
    prefixes = build_paths.output_prefixes(scratch)
    for tree in trees:
        changed = build_paths.scrub_text_files(tree, prefixes)
        if changed:
            with log.open("a", encoding="utf-8") as f:
                names = ", ".join(p.relative_to(tree).as_posix() for p in changed)
                f.write(f"[rules_pyodide] the build's absolute paths renamed (/build, ., external) in: {names}\n")
        left = build_paths.files_holding(tree, prefixes)
        if left:
            listed = "; ".join(f"{p.relative_to(tree).as_posix()} holds {prefix}" for p, prefix in left.items())
            raise BuildError(
                f"the build wrote its absolute scratch or sandbox path into a binary it ships, which would make "
                f"every build's bytes differ: {listed}. Make the build name it relatively (a patch to the recipe, "
                f"or build.post)"
            )


def _wrapper_config(args: Options, scratch: Path, log: Path, locked: BuildEnv | None = None) -> Path:
    host_includes, host_libs = _host_python_dirs()
    libraries = [p.resolve() for p in args.library]
    config = {
        "emcc": str(args.emcc.resolve()),
        "emxx": str(args.emxx.resolve()),
        "emar": str(args.emar.resolve()),
        "emranlib": str(args.emranlib.resolve()),
        "profile_cflags": [*args.profile_cflag, *_prefix_maps(scratch)],
        "profile_cxxflags": args.profile_cxxflag,
        "profile_ldflags": args.profile_ldflag,
        "cflags": shlex.split(args.cflags),
        "cxxflags": shlex.split(args.cxxflags),
        "ldflags": shlex.split(args.ldflags),
        "replace_libs": dict(r.split("=", 1) for r in args.replace_lib),
        "exports": args.exports[0] if len(args.exports) == 1 and args.exports[0] in _KEYWORDS else args.exports,
        "library": args.type != "package",
        "python_include": str(args.python_include.resolve()),
        "sysroot_overlay": str(args.sysroot_overlay.resolve()) if args.sysroot_overlay else "",
        "include_dirs": [str(p / "include") for p in libraries] + [str(scratch / "prefix" / "include")],
        "lib_dirs": [str(p / "lib") for p in libraries] + [str(scratch / "prefix" / "lib")],
        "host_include_dirs": host_includes,
        "host_lib_dirs": host_libs,
        "host_site_dirs": _host_site_dirs() + ([str(locked.site), os.path.realpath(locked.site)] if locked else []),
        "target_sites": [str(p.resolve()) for p in split_host_sites(args.host_site, args.ext_suffix)[1]],
        "log": str(log),
    }
    path = scratch / "wrapper.json"
    path.write_text(json.dumps(config, indent=1), encoding="utf-8")
    return path


_KEYWORDS = ("pyinit", "requested", "whole_archive")


def _environment(args: Options, scratch: Path, config: Path, locked: BuildEnv | None = None) -> dict[str, str]:
    env = build_env(scratch, split_host_sites(args.host_site, args.ext_suffix)[0])
    bin_dir = scratch / "bin"
    write_shims(bin_dir, config, scratch / "src", str(locked.python) if locked else sys.executable)
    write_helpers(bin_dir)
    libraries = [p.resolve() for p in args.library]
    prefix = scratch / "prefix"
    env.update(pyodide_variables(args, scratch, bin_dir))
    env.update(
        {
            "PATH": f"{bin_dir}:{env.get('PATH', '/usr/bin:/bin')}",
            "CC": str(bin_dir / "cc"),
            "CXX": str(bin_dir / "c++"),
            "LDSHARED": f"{bin_dir / 'cc'} -shared",
            "LDCXXSHARED": f"{bin_dir / 'c++'} -shared",
            "AR": str(bin_dir / "ar"),
            "RANLIB": str(bin_dir / "ranlib"),
            "CFLAGS": "",
            "CXXFLAGS": "",
            "LDFLAGS": "",
            "CPPFLAGS": "",
            "EMSDK_PYTHON": sys.executable,
            "EMCC": str(args.emcc.resolve()),
            "EMXX": str(args.emxx.resolve()),
            "EMAR": str(args.emar.resolve()),
            "PYODIDE": "1",
            "PYODIDE_PROFILE_EXT_SUFFIX": args.ext_suffix,
            "PYTHONINCLUDE": str(args.python_include.resolve()),
            "WASM_LIBRARY_DIR": str(prefix),
            "PKG_CONFIG_PATH": ":".join(str(p / "lib" / "pkgconfig") for p in [*libraries, prefix]),
            "PKG_CONFIG_LIBDIR": ":".join(str(p / "lib" / "pkgconfig") for p in [*libraries, prefix]),
            "PKGDIR": str(args.pkgdir.resolve()) if args.pkgdir else "",
            "_PYTHON_HOST_PLATFORM": "emscripten_wasm32",
            "EM_FROZEN_CACHE": "1",
        }
    )
    ninja = (locked.bin if locked else Path(sysconfig.get_path("scripts"))) / "ninja"
    if ninja.is_file():
        env["NINJA"] = str(ninja)
    if locked:
        env["PATH"] = f"{bin_dir}:{locked.bin}:{env['PATH'].split(':', 1)[1]}"
        env["PYTHONPATH"] = os.pathsep.join(
            [*filter(None, env.get("PYTHONPATH", "").split(os.pathsep)), str(locked.frontend)]
        )
    return env


def _locked(args: Options, scratch: Path) -> BuildEnv | None:
    """A locked build's isolated environment (rules_pyodide.build_lock), or None without `--build-lock`."""
    if args.build_lock is None:
        return None
    try:
        return create_build_env(scratch, read_lock(args.build_lock), args.build_wheel, args.name)
    except BuildLockError as err:
        raise BuildError(str(err)) from None


@dataclass(frozen=True)
class Shipped:
    """Where a package or a shared library goes: its archive (wheel, or zip of the libraries), installed tree and
    unvendored tests."""

    wheel: Path
    site: Path
    tests: Path


def _required(path: Path | None, flag: str, kind: str) -> Path:
    if path is None:
        raise BuildError(f"{flag} is required for build.type {kind}")
    return path


def shipped_outputs(args: Options) -> Shipped | None:
    """The outputs of what the build ships (None for a static library, which ships nothing); each flag is required."""
    if args.type == "static_library":
        return None
    site, tests = _required(args.site, "--site", args.type), _required(args.tests, "--tests", args.type)
    return Shipped(_required(args.wheel, "--wheel", args.type), site, tests)


def build(args: Options) -> None:
    shipped = shipped_outputs(args)
    outputs = [(args.fragments, "--fragments")]
    if shipped:
        outputs += [(shipped.site, "--site"), (shipped.tests, "--tests")]
    if args.prefix:
        outputs += [(args.prefix, "--prefix")]
    for path, what in outputs:
        empty_output_dir(path, what)
    log: Path = args.log.resolve()
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(f"rules_pyodide emcc-build of {args.name} {args.version} ({args.type})\n", encoding="utf-8")
    scratch = Path(tempfile.mkdtemp(prefix=f".{args.name}.", suffix=".build", dir=log.parent)).resolve()
    try:
        src = scratch / "src"
        copy_source(args.source, src)
        (scratch / "prefix").mkdir()
        check_executables(args.executable, os.environ.get("PATH", os.defpath))
        locked = _locked(args, scratch)
        check_build_requirements(args.constraint, args.build_extra, locked.site if locked else None)
        env = _environment(args, scratch, _wrapper_config(args, scratch, log, locked), locked)
        env = run_script(args.script, src, env, log, "script", scratch)
        # cross-script: what it exports reaches the build, not build.post (pyodide-build runs it in the build env).
        build_env = run_script(args.cross_script, src, env, log, "cross-script", scratch)
        if args.type == "package" and shipped:
            python = str(locked.python) if locked else sys.executable
            _build_package(args, shipped, scratch, build_env, log, post_base=env, python=python)
        else:
            libs = _build_library(args, scratch, env, log)
            if shipped:
                _ship_shared_library(args, shipped, libs)
        if args.prefix:
            shutil.copytree(scratch / "prefix", args.prefix, dirs_exist_ok=True)
    except BuildError as err:
        raise BuildError(f"{args.name}: {err}") from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def post_environment(env: dict[str, str], site: Path) -> dict[str, str]:
    """`build.post`'s environment: $SITEPACKAGES, and $WHEELDIR, pyodide-build's name for the unpacked wheel, which
    is the same tree here (rebound's post copies its headers from it)."""
    return {**env, "SITEPACKAGES": str(site), "WHEELDIR": str(site)}


def _build_package(
    args: Options,
    out: Shipped,
    scratch: Path,
    env: dict[str, str],
    log: Path,
    post_base: dict[str, str] | None = None,
    python: str = sys.executable,
) -> None:
    src = scratch / "src"
    dist = scratch / "dist"
    command = [python, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-v"]
    command += ["--no-cache-dir", "--disable-pip-version-check", "--wheel-dir", str(dist)]
    flags = shlex.split(args.backend_flags)
    if meson_cross.uses_meson_python(src):
        flags += meson_cross.backend_flags(Path(env["MESON_CROSS_FILE"]), flags)
    command += [f"--config-settings={flag}" for flag in flags]
    _run([*command, str(src)], src, env, log, "the package build (pip wheel)")
    wheels = sorted(dist.glob("*.whl"))
    if len(wheels) != 1:
        raise BuildError(f"expected one wheel from the build, got {[w.name for w in wheels]}")
    site = scratch / "site"
    install(wheels[0], site)
    host_suffix = str(sysconfig.get_config_var("EXT_SUFFIX"))
    modules = rename_extensions(site, host_suffix, args.ext_suffix, args.name)
    if not modules and not args.allow_pure:
        raise BuildError(
            f"the build produced no extension module (*{host_suffix}); is this a compiled package? Last lines of "
            f"the log ({log.name}):\n{_tail(log)}"
        )
    run_script(args.post, src, post_environment(env if post_base is None else post_base, site), log, "post", scratch)
    moved = unvendor_tests(site, scratch / "tests", args.retain_test_pattern) if args.unvendor_tests else 0
    _keep_build_paths_out(scratch, [site, scratch / "tests"], log)
    ship_package(
        site,
        scratch / "tests",
        moved,
        name=args.name,
        version=args.version,
        wheel=out.wheel,
        wheel_tag=args.wheel_tag,
        tests=out.tests,
        fragments=args.fragments,
        depends=args.depends,
        imports=args.imports,
    )
    move_tree(site, out.site)


def _build_library(args: Options, scratch: Path, env: dict[str, str], log: Path) -> list[Path]:
    """Runs build.post and checks what the script installed: the libraries (lib/*.a or lib/*.so)."""
    prefix = scratch / "prefix"
    src = scratch / "src"
    run_script(args.post, src, {**env, "SITEPACKAGES": ""}, log, "post", scratch)
    if args.type == "static_library":
        return _check_archives(prefix, args.name, ".a")
    distdir = src / "dist"
    if not list((prefix / "lib").glob("*.so")) and distdir.is_dir() and list(distdir.glob("*.so")):
        (prefix / "lib").mkdir(parents=True, exist_ok=True)
        for lib in sorted(distdir.glob("*.so")):  # pyodide-build's convention: shared libraries in $DISTDIR
            shutil.copy2(lib, prefix / "lib" / lib.name)
    return _check_archives(prefix, args.name, ".so")


def _ship_shared_library(args: Options, out: Shipped, libs: Sequence[Path]) -> None:
    write_zip(libs, out.wheel)
    for lib in libs:
        shutil.copy2(lib, out.site / lib.name)
        os.utime(out.site / lib.name, (source_date_epoch(), source_date_epoch()))
    fragment = make_fragment(
        args.name,
        args.version,
        out.wheel.name,
        sha256_file(out.wheel),
        package_type="shared_library",
        depends=args.depends,
    )
    write_atomic(args.fragments / f"{args.name}.json", fragment_to_json(fragment))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    p.add_argument("--source", required=True, type=Path, help="patched source tree")
    p.add_argument("--name", required=True, help="package.name")
    p.add_argument("--version", required=True, help="package.version")
    p.add_argument("--type", required=True, choices=KINDS)
    for tool in ("emcc", "emxx", "emar", "emranlib"):
        p.add_argument(f"--{tool}", required=True, type=Path, help=f"the toolchain's {tool}")
    p.add_argument("--python-include", required=True, type=Path, help="directory of the profile's Python.h")
    p.add_argument("--sysroot-overlay", type=Path, help="headers that override the toolchain's sysroot")
    p.add_argument("--profile-cflag", action="append", default=[], help="profile compile flag (repeat)")
    p.add_argument("--profile-cxxflag", action="append", default=[], help="profile C++ compile flag (repeat)")
    p.add_argument("--profile-ldflag", action="append", default=[], help="profile link flag (repeat)")
    p.add_argument("--ext-suffix", required=True, help="the profile's EXT_SUFFIX")
    p.add_argument("--wheel-tag", default="", help="the profile's wheel tag")
    p.add_argument("--pyodide-version", default="", help="the profile's Pyodide release ($PYODIDE_VERSION)")
    p.add_argument("--python-version", default="", help="the runtime's full Python version ($PYMAJOR...)")
    p.add_argument("--platform", default="", help="the profile's platform, e.g. emscripten_3_1_14")
    p.add_argument("--jobs", type=int, default=2, help="$PYODIDE_JOBS (parallel jobs for make and the like)")
    p.add_argument("--cflags", default="", help="build.cflags")
    p.add_argument("--cxxflags", default="", help="build.cxxflags")
    p.add_argument("--ldflags", default="", help="build.ldflags")
    p.add_argument("--replace-lib", action="append", default=[], help="build.replace-libs entry FROM=TO")
    p.add_argument("--exports", action="append", default=[], help="build.exports keyword or symbol (repeat)")
    p.add_argument("--script", default="", help="build.script")
    p.add_argument("--post", default="", help="build.post")
    p.add_argument("--cross-script", default="", help="build.cross-script")
    p.add_argument("--cross-script-file", type=Path, help="build.cross-script, read from a file")
    p.add_argument("--script-file", type=Path, help="build.script, read from a file (what the rule passes)")
    p.add_argument("--post-file", type=Path, help="build.post, read from a file (what the rule passes)")
    p.add_argument("--backend-flags", default="", help="build.backend-flags (pip --config-settings)")
    p.add_argument("--pkgdir", type=Path, help="the recipe's directory ($PKGDIR)")
    p.add_argument("--library", action="append", default=[], type=Path, help="prefix of a host library (repeat)")
    p.add_argument("--host-site", action="append", default=[], type=Path, help="host requirement's tree")
    p.add_argument("--depends", action="append", default=[], help="a run requirement (repeat)")
    p.add_argument("--imports", action="append", default=[], help="a top-level import name (repeat)")
    p.add_argument("--unvendor-tests", action="store_true", help="move tests out of the package")
    p.add_argument("--retain-test-pattern", action="append", default=[], help="build._retain-test-patterns")
    p.add_argument("--allow-pure", action="store_true", help="a package build may make no extension module")
    p.add_argument("--executable", action="append", default=[], help="requirements.executable (repeat)")
    p.add_argument("--constraint", action="append", default=[], help="requirements.constraint (repeat)")
    p.add_argument("--build-extra", action="append", default=[], help="requirements.build-extras (repeat)")
    p.add_argument("--build-lock", type=Path, help="the recipe's build-requirements.lock (isolated build)")
    p.add_argument("--build-wheel", action="append", default=[], type=Path, help="a wheel of the lock (repeat)")
    p.add_argument("--log", required=True, type=Path, help="the build log to write")
    p.add_argument("--fragments", required=True, type=Path, help="directory to create: index fragments")
    p.add_argument("--wheel", type=Path, help="package archive to write (wheel, or zip for a shared library)")
    p.add_argument("--site", type=Path, help="directory to create: the installed files")
    p.add_argument("--tests", type=Path, help="directory to create: unvendored tests")
    p.add_argument("--prefix", type=Path, help="directory to create: the library prefix (headers, libs)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return run_command(PROG, lambda: build(Options.from_args(args)), reported=(zipfile.BadZipFile,))


if __name__ == "__main__":
    sys.exit(main())
