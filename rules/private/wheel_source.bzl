"""`pyodide_wheel_source`: ships a recipe whose `source.url` is a wheel (`//packages:<name>_build`); nothing is built.

One action, `rules-pyodide wheel-source` (rules_pyodide.wheel_source): the wheel that the recipe's `pyodide_source`
repository downloaded (checksum checked) must have tags that fit the Pyodide profile chosen by `--//:pyodide` (a
pure `*-none-any` wheel fits every profile; a compiled one only its own), and METADATA must name the recipe's package
and version; a wheel that does not fit fails with one line naming the recipe, the wheel's tags and the profile's
tag. It is then installed into `site/`, `build.post` run on it (`post`, as pyodide-build runs it on an unpacked
wheel), tests unvendored when `unvendor_tests` is set, written again
deterministically under its own name and tags, and index fragments are written beside it: the outputs and providers
of `pyodide_pure_build` (`PyodideBuildInfo`, output groups `wheel`, `site`, `tests`, `fragments`).
"""

load("@bazel_skylib//rules:common_settings.bzl", "BuildSettingInfo")
load(":common.bzl", "BUILD_ATTRS", "CLI_TOOL", "POST_ATTRS", "ZIP_EPOCH", "run_tool", "tool_args")
load(":providers.bzl", "PyodideBuildInfo")

def _pyodide_wheel_source_impl(ctx):
    profile = ctx.attr._profile[BuildSettingInfo].value
    source = ctx.file.src
    if not source.basename.endswith(".whl"):
        fail("{}: src: {} is not a wheel (.whl)".format(ctx.label, source.basename))
    wheel = ctx.actions.declare_file("{}/{}".format(ctx.label.name, source.basename))
    site = ctx.actions.declare_directory(ctx.label.name + "/site")
    tests = ctx.actions.declare_directory(ctx.label.name + "/tests")
    fragments = ctx.actions.declare_directory(ctx.label.name + "/fragments")

    args = tool_args(ctx, "wheel-source")
    args.add("--source-wheel", source)
    args.add("--profile", profile)
    args.add("--name", ctx.attr.package_name)
    args.add("--version", ctx.attr.version)
    args.add("--wheel", wheel)
    args.add("--site", site.path)
    args.add("--tests", tests.path)
    args.add("--fragments", fragments.path)
    if ctx.attr.unvendor_tests:
        args.add("--unvendor-tests")
    args.add_all(ctx.attr.retain_test_patterns, before_each = "--retain-test-pattern")
    args.add_all(ctx.attr.depends, before_each = "--depends")
    args.add_all(ctx.attr.imports, before_each = "--imports")
    if ctx.attr.meta:
        args.add("--meta", ctx.attr.meta)
    inputs = [source]
    if ctx.attr.post:
        post = ctx.actions.declare_file("{}/build.post.sh".format(ctx.label.name))
        ctx.actions.write(post, ctx.attr.post)
        args.add("--post-file", post)
        args.add("--pkgdir", ctx.attr.pkgdir)
        inputs += [post] + ctx.files.pkgdir_files
    run_tool(
        ctx,
        args,
        inputs = inputs,
        outputs = [wheel, site, tests, fragments],
        mnemonic = "PyodideWheelSource",
        progress_message = "Checking and installing {} for {} (Pyodide {})".format(
            source.basename,
            ctx.label,
            profile,
        ),
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

_SHARED = ["depends", "imports", "package_name", "retain_test_patterns", "unvendor_tests"]

pyodide_wheel_source = rule(
    implementation = _pyodide_wheel_source_impl,
    doc = "Ships a recipe's prebuilt wheel (`source.url` ends with `.whl`) for the selected profile: its installed " +
          "tree, unvendored tests and index fragments, as a build would.",
    attrs = dict({
        "meta": attr.string(doc = "The recipe file (e.g. `packages/tabulate/meta.yaml`), named first in every error."),
        "src": attr.label(
            allow_single_file = [".whl"],
            mandatory = True,
            doc = "The downloaded wheel (`@<source_repo>//:archive`).",
        ),
        "version": attr.string(mandatory = True, doc = "`package.version`; the wheel's metadata must agree."),
        "_profile": attr.label(
            default = Label("//:pyodide"),
            providers = [BuildSettingInfo],
            doc = "The profile flag `--//:pyodide` (its value names a profile of rules_pyodide/runtimes.json, " +
                  "whose table the tool reads; no headers or toolchain are needed).",
        ),
    }, **dict({k: BUILD_ATTRS[k] for k in _SHARED}, **dict(POST_ATTRS, **CLI_TOOL))),
)
