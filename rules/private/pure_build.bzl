"""`pyodide_pure_build`: builds a pure-Python recipe (`//packages:<name>_build`).

One action, `rules-pyodide pure-build` (rules_pyodide.pure_build): the patched tree is built with its PEP 517 backend
(`pip wheel --no-build-isolation --no-index`: backends come from the project interpreter, nothing is downloaded),
installed into a site-packages tree (host compilers refused: a package that compiles fails here with one line
naming the recipe and the file), tests moved out when `unvendor_tests` is set, and written again as a
deterministic wheel; index fragments are written beside it. Outputs (under `<target name>/`): the wheel, `site/`,
`tests/` and `fragments/`, returned as `PyodideBuildInfo` (for `pyodide_package`) and as the output groups `wheel`,
`site` (the installed tree, for `file_package`), `tests` and `fragments`.
"""

load(":common.bzl", "CLI_TOOL", "ZIP_EPOCH", "run_tool", "tool_args")
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
    args.add_all(ctx.attr.executables, before_each = "--executable")
    args.add_all(ctx.attr.retain_test_patterns, before_each = "--retain-test-pattern")
    args.add_all(ctx.attr.constraints, before_each = "--constraint")
    args.add_all(ctx.attr.build_extras, before_each = "--build-extra")
    run_tool(
        ctx,
        args,
        inputs = [ctx.file.src] + host_sites,
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
        "depends": attr.string_list(doc = "Run requirements, by package name, for the index fragment."),
        "host_deps": attr.label_list(
            providers = [PyodidePackageInfo],
            doc = "Host requirements (`requirements.host`): their installed trees are on PYTHONPATH while building.",
        ),
        "build_extras": attr.string_list(
            doc = "`requirements.build-extras`: PEP 508 build requirements that must be installed in the build " +
                  "environment.",
        ),
        "constraints": attr.string_list(
            doc = "`requirements.constraint`: PEP 508 constraints the build environment must satisfy.",
        ),
        "executables": attr.string_list(
            doc = "`requirements.executable`: host programs the build needs; a missing one fails the build at once.",
        ),
        "imports": attr.string_list(doc = "Top-level import names, for the index fragment."),
        "meta": attr.string(doc = "The recipe file (e.g. `packages/six/meta.yaml`), named first in every error."),
        "package_name": attr.string(mandatory = True, doc = "`package.name` of the recipe."),
        "src": attr.label(
            allow_single_file = True,
            mandatory = True,
            doc = "The patched source tree (`:<name>_patched`).",
        ),
        "retain_test_patterns": attr.string_list(
            doc = "`build._retain-test-patterns`: fnmatch patterns (relative to site-packages) of test files kept.",
        ),
        "unvendor_tests": attr.bool(
            default = True,
            doc = "Move tests out of the package into `<name>-tests.tar` (`build.unvendor-tests`).",
        ),
        "version": attr.string(mandatory = True, doc = "`package.version`; the wheel's metadata must agree."),
        "wheel": attr.string(
            mandatory = True,
            doc = "File name of the wheel, `<name>-<version>-py3-none-any.whl` (computed by pyodide_recipes).",
        ),
    }, **CLI_TOOL),
)
