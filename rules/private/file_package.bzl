"""`file_package`: packs files and directories into an emscripten file package (`NAME.data` + `NAME.js`).

The action runs `rules-pyodide file-packager` (rules_pyodide.file_packager), whose command line is emscripten's:
`TARGET.data --quiet --js-output=NAME.js [--lz4] --export-name=N [--separate-metadata] [--exclude P ...] --preload SRC@DST ...`.
Each source file is listed explicitly, sorted by destination; the files of a directory (TreeArtifact) are listed
when the action runs, in the same order.
"""

load("@bazel_skylib//lib:paths.bzl", "paths")
load(":common.bzl", "CLI_TOOL", "run_tool", "tool_args")
load(":providers.bzl", "FilePackageInfo")

def _escape_at(path):
    """emscripten's SRC@DST syntax splits at the first single `@`; a literal `@` is written `@@`."""
    return path.replace("@", "@@")

def _preload(src_path, dst):
    return _escape_at(src_path) + "@" + _escape_at(dst)

def _expand_tree(item, directory_expander):
    """Lists the files of one TreeArtifact as SRC@DST, sorted (runs at execution time; map_each of args)."""
    dst_dir, tree = item
    entries = []
    for f in directory_expander.expand(tree):
        entries.append((dst_dir.rstrip("/") + f.path[len(tree.path):], f.path))
    return [_preload(src, dst) for dst, src in sorted(entries)]

def _normalized(path):
    """`paths.normalize`, with "" for the root; None for a path that climbs above it."""
    path = paths.normalize(path)
    if path == "..":
        return None
    if path.startswith("../"):
        return None
    return "" if path == "." else path

def _repository_relative(f):
    """Path of `f` from the root of its repository: no output root, no `../repo/` for external files."""
    if f.short_path.startswith("../"):
        return f.short_path.split("/", 2)[2]
    return f.short_path

def _stripped_base(ctx):
    """The repository-relative directory that strip_prefix names (see the attr's doc)."""
    strip_prefix = ctx.attr.strip_prefix
    if strip_prefix.startswith("/"):
        base = _normalized(strip_prefix.lstrip("/"))
    else:
        base = _normalized(paths.join(ctx.label.package, strip_prefix))
    if base == None:
        fail("strip_prefix {} climbs above the repository root".format(repr(strip_prefix)))
    return base

def _destination_root(ctx):
    prefix = ctx.attr.prefix
    normalized = _normalized(prefix.lstrip("/")) if prefix.startswith("/") else None
    if normalized == None or ".." in prefix.split("/"):
        fail("prefix must be an absolute path without '..', got {}".format(repr(prefix)))
    return "/" + normalized

def _relative_to_base(f, base):
    rel = _repository_relative(f)
    if base == "":
        return rel
    if rel == base:
        return ""
    if rel.startswith(base + "/"):
        return rel[len(base) + 1:]
    return None

