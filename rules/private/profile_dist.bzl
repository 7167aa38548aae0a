"""`pyodide_profile_dist`: a package directory built for one ABI profile, whatever `--//:pyodide` says.

`//packages:dist_<profile>` (declared by `pyodide_packages()` for every profile of the table) is `//packages:all`
built under `--//:pyodide=<profile>` through a transition: its compiled wheels, file package prefixes and index
`info` are that profile's, and one `bazel build` can hold every profile's package directory side by side (the
transition puts each in its own output directory). The run tests transition the same way, so they share the
compiled builds.
"""

load("@rules_pyodide_table//:table.bzl", "PROFILES")
load(":common.bzl", "TRANSITION_ALLOWLIST", "profile_transition")

def _pyodide_profile_dist_impl(ctx):
    dist = ctx.attr.dist[0][DefaultInfo]
    return [DefaultInfo(files = dist.files, runfiles = dist.default_runfiles)]

_pyodide_profile_dist = rule(
    implementation = _pyodide_profile_dist_impl,
    doc = "Forwards `dist` built with `--//:pyodide=<profile>`.",
    attrs = dict({
        "dist": attr.label(
            mandatory = True,
            cfg = profile_transition,
            doc = "The package directory target (a `pyodide_dist`), built for `pyodide_version`.",
        ),
        "pyodide_version": attr.string(
            mandatory = True,
            values = sorted(PROFILES.keys()),
            doc = "The ABI profile (a `--//:pyodide` value).",
        ),
    }, **TRANSITION_ALLOWLIST),
)

def pyodide_profile_dist(name, dist, profile, **kwargs):
    """`dist` built for ABI profile `profile`.

    Args:
      name: target name.
      dist: a `pyodide_dist` target.
      profile: a profile of the table (rules_pyodide/runtimes.json).
      **kwargs: common attributes.
    """
    _pyodide_profile_dist(name = name, dist = dist, pyodide_version = profile, **kwargs)
