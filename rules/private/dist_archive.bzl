"""`pyodide_dist_archive`: rules_pyodide's own release artifacts (`bazel build //:dist_archive`).

One action, `rules-pyodide dist-archive` (rules_pyodide.dist_archive), writes the directory `NAME/`: the source
archive a user downloads (`rules_pyodide-<version>.tar.gz`, deterministic, `<version>` from pyproject.toml), the
rules-pyodide PEX (`rules-pyodide-<version>.pex`, the single-file CLI), `SHA256SUMS` of both, and
`http_archive.bzl`, the exact WORKSPACE lines that fetch the archive.
"""

load(":common.bzl", "CLI_TOOL", "ZIP_EPOCH", "run_tool", "tool_args")

def _file_arg(f):
    return "--file={}={}".format(f.short_path, f.path)

def _pyodide_dist_archive_impl(ctx):
    out = ctx.actions.declare_directory(ctx.label.name)
    args = tool_args(ctx, "dist-archive")
    args.add("--output", out.path)
    args.add("--pyproject", ctx.file.pyproject)
    args.add("--pex", ctx.file.pex)
    args.add("--url-prefix", ctx.attr.url_prefix)
    args.add_all(ctx.files.srcs, map_each = _file_arg)
    run_tool(
        ctx,
        args,
        inputs = ctx.files.srcs + [ctx.file.pyproject, ctx.file.pex],
        outputs = [out],
        mnemonic = "PyodideDistArchive",
        progress_message = "Assembling the source archive and the PEX of {}".format(ctx.label),
        source_date_epoch = ZIP_EPOCH,
    )
    return [DefaultInfo(files = depset([out]))]

pyodide_dist_archive = rule(
    implementation = _pyodide_dist_archive_impl,
    doc = "rules_pyodide's source archive + the rules-pyodide PEX, with SHA256SUMS and the http_archive lines.",
    attrs = dict({
        "pex": attr.label(
            default = "@rules_pyodide_tool//:rules-pyodide.pex",
            allow_single_file = [".pex"],
            doc = "The rules-pyodide PEX to ship (toolchains/tool.bzl).",
        ),
        "pyproject": attr.label(mandatory = True, allow_single_file = ["pyproject.toml"], doc = "Gives the version."),
        "srcs": attr.label_list(
            allow_files = True,
            doc = "The files of the archive, each under its path in the repository (the packages' `distribution`).",
        ),
        "url_prefix": attr.string(
            mandatory = True,
            doc = "Where the archive is published: the http_archive `urls` entry is `<url_prefix>/<archive name>`.",
        ),
    }, **CLI_TOOL),
)
