"""Helpers the rules share (rules_go style): the tool, its one invocation, the one dist action, shared attrs.

The `rules-pyodide` tool:
- `CLI_TOOL`: the attr dict entry of the tool every action runs (`cfg = "exec"`): `//rules_pyodide:cli`, the
  launcher of the PEX built by toolchains/tool.bzl (`@rules_pyodide_tool//:cli`). The PEX is in its runfiles, so its
  digest is part of every action's key.
- `tool_args(ctx, subcommand)` starts an action's one `Args`; `run_tool(ctx, args, ...)` runs the tool with it. The
  one convention: every argument, the subcommand first, goes in a multiline param file passed as the lone argument
  `@FILE`, which `rules_pyodide/cli.py` (`expand_param_file`) expands, the only place `@` is expanded.
- `ZIP_EPOCH`: `SOURCE_DATE_EPOCH` of actions that write zip files (wheels, release tarball): 1980-01-01, the
  earliest time a zip entry can hold.

Shared by several rules:
- `runtime_info(label, version)`: the table's facts of an npm runtime (`RUNTIMES`), failing with the known ones.
- `dist_action(...)`: `rules-pyodide dist` (rules_pyodide.dist): package files + index files merged from
  fragments, for one runtime's index info; used by `pyodide_dist` and by the test rules' own package directories.
- `BUILD_ATTRS` and `add_build_env_args(args, attr)`: the attrs both recipe build rules (`pyodide_pure_build`,
  `pyodide_emcc_build`) take from the recipe, and the flags they pass from them.
- `POST_ATTRS`: `build.post` and the recipe directory it may read (`pyodide_emcc_build`, `pyodide_wheel_source`).
- `RUN_TEST_ATTRS` and `run_test_launcher(...)`: the runtime and `rules-pyodide run` of the tests that run in
  Pyodide (`pyodide_import_test`, `pyodide_run_test`), and the script that starts it.
- `profile_transition`: sets `--//:pyodide` to the rule's `pyodide_version` attr (a profile), for attrs that must
  be built for one profile; `TRANSITION_ALLOWLIST` is the attr such a rule needs.
"""

load("@bazel_skylib//lib:shell.bzl", "shell")
load("@rules_pyodide_table//:table.bzl", "RUNTIMES")
load(":providers.bzl", "PyodidePackageInfo")

CLI_TOOL = {
    "_tool": attr.label(
        default = Label("//rules_pyodide:cli"),
        executable = True,
        cfg = "exec",
        doc = "The `rules-pyodide` command the build actions run.",
    ),
}

def runtime_info(label, version):
    """The `RUNTIMES` entry of `version`; an unknown one fails, naming `label` and the known runtimes."""
    if version not in RUNTIMES:
        fail("{}: Pyodide {} is not a runtime of rules_pyodide/runtimes.json (known: {})".format(
            label,
            repr(version),
            ", ".join(RUNTIMES.keys()),
        ))
    return RUNTIMES[version]

ZIP_EPOCH = "315532800"

def tool_args(ctx, subcommand):
    """Starts the arguments of one `rules-pyodide` action (the one param-file convention; see the docstring).

    Args:
      ctx: the rule context.
      subcommand: the `rules-pyodide` subcommand, e.g. `dist`.

    Returns:
      An `Args` beginning with `subcommand`, passed as `@FILE` (a multiline param file: one argument per line).
    """
    args = ctx.actions.args()
    args.use_param_file("@%s", use_always = True)
    args.set_param_file_format("multiline")
    args.add(subcommand)
    return args

def run_tool(
        ctx,
        args,
        inputs,
        outputs,
        mnemonic,
        progress_message,
        source_date_epoch = None,
        block_network = False):
    """Runs `rules-pyodide` (the `_tool` of `CLI_TOOL`) with `args`, which `tool_args` started.

    Args:
      ctx: the rule context; it must have the `CLI_TOOL` attr.
      args: the action's one `Args`, from `tool_args`.
      inputs: list or depset of the Files the action reads.
      outputs: list of the Files it writes.
      mnemonic: the action's CamelCase mnemonic.
      progress_message: its progress message, naming the label.
      source_date_epoch: `SOURCE_DATE_EPOCH` of the action's environment (e.g. `ZIP_EPOCH`); None: not set.
      block_network: the action runs without network (`block-network`).
    """
    ctx.actions.run(
        executable = ctx.executable._tool,
        arguments = [args],
        inputs = inputs,
        outputs = outputs,
        mnemonic = mnemonic,
        progress_message = progress_message,
        env = {"SOURCE_DATE_EPOCH": source_date_epoch} if source_date_epoch != None else None,
        execution_requirements = {"block-network": ""} if block_network else None,
    )

