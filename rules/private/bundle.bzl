"""`pyodide_bundle`: traces an app in real Pyodide (Node) and ships only the files it uses (pyodide-pack-like).

One action, `rules-pyodide bundle` (rules_pyodide.bundle): runs `app` with `dist`'s packages (the `packages` and
their dependencies, default: those of the app's imports), records every file read, dynamic library loaded and
module imported, writes the directory `NAME/` (`bundle.js` + `bundle.data`, `bundle.zip`, `app.py`, `runtime/`
with the trimmed standard library that replaces the runtime's own, `bundle.json` with the libraries to preload,
`filter-report.json`), then re-runs the app from the bundle and the trimmed standard library alone and fails the
build if that run fails or prints something else.

The runtime is a declared input (`@pyodide_runtime_<version>//:files`, toolchains/pyodide_runtime.bzl); Node is the
host's `node` on PATH (/usr/bin/node), not a Bazel input. The action needs no network.
"""

load(":common.bzl", "CLI_TOOL", "run_tool", "tool_args")

def _pyodide_bundle_impl(ctx):
    out = ctx.actions.declare_directory(ctx.label.name)
    trace_js = [f for f in ctx.files._js if f.basename == "trace_app.js"][0]
    args = tool_args(ctx, "bundle")
    args.add(ctx.file.app)
    args.add("--dist", ctx.file.dist.path)
    args.add("--pyodide", ctx.attr.pyodide_version)
    args.add("--pyodide-dir", ctx.file.runtime_package_json.dirname)
    args.add("--trace-js", trace_js)
    args.add("--output", out.path)
    args.add_all(ctx.attr.packages, before_each = "--package")
    args.add_all(ctx.attr.keep_stdlib, before_each = "--keep-stdlib")
    if ctx.attr.full_stdlib:
        args.add("--full-stdlib")
    if ctx.file.filters:
        args.add("--filters", ctx.file.filters)
    if not ctx.attr.check_output:
        args.add("--no-check-output")
    if ctx.attr.lz4:
        args.add("--lz4")
    args.add("--quiet")
    inputs = [ctx.file.app, ctx.file.dist, ctx.file.runtime_package_json] + ctx.files.runtime + ctx.files._js
    run_tool(
        ctx,
        args,
        inputs = inputs + ([ctx.file.filters] if ctx.file.filters else []),
        outputs = [out],
        mnemonic = "PyodideBundle",
        progress_message = "Tracing {} in Pyodide {} and bundling what it uses".format(ctx.label, ctx.attr.pyodide_version),
        source_date_epoch = "0",
    )
    return [DefaultInfo(files = depset([out]), runfiles = ctx.runfiles(files = [out]))]

pyodide_bundle = rule(
    implementation = _pyodide_bundle_impl,
    doc = "A minimal, validated bundle of the files `app` uses from `dist`, in the directory `NAME/`.",
    attrs = dict({
        "app": attr.label(mandatory = True, allow_single_file = [".py"], doc = "The Python app to trace."),
        "check_output": attr.bool(
            default = True,
            doc = "Fail unless the run from the bundle prints exactly what the trace run printed.",
        ),
        "dist": attr.label(
            mandatory = True,
            allow_single_file = True,
            doc = "A package directory (`pyodide_dist`, e.g. `//packages:all`) with the app's packages.",
        ),
        "filters": attr.label(
            allow_single_file = [".yaml", ".yml"],
            doc = "Filter YAML applied to the traced files (rules_pyodide/pack_filter.py); default: none.",
        ),
        "full_stdlib": attr.bool(
            default = False,
            doc = "Ship the runtime's standard library untrimmed (no `runtime/` in the output).",
        ),
        "keep_stdlib": attr.string_list(
            doc = "Standard library modules to keep although the trace did not import them (with their submodules).",
        ),
        "lz4": attr.bool(default = False, doc = "LZ4-compress `bundle.data`."),
        "packages": attr.string_list(doc = "Packages to load before the app; empty: those of the app's imports."),
        "pyodide_version": attr.string(default = "0.21.3", doc = "Version of the runtime (checked)."),
        "runtime": attr.label(
            default = "@pyodide_runtime_0_21_3//:files",
            doc = "Every file of the runtime (`@pyodide_runtime_<v>//:files`).",
        ),
        "runtime_package_json": attr.label(
            default = "@pyodide_runtime_0_21_3//:package_json",
            allow_single_file = ["package.json"],
            doc = "The runtime's package.json (`@pyodide_runtime_<v>//:package_json`): its directory is the runtime.",
        ),
        "_js": attr.label(
            default = Label("//js:trace_app"),
            cfg = "exec",
            doc = "js/trace_app.js and the modules it loads.",
        ),
    }, **CLI_TOOL),
)
