"""`pyodide_release`: a release of a package directory (`//:release`): dist + JS loader + SHA256SUMS + provenance.

One action, `rules-pyodide release assemble` (rules_pyodide.release), writes the directory `<name>/` (every file of
`dist`, the `loaders`, `provenance.json`, `SHA256SUMS`) and the same tree as `<name>.tar.gz` (sorted members, fixed
mtime/owner/modes, gzip without name or time). The provenance is made from the recipe data (`RECIPES` of
`@pyodide_recipes`): each recipe's files (`meta.yaml`, patches, extras, `source.path` tree) and source archive are
inputs of the action, which records their sha256 (an archive must match its recipe). It also records the profile
(the dist's `pyodide-lock.json` info) and the toolchains: the interpreter, the versions of `python_distributions`,
and `toolchain_versions` (where e.g. the Emscripten toolchain's version goes). Check a release with
`rules-pyodide release verify DIR [--expect SHA256SUMS]`.
"""

load(":common.bzl", "CLI_TOOL", "ZIP_EPOCH", "run_tool", "tool_args")
load(":recipe.bzl", "recipe_data")

_PYTHON_DISTRIBUTIONS = [
    "flit_core",
    "flit-scm",
    "hatch-vcs",
    "hatchling",
    "packaging",
    "pip",
    "setuptools",
    "setuptools-scm",
    "wheel",
]

def _archive_arg(f):
    return "{}={}".format(f.owner.workspace_name, f.path)

def _recipe_file_arg(f):
    return "{}={}".format(f.short_path, f.path)

def _pyodide_release_impl(ctx):
    out = ctx.actions.declare_directory(ctx.label.name)
    tarball = ctx.actions.declare_file(ctx.label.name + ".tar.gz")
    recipes = ctx.actions.declare_file(ctx.label.name + ".recipes.json")
    ctx.actions.write(recipes, ctx.attr.recipes)
    args = tool_args(ctx, "release")
    args.add("assemble")
    args.add("--dist", ctx.file.dist.path)
    args.add("--recipes", recipes)
    args.add("--output", out.path)
    args.add("--tarball", tarball)
    args.add_all(ctx.files.loaders, before_each = "--loader")
    args.add_all(ctx.files.archives, before_each = "--archive", map_each = _archive_arg)
    args.add_all(ctx.files.recipe_files, before_each = "--recipe-file", map_each = _recipe_file_arg)
    args.add_all(["{}={}".format(k, v) for k, v in sorted(ctx.attr.toolchain_versions.items())], before_each = "--toolchain")
    args.add_all(ctx.attr.python_distributions, before_each = "--python-distribution")
    run_tool(
        ctx,
        args,
        inputs = [ctx.file.dist, recipes] + ctx.files.loaders + ctx.files.archives + ctx.files.recipe_files,
        outputs = [out, tarball],
        mnemonic = "PyodideRelease",
        progress_message = "Assembling release {}".format(ctx.label),
        source_date_epoch = ZIP_EPOCH,
        block_network = True,
    )
    return [DefaultInfo(files = depset([out, tarball]), runfiles = ctx.runfiles(files = [out, tarball]))]

_pyodide_release = rule(
    implementation = _pyodide_release_impl,
    doc = "Assembles a release directory and tarball; use the `pyodide_release` macro, which fills the inputs.",
    attrs = dict({
        "archives": attr.label_list(allow_files = True, doc = "Source archives of the recipes (`@<repo>//:archive`)."),
        "dist": attr.label(mandatory = True, allow_single_file = True, doc = "The `pyodide_dist` to release."),
        "loaders": attr.label_list(allow_files = [".js"], doc = "JS files shipped beside the packages."),
        "python_distributions": attr.string_list(doc = "Python distributions whose installed version is recorded."),
        "recipe_files": attr.label_list(
            allow_files = True,
            doc = "Every recipe's meta.yaml, patches, extras and `source.path` files (`<all>_recipe_files` of " +
                  "`pyodide_packages`).",
        ),
        "recipes": attr.string(mandatory = True, doc = "`json.encode(RECIPES)`."),
        "toolchain_versions": attr.string_dict(doc = "Further toolchain name -> version to record in the provenance."),
    }, **CLI_TOOL),
)

def pyodide_release(
        name,
        dist,
        recipes,
        recipe_files = None,
        loaders = [Label("//js:load_file_package.js")],
        toolchain_versions = {},
        python_distributions = _PYTHON_DISTRIBUTIONS,
        **kwargs):
    """Declares the release `name` (directory) and `name.tar.gz` of `dist`.

    Args:
      name: target name; also the release directory's name.
      dist: the `pyodide_dist` target of `pyodide_packages()` (e.g. `//packages:all`).
      recipes: `RECIPES` from `@pyodide_recipes//:recipes.bzl`.
      recipe_files: the recipes' files; default: `<dist>_recipe_files`, declared by `pyodide_packages()`.
      loaders: JS files shipped beside the packages.
      toolchain_versions: further toolchain name -> version to record (e.g. the Emscripten toolchain's).
      python_distributions: Python distributions (build backends) whose installed version is recorded.
      **kwargs: common attributes (visibility, tags, ...).
    """
    archives = [
        "@{}//:archive".format(r.source_repo)
        for _, r in sorted(recipe_data(recipes).recipes.items())
        if r.url
    ]
    _pyodide_release(
        name = name,
        dist = dist,
        recipes = json.encode(recipes),  # the generator's data as written, not the structs of recipe_data
        archives = archives,
        recipe_files = [recipe_files or dist + "_recipe_files"],
        loaders = loaders,
        toolchain_versions = toolchain_versions,
        python_distributions = python_distributions,
        **kwargs
    )