def dist_action(ctx, out, infos, version, mnemonic, progress_message):
    """Assembles the package directory `out` of `infos` (PyodidePackageInfo, with their run requirements).

    Args:
      ctx: the rule context; it must have the `CLI_TOOL` attr.
      out: the declared output directory.
      infos: PyodidePackageInfo of the packages to ship.
      version: the npm runtime whose index info (`info.*`) the index files carry.
      mnemonic: the action's mnemonic.
      progress_message: its progress message.
    """
    runtime = runtime_info(ctx.label, version)
    files = depset(transitive = [i.transitive_dist_files for i in infos])
    fragments = depset(transitive = [i.transitive_fragments for i in infos])
    args = tool_args(ctx, "dist")
    args.add("--output", out.path)
    args.add("--platform", runtime["platform"])
    args.add("--pyodide-version", version)
    args.add("--python", runtime["python_version"])
    if runtime["abi_version"]:
        args.add("--abi-version", runtime["abi_version"])
    args.add_all(fragments, before_each = "--fragment")
    args.add_all(files, before_each = "--file")
    run_tool(ctx, args, depset(transitive = [files, fragments]), [out], mnemonic, progress_message)

BUILD_ATTRS = {
    "build_lock": attr.label(
        allow_single_file = True,
        doc = "The recipe's `build-requirements.lock` (rules_pyodide.build_lock), if it has one: the build " +
              "installs `build_wheels` into an isolated environment and runs the backend there, instead of with " +
              "the tool's own backends.",
    ),
    "build_wheels": attr.label_list(
        allow_files = [".whl"],
        doc = "The lock's wheels (`@pyodide_wheel_<file>//:archive`, every Python's): inputs of this build only.",
    ),
    "build_extras": attr.string_list(
        doc = "`requirements.build-extras`: PEP 508 build requirements that must be installed in the build " +
              "environment.",
    ),
    "constraints": attr.string_list(
        doc = "`requirements.constraint`: PEP 508 constraints the build environment must satisfy.",
    ),
    "depends": attr.string_list(doc = "Run requirements, by package name, for the index fragment."),
    "executables": attr.string_list(
        doc = "`requirements.executable`: host programs the build needs; a missing one fails the build at once.",
    ),
    "host_deps": attr.label_list(
        providers = [PyodidePackageInfo],
        doc = "Host requirements (`requirements.host`) that are pure-Python packages: their installed trees are " +
              "on PYTHONPATH while building.",
    ),
    "imports": attr.string_list(doc = "Top-level import names, for the index fragment."),
    "package_name": attr.string(mandatory = True, doc = "`package.name` of the recipe."),
    "retain_test_patterns": attr.string_list(
        doc = "`build._retain-test-patterns`: fnmatch patterns (relative to site-packages) of test files kept.",
    ),
    "src": attr.label(
        allow_single_file = True,
        mandatory = True,
        doc = "The patched source tree (`:<name>_patched`).",
    ),
    "unvendor_tests": attr.bool(
        default = True,
        doc = "Move tests out of the package into `<name>-tests.tar` (`build.unvendor-tests`).",
    ),
}

# The attrs of `build.post`, which runs on the installed tree of a build (`pyodide_emcc_build`) or of a shipped wheel
# (`pyodide_wheel_source`).
POST_ATTRS = {
    "pkgdir": attr.string(doc = "Execroot-relative recipe directory, `$PKGDIR` of the scripts."),
    "pkgdir_files": attr.label_list(allow_files = True, doc = "The files of the recipe directory."),
    "post": attr.string(doc = "`build.post`: bash, run on the installed tree with $SITEPACKAGES and $PKGDIR."),
}

def add_build_env_args(args, attr):
    """Adds the build-environment flags of `BUILD_ATTRS`, in the order both build rules pass them.

    Args:
      args: the action's `Args`.
      attr: `ctx.attr` of a rule with `BUILD_ATTRS`.
    """
    args.add_all(attr.executables, before_each = "--executable")
    args.add_all(attr.retain_test_patterns, before_each = "--retain-test-pattern")
    args.add_all(attr.constraints, before_each = "--constraint")
    args.add_all(attr.build_extras, before_each = "--build-extra")
    if attr.build_lock:
        args.add("--build-lock", attr.build_lock.files.to_list()[0])
        args.add_all(build_wheel_files(attr), before_each = "--build-wheel")

