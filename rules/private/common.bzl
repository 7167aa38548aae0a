"""Helpers the rules share (rules_go style): the `rules-pyodide` tool attr and the one package-directory action.

`CLI_TOOL`: the attr dict entry of the `rules-pyodide` tool every build action runs (`cfg = "exec"`).
`runtime_info(version)`: the table's facts of an npm runtime (`RUNTIMES`), failing with the known ones.
`dist_action(...)`: `rules-pyodide dist` (rules_pyodide.dist): package files + index files merged from fragments,
for one runtime's index info; used by `pyodide_dist` and by the test rules' own package directories.
`profile_transition`: sets `--//:pyodide` to the rule's `pyodide_version` attr (a profile), for attrs that must be
built for one profile; `TRANSITION_ALLOWLIST` is the attr such a rule needs.
"""

load("@rules_pyodide_table//:table.bzl", "RUNTIMES")

CLI_TOOL = {
    "_tool": attr.label(
        default = "//rules_pyodide:cli",
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

def tool_args(ctx, subcommand):
    """Starts the arguments of one `rules-pyodide` action.

    Args:
      ctx: the rule context.
      subcommand: the `rules-pyodide` subcommand, e.g. `dist`.

    Returns:
      An `Args` beginning with `subcommand`, passed in a param file (one argument per line).
    """
    args = ctx.actions.args()
    args.use_param_file("@%s", use_always = True)
    args.set_param_file_format("multiline")
    args.add(subcommand)
    return args

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
    ctx.actions.run(
        executable = ctx.executable._tool,
        arguments = [args],
        inputs = depset(transitive = [files, fragments]),
        outputs = [out],
        mnemonic = mnemonic,
        progress_message = progress_message,
    )

def _profile_transition_impl(_settings, attr):
    return {"//:pyodide": attr.pyodide_version}

profile_transition = transition(
    implementation = _profile_transition_impl,
    inputs = [],
    outputs = ["//:pyodide"],
)

TRANSITION_ALLOWLIST = {
    "_allowlist_function_transition": attr.label(
        default = "@bazel_tools//tools/allowlists/function_transition_allowlist",
        doc = "Required by Bazel for rules with a Starlark transition.",
    ),
}
