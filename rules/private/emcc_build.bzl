"""`pyodide_emcc_build`: builds a compiled recipe for the selected Pyodide ABI profile (`//packages:<name>_build`).

One action, `rules-pyodide emcc-build` (rules_pyodide.emcc_build): the package's own build (setup.py / PEP 517, or the
recipe's `build.script` for libraries) runs with compiler and linker wrappers that apply the profile's flags and
the recipe's `cflags`, `cxxflags`, `ldflags`, `replace-libs` and `exports`; `build.script` runs before, `build.post`
after (with `$SITEPACKAGES` and `$PKGDIR`); no network. The Emscripten toolchain (toolchain type
`//toolchains:emscripten`) and the profile (`//toolchains/profiles:selected`, chosen by `--//:pyodide`) are inputs,
so switching the profile rebuilds compiled packages only. The toolchain's version must be one the profile accepts.

Outputs by `type`:
- `package`: the wheel (tag of the profile), `site/`, `tests/`, `fragments/` (as `pyodide_pure_build`);
- `shared_library`: `<name>-<version>.zip` of the `.so` files (index entry `shared_library`, loaded before its
  dependents), `site/` (the `.so` files), `tests/` (empty), `fragments/`, and `prefix/` for dependents;
- `static_library`: `prefix/` only (headers + `.a`), returned as `PyodideLibraryInfo`.
`package` and `shared_library` return `PyodideBuildInfo` (for `pyodide_package`). Every output is also an output
group (`wheel`, `site`, `tests`, `fragments`, `prefix`); every type has `log`, the full build log (its tail is shown
when the build fails).
"""

load(":common.bzl", "BUILD_ATTRS", "CLI_TOOL", "POST_ATTRS", "ZIP_EPOCH", "add_build_env_args", "build_lock_inputs", "run_tool", "tool_args")
load(":providers.bzl", "PyodideBuildInfo", "PyodideLibraryInfo", "PyodidePackageInfo", "PyodideProfileInfo")

_TOOLCHAIN = str(Label("//toolchains:emscripten"))

def _check_toolchain(ctx, emscripten, profile):
    if emscripten.error:
        fail("{}: no Emscripten toolchain: {}".format(ctx.label, emscripten.error))
    if emscripten.version not in profile.emscripten_versions:
        fail(("{}: the Emscripten toolchain is version {} ({}), but the Pyodide {} profile needs one of {}: " +
              "its libc ABI must match the runtime's. Install a fitting emscripten, point EM_CONFIG/EMSDK to one, " +
              "or choose another profile with --//:pyodide.").format(
            ctx.label,
            emscripten.version,
            emscripten.origin,
            profile.pyodide_version,
            ", ".join(profile.emscripten_versions),
        ))

def _output_name(ctx, profile):
    if ctx.attr.type == "shared_library":
        return "{}-{}.zip".format(ctx.attr.package_name, ctx.attr.version)
    base = ctx.attr.wheel
    if not base.endswith("-py3-none-any.whl"):
        fail("{}: wheel: {} must end with -py3-none-any.whl (the profile's tag replaces it)".format(ctx.label, base))
    return base[:-len("py3-none-any.whl")] + profile.wheel_tag + ".whl"

