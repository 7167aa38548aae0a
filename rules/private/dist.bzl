"""`pyodide_dist`: a Pyodide package directory (`//packages:all` builds `packages/dist/`).

One action, `rules-pyodide dist` (rules_pyodide.dist): copies every package file (wheels, `<name>-tests.tar`, file
packages `.data` + `.js`) of `packages` and their transitive run requirements, and merges their index fragments into
`packages.json`, `repodata.json` and `pyodide-lock.json` whose `info` (Python version, platform, ABI) is that of
`pyodide_version`'s runtime in the table (rules_pyodide/runtimes.json); `pyodide_packages()` passes the runtime of the
profile chosen with `--//:pyodide`. Fragments are per package, so editing one recipe re-runs its own actions and this
merge only.
"""

load(":common.bzl", "CLI_TOOL", "dist_action")
load(":providers.bzl", "PyodidePackageInfo")

def _pyodide_dist_impl(ctx):
    out = ctx.actions.declare_directory(ctx.attr.out or ctx.label.name)
    infos = [p[PyodidePackageInfo] for p in ctx.attr.packages]
    dist_action(
        ctx,
        out,
        infos,
        ctx.attr.pyodide_version,
        "PyodideDist",
        "Assembling {} ({} packages and their run requirements)".format(ctx.label, len(infos)),
    )
    return [DefaultInfo(files = depset([out]), runfiles = ctx.runfiles(files = [out]))]

pyodide_dist = rule(
    implementation = _pyodide_dist_impl,
    doc = "Assembles a directory usable as a Pyodide package directory (indexURL): package files + index files.",
    attrs = dict(CLI_TOOL, **{
        "out": attr.string(doc = "Name of the output directory; default: the target name."),
        "packages": attr.label_list(
            providers = [PyodidePackageInfo],
            doc = "Packages to ship; their transitive run requirements are shipped too.",
        ),
        "pyodide_version": attr.string(
            mandatory = True,
            doc = "The npm runtime whose `info` the index files carry (a key of `RUNTIMES`).",
        ),
    }),
)
