"""`pyodide_package`: the public target of a recipe (`//packages:<name>`), returning `PyodidePackageInfo`.

It runs no action: it gathers what the recipe's build produced (`PyodideBuildInfo` of `pyodide_pure_build`,
`pyodide_emcc_build` or `pyodide_wheel_source`) and the `file_package` of its installed tree, and adds the run
requirements (`deps`), whose files and fragments it carries transitively. Its default outputs are the wheel, the file
package and the tests directory.
"""

load(":providers.bzl", "FilePackageInfo", "PyodideBuildInfo", "PyodidePackageInfo")

def _pyodide_package_impl(ctx):
    build = ctx.attr.build[PyodideBuildInfo]
    wheel = build.wheel
    fragments = build.fragments
    file_package = ctx.attr.file_package[FilePackageInfo]
    own_files = [wheel, build.tests, file_package.data, file_package.js]
    deps = [dep[PyodidePackageInfo] for dep in ctx.attr.deps]
    return [
        DefaultInfo(files = depset(own_files)),
        PyodidePackageInfo(
            file_package = file_package,
            fragments = fragments,
            imports = ctx.attr.imports,
            name = ctx.attr.package_name,
            run_deps = [dep.name for dep in deps],
            site = build.site,
            site_prefix = file_package.prefix,
            tests = build.tests,
            transitive_dist_files = depset(own_files, transitive = [dep.transitive_dist_files for dep in deps]),
            transitive_fragments = depset([fragments], transitive = [dep.transitive_fragments for dep in deps]),
            version = ctx.attr.version,
            wheel = wheel,
        ),
    ]

pyodide_package = rule(
    implementation = _pyodide_package_impl,
    doc = "A built Pyodide package with its run requirements; see `PyodidePackageInfo`.",
    attrs = {
        "build": attr.label(
            mandatory = True,
            providers = [PyodideBuildInfo],
            doc = "The recipe's build (`pyodide_pure_build`, `pyodide_emcc_build` or `pyodide_wheel_source`, " +
                  "`:<name>_build`).",
        ),
        "deps": attr.label_list(
            providers = [PyodidePackageInfo],
            doc = "Run requirements (`requirements.run`), as `//packages:<name>` targets.",
        ),
        "file_package": attr.label(
            mandatory = True,
            providers = [FilePackageInfo],
            doc = "The `file_package` of the installed tree.",
        ),
        "imports": attr.string_list(doc = "Top-level import names."),
        "package_name": attr.string(mandatory = True, doc = "`package.name` of the recipe."),
        "version": attr.string(mandatory = True, doc = "`package.version` of the recipe."),
    },
)
