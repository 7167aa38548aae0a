"""Analysis-time tests of file_package: destinations, provider fields, the action, and clear errors on bad attrs."""

load("@bazel_skylib//lib:unittest.bzl", "analysistest", "asserts")
load("//rules:defs.bzl", "FilePackageInfo", "file_package")

_SITE = "/lib/python3.10/site-packages/hello/"

def _provider_and_action_test_impl(ctx):
    env = analysistest.begin(ctx)
    target = analysistest.target_under_test(env)
    info = target[FilePackageInfo]
    asserts.equals(env, [
        _SITE + "NOTES.md",
        _SITE + "__init__.py",
        _SITE + "data/blob.bin",
        _SITE + "data/deep/nested/greeting.txt",
        _SITE + "data/mail@example.txt",
        _SITE + "greet.py",
    ], info.destinations)
    asserts.equals(env, "/lib/python3.10/site-packages", info.prefix)
    asserts.equals(env, "Pkg", info.export_name)
    asserts.true(env, info.lz4)
    asserts.equals(env, "analysis_plain.js.metadata", info.metadata.basename)
    actions = [a for a in analysistest.target_actions(env) if a.mnemonic == "PyodideFilePackage"]
    asserts.equals(env, 1, len(actions))

    # What `rules-pyodide` receives (Bazel hands it over in a param file, @F, when the action runs): the subcommand,
    # then emscripten's file_packager command line.
    bin_dir = analysistest.target_bin_dir_path(env) + "/tests/bazel/"
    src = "examples/file_package/site/hello/"
    asserts.equals(env, [
        "file-packager",
        bin_dir + "analysis_plain.data",
        "--quiet",
        "--js-output=" + bin_dir + "analysis_plain.js",
        "--lz4",
        "--export-name=Pkg",
        "--separate-metadata",
        "--preload",
        src + "NOTES.md@" + _SITE + "NOTES.md",
        src + "__init__.py@" + _SITE + "__init__.py",
        src + "data/blob.bin@" + _SITE + "data/blob.bin",
        src + "data/deep/nested/greeting.txt@" + _SITE + "data/deep/nested/greeting.txt",
        src + "data/mail@@example.txt@" + _SITE + "data/mail@@example.txt",
        src + "greet.py@" + _SITE + "greet.py",
    ], actions[0].argv[1:])
    asserts.equals(env, sorted([f.basename for f in actions[0].outputs.to_list()]), [
        "analysis_plain.data",
        "analysis_plain.js",
        "analysis_plain.js.metadata",
    ])
    return analysistest.end(env)

_provider_and_action_test = analysistest.make(_provider_and_action_test_impl)

def _failure_test_impl(ctx):
    env = analysistest.begin(ctx)
    asserts.expect_failure(env, ctx.attr.message)
    return analysistest.end(env)

_failure_test = analysistest.make(
    _failure_test_impl,
    expect_failure = True,
    attrs = {"message": attr.string(doc = "Part of the expected error message.")},
)

def file_package_analysis_test_suite(name, site):
    """Declares the analysis tests (and the targets they analyse) plus a test_suite `name`.

    Args:
      name: name of the test_suite.
      site: label of the example's files (examples/file_package/site/**).
    """
    file_package(
        name = "analysis_plain",
        srcs = [site],
        export_name = "Pkg",
        lz4 = True,
        prefix = "/lib/python3.10/site-packages",
        separate_metadata = True,
        strip_prefix = "/examples/file_package/site",
        tags = ["manual"],
    )
    _provider_and_action_test(
        name = name + "_provider_and_action",
        size = "small",
        target_under_test = ":analysis_plain",
    )

    file_package(name = "analysis_outside", srcs = [site], strip_prefix = "elsewhere", tags = ["manual"])
    _failure_test(
        size = "small",
        name = name + "_outside_strip_prefix",
        message = "is not under strip_prefix \"elsewhere\" (the directory 'tests/bazel/elsewhere' of its repository)",
        target_under_test = ":analysis_outside",
    )

    file_package(name = "analysis_relative", srcs = [site], prefix = "lib/python", tags = ["manual"])
    _failure_test(
        size = "small",
        name = name + "_relative_prefix",
        message = "prefix must be an absolute path without '..', got \"lib/python\"",
        target_under_test = ":analysis_relative",
    )

    file_package(name = "analysis_climbing", srcs = [site], strip_prefix = "../../..", tags = ["manual"])
    _failure_test(
        size = "small",
        name = name + "_climbing_strip_prefix",
        message = "strip_prefix \"../../..\" climbs above the repository root",
        target_under_test = ":analysis_climbing",
    )

    native.test_suite(
        name = name,
        tests = [
            name + "_climbing_strip_prefix",
            name + "_outside_strip_prefix",
            name + "_provider_and_action",
            name + "_relative_prefix",
        ],
    )
