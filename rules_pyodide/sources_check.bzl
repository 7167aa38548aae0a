"""`check_tool_sources`: fails loading when the PEX's source list (a repository rule's listing) is out of date."""

def check_tool_sources(listed, on_disk):
    """Compares the files the tool repository put into the PEX with the package's glob.

    Args:
      listed: `SOURCES` of `@rules_pyodide_tool//:sources.bzl`.
      on_disk: the package's glob of the same file kinds.
    """
    added = [f for f in on_disk if f not in listed]
    removed = [f for f in listed if f not in on_disk]
    if added or removed:
        fail(("rules_pyodide/: the rules-pyodide PEX is out of date (new: {}; removed: {}). Bazel 4 cannot watch " +
              "the directory: run `bazel sync --only=rules_pyodide_tool` once.").format(
            ", ".join(added) or "none",
            ", ".join(removed) or "none",
        ))
