"""`pyodide_packages()`: the macro behind `packages/BUILD.bazel`; one set of targets per recipe, and `all`.

For each recipe `packages/<name>/meta.yaml` (from `RECIPES` of `@pyodide_recipes//:recipes.bzl`, read through
`recipe_data`, rules/private/recipe.bzl, whose `RECIPE_FIELDS` documents each entry's fields):
`<name>_source` (pyodide_source_tree), `<name>_patched` (pyodide_patch; an alias of `<name>_source` when the recipe
has no patches or extras), `<name>_build` (pyodide_pure_build), `<name>_site` (its installed tree),
`<name>_files/<package>` (file_package of that tree: `<package>.data` + `<package>.js`, `<package>` being the
package's PEP 503 name, the same as `<name>` but for per-profile recipes) and `<name>` (pyodide_package, with
`PyodidePackageInfo`). `requirements.run` become `deps` of `<name>`, `requirements.host` become `host_deps` of
`<name>_build`. A recipe with a `build-requirements.lock` (rules_pyodide.build_lock) passes it and its wheels
(`@pyodide_wheel_<file>//:archive`) to `<name>_build` only: its backend runs in an isolated environment of them. `<all>` (pyodide_dist) assembles every package into the directory `<out>`.

A recipe whose `source.url` is a wheel (`wheel_source`) has no `<name>_source` or `<name>_patched`: its `<name>_build`
is a pyodide_wheel_source of the downloaded wheel (tags checked against the profile; rules/private/wheel_source.bzl),
and the rest is as above. A pure wheel is tested like a pure build, a compiled one in the profile's runtime.

Compiled recipes (`compiled` of the entry: found out from the source, see rules_pyodide.recipes_bzl) get a
`pyodide_emcc_build` as `<name>_build` instead, for the profile chosen by `--//:pyodide`; host requirements that are library recipes become its
`libraries`. A `static_library` recipe has no package: `<name>` is an alias of `<name>_build` (PyodideLibraryInfo)
and it is not in `<all>`; a `shared_library` is a package installed into the runtime's library directory.

A recipe that cannot be built (`broken`: it does not parse, or needs one that does not) gets
`<name>`, `<name>_build`, `<name>_source` and `<name>_test` that fail with its one-line error when analysed
(rules/private/broken.bzl); the other recipes build as usual, and `<all>` fails naming it. Deprecated keys
(`warnings`) are printed as warnings.

Recipes tagged `slow` (`package.tag`, e.g. numpy: minutes of compiling) are in `<all>` but left out of `<core>`
(`//packages:core`, out `core_dist`): the package directory the integration tests build from scratch in fresh
workspaces. A recipe that requires a slow one must be tagged `slow` as well.

Per-profile recipes (`package.profiles`, rules_pyodide.recipe; e.g. `packages/numpy` for 0.21.3 and
`packages/numpy2`, also named numpy, for 0.29.5): such a recipe's targets are `<dir>_source` ... `<dir>_package`,
compatible only with its profiles (`target_compatible_with`: `bazel build //...` skips them under other profiles);
`<canonical name>` (e.g. `//packages:numpy`) is an alias that selects the recipe of the profile chosen with
`--//:pyodide` (another profile is a clear error), and `<dir>` an alias of `<dir>_package` when the directory has
another name. Requirements naming the package use the alias; `<all>`/`<core>` hold it for the profiles it has.
`<dir>_test` runs in the recipe's first profile (a transition), whatever `--//:pyodide` says.

`<out>_<profile>` (pyodide_profile_dist) is `<all>` built for that profile, for every profile of the table; that of
the default profile is an alias of `<all>` (so under another `--//:pyodide` it follows the flag).

`<name>_test` (pyodide_import_test) loads the package through our index in real Pyodide and imports its
`test/imports`: pure-Python packages in the table's `PURE_TEST_RUNTIMES` (the oldest, `<name>_test`, and the newest,
`<name>_test_<version>`), compiled ones in the runtime of the selected profile. A recipe with `test.script` (a Python
file in its directory) gets a `pyodide_run_test` instead: the script runs in the default profile's runtime with the
package and the
recipes of `test.requires` in the package directory (e.g. pytest, to run the package's own test suite). The script
is not an input of the build, so editing it reruns the test only.
"""

