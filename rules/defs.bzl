"""Public API of rules_pyodide. This file only re-exports; the rules live in rules/private/."""

load("//rules/private:bundle.bzl", _pyodide_bundle = "pyodide_bundle")
load("//rules/private:dist.bzl", _pyodide_dist = "pyodide_dist")
load("//rules/private:dist_archive.bzl", _pyodide_dist_archive = "pyodide_dist_archive")
load("//rules/private:emcc_build.bzl", _pyodide_emcc_build = "pyodide_emcc_build")
load("//rules/private:file_package.bzl", _file_package = "file_package")
load("//rules/private:import_test.bzl", _pyodide_import_test = "pyodide_import_test", _pyodide_package_test = "pyodide_package_test")
load("//rules/private:pack.bzl", _pyodide_pack = "pyodide_pack")
load("//rules/private:package.bzl", _pyodide_package = "pyodide_package")
load("//rules/private:packages.bzl", _pyodide_packages = "pyodide_packages")
load("//rules/private:patch.bzl", _pyodide_patch = "pyodide_patch")
load(
    "//rules/private:providers.bzl",
    _FilePackageInfo = "FilePackageInfo",
    _PyodideBuildInfo = "PyodideBuildInfo",
    _PyodideLibraryInfo = "PyodideLibraryInfo",
    _PyodidePackageInfo = "PyodidePackageInfo",
    _PyodideProfileInfo = "PyodideProfileInfo",
)
load("//rules/private:pure_build.bzl", _pyodide_pure_build = "pyodide_pure_build")
load("//rules/private:recipes_repository.bzl", _pyodide_recipes = "pyodide_recipes")
load("//rules/private:release.bzl", _pyodide_release = "pyodide_release")
load("//rules/private:run_test.bzl", _pyodide_run_test = "pyodide_run_test")
load("//rules/private:source_repository.bzl", _pyodide_source = "pyodide_source")
load("//rules/private:source_tree.bzl", _pyodide_source_tree = "pyodide_source_tree")

file_package = _file_package
FilePackageInfo = _FilePackageInfo

# Recipes -> packages (see rules/private/packages.bzl).
pyodide_dist = _pyodide_dist
pyodide_dist_archive = _pyodide_dist_archive  # rules_pyodide's own release artifacts (//:dist_archive)
pyodide_emcc_build = _pyodide_emcc_build
pyodide_import_test = _pyodide_import_test
pyodide_package = _pyodide_package
pyodide_package_test = _pyodide_package_test
pyodide_packages = _pyodide_packages
pyodide_patch = _pyodide_patch
pyodide_pure_build = _pyodide_pure_build
pyodide_release = _pyodide_release
pyodide_recipes = _pyodide_recipes
pyodide_run_test = _pyodide_run_test
pyodide_source = _pyodide_source
pyodide_source_tree = _pyodide_source_tree
PyodideBuildInfo = _PyodideBuildInfo
PyodideLibraryInfo = _PyodideLibraryInfo
PyodidePackageInfo = _PyodidePackageInfo
PyodideProfileInfo = _PyodideProfileInfo

# Packing and bundling (see rules/private/pack.bzl, rules/private/bundle.bzl).
pyodide_bundle = _pyodide_bundle
pyodide_pack = _pyodide_pack
