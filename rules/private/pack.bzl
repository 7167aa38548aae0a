"""`pyodide_pack`: packs files, a directory, a Python environment or index packages into file packages (empack-like).

One action, `rules-pyodide pack <mode>` (rules_pyodide.pack), writes the directory `NAME/`:

- `mode = "files"`: every file of `srcs` installed as `prefix/<base name>` in one file package `NAME.js/.data`;
- `mode = "dir"`: one directory in `srcs` (a TreeArtifact), its files installed under `prefix`;
- `mode = "env"`: one directory in `srcs` holding a site-packages (or `lib/python3.X/site-packages`), e.g. a recipe
  package `//packages:<name>` (its installed tree): one file package per distribution found there (split by its
  RECORD) and `env.json`;
- `mode = "index"`: one package directory in `srcs` (e.g. `//packages:all`): `packages` and their dependencies, from
  its `repodata.json`, in one file package `NAME.js/.data`.

Each run also writes `pack.json` (or `env.json`) and `filter-report.json` (what each filter pattern removed).
`filters` is a YAML filter file (rules_pyodide/pack_filter.py); without it the shipped default drops tests,
`__pycache__`, type stubs and docs.
"""

load(":common.bzl", "CLI_TOOL", "run_tool", "tool_args")
load(":providers.bzl", "PyodidePackageInfo")

_MODES = ["dir", "env", "files", "index"]

def _inputs(ctx):
    """The files of `srcs`; a recipe package (PyodidePackageInfo) stands for its installed site-packages tree."""
    files = []
    for src in ctx.attr.srcs:
        if PyodidePackageInfo in src:
            files.append(src[PyodidePackageInfo].site)
        else:
            files.extend(src.files.to_list())
    return files

def _single_dir(ctx, inputs):
    if len(inputs) != 1 or not inputs[0].is_directory:
        fail("{}: mode {} needs exactly one directory (TreeArtifact) in srcs".format(ctx.label, repr(ctx.attr.mode)))
    return inputs[0]

def _pyodide_pack_impl(ctx):
    mode = ctx.attr.mode
    inputs = _inputs(ctx)
    out = ctx.actions.declare_directory(ctx.label.name)
    args = tool_args(ctx, "pack")
    args.add("file" if mode == "files" else mode)
    if mode == "files":
        args.add_all(inputs)
    elif mode == "index":
        args.add(_single_dir(ctx, inputs).path + "/repodata.json")
        args.add_all(ctx.attr.packages, before_each = "--package")
    else:
        args.add(_single_dir(ctx, inputs).path)
    if mode in ("dir", "files"):
        args.add("--prefix", ctx.attr.prefix)
    if mode != "env":
        args.add("--name", ctx.label.name)
    if mode in ("env", "index"):
        args.add("--python", ctx.attr.python_version)
    args.add("--output", out.path)
    if ctx.file.filters:
        args.add("--filters", ctx.file.filters)
    if ctx.attr.lz4:
        args.add("--lz4")
    args.add("--quiet")
    run_tool(
        ctx,
        args,
        inputs = inputs + ([ctx.file.filters] if ctx.file.filters else []),
        outputs = [out],
        mnemonic = "PyodidePack",
        progress_message = "Packing {} ({})".format(ctx.label, mode),
        source_date_epoch = "0",
    )
    return [DefaultInfo(files = depset([out]), runfiles = ctx.runfiles(files = [out]))]

pyodide_pack = rule(
    implementation = _pyodide_pack_impl,
    doc = "Packs `srcs` into emscripten file packages in the directory `NAME/`, through the pack filter.",
    attrs = dict({
        "filters": attr.label(
            allow_single_file = [".yaml", ".yml"],
            doc = "Filter YAML (include/exclude patterns, default and per package); default: the shipped one.",
        ),
        "lz4": attr.bool(default = False, doc = "LZ4-compress the `.data` files."),
        "mode": attr.string(mandatory = True, values = _MODES, doc = "What `srcs` is: " + ", ".join(_MODES) + "."),
        "packages": attr.string_list(doc = "mode `index`: the packages to pack (with their dependencies); empty: all."),
        "prefix": attr.string(
            default = "/",
            doc = "modes `files` and `dir`: absolute install directory in the virtual FS.",
        ),
        "python_version": attr.string(
            default = "3.10",
            doc = "modes `env` and `index`: Python of the target runtime; files go to `/lib/python3.X/site-packages`.",
        ),
        "srcs": attr.label_list(
            allow_files = True,
            doc = "Files (mode `files`), or one directory: a tree (`dir`), a site-packages (`env`), a package " +
                  "directory with `repodata.json` (`index`). A recipe package (`//packages:<name>`, " +
                  "PyodidePackageInfo) stands for its installed site-packages tree (`site`).",
        ),
    }, **CLI_TOOL),
)
