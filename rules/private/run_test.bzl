"""`pyodide_run_test`: runs a Python test file in a real Pyodide (Node) with a package built for that runtime's profile.

The package is built under `--//:pyodide=<pyodide_version>` (a transition on `package`), so one `bazel test` checks
the same compiled recipes in every profile. The build assembles a package directory with the package, the extra
`packages` the file needs (e.g. pytest; built the same way) and their transitive run requirements (`rules-pyodide dist`, in the profile's index format); the test runs
`rules-pyodide run --load-imports <src>`: the packages the file imports are loaded through our index (shared
libraries first, as dependencies), then the file runs; any exception fails the test.

The runtime is `@pyodide_runtime_<version>//:files` (toolchains/pyodide_runtime.bzl); Node is the host's `node`.
"""

load("@rules_pyodide_table//:table.bzl", "DEFAULT_PROFILE", "PROFILES")
load("//toolchains:pyodide_runtime.bzl", "pyodide_runtime_repository_name")
load(":common.bzl", "CLI_TOOL", "RUN_TEST_ATTRS", "TRANSITION_ALLOWLIST", "dist_action", "profile_transition", "run_test_launcher")
load(":providers.bzl", "PyodidePackageInfo")

def _pyodide_run_test_impl(ctx):
    infos = [dep[PyodidePackageInfo] for dep in ctx.attr.package + ctx.attr.packages]
    dist = ctx.actions.declare_directory(ctx.label.name + "_dist")
    dist_action(
        ctx,
        dist,
        infos,
        ctx.attr.runtime_version,
        "PyodideTestDist",
        "Assembling the package directory of {}".format(ctx.label),
    )
    return [run_test_launcher(
        ctx,
        "pyodide_run_test",
        dist,
        ctx.attr.runtime_version,
        ["--load-imports", ctx.file.src.short_path],
        [ctx.file.src],
    )]

_pyodide_run_test = rule(
    implementation = _pyodide_run_test_impl,
    doc = "Runs `src` in Pyodide `pyodide_version` with `package` (built for that profile) in the index.",
    test = True,
    attrs = dict({
        "package": attr.label(
            mandatory = True,
            cfg = profile_transition,
            providers = [PyodidePackageInfo],
            doc = "The package under test (`//packages:<name>`), built with `--//:pyodide=<pyodide_version>`.",
        ),
        "packages": attr.label_list(
            cfg = profile_transition,
            providers = [PyodidePackageInfo],
            doc = "More packages for the package directory (what `src` needs besides `package`, e.g. pytest).",
        ),
        "pyodide_version": attr.string(mandatory = True, doc = "The ABI profile the packages are built for."),
        "runtime_version": attr.string(mandatory = True, doc = "The npm runtime the test runs in (one of the profile's)."),
        "src": attr.label(mandatory = True, allow_single_file = [".py"], doc = "The Python test file."),
    }, **dict(CLI_TOOL, **dict(RUN_TEST_ATTRS, **TRANSITION_ALLOWLIST))),
)

def pyodide_run_test(name, package, src, pyodide_version = DEFAULT_PROFILE, runtime_version = None, packages = [], **kwargs):
    """A test that runs `src` in a runtime of profile `pyodide_version` with `package` built for that profile.

    Args:
      name: test name.
      package: a `//packages:<name>` target.
      src: the Python file to run; it imports the packages it needs.
      pyodide_version: the ABI profile (`--//:pyodide` value) the packages are built for.
      runtime_version: the npm runtime to run in, one of the profile's `runtimes`; default: its first.
      packages: more `//packages:<name>` targets to put in the package directory (loaded when `src` imports them).
      **kwargs: common test attributes; size defaults to "small".
    """
    if pyodide_version not in PROFILES:
        fail("{}: pyodide_version {} is not one of {}".format(name, pyodide_version, ", ".join(PROFILES)))
    runtimes = PROFILES[pyodide_version]["runtimes"]
    runtime_version = runtime_version or runtimes[0]
    if runtime_version not in runtimes:
        fail("{}: runtime_version {} does not serve profile {} (its runtimes: {})".format(
            name,
            runtime_version,
            pyodide_version,
            ", ".join(runtimes),
        ))
    repository = "@" + pyodide_runtime_repository_name(runtime_version)
    kwargs.setdefault("size", "small")
    _pyodide_run_test(
        name = name,
        package = package,
        packages = packages,
        pyodide_version = pyodide_version,
        runtime = repository + "//:files",
        runtime_package_json = repository + "//:package_json",
        runtime_version = runtime_version,
        src = src,
        **kwargs
    )
