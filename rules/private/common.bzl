"""Helpers the rules share (rules_go style): the tool, its one invocation, the one dist action, the transition.

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
- `profile_transition`: sets `--//:pyodide` to the rule's `pyodide_version` attr (a profile), for attrs that must
  be built for one profile; `TRANSITION_ALLOWLIST` is the attr such a rule needs.
"""

load("@rules_pyodide_table//:table.bzl", "RUNTIMES")

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