load("@bazel_skylib//lib:paths.bzl", "paths")
load("@rules_pyodide_table//:table.bzl", "DEFAULT_PROFILE", "PROFILES", "PURE_TEST_RUNTIMES")
load("//toolchains:profile.bzl", "profile_setting")
load(":broken.bzl", "pyodide_broken_recipe", "pyodide_broken_recipe_test")
load(":dist.bzl", "pyodide_dist")
load(":emcc_build.bzl", "pyodide_emcc_build")
load(":file_package.bzl", "file_package")
load(":import_test.bzl", "PROFILE", "pyodide_package_test")
load(":package.bzl", "pyodide_package")
load(":patch.bzl", "pyodide_patch")
load(":profile_dist.bzl", "pyodide_profile_dist")
load(":pure_build.bzl", "pyodide_pure_build")
load(":recipe.bzl", "recipe_data")
load(":run_test.bzl", "pyodide_run_test")
load(":source_tree.bzl", "pyodide_source_tree")
load(":wheel_source.bzl", "pyodide_wheel_source")

_REFRESH = "bazel sync --only=pyodide_recipes"

def _check_listing(data):
    """The repository rule cannot watch the directory listing: compare it with a glob, which Bazel does watch."""
    on_disk = sorted([path.split("/")[0] for path in native.glob(["*/meta.yaml"])])
    known = sorted(data.recipes.keys() + data.disabled + data.stdlib + data.broken.keys())
    added = [d for d in on_disk if d not in known]
    removed = [d for d in known if d not in on_disk]

    # A new build-requirements.lock is not watched until the rule re-runs either.
    locks = sorted([path.split("/")[0] for path in native.glob(["*/build-requirements.lock"])])
    locked = sorted([d for d, r in data.recipes.items() if r.build_lock])
    added += ["{}/build-requirements.lock".format(d) for d in locks if d not in locked and d in data.recipes]
    if added or removed:
        fail(("{}/*/meta.yaml: the recipe list is out of date (new: {}; removed: {}). Bazel 4 cannot watch the " +
              "recipes directory: run `{}` (or `bazel shutdown`) once, then build again.").format(
            native.package_name(),
            ", ".join(added) or "none",
            ", ".join(removed) or "none",
            _REFRESH,
        ))

def _providers(recipes, names, target):
    """The recipe entries behind a requirement's target: one directory's, or every recipe of a selected name."""
    if target in names:
        return [recipes[d] for d in sorted({d: True for d in names[target].profiles.values()}.keys())]
    return [recipes[target]]

def _display_name(recipes, names, target):
    return names[target].name if target in names else recipes[target].name

def _check_slow(recipes, names):
    """A recipe in `<core>` cannot require one that is left out of it."""
    for r in recipes.values():
        if r.slow:
            continue
        for dep in r.run + r.host + r.libraries:
            if [p for p in _providers(recipes, names, dep) if p.slow]:
                fail("{}: requirements: {} is tagged slow (left out of //packages:core), so this recipe must be too: add `slow` to package.tag".format(r.meta, _display_name(recipes, names, dep)))

def _check_profiles(recipes):
    for r in recipes.values():
        for i, p in enumerate(r.profiles):
            if p not in PROFILES:
                fail("{}: package.profiles[{}]: {} is not a profile (one of: {})".format(r.meta, i, p, ", ".join(sorted(PROFILES.keys()))))

def _compatible(r):
    """`target_compatible_with` of a recipe's targets: its profiles only, when it lists them."""
    if not r.profiles:
        return None
    settings = {profile_setting(p): [] for p in r.profiles}
    settings["//conditions:default"] = [str(Label("//toolchains:not_a_profile_of_the_recipe"))]
    return select(settings)

