"""WORKSPACE macros, step 1: `rules_pyodide_dependencies()` declares the repositories rules_pyodide needs to load.

    load("@rules_pyodide//rules:repositories.bzl", "rules_pyodide_dependencies")

    rules_pyodide_dependencies()

    load("@rules_pyodide//rules:toolchains.bzl", "rules_pyodide_register_toolchains")

    rules_pyodide_register_toolchains()

Two steps, as emsdk's `emsdk_deps()` / `emsdk_emscripten_deps()`: the second file loads the table of runtimes and
profiles (`@rules_pyodide_table//:table.bzl`), which only exists once this macro has declared it. This file loads
nothing, so it can always be loaded.

Declared here (each only if the workspace has not declared a repository of that name itself, so a user's own
`bazel_skylib` or `platforms` wins):

- `rules_pyodide_table`: rules_pyodide/runtimes.json as Starlark (toolchains/table.bzl);
- `rules_pyodide_tool`: the `rules-pyodide` PEX every action runs (toolchains/tool.bzl), built offline from the
  locked wheels in `wheels`;
- with `offline_stubs` (Bazel 4.2.3 with no network, e.g. Debian's `bazel-bootstrap`): `bazel_skylib`, `platforms`
  and `rules_java` from Debian's packages (`bazel-skylib`, `bazel-platforms`, `bazel-rules-java`), and the stubs
  `rules_cc` and `rules_python` (third_party/: they re-export Bazel's native rules).
"""

load("//toolchains:table.bzl", "pyodide_table")
load("//toolchains:tool.bzl", "rules_pyodide_tool")

# Where Debian's packages install the Bazel rule sets (`dpkg -L bazel-skylib` etc.).
DEBIAN_REPOSITORIES = {
    "bazel_skylib": "/usr/share/bazel/tools/skylib",
    "platforms": "/usr/share/bazel/tools/platforms",
    "rules_java": "/usr/share/bazel/rules/java",
}

def _stub_repository_impl(rctx):
    source = rctx.path(Label("//third_party/{}:BUILD.bazel".format(rctx.attr.stub))).dirname
    for entry in source.readdir():
        rctx.symlink(entry, entry.basename)
    rctx.file("WORKSPACE", "workspace(name = \"{}\")\n".format(rctx.name))

_stub_repository = repository_rule(
    implementation = _stub_repository_impl,
    doc = "One of rules_pyodide's offline stubs (the files of third_party/<stub>/), as a repository.",
    attrs = {"stub": attr.string(mandatory = True, doc = "Directory under third_party/, e.g. `rules_cc`.")},
)

# buildifier: disable=unnamed-macro
def rules_pyodide_dependencies(wheels = ".cache/wheels", python = "/usr/bin/python3", offline_stubs = True):
    """Declares the repositories rules_pyodide's .bzl files and actions need (see the module docstring).

    Args:
      wheels: directory of the tool's locked wheels (absolute, or relative to the main workspace root), filled by
        `pip download --require-hashes --no-deps --only-binary=:all: -r LOCK -d DIR`, once with
        tools/tool-requirements.lock and once with tools/pex-requirements.lock (both pin a pip, which pip refuses
        in one command; rules_pyodide's tools/setup.sh does it for its own checkout).
      python: the interpreter the PEX is built for and run by (default: Debian's).
      offline_stubs: declare bazel_skylib, platforms, rules_java (Debian's) and the rules_cc / rules_python stubs.
    """
    existing = native.existing_rules()
    if "rules_pyodide_table" not in existing:
        pyodide_table(name = "rules_pyodide_table")
    if "rules_pyodide_tool" not in existing:
        rules_pyodide_tool(name = "rules_pyodide_tool", python = python, wheels = wheels)
    if not offline_stubs:
        return
    for name, path in DEBIAN_REPOSITORIES.items():
        if name not in existing:
            native.local_repository(name = name, path = path)
    for stub in ("rules_cc", "rules_python"):
        if stub not in existing:
            _stub_repository(name = stub, stub = stub)
