"""Providers returned by the rules_pyodide rules."""

FilePackageInfo = provider(
    doc = "An emscripten file package: a `.data` blob and the `.js` loader that mounts it into the virtual FS.",
    fields = {
        "data": "File: the `.data` blob (LZ4-compressed when `lz4` is True).",
        "destinations": "list of strings: sorted destination paths in the virtual FS, one per source; a source " +
                        "directory (TreeArtifact) appears as its destination directory with a trailing `/` " +
                        "(its files are only known when the action runs). `excludes` are not applied here.",
        "excludes": "list of strings: the `--exclude` patterns given to the packer.",
        "export_name": "string: name of the global object the `.js` loader attaches to (`--export-name`).",
        "js": "File: the `.js` loader (emscripten's `--js-output`).",
        "lz4": "bool: whether the `.data` is LZ4-compressed (`--lz4`).",
        "metadata": "File or None: the metadata JSON (`NAME.js.metadata`) when `separate_metadata` is set, else None " +
                    "(the metadata is then inside the `.js`).",
        "prefix": "string: destination directory in the virtual FS, e.g. `/lib/python3.10/site-packages`.",
        "srcs": "depset of Files: every source packaged (files and directories), before `excludes`.",
    },
)