def _pyodide_emcc_build_impl(ctx):
    emscripten = ctx.toolchains[_TOOLCHAIN].emscripten
    profile = ctx.attr._profile[PyodideProfileInfo]
    _check_toolchain(ctx, emscripten, profile)
    kind = ctx.attr.type
    log = ctx.actions.declare_file(ctx.label.name + "/build.log")
    fragments = ctx.actions.declare_directory(ctx.label.name + "/fragments")
    outputs = [log, fragments]
    groups = {"fragments": depset([fragments]), "log": depset([log])}
    wheel = None
    site = None
    tests = None
    prefix = None
    if kind != "static_library":
        wheel = ctx.actions.declare_file("{}/{}".format(ctx.label.name, _output_name(ctx, profile)))
        site = ctx.actions.declare_directory(ctx.label.name + "/site")
        tests = ctx.actions.declare_directory(ctx.label.name + "/tests")
        outputs += [wheel, site, tests]
        groups.update(wheel = depset([wheel]), site = depset([site]), tests = depset([tests]))
    if kind != "package":
        prefix = ctx.actions.declare_directory(ctx.label.name + "/prefix")
        outputs.append(prefix)
        groups["prefix"] = depset([prefix])
    libraries = [dep[PyodideLibraryInfo] for dep in ctx.attr.libraries]
    library_prefixes = depset(transitive = [lib.transitive_prefixes for lib in libraries])
    host_sites = [dep[PyodidePackageInfo].site for dep in ctx.attr.host_deps]

    args = tool_args(ctx, "emcc-build")
    args.add("--source", ctx.file.src.path)
    args.add("--name", ctx.attr.package_name)
    args.add("--version", ctx.attr.version)
    args.add("--type", kind)
    args.add("--emcc", emscripten.emcc)
    args.add("--emxx", emscripten.emxx)
    args.add("--emar", emscripten.emar)
    args.add("--emranlib", emscripten.emranlib)
    args.add("--python-include", profile.include_dir)
    if profile.sysroot_overlay:
        args.add("--sysroot-overlay", profile.sysroot_overlay)
    args.add_all(profile.cflags, format_each = "--profile-cflag=%s")
    args.add_all(profile.cxxflags, format_each = "--profile-cxxflag=%s")
    args.add_all(profile.ldflags, format_each = "--profile-ldflag=%s")
    args.add("--ext-suffix", profile.ext_suffix)
    args.add("--wheel-tag", profile.wheel_tag)
    args.add("--pyodide-version", profile.pyodide_version)
    args.add("--python-version", profile.python_version)
    args.add("--platform", profile.platform)
    args.add("--cflags=" + ctx.attr.cflags)
    args.add("--cxxflags=" + ctx.attr.cxxflags)
    args.add("--ldflags=" + ctx.attr.ldflags)
    args.add_all(ctx.attr.replace_libs, format_each = "--replace-lib=%s")
    args.add_all(ctx.attr.exports, format_each = "--exports=%s")

    # Scripts go in files: the multiline param file holds one argument per line.
    scripts = []
    for key, text in (("script", ctx.attr.script), ("cross-script", ctx.attr.cross_script), ("post", ctx.attr.post)):
        if text:
            script = ctx.actions.declare_file("{}/build.{}.sh".format(ctx.label.name, key))
            ctx.actions.write(script, text)
            scripts.append(script)
            args.add("--{}-file".format(key), script)
    args.add("--backend-flags=" + ctx.attr.backend_flags)
    if ctx.attr.pkgdir:
        args.add("--pkgdir", ctx.attr.pkgdir)
    args.add_all(library_prefixes, before_each = "--library", expand_directories = False)
    args.add_all(host_sites, before_each = "--host-site", expand_directories = False)
    args.add_all(ctx.attr.depends, before_each = "--depends")
    args.add_all(ctx.attr.imports, before_each = "--imports")
    if ctx.attr.unvendor_tests:
        args.add("--unvendor-tests")
    if ctx.attr.allow_pure:
        args.add("--allow-pure")
    add_build_env_args(args, ctx.attr)
    args.add("--log", log)
    args.add("--fragments", fragments.path)
    if wheel:
        args.add("--wheel", wheel)
        args.add("--site", site.path)
        args.add("--tests", tests.path)
    if prefix:
        args.add("--prefix", prefix.path)
    run_tool(
        ctx,
        args,
        inputs = depset(
            [ctx.file.src, profile.sysconfig] + host_sites + scripts + ctx.files.pkgdir_files + build_lock_inputs(ctx.attr),
            transitive = [emscripten.files, profile.headers, library_prefixes],
        ),
        outputs = outputs,
        mnemonic = "PyodideEmccBuild",
        progress_message = "Compiling {} for Pyodide {} (emscripten {})".format(
            ctx.label,
            profile.pyodide_version,
            emscripten.version,
        ),
        source_date_epoch = ZIP_EPOCH,
        block_network = True,
    )
    providers = [
        DefaultInfo(files = depset([wheel] if wheel else [prefix])),
        OutputGroupInfo(**groups),
    ]
    if wheel:
        providers.append(PyodideBuildInfo(fragments = fragments, log = log, site = site, tests = tests, wheel = wheel))
    if prefix:
        providers.append(PyodideLibraryInfo(
            name = ctx.attr.package_name,
            prefix = prefix,
            shared = kind == "shared_library",
            transitive_prefixes = depset([prefix], transitive = [library_prefixes]),
        ))
    return providers

pyodide_emcc_build = rule(
    implementation = _pyodide_emcc_build_impl,
    doc = "Builds a compiled recipe (extension package, static or shared C library) with the Emscripten toolchain " +
          "for the Pyodide profile chosen by `--//:pyodide`.",
    attrs = dict({
        "allow_pure": attr.bool(
            doc = "A package build that makes no extension module is not an error (the source could not be " +
                  "looked into, so it was not known to compile: see rules_pyodide.recipes_bzl).",
        ),
        "backend_flags": attr.string(doc = "`build.backend-flags`: passed to pip as `--config-settings`."),
        "cflags": attr.string(doc = "`build.cflags`: added to every compile."),
        "cross_script": attr.string(
            doc = "`build.cross-script`: bash, run after `script` in the target environment; what it exports is " +
                  "seen by the build, not by `post`.",
        ),
        "cxxflags": attr.string(doc = "`build.cxxflags`: added to every C++ compile."),
        "exports": attr.string_list(
            default = ["pyinit"],
            doc = "`build.exports`: `pyinit` (only PyInit_*), `requested`, `whole_archive`, or symbol names.",
        ),
        "ldflags": attr.string(doc = "`build.ldflags`: added to every link."),
        "libraries": attr.label_list(
            providers = [PyodideLibraryInfo],
            doc = "Library recipes in `requirements.host` (their `_build` targets): compiled and linked against.",
        ),
        "replace_libs": attr.string_list(doc = "`build.replace-libs`: `FROM=TO` for `-lFROM` at link time."),
        "script": attr.string(doc = "`build.script`: bash, run in the source tree before the build."),
        "type": attr.string(
            default = "package",
            values = ["package", "static_library", "shared_library"],
            doc = "`build.type`.",
        ),
        "version": attr.string(mandatory = True, doc = "`package.version`."),
        "wheel": attr.string(doc = "The recipe's pure wheel name; the profile's tag replaces `py3-none-any`."),
        "_profile": attr.label(
            default = Label("//toolchains/profiles:selected"),
            providers = [PyodideProfileInfo],
            doc = "The Pyodide ABI profile chosen by `--//:pyodide`.",
        ),
    }, **dict(BUILD_ATTRS, **dict(POST_ATTRS, **CLI_TOOL))),
    toolchains = [_TOOLCHAIN],
)