def _selected_aliases(recipes, names):
    """`<canonical name>` selecting the recipe of the profile, and `<dir>` -> `<dir>_package` for other directories.

    Under a profile with no recipe of the name, the alias is the first profile's recipe, whose targets are
    incompatible there: `bazel build //...` skips it (and its dependents), and naming it fails with Bazel's
    "is incompatible" line, which names //toolchains:not_a_profile_of_the_recipe. A no_match_error would break
    `bazel build //...` of such a profile instead (an alias has no `target_compatible_with`).
    """
    for target, entry in sorted(names.items()):
        by_profile = entry.profiles
        settings = {profile_setting(p): ":" + recipes[d].package_target for p, d in by_profile.items()}
        settings["//conditions:default"] = ":" + recipes[by_profile.values()[0]].package_target
        native.alias(
            name = target,
            actual = select(settings),
            visibility = ["//visibility:public"],
        )
    for d, r in sorted(recipes.items()):
        if r.profiles and d not in names and r.type != "static_library":
            native.alias(name = d, actual = ":" + r.package_target, visibility = ["//visibility:public"])

def _recipe_file(meta, directory, key, relative):
    """Label of a file of the recipe, which must exist (a missing one is named with the recipe and the key)."""
    path = paths.normalize(paths.join(directory, relative))
    if path.startswith("../") or not path.startswith(directory + "/"):
        fail("{}: {}: {} leaves the recipe directory".format(meta, key, relative))
    if not native.glob([path]) and not native.glob([path + "/**"]):
        fail("{}: {}: {}/{} does not exist".format(meta, key, native.package_name(), path))
    return ":" + path

def _recipe_files(all_recipes):
    """Every recipe's meta.yaml, patches, extras and `source.path` files, as paths in this package (sorted, once)."""
    files = {}
    for d, r in all_recipes.items():
        for f in ["meta.yaml"] + r.patches + [src for src, _ in r.extras]:
            files[paths.normalize(paths.join(d, f))] = True
        if not r.url:
            for f in native.glob([paths.normalize(paths.join(d, r.path)) + "/**"]):
                files[f] = True
    return sorted(files.keys())

def _source(name, r):
    if r.url:
        pyodide_source_tree(
            name = name + "_source",
            archive = "@{}//:archive".format(r.source_repo),
            extract_dir = r.extract_dir or "",
            target_compatible_with = _compatible(r),
        )
        return
    path = paths.normalize(paths.join(name, r.path))
    srcs = native.glob([path + "/**"])
    if path.startswith("../") or not srcs:
        fail("{}: source.path: {} is not a non-empty directory of the recipe".format(r.meta, r.path))
    pyodide_source_tree(
        name = name + "_source",
        srcs = srcs,
        path = paths.join(native.package_name(), path),
        target_compatible_with = _compatible(r),
    )

def _patched(name, r):
    patches = [
        _recipe_file(r.meta, name, "source.patches[{}]".format(i), p)
        for i, p in enumerate(r.patches)
    ]
    extras = {}
    for i, (src, dst) in enumerate(r.extras):
        label = _recipe_file(r.meta, name, "source.extras[{}][0]".format(i), src)
        if label in extras:
            fail("{}: source.extras[{}]: {} is already copied to {}".format(r.meta, i, src, extras[label]))
        extras[label] = dst
    if not patches and not extras:
        native.alias(name = name + "_patched", actual = ":" + name + "_source")
        return
    pyodide_patch(
        name = name + "_patched",
        src = ":" + name + "_source",
        patches = patches,
        extras = extras,
        target_compatible_with = _compatible(r),
    )