def build_wheel_files(attr):
    """The wheel Files of a recipe's build-requirements lock (`build_wheels` of BUILD_ATTRS).

    Args:
      attr: `ctx.attr` of a rule with `BUILD_ATTRS`.

    Returns:
      A list of Files: the wheels, in the order of `build_wheels` (sorted by pyodide_recipes; none without a lock).
    """
    if not attr.build_lock:
        return []
    return [f for t in attr.build_wheels for f in t.files.to_list()]

def build_lock_inputs(attr):
    """The lock and its wheels: what `add_build_env_args` passes, as inputs of the action.

    Args:
      attr: `ctx.attr` of a rule with `BUILD_ATTRS`.

    Returns:
      A list of Files (empty without a lock).
    """
    if not attr.build_lock:
        return []
    return attr.build_lock.files.to_list() + build_wheel_files(attr)

RUN_TEST_ATTRS = {
    "runtime": attr.label(mandatory = True, doc = "Every file of the runtime (`@pyodide_runtime_<v>//:files`)."),
    "runtime_package_json": attr.label(
        mandatory = True,
        allow_single_file = ["package.json"],
        doc = "The runtime's package.json (`@pyodide_runtime_<v>//:package_json`): its directory is the runtime.",
    ),
    "_cli": attr.label(
        default = Label("//rules_pyodide:cli"),
        executable = True,
        cfg = "target",
        doc = "`rules-pyodide`, run by the test (`run`).",
    ),
    "_runner": attr.label(default = Label("//js:run_in_pyodide"), doc = "js/run_in_pyodide.js and what it loads."),
}

def run_test_launcher(ctx, rule_name, dist, pyodide_version, run_args, files):
    """Writes the test's executable, `rules-pyodide run` of `dist` in the runtime; returns the test's DefaultInfo.

    Args:
      ctx: the context of a test rule with `RUN_TEST_ATTRS`.
      rule_name: the rule's name, for the script's header.
      dist: the package directory (a TreeArtifact) the runtime's index is merged with.
      pyodide_version: the npm runtime's version (checked against its package.json).
      run_args: further arguments of `rules-pyodide run` (what to load and run).
      files: further runfiles (what `run_args` names).

    Returns:
      DefaultInfo with the executable and its runfiles (the runtime, the runner, the tool's runfiles).
    """
    runner = [f for f in ctx.files._runner if f.basename == "run_in_pyodide.js"][0]
    package_json = ctx.file.runtime_package_json
    cli = ctx.attr._cli[DefaultInfo].files_to_run.executable
    command = [
        cli.short_path,
        "run",
        "--dist",
        dist.short_path,
        "--pyodide",
        pyodide_version,
        "--pyodide-dir",
        package_json.short_path.rpartition("/")[0],
        "--runner-js",
        runner.short_path,
    ] + run_args
    ctx.actions.write(
        ctx.outputs.executable,
        "#!/bin/sh\n# Generated by {} ({}).\nset -eu\nexec {}\n".format(
            rule_name,
            ctx.label,
            " ".join([shell.quote(c) for c in command]),
        ),
        is_executable = True,
    )
    runfiles = ctx.runfiles(files = [dist, package_json] + files + ctx.files.runtime + ctx.files._runner)
    runfiles = runfiles.merge(ctx.attr._cli[DefaultInfo].default_runfiles)
    return DefaultInfo(executable = ctx.outputs.executable, runfiles = runfiles)

# The profile flag by Label, so that the transition names rules_pyodide's flag also when rules_pyodide is an external
# repository (`@rules_pyodide//:pyodide`); a plain "//:pyodide" would be resolved against the main repository.
_PROFILE_FLAG = str(Label("//:pyodide"))

def _profile_transition_impl(_settings, attr):
    return {_PROFILE_FLAG: attr.pyodide_version}

profile_transition = transition(
    implementation = _profile_transition_impl,
    inputs = [],
    outputs = [_PROFILE_FLAG],
)

TRANSITION_ALLOWLIST = {
    "_allowlist_function_transition": attr.label(
        default = "@bazel_tools//tools/allowlists/function_transition_allowlist",
        doc = "Required by Bazel for rules with a Starlark transition.",
    ),
}
