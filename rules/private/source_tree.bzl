"""`pyodide_source_tree`: a recipe's source as a directory (TreeArtifact), from an archive or from in-tree files.

With `archive`, the action runs `rules-pyodide unpack` (rules_pyodide.unpack): tar, tar.gz/bz2/xz or zip, members with
`..`, absolute names or links leaving the tree refused, `extract_dir` (default: the single top-level directory).
With `srcs` (a recipe's `source.path`), the action copies the files under `path` (`rules-pyodide patch` without
patches, which also turns the sandbox's symlinks into files).
"""

load(":common.bzl", "CLI_TOOL", "run_tool", "tool_args")

def _pyodide_source_tree_impl(ctx):
    if (ctx.file.archive == None) == (not ctx.files.srcs):
        fail("give exactly one of archive and srcs (a source.path directory with no files?)")
    out = ctx.actions.declare_directory(ctx.label.name)
    if ctx.file.archive:
        args = tool_args(ctx, "unpack")
        args.add("--archive", ctx.file.archive)
        if ctx.attr.extract_dir:
            args.add("--extract-dir", ctx.attr.extract_dir)
        args.add("--output", out.path)
        inputs = [ctx.file.archive]
        mnemonic = "PyodideUnpack"
        message = "Unpacking {} for {}".format(ctx.file.archive.basename, ctx.label)
    else:
        args = tool_args(ctx, "patch")
        args.add("--source", ctx.attr.path)
        args.add("--output", out.path)
        inputs = ctx.files.srcs
        mnemonic = "PyodideCopySources"
        message = "Copying {} for {}".format(ctx.attr.path, ctx.label)
    run_tool(
        ctx,
        args,
        inputs = inputs,
        outputs = [out],
        mnemonic = mnemonic,
        progress_message = message,
    )
    return [DefaultInfo(files = depset([out]))]

pyodide_source_tree = rule(
    implementation = _pyodide_source_tree_impl,
    doc = "A recipe's source tree (`//packages:<name>_source`): an unpacked archive or a copy of in-tree files.",
    attrs = dict({
        "archive": attr.label(
            allow_single_file = True,
            doc = "The downloaded archive (`@pyodide_source_<name>//:archive`), for `source.url` recipes.",
        ),
        "extract_dir": attr.string(
            doc = "Top-level directory of the archive to take (`source.extract_dir`); default: the single one.",
        ),
        "path": attr.string(
            doc = "With `srcs`: the execroot-relative directory they are under (`packages/<name>/<source.path>`).",
        ),
        "srcs": attr.label_list(
            allow_files = True,
            doc = "For `source.path` recipes: every file under `path`.",
        ),
    }, **CLI_TOOL),
)
