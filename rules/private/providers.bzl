"""Providers returned by the rules_pyodide rules."""

load("//toolchains:profile.bzl", _PyodideProfileInfo = "PyodideProfileInfo")

# A Pyodide ABI profile (defined beside the profile rule, toolchains/profile.bzl).
PyodideProfileInfo = _PyodideProfileInfo

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

PyodidePackageInfo = provider(
    doc = "A Pyodide package built from a recipe (`//packages:<name>`): what a package directory needs to ship it, " +
          "and what a test needs to load it with its run requirements (see `pyodide_dist`).",
    fields = {
        "file_package": "FilePackageInfo: the installed tree as an emscripten file package (`.data` + `.js`) that " +
                        "mounts it at `site_prefix`.",
        "fragments": "File (directory): index fragments (rules_pyodide.index): `<name>.json`, plus " +
                     "`<name>-tests.json` when tests were unvendored.",
        "imports": "list of strings: top-level modules to import (recipe `package.top-level`, else `test.imports`).",
        "name": "string: the package name as written in the recipe (`package.name`).",
        "run_deps": "list of strings: names of the direct run requirements (each one also a `//packages` target).",
        "site": "File (directory): the installed package: the wheel unpacked, as Pyodide installs it, tests moved out.",
        "site_prefix": "string: where `site` goes in the virtual FS, e.g. `/lib/python3.10/site-packages`.",
        "tests": "File (directory): holds `<name>-tests.tar` when the recipe unvendors tests and some were found " +
                 "(paths relative to site-packages); empty otherwise.",
        "transitive_dist_files": "depset of Files (some directories): what this package and its transitive run " +
                                 "requirements put in a package directory (wheels, tests directories, file packages).",
        "transitive_fragments": "depset of Files (directories): the `fragments` of this package and its transitive " +
                                "run requirements.",
        "version": "string: the recipe's `package.version`.",
        "wheel": "File: the pure-Python wheel, `<name>-<version>-py3-none-any.whl` (deterministic).",
    },
)

PyodideBuildInfo = provider(
    doc = "What the build of a recipe's package made (`//packages:<name>_build`): returned by `pyodide_pure_build`, " +
          "by `pyodide_emcc_build` for `build.type` `package` and `shared_library` (a `static_library` ships " +
          "nothing and returns `PyodideLibraryInfo` only), and by `pyodide_wheel_source` for a recipe whose " +
          "`source.url` is a wheel. `pyodide_package` reads it.",
    fields = {
        "fragments": "File (directory): index fragments (rules_pyodide.index): `<name>.json`, plus " +
                     "`<name>-tests.json` when tests were unvendored.",
        "log": "File or None: the full build log of `pyodide_emcc_build` (its tail is shown when the build fails); " +
               "None for `pyodide_pure_build`.",
        "site": "File (directory): the installed package (the wheel unpacked, tests moved out); for a shared " +
                "library, its `.so` files.",
        "tests": "File (directory): holds `<name>-tests.tar` when the recipe unvendors tests and some were found; " +
                 "empty otherwise.",
        "wheel": "File: what the index ships: the wheel (`py3-none-any`, or the profile's tag when compiled; a " +
                 "shipped wheel source keeps its own name and tags), or " +
                 "`<name>-<version>.zip` of a shared library's `.so` files.",
    },
)

PyodideLibraryInfo = provider(
    doc = "A C library built by a `build.type: static_library` or `shared_library` recipe, for dependents that list " +
          "it in `requirements.host`: they compile with `-I<prefix>/include` and link with `-L<prefix>/lib`.",
    fields = {
        "name": "string: the recipe's `package.name`.",
        "prefix": "File (directory): the install prefix the recipe's script filled (`$WASM_LIBRARY_DIR`): " +
                  "`include/`, `lib/` (`.a` and/or `.so`), maybe `lib/pkgconfig/`.",
        "shared": "bool: True for a shared library (also shipped as a package, loaded before its dependents).",
        "transitive_prefixes": "depset of Files: `prefix` of this library and of the libraries it was built with.",
    },
)
