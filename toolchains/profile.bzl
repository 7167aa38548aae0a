"""`pyodide_profile`: one Pyodide ABI profile as a target returning `PyodideProfileInfo`.

The data is the profile's entry of `PROFILES` (`@rules_pyodide_table//:table.bzl`: the table
rules_pyodide/runtimes.json merged with the generated toolchains/profiles/<name>/profile.json); this rule adds the
files: the CPython headers of the profile's `@pyodide_headers_<name>` repository, the runtime's sysconfig and the
sysroot overlay.
"""

def profile_setting(name):
    """The label string of the config_setting that holds under `--@rules_pyodide//:pyodide=<name>`.

    A string resolved here, so that it names rules_pyodide's setting also when rules_pyodide is an external
    repository (select() keys must be strings in Bazel 4).
    """
    return str(Label("//:pyodide_" + name))

PyodideProfileInfo = provider(
    doc = "A Pyodide ABI profile (toolchains/profiles/<version>/): what compiled packages for that runtime need. " +
          "Chosen with `--//:pyodide=<version>`; `//toolchains/profiles:selected` returns the chosen one.",
    fields = {
        "abi_version": "string: `info.abi_version` of the index (Pyodide 0.26+), else empty.",
        "cflags": "list of strings: compile flags of every C/C++ file (e.g. `-O2 -fPIC`).",
        "checks": "list of strings: what the real runtime confirmed when the profile was generated.",
        "cxxflags": "list of strings: extra compile flags of C++ files (e.g. `-fexceptions`).",
        "emscripten_versions": "list of strings: toolchain versions whose libc ABI fits the runtime.",
        "ext_suffix": "string: EXT_SUFFIX of extension modules, e.g. `.cpython-310-wasm32-emscripten.so`.",
        "headers": "depset of Files: the CPython headers (with the wasm32 pyconfig.h) and the sysroot overlay.",
        "include_dir": "string: execroot-relative directory holding Python.h.",
        "index_format": "string: the index file the runtime reads (`repodata.json`, `pyodide-lock.json`).",
        "name": "string: the profile's name (the `--//:pyodide` value), e.g. `0.29.5`.",
        "ldflags": "list of strings: link flags of every side module (e.g. `-O2 -sWASM_BIGINT`).",
        "platform": "string: `info.platform` of the index, e.g. `emscripten_3_1_14`.",
        "pyodide_version": "string: the Pyodide release the profile was generated from, e.g. `0.21.3`.",
        "python": "string: Python `major.minor` of the runtime.",
        "python_version": "string: the runtime's full Python version, e.g. `3.10.2`.",
        "runtimes": "list of strings: the npm runtimes the profile's packages load in (same ABI).",
        "site_packages": "string: the runtime's site-packages directory, e.g. `/lib/python3.10/site-packages`.",
        "sysconfig": "File: the runtime's `sysconfig.get_config_vars()` as JSON (the cross-build data).",
        "sysroot_overlay": "string: execroot-relative directory of headers that override the toolchain's sysroot " +
                           "(64-bit time_t for 0.23), put first with `-isystem`; empty when there is none.",
        "time_t_bits": "int: width of the runtime's time_t (32 or 64).",
        "toolchain": "string: the Emscripten toolchain tree the profile compiles with, e.g. `emscripten-3.1.69`.",
        "wheel_tag": "string: tag of compiled wheels, e.g. `cp310-cp310-emscripten_3_1_14_wasm32`.",
    },
)

