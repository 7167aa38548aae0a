"""`pyodide_pure_build`: builds a pure-Python recipe (`//packages:<name>_build`).

One action, `rules-pyodide pure-build` (rules_pyodide.pure_build): the patched tree is built with its PEP 517 backend
(`pip wheel --no-build-isolation --no-index`: backends come from the tool's interpreter, or, for a recipe with a
`build-requirements.lock` (`build_lock`), from an isolated environment of exactly its `build_wheels`; nothing is
downloaded),
installed into a site-packages tree (host compilers refused: a package that compiles fails here with one line
naming the recipe and the file), tests moved out when `unvendor_tests` is set, and written again as a
deterministic wheel; index fragments are written beside it. Outputs (under `<target name>/`): the wheel, `site/`,
`tests/` and `fragments/`, returned as `PyodideBuildInfo` (for `pyodide_package`) and as the output groups `wheel`,
`site` (the installed tree, for `file_package`), `tests` and `fragments`.
"""

load(":common.bzl", "BUILD_ATTRS", "CLI_TOOL", "ZIP_EPOCH", "add_build_env_args", "build_lock_inputs", "run_tool", "tool_args")
load(":providers.bzl", "PyodideBuildInfo", "PyodidePackageInfo")

def _site(dep):
    return dep[PyodidePackageInfo].site

def _pyodide_pure_build_impl(ctx):
    wheel = ctx.actions.declare_file("{}/{}".format(ctx.label.name, ctx.attr.wheel))
    site = ctx.actions.declare_directory(ctx.label.name + "/site")
    tests = ctx.actions.declare_directory(ctx.label.name + "/tests")
    fragments = ctx.actions.declare_directory(ctx.label.name + "/fragments")
    host_sites = [_site(dep) for dep in ctx.attr.host_deps]

    args = tool_args(ctx, "pure-build")
    args.add("--source", ctx.file.src.path)
    args.add("--name", ctx.attr.package_name)
    args.add("--version", ctx.attr.version)
    args.add("--wheel", wheel)
    args.add("--site", site.path)
    args.add("--tests", tests.path)
    args.add("--fragments", fragments.path)
    if ctx.attr.unvendor_tests:
        args.add("--unvendor-tests")
    args.add_all(ctx.attr.depends, before_each = "--depends")
    args.add_all(ctx.attr.imports, before_each = "--imports")
    args.add_all(host_sites, before_each = "--host-site", expand_directories = False)
    if ctx.attr.meta:
        args.add("--meta", ctx.attr.meta)
    add_build_env_args(args, ctx.attr)
    run_tool(
        ctx,
        args,
        inputs = [ctx.file.src] + host_sites + build_lock_inputs(ctx.attr),
        outputs = [wheel, site, tests, fragments],
        mnemonic = "PyodideBuild",
        progress_message = "Building wheel of {}".format(ctx.label),
        source_date_epoch = ZIP_EPOCH,
        block_network = True,
    )
    return [
        DefaultInfo(files = depset([wheel])),
        PyodideBuildInfo(fragments = fragments, log = None, site = site, tests = tests, wheel = wheel),
        OutputGroupInfo(
            fragments = depset([fragments]),
            site = depset([site]),
            tests = depset([tests]),
            wheel = depset([wheel]),
        ),
    ]

pyodide_pure_build = rule(
    implementation = _pyodide_pure_build_impl,
    doc = "Builds a pure-Python recipe into a wheel, its installed tree, unvendored tests and index fragments.",
    attrs = dict({
        "meta": attr.string(doc = "The recipe file (e.g. `packages/six/meta.yaml`), named first in every error."),
        "version": attr.string(mandatory = True, doc = "`package.version`; the wheel's metadata must agree."),
        "wheel": attr.string(
            mandatory = True,
            doc = "File name of the wheel, `<name>-<version>-py3-none-any.whl` (computed by pyodide_recipes).",
        ),
    }, **dict(BUILD_ATTRS, **CLI_TOOL)),
)
