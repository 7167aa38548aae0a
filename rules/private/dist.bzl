"""`pyodide_dist`: a Pyodide package directory (`//packages:all` builds `packages/dist/`).

One action, `rules-pyodide dist` (rules_pyodide.dist): copies every package file (wheels, `<name>-tests.tar`, file
packages `.data` + `.js`) of `packages` and their transitive run requirements, and merges their index fragments into
`packages.json`, `repodata.json` and `pyodide-lock.json` for the profile given by the attributes (default: Pyodide
0.21.3, Python 3.10.2). Fragments are per package, so editing one recipe re-runs its own actions and this merge only.
"""

load(":providers.bzl", "PyodidePackageInfo")

def _pyodide_dist_impl(ctx):
    out = ctx.actions.declare_directory(ctx.attr.out or ctx.label.name)
    infos = [p[PyodidePackageInfo] for p in ctx.attr.packages]
    files = depset(transitive = [i.transitive_dist_files for i in infos])
    fragments = depset(transitive = [i.transitive_fragments for i in infos])

    args = ctx.actions.args()
    args.use_param_file("@%s", use_always = True)
    args.set_param_file_format("multiline")
    args.add("dist")
    args.add("--output", out.path)
    args.add("--arch", ctx.attr.arch)
    args.add("--platform", ctx.attr.platform)
    args.add("--pyodide-version", ctx.attr.pyodide_version)
    args.add("--python", ctx.attr.python_version)
    if ctx.attr.abi_version:
        args.add("--abi-version", ctx.attr.abi_version)
    args.add_all(fragments, before_each = "--fragment")
    args.add_all(files, before_each = "--file")
    ctx.actions.run(
        executable = ctx.executable._tool,
        arguments = [args],
        inputs = depset(transitive = [files, fragments]),
        outputs = [out],
        mnemonic = "PyodideDist",
        progress_message = "Assembling {} ({} packages and their run requirements)".format(ctx.label, len(infos)),
    )
    return [DefaultInfo(files = depset([out]), runfiles = ctx.runfiles(files = [out]))]

pyodide_dist = rule(
    implementation = _pyodide_dist_impl,
    doc = "Assembles a directory usable as a Pyodide package directory (indexURL): package files + index files.",
    attrs = {
        "abi_version": attr.string(doc = "`info.abi_version` of pyodide-lock.json (Pyodide 0.26+); empty: none."),
        "arch": attr.string(default = "wasm32", doc = "`info.arch` of the index files."),
        "out": attr.string(doc = "Name of the output directory; default: the target name."),
        "packages": attr.label_list(
            providers = [PyodidePackageInfo],
            doc = "Packages to ship; their transitive run requirements are shipped too.",
        ),
        "platform": attr.string(default = "emscripten_3_1_14", doc = "`info.platform` of the index files."),
        "pyodide_version": attr.string(default = "0.21.3", doc = "`info.version`: the Pyodide release targeted."),
        "python_version": attr.string(default = "3.10.2", doc = "`info.python`: that release's Python version."),
        "_tool": attr.label(
            default = "//rules_pyodide:cli",
            executable = True,
            cfg = "exec",
            doc = "The `rules-pyodide` command.",
        ),
    },
)
