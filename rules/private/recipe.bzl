"""The data of `RECIPES` (`@pyodide_recipes//:recipes.bzl`, written by rules_pyodide.recipes_bzl) as structs.

`recipe_data(RECIPES)` is what the macros read (`pyodide_packages`, `pyodide_release`): a struct whose `recipes`
maps each directory name to `recipe(directory, entry)`, a struct with every field of `RECIPE_FIELDS`, the one place
where each field is documented and given its default. A field an entry lacks takes its default; a field without
one (`REQUIRED`) must be there, and a field not in `RECIPE_FIELDS` is an error: both mean the generated
`recipes.bzl` and these rules disagree, which `bazel sync --only=pyodide_recipes` mends.

`RECIPES` itself stays the generator's plain data: `pyodide_release` passes it to its action as JSON
(`json.encode(RECIPES)`), byte for byte as written.
"""

# The default of a field every entry must have.
REQUIRED = "<required>"

# Field -> (default, doc) of a recipe entry. "Directory" is the recipe's directory name under the recipes package
# (`packages/<directory>/meta.yaml`), which is also its target name.
RECIPE_FIELDS = {
    "allow_pure": (False, "bool: the source could not be looked into (`kind` unknown) and the recipe does not say " +
                          "it compiles: a compiled build that makes no extension module is not an error."),
    "archive": (None, "string or None: base name of `url` (what Bazel's downloader and `--distdir` look for)."),
    "backend_flags": ("", "string: `build.backend-flags`, passed to pip as `--config-settings`."),
    "build_extras": ([], "list of strings: `requirements.build-extras` (PEP 508)."),
    "build_lock": (None, "string or None: `build-requirements.lock` when the recipe directory has one " +
                         "(rules_pyodide.build_lock): its build installs those wheels into an isolated environment; " +
                         "None: it builds with the tool's own backends."),
    "build_wheels": ([], "list of strings: the `pyodide_source` repositories of the lock's wheels " +
                         "(`@<repo>//:archive`), inputs of this recipe's build only."),
    "canonical_name": (REQUIRED, "string: the PEP 503 name of `name`."),
    "cflags": ("", "string: `build.cflags`."),
    "compiled": (False, "bool: built by `pyodide_emcc_build` (found out from the source or the recipe), not " +
                        "by `pyodide_pure_build`; for a `wheel_source`, a wheel that is not `*-none-any` (it fits " +
                        "one profile; it is tested in that profile's runtime)."),
    "constraints": ([], "list of strings: `requirements.constraint` (PEP 508)."),
    "cross_script": ("", "string: `build.cross-script` (bash)."),
    "cxxflags": ("", "string: `build.cxxflags`."),
    "executables": ([], "list of strings: `requirements.executable`."),
    "exports": (["pyinit"], "list of strings: `build.exports` (`pyinit`, `requested`, `whole_archive`, or symbols)."),
    "extract_dir": (None, "string or None: `source.extract_dir`."),
    "extras": ([], "list of [source, destination] pairs: `source.extras`, in recipe order."),
    "host": ([], "list of strings: directories of the `requirements.host` recipes that are packages."),
    "imports": ([], "list of strings: top-level modules (`package.top-level`, else `test.imports`)."),
    "kind": ("unknown", "string: what the source says: `compiled`, `pure` or `unknown` (not looked into)."),
    "kind_reason": ("", "string: why `kind` is what it is."),
    "ldflags": ("", "string: `build.ldflags`."),
    "libraries": ([], "list of strings: directories of the `requirements.host` recipes that are libraries."),
    "md5": (None, "string or None: `source.md5`."),
    "meta": (REQUIRED, "string: the recipe file, e.g. `packages/six/meta.yaml`; errors name it first."),
    "name": (REQUIRED, "string: `package.name` as written."),
    "package_target": (None, "string: the target of the recipe's package: `<directory>_package` for a recipe " +
                             "with `profiles`, else the directory (the default)."),
    "patches": ([], "list of strings: `source.patches`, relative to the recipe directory, in order."),
    "path": (None, "string or None: `source.path` (a directory of the recipe), when there is no `url`."),
    "post": ("", "string: `build.post` (bash)."),
    "profiles": ([], "list of strings: the ABI profiles the recipe is for (`package.profiles`, or those of the " +
                     "per-profile packages it needs); empty: all."),
    "replace_libs": ([], "list of strings: `build.replace-libs` (`FROM=TO`)."),
    "retain_test_patterns": ([], "list of strings: `build._retain-test-patterns`."),
    "run": ([], "list of strings: the `//packages` targets of the run requirements (runtime stdlib modules left out)."),
    "script": ("", "string: `build.script` (bash)."),
    "sha256": (None, "string or None: `source.sha256`."),
    "slow": (False, "bool: `package.tag: [slow]`: left out of `<core>`."),
    "source_repo": (None, "string or None: the `pyodide_source` repository of `url` (`@<source_repo>//:archive`)."),
    "test_imports": ([], "list of strings: `test.imports`."),
    "test_requires": ([], "list of strings: directories of the `test.requires` recipes."),
    "test_script": (None, "string or None: `test.script`, a Python file of the recipe run in Pyodide."),
    "type": ("package", "string: `build.type`: `package`, `static_library` or `shared_library`."),
    "unvendor_tests": (True, "bool: `build.unvendor-tests`."),
    "url": (None, "string or None: `source.url`."),
    "version": (REQUIRED, "string: `package.version`."),
    "wheel": (REQUIRED, "string: the pure wheel's file name, `<name>-<version>-py3-none-any.whl`; empty for a " +
                        "library; for a `wheel_source`, the source wheel's own name (`archive`)."),
    "wheel_source": (False, "bool: `source.url` is a wheel, shipped by `pyodide_wheel_source` (its tags checked " +
                            "against the profile) instead of being built."),
    "build_wheel_sources": ([], "list of dicts (`archive`, `url`, `sha256`, `meta`): the build lock's wheels, as " +
                                "`sources.bzl` declares them."),
}