def _wheel_source(name, r, all_recipes, names):
    """`<name>_build` of a recipe whose `source.url` is a wheel: pyodide_wheel_source of the downloaded wheel."""
    pyodide_wheel_source(
        name = name + "_build",
        target_compatible_with = _compatible(r),
        src = "@{}//:archive".format(r.source_repo),
        meta = r.meta,
        package_name = r.name,
        version = r.version,
        unvendor_tests = r.unvendor_tests,
        retain_test_patterns = r.retain_test_patterns,
        depends = [_display_name(all_recipes, names, d) for d in r.run],
        imports = r.imports,
        post = r.post,
        pkgdir = paths.join(native.package_name(), name),
        pkgdir_files = native.glob([name + "/**"]) if r.post else [],
    )

def _build(name, r, all_recipes, names):
    """`<name>_build`: pyodide_pure_build, or pyodide_emcc_build for a compiled recipe."""
    common = dict(
        name = name + "_build",
        target_compatible_with = _compatible(r),
        src = ":" + name + "_patched",
        package_name = r.name,
        version = r.version,
        wheel = r.wheel,
        unvendor_tests = r.unvendor_tests,
        retain_test_patterns = r.retain_test_patterns,
        depends = [_display_name(all_recipes, names, d) for d in r.run],
        imports = r.imports,
        host_deps = [":" + d for d in r.host],
        executables = r.executables,
        constraints = r.constraints,
        build_extras = r.build_extras,
        build_lock = ":{}/{}".format(name, r.build_lock) if r.build_lock else None,
        build_wheels = ["@{}//:archive".format(w) for w in r.build_wheels],
    )
    if not r.compiled:
        pyodide_pure_build(meta = r.meta, **common)
        return
    pyodide_emcc_build(
        allow_pure = r.allow_pure,
        type = r.type,
        cflags = r.cflags,
        cxxflags = r.cxxflags,
        ldflags = r.ldflags,
        script = r.script,
        cross_script = r.cross_script,
        post = r.post,
        backend_flags = r.backend_flags,
        replace_libs = r.replace_libs,
        exports = r.exports,
        libraries = [":" + d + "_build" for d in r.libraries],
        pkgdir = paths.join(native.package_name(), name),
        pkgdir_files = native.glob(
            [name + "/**"],
            exclude = [paths.normalize(paths.join(name, r.test_script))] if r.test_script else [],
        ),
        **common
    )

def _per_profile(key):
    """A select() of the selected profile's `key` (its runtime's site-packages, its first runtime, ...)."""
    return select({profile_setting(p): PROFILES[p][key] for p in PROFILES})