def _file_package_impl(ctx):
    base = _stripped_base(ctx)
    root = _destination_root(ctx)
    files = []  # (dst, File)
    trees = []  # (dst_dir, File)
    owners = {}  # dst -> File, to report collisions
    for f in ctx.files.srcs:
        rel = _relative_to_base(f, base)
        if rel == None:
            fail("srcs: {} ({}) is not under strip_prefix {} (the directory '{}' of its repository)".format(
                f.short_path,
                f.owner,
                repr(ctx.attr.strip_prefix),
                base,
            ))
        dst = paths.join(root, rel) if rel else root
        if f.is_directory:
            trees.append((dst, f))
            dst = dst.rstrip("/") + "/"
        elif rel == "":
            fail("srcs: {} is the strip_prefix itself and has no name left to install it under".format(f.short_path))
        else:
            files.append((dst, f))
        if dst in owners:
            fail("srcs: {} and {} would both be installed as {}".format(owners[dst].short_path, f.short_path, dst))
        owners[dst] = f

    data = ctx.actions.declare_file(ctx.label.name + ".data")
    js = ctx.actions.declare_file(ctx.label.name + ".js")
    outputs = [data, js]
    metadata = None
    if ctx.attr.separate_metadata:
        metadata = ctx.actions.declare_file(ctx.label.name + ".js.metadata")
        outputs.append(metadata)

    args = tool_args(ctx, "file-packager")
    args.add(data)
    args.add("--quiet")  # no "Remember to build with -sFORCE_FILESYSTEM" on every build
    args.add(js, format = "--js-output=%s")
    if ctx.attr.lz4:
        args.add("--lz4")
    args.add(ctx.attr.export_name, format = "--export-name=%s")
    if ctx.attr.separate_metadata:
        args.add("--separate-metadata")
    if ctx.attr.excludes:
        args.add("--exclude")
        args.add_all(ctx.attr.excludes)
    args.add("--preload")
    args.add_all([_preload(f.path, dst) for dst, f in sorted(files)])
    args.add_all(sorted(trees), map_each = _expand_tree, expand_directories = False)

    run_tool(
        ctx,
        args,
        inputs = ctx.files.srcs,
        outputs = outputs,
        mnemonic = "PyodideFilePackage",
        progress_message = "Packing {} sources into {}".format(len(ctx.files.srcs), ctx.label),
        source_date_epoch = "0",
    )
    return [
        DefaultInfo(files = depset(outputs), runfiles = ctx.runfiles(files = outputs)),
        FilePackageInfo(
            data = data,
            destinations = sorted(owners.keys()),
            excludes = ctx.attr.excludes,
            export_name = ctx.attr.export_name,
            js = js,
            lz4 = ctx.attr.lz4,
            metadata = metadata,
            prefix = root,
            srcs = depset(ctx.files.srcs),
        ),
    ]

file_package = rule(
    implementation = _file_package_impl,
    doc = """Packs `srcs` into an emscripten file package: `NAME.data` and its loader `NAME.js`
(plus `NAME.js.metadata` with `separate_metadata`), byte-compatible with emscripten's file_packager.

Each source is installed at `prefix` + its path with `strip_prefix` removed. Directories (TreeArtifacts from
other rules) are installed recursively.""",
    attrs = dict({
        "excludes": attr.string_list(
            doc = "Patterns of files to leave out, as emscripten's `--exclude`: `fnmatch` patterns matched " +
                  "against each source's path as the action sees it (`*` also matches `/`), e.g. `*.pyc` or " +
                  "`*/__pycache__/*`.",
        ),
        "export_name": attr.string(
            default = "Module",
            doc = "Global object the `.js` loader uses (`--export-name`).",
        ),
        "lz4": attr.bool(
            default = False,
            doc = "Compress the `.data` with LZ4 (`--lz4`); the loader decompresses on the fly.",
        ),
        "prefix": attr.string(
            default = "/",
            doc = "Absolute destination directory in the virtual FS, e.g. `/lib/python3.10/site-packages`.",
        ),
        "separate_metadata": attr.bool(
            default = False,
            doc = "Write the metadata to `NAME.js.metadata` instead of into the `.js` (`--separate-metadata`).",
        ),
        "srcs": attr.label_list(
            allow_files = True,
            doc = "Files and directories (TreeArtifacts) to pack.",
        ),
        "strip_prefix": attr.string(
            default = ".",
            doc = "Directory removed from the front of each source's path before it is appended to `prefix`. " +
                  "Sources are taken by their path from the root of their repository (for generated files, " +
                  "without `bazel-out/.../bin`). Like rules_pkg: a value starting with `/` is relative to the " +
                  "repository root (`/` keeps the full repository-relative path); any other value is relative " +
                  "to this rule's package (default `.`: paths relative to the package). Every source must lie " +
                  "under it; one that does not is an error.",
        ),
    }, **CLI_TOOL),
)