def recipe(directory, entry):
    """The struct of one entry of `RECIPES["recipes"]`, with every field of `RECIPE_FIELDS`.

    Args:
      directory: the entry's key, the recipe's directory name.
      entry: the entry (a dict) as `recipes_bzl` wrote it.

    Returns:
      A struct with one field per key of `RECIPE_FIELDS`.
    """
    where = "{} (RECIPES[\"recipes\"][{}] of @pyodide_recipes)".format(entry.get("meta", directory), repr(directory))
    for key in entry:
        if key not in RECIPE_FIELDS:
            fail("{}: unknown field {} (run `bazel sync --only=pyodide_recipes`)".format(where, repr(key)))
    fields = {}
    for key, field in RECIPE_FIELDS.items():
        default = field[0]
        if key in entry:
            fields[key] = entry[key]
        elif default == REQUIRED:
            fail("{}: missing field {} (run `bazel sync --only=pyodide_recipes`)".format(where, repr(key)))
        else:
            fields[key] = default
    if fields["package_target"] == None:
        fields["package_target"] = directory
    if fields["url"] and not fields["source_repo"]:
        fail("{}: a source.url but no source_repo".format(where))
    return struct(**fields)

def recipe_data(recipes):
    """`RECIPES` of `@pyodide_recipes//:recipes.bzl` as a struct; each recipe entry as `recipe(...)`.

    Args:
      recipes: `RECIPES`.

    Returns:
      A struct: `error` (None, or a message concerning every recipe), `recipes` (directory -> `recipe` struct),
      `names` (canonical package name -> struct(`name`: display name, `profiles`: profile -> directory), for
      names with per-profile recipes), `disabled` and `stdlib` (lists of directories), `broken` (directory -> its
      one-line error) and `warnings` (list of strings).
    """
    return struct(
        error = recipes.get("error"),
        recipes = {d: recipe(d, e) for d, e in recipes.get("recipes", {}).items()},
        names = {n: struct(name = e["name"], profiles = e["profiles"]) for n, e in recipes.get("names", {}).items()},
        disabled = recipes.get("disabled", []),
        stdlib = recipes.get("stdlib", []),
        broken = recipes.get("broken", {}),
        warnings = recipes.get("warnings", []),
    )