def pyodide_packages(recipes, name = "all", out = "dist", core = "core", core_out = "core_dist"):
    """Declares the targets of every recipe and the package directory.

    The file packages install into the selected profile's site-packages, and the index files carry its runtime's
    `info` (Python version, platform, ABI): `--//:pyodide=<profile>` gives a package directory for that runtime.

    Args:
      recipes: `RECIPES` from `@pyodide_recipes//:recipes.bzl`.
      name: name of the pyodide_dist target that builds every recipe.
      out: its output directory (a Pyodide package directory).
      core: name of the pyodide_dist of every recipe not tagged `slow` (what the integration tests build).
      core_out: its output directory.
    """
    data = recipe_data(recipes)
    if data.error:
        fail(data.error)
    _check_listing(data)
    all_recipes = data.recipes
    names = data.names
    _check_profiles(all_recipes)
    _check_slow(all_recipes, names)
    _selected_aliases(all_recipes, names)
    broken = data.broken
    for message in data.warnings:
        print("warning: " + message)  # buildifier: disable=print
    for recipe_name, message in broken.items():
        # The usual names fail with the recipe's error; `<all>` needs them, so it fails too, naming it.
        for suffix in ["", "_build", "_source"]:
            pyodide_broken_recipe(name = recipe_name + suffix, message = message, visibility = ["//visibility:public"])
        pyodide_broken_recipe_test(name = recipe_name + "_test", message = message)

    # `<name>_recipe_files`: what the recipes are made of, for `pyodide_release` (its provenance records each sha256).
    native.filegroup(name = name + "_recipe_files", srcs = _recipe_files(all_recipes), visibility = ["//visibility:public"])
    for recipe_name, r in all_recipes.items():
        if r.wheel_source:
            _wheel_source(recipe_name, r, all_recipes, names)
        else:
            _source(recipe_name, r)
            _patched(recipe_name, r)
            _build(recipe_name, r, all_recipes, names)
        if r.type == "static_library":
            native.alias(name = recipe_name, actual = ":" + recipe_name + "_build", visibility = ["//visibility:public"])
            continue
        package_target = r.package_target
        native.filegroup(
            name = recipe_name + "_site",
            srcs = [":" + recipe_name + "_build"],
            output_group = "site",
        )

        # Named after the package (the index key the loader looks up), not the directory: packages/numpy2 is numpy.
        files = "{}_files/{}".format(recipe_name, r.canonical_name)
        file_package(
            name = files,
            srcs = [":" + recipe_name + "_site"],
            prefix = "/usr/lib" if r.type == "shared_library" else _per_profile("site_packages"),
            strip_prefix = recipe_name + "_build/site",
            target_compatible_with = _compatible(r),
        )
        pyodide_package(
            name = package_target,
            target_compatible_with = _compatible(r),
            build = ":" + recipe_name + "_build",
            file_package = ":" + files,
            deps = [":" + d for d in r.run],
            imports = r.imports,
            package_name = r.name,
            version = r.version,
            visibility = ["//visibility:public"],
        )

        if r.test_script:
            pyodide_run_test(
                name = recipe_name + "_test",
                src = _recipe_file(r.meta, recipe_name, "test.script", r.test_script),
                package = ":" + package_target,
                packages = [":" + d for d in r.test_requires],
                pyodide_version = r.profiles[0] if r.profiles else DEFAULT_PROFILE,
                size = "large",
            )
            continue

        # Pure-Python wheels load in every runtime: test the oldest and the newest. Compiled packages fit only the
        # runtime of the profile they were built for (`--//:pyodide`).
        pyodide_package_test(
            name = recipe_name,
            package = ":" + package_target,
            imports = r.test_imports,
            pyodide_versions = [PROFILE] if r.compiled else PURE_TEST_RUNTIMES,
        )

    # `dist_<profile>`: the package directory of every profile, side by side (see profile_dist.bzl). The default
    # profile's is `<all>` itself: Bazel 4 gives even a transition to the value a flag already has its own output
    # directory, which would build every package twice.
    for profile in PROFILES:
        if profile == DEFAULT_PROFILE:
            native.alias(name = "{}_{}".format(out, profile), actual = ":" + name, visibility = ["//visibility:public"])
            continue
        pyodide_profile_dist(
            name = "{}_{}".format(out, profile),
            dist = ":" + name,
            profile = profile,
            visibility = ["//visibility:public"],
        )
    for dist_name, dist_out, with_slow in ((name, out, True), (core, core_out, False)):
        pyodide_dist(
            name = dist_name,
            out = dist_out,
            packages = _dist_packages(all_recipes, names, with_slow) + [":" + n for n in sorted(broken.keys())],
            pyodide_version = _per_profile("pyodide_version"),
            visibility = ["//visibility:public"],
        )

def _in_dist(r, with_slow):
    return r.type != "static_library" and (with_slow or not r.slow)

def _dist_packages(recipes, names, with_slow):
    """Every package (not static libraries; slow ones only `with_slow`); selected names for the profiles they have."""
    packages = [":" + d for d, r in sorted(recipes.items()) if not r.profiles and _in_dist(r, with_slow)]
    per_profile = {profile_setting(p): [] for p in PROFILES}
    for target, entry in sorted(names.items()):
        for p, d in entry.profiles.items():
            if _in_dist(recipes[d], with_slow):
                per_profile[profile_setting(p)].append(":" + target)
    return packages + select(per_profile)
