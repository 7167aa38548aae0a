"""`pyodide_package`: the public target of a recipe (`//packages:<name>`), returning `PyodidePackageInfo`.

It runs no action: it gathers what `pyodide_pure_build` and `file_package` produced and adds the run requirements
(`deps`), whose files and fragments it carries transitively. Its default outputs are the wheel, the file package and
the tests directory.
"""

load(":providers.bzl", "FilePackageInfo", "PyodidePackageInfo")

def _one(target, group):
    files = getattr(target[OutputGroupInfo], group).to_list()
    if len(files) != 1:
        fail("{}: expected one file in output group {}".format(target.label, group))
    return files[0]

def _pyodide_package_impl(ctx):
    build = ctx.attr.build
    wheel = _one(build, "wheel")
    site = _one(build, "site")
    tests = _one(build, "tests")
    fragments = _one(build, "fragments")
    file_package = ctx.attr.file_package[FilePackageInfo]
    own_files = [wheel, tests, file_package.data, file_package.js]
    deps = [dep[PyodidePackageInfo] for dep in ctx.attr.deps]
    return [
        DefaultInfo(files = depset(own_files)),
        PyodidePackageInfo(
            file_package = file_package,
            fragments = fragments,
            imports = ctx.attr.imports,
            name = ctx.attr.package_name,
            run_deps = [dep.name for dep in deps],
            site = site,
            site_prefix = file_package.prefix,
            tests = tests,
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
            doc = "The `pyodide_pure_build` target (output groups wheel, site, tests, fragments).",
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