def _pyodide_profile_impl(ctx):
    overlay = ""
    if ctx.files.sysroot_overlay:
        marker = "/sysroot_overlay/"
        path = ctx.files.sysroot_overlay[0].path
        overlay = path[:path.index(marker) + len(marker) - 1]
    return [PyodideProfileInfo(
        abi_version = ctx.attr.abi_version,
        cflags = ctx.attr.cflags,
        checks = ctx.attr.checks,
        cxxflags = ctx.attr.cxxflags,
        emscripten_versions = ctx.attr.emscripten_versions,
        ext_suffix = ctx.attr.ext_suffix,
        headers = depset(ctx.files.headers + ctx.files.sysroot_overlay),
        include_dir = ctx.file.python_h.dirname,
        index_format = ctx.attr.index_format,
        name = ctx.attr.profile_name,
        ldflags = ctx.attr.ldflags,
        platform = ctx.attr.platform,
        pyodide_version = ctx.attr.pyodide_version,
        python = ctx.attr.python,
        python_version = ctx.attr.python_version,
        runtimes = ctx.attr.runtimes,
        site_packages = ctx.attr.site_packages,
        sysconfig = ctx.file.sysconfig,
        sysroot_overlay = overlay,
        time_t_bits = ctx.attr.time_t_bits,
        toolchain = ctx.attr.toolchain,
        wheel_tag = ctx.attr.wheel_tag,
    )]

_pyodide_profile = rule(
    implementation = _pyodide_profile_impl,
    doc = "A Pyodide ABI profile; see `PyodideProfileInfo` for the meaning of each attribute.",
    attrs = {
        "abi_version": attr.string(doc = "`info.abi_version` of the index, or empty."),
        "cflags": attr.string_list(doc = "Compile flags."),
        "checks": attr.string_list(doc = "What the runtime confirmed."),
        "cxxflags": attr.string_list(doc = "Extra C++ compile flags."),
        "emscripten_versions": attr.string_list(doc = "Toolchain versions that fit."),
        "ext_suffix": attr.string(doc = "EXT_SUFFIX."),
        "headers": attr.label(mandatory = True, doc = "The CPython headers (`@pyodide_headers_<v>//:headers`)."),
        "index_format": attr.string(doc = "Index file name."),
        "ldflags": attr.string_list(doc = "Link flags."),
        "platform": attr.string(doc = "`info.platform`."),
        "profile_name": attr.string(doc = "The profile's name."),
        "pyodide_version": attr.string(doc = "The Pyodide release."),
        "python": attr.string(doc = "Python major.minor."),
        "python_h": attr.label(allow_single_file = True, mandatory = True, doc = "Python.h of `headers`."),
        "python_version": attr.string(doc = "Full Python version."),
        "runtimes": attr.string_list(doc = "The runtimes the profile serves."),
        "site_packages": attr.string(doc = "The runtime's site-packages directory."),
        "sysconfig": attr.label(allow_single_file = True, mandatory = True, doc = "sysconfig.json."),
        "sysroot_overlay": attr.label_list(allow_files = True, doc = "Headers under `sysroot_overlay/`."),
        "time_t_bits": attr.int(doc = "Width of time_t."),
        "toolchain": attr.string(doc = "The Emscripten toolchain tree."),
        "wheel_tag": attr.string(doc = "Wheel tag."),
    },
    provides = [PyodideProfileInfo],
)

def pyodide_profile(name, profile, headers, python_h, sysconfig, sysroot_overlay = [], **kwargs):
    """Declares a profile target from its `PROFILES` entry.

    Args:
      name: target name (the profile's name).
      profile: the profile's entry of `PROFILES` (`@rules_pyodide_table//:table.bzl`).
      headers: the CPython headers filegroup.
      python_h: its Python.h.
      sysconfig: the runtime's sysconfig.json.
      sysroot_overlay: headers that override the toolchain's sysroot.
      **kwargs: common attributes.
    """
    _pyodide_profile(
        name = name,
        abi_version = profile["abi_version"],
        cflags = profile["cflags"],
        checks = profile["checks"],
        cxxflags = profile["cxxflags"],
        emscripten_versions = profile["emscripten_versions"],
        ext_suffix = profile["ext_suffix"],
        headers = headers,
        index_format = profile["index_format"],
        ldflags = profile["ldflags"],
        platform = profile["platform"],
        profile_name = name,
        pyodide_version = profile["pyodide_version"],
        python = profile["python"],
        python_h = python_h,
        python_version = profile["python_version"],
        runtimes = profile["runtimes"],
        site_packages = profile["site_packages"],
        sysconfig = sysconfig,
        sysroot_overlay = sysroot_overlay,
        time_t_bits = profile["time_t_bits"],
        toolchain = profile["toolchain"],
        wheel_tag = profile["wheel_tag"],
        **kwargs
    )
