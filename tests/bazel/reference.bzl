"""Test helpers: `emscripten_file_package` (the reference packer) and `copy_to_directory` (makes a TreeArtifact)."""

def _emscripten_file_package_impl(ctx):
    data = ctx.actions.declare_file(ctx.label.name + ".data")
    js = ctx.actions.declare_file(ctx.label.name + ".js")
    preloads = []
    for target, dst in ctx.attr.files.items():
        for f in target.files.to_list():
            preloads.append((dst, f))
    args = ctx.actions.args()
    args.add(ctx.file._reference, format = "--reference=%s")
    args.add(data)
    args.add(js, format = "--js-output=%s")
    if ctx.attr.lz4:
        args.add("--lz4")
    args.add("--preload")
    args.add_all([f.path.replace("@", "@@") + "@" + dst.replace("@", "@@") for dst, f in sorted(preloads)])
    ctx.actions.run(
        executable = ctx.executable._runner,
        arguments = [args],
        inputs = [f for _, f in preloads] + [ctx.file._reference],
        outputs = [data, js],
        mnemonic = "EmscriptenFilePackage",
        progress_message = "Packing {} with emscripten's file_packager".format(ctx.label),
    )
    return [DefaultInfo(files = depset([data, js]), runfiles = ctx.runfiles(files = [data, js]))]

emscripten_file_package = rule(
    implementation = _emscripten_file_package_impl,
    doc = "Runs emscripten's own file_packager on explicit SRC@DST pairs, sorted by destination.",
    attrs = {
        "files": attr.label_keyed_string_dict(
            allow_files = True,
            mandatory = True,
            doc = "Each single-file target and its destination path in the virtual FS.",
        ),
        "lz4": attr.bool(default = False, doc = "Pass `--lz4`."),
        "_reference": attr.label(
            default = "@emscripten_3_1_6//:emscripten/tools/file_packager.py",
            allow_single_file = True,
            doc = "emscripten 3.1.6's tools/file_packager.py (Debian's, in the emscripten-3.1.6 toolchain tree).",
        ),
        "_runner": attr.label(
            default = "//tests/bazel:emscripten_file_packager",
            executable = True,
            cfg = "exec",
            doc = "Runs the reference packer.",
        ),
    },
)

def _copy_to_directory_impl(ctx):
    out = ctx.actions.declare_directory(ctx.label.name)
    strip = ctx.attr.strip_prefix.rstrip("/") + "/"
    args = ctx.actions.args()
    args.add(out.path)
    for f in ctx.files.srcs:
        if not f.short_path.startswith(strip):
            fail("{} is not under {}".format(f.short_path, strip), "srcs")
        args.add(f)
        args.add(f.short_path[len(strip):])
    ctx.actions.run_shell(
        command = """out="$1"; shift
while [ "$#" -gt 0 ]; do mkdir -p "$out/$(dirname "$2")" && cp "$1" "$out/$2" || exit 1; shift 2; done""",
        arguments = [args],
        inputs = ctx.files.srcs,
        outputs = [out],
        mnemonic = "CopyToDirectory",
        progress_message = "Copying files into the directory {}".format(ctx.label),
    )
    return [DefaultInfo(files = depset([out]), runfiles = ctx.runfiles(files = [out]))]

copy_to_directory = rule(
    implementation = _copy_to_directory_impl,
    doc = "Copies `srcs` into one TreeArtifact named after the target, keeping their paths below `strip_prefix`.",
    attrs = {
        "srcs": attr.label_list(allow_files = True, doc = "Files to copy."),
        "strip_prefix": attr.string(
            mandatory = True,
            doc = "Directory, relative to the repository root, that every source lies under; removed from their paths.",
        ),
    },
)
