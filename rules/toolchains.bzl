"""WORKSPACE macros, step 2: `rules_pyodide_register_toolchains()` (after `rules_pyodide_dependencies()`).

Declares what compiling and testing need and registers the Emscripten toolchains:

- `@pyodide_runtime_<version with _ for .>` for every npm runtime of the table (toolchains/pyodide_runtime.bzl),
  from `node_modules/pyodide-<version>` (fetched only when a test or bundle needs one);
- the pinned Emscripten toolchain trees the profiles compile with (`@emscripten_3_1_6`, ..., toolchains/trees/,
  built into the machine cache by rules_pyodide's `make setup`; a missing tree fails only compiling targets);
- `@pyodide_headers_<profile>`: the CPython headers of each profile (toolchains/python_headers.bzl);
- `register_toolchains` of rules_pyodide's Emscripten toolchains (one per profile). A toolchain the workspace
  registers before calling this (e.g. `emscripten_local`) wins for every profile.

With `python_toolchain = True` it also registers a Python toolchain running the rules-pyodide tool's interpreter
(rules_pyodide's own py_test targets use it); a user workspace normally keeps its own.
"""

load("//toolchains:emscripten_repository.bzl", "emscripten_trees")
load("//toolchains:pyodide_runtime.bzl", "pyodide_runtimes")
load("//toolchains:python_headers.bzl", "pyodide_profile_headers")

# buildifier: disable=unnamed-macro
def rules_pyodide_register_toolchains(node_modules = "js/node_modules", python_toolchain = False):
    """Declares the runtimes, toolchain trees and headers, and registers the toolchains.

    Args:
      node_modules: directory holding the npm runtimes as `pyodide-<version>` (absolute, or relative to the main
        workspace root), e.g. from `npm install pyodide-0.21.3@npm:pyodide@0.21.3`.
      python_toolchain: also register the tool's Python toolchain (`@rules_pyodide_tool//:python_toolchain`).
    """
    if "rules_pyodide_tool" not in native.existing_rules():
        fail("rules_pyodide: add `rules_pyodide_dependencies()` (load it from @rules_pyodide//rules:repositories.bzl) to WORKSPACE before rules_pyodide_register_toolchains()")
    pyodide_runtimes(node_modules = node_modules)
    emscripten_trees()
    pyodide_profile_headers()
    native.register_toolchains(str(Label("//toolchains:all")))
    if python_toolchain:
        native.register_toolchains("@rules_pyodide_tool//:python_toolchain")
