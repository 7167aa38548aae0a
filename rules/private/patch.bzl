"""`pyodide_patch`: a recipe's patched source tree (`//packages:<name>_patched`).

The action runs `rules-pyodide patch` (rules_pyodide.patch): copy `src`, `patch -p1` each of `patches` in order,
then copy each of `extras` to its destination; a failing patch names the patch file and shows patch's output, which
names the file it could not patch.
"""

load(":common.bzl", "CLI_TOOL", "run_tool", "tool_args")

def _pyodide_patch_impl(ctx):
    out = ctx.actions.declare_directory(ctx.label.name)
    args = tool_args(ctx, "patch")
    args.add("--source", ctx.file.src.path)
    args.add("--output", out.path)
    args.add_all(ctx.files.patches, before_each = "--patch")
    extras = []
    for target, dst in ctx.attr.extras.items():  # recipe order
        files = target.files.to_list()
        if len(files) != 1:
            fail("extras: {} must be exactly one file or directory".format(target.label))
        extras.append(files[0])
        args.add("--extra", "{}={}".format(files[0].path, dst))
    run_tool(
        ctx,
        args,
        inputs = [ctx.file.src] + ctx.files.patches + extras,
        outputs = [out],
        mnemonic = "PyodidePatch",
        progress_message = "Patching {} ({} patches, {} extras)".format(ctx.label, len(ctx.files.patches), len(extras)),
    )
    return [DefaultInfo(files = depset([out]))]

pyodide_patch = rule(
    implementation = _pyodide_patch_impl,
    doc = "Applies a recipe's `source.patches` (in order) and `source.extras` to its source tree.",
    attrs = dict({
        "extras": attr.label_keyed_string_dict(
            allow_files = True,
            doc = "Each extra file and its destination, relative to the tree (`source.extras`).",
        ),
        "patches": attr.label_list(
            allow_files = True,
            doc = "Patch files, applied with `patch -p1` in this order (`source.patches`).",
        ),
        "src": attr.label(
            allow_single_file = True,
            mandatory = True,
            doc = "The source tree (a directory, e.g. `:<name>_source`).",
        ),
    }, **CLI_TOOL),
)
