"""Finding a pinned toolchain tree (toolchains/trees/, rules_pyodide.toolchain_tree) from a repository rule.

`make setup` builds each tree from the Debian packages its lock pins into
`${XDG_CACHE_HOME:-~/.cache}/rules_pyodide/toolchains/<tree>-<first 16 hex digits of the lock's sha256>/`, with a
manifest `TREE.json` whose `tree_digest` is the digest of everything in it. `find_tree` computes that directory, checks
the manifest against the lock (the lock's `tree_digest`), and returns the tree's root and manifest, or an error
message that says which command builds it. Both the lock and the manifest are read, so a new lock or a rebuilt tree
re-runs the repository rule.
"""

load("@rules_pyodide_table//:table.bzl", "PROFILES")

def _cache_root(rctx):
    env = rctx.os.environ
    if env.get("RULES_PYODIDE_TOOLCHAINS"):
        return rctx.path(env["RULES_PYODIDE_TOOLCHAINS"])
    if env.get("XDG_CACHE_HOME"):
        return rctx.path(env["XDG_CACHE_HOME"] + "/rules_pyodide/toolchains")
    return rctx.path(env.get("HOME", "") + "/.cache/rules_pyodide/toolchains")

def _sha256(rctx, path):
    result = rctx.execute(["sha256sum", str(path)])
    if result.return_code != 0:
        fail("sha256sum {}: {}".format(path, result.stderr))
    return result.stdout.split(" ")[0]

def find_tree(rctx, tree):
    """Finds toolchain tree `tree` in the cache and checks it against its lock.

    Args:
      rctx: the repository context.
      tree: the tree's name, e.g. `emscripten-3.1.69` (its lock is `//toolchains/trees:<tree>.lock.json`).

    Returns:
      (root path, manifest dict, None), or (None, None, why the tree is not usable).
    """
    lock_path = rctx.path(Label("//toolchains/trees:{}.lock.json".format(tree)))
    lock = json.decode(rctx.read(lock_path))
    root = _cache_root(rctx).get_child("{}-{}".format(tree, _sha256(rctx, lock_path)[:16]))
    how = "run `make setup` (it builds the tree: `python -m rules_pyodide.toolchain_tree build --lock " + \
          "toolchains/trees/{}.lock.json`)".format(tree)
    manifest_path = root.get_child("TREE.json")
    if not manifest_path.exists:
        return None, None, "toolchain tree {} is missing ({} does not exist): {}".format(tree, manifest_path, how)
    manifest = json.decode(rctx.read(manifest_path))
    want = lock.get("tree_digest", "")
    if want and manifest.get("tree_digest") != want:
        return None, None, ("toolchain tree {} at {} does not match its lock: tree_digest {}, the lock says {}; " +
                            "delete the directory and {}").format(tree, root, manifest.get("tree_digest"), want, how)
    return root, manifest, None

def tree_repository_name(tree):
    """The toolchain repository of tree `tree`, e.g. `emscripten_3_1_69` for `emscripten-3.1.69`."""
    return tree.replace("-", "_").replace(".", "_")

def profile_trees():
    """The toolchain trees the profiles of the table use, sorted."""
    return sorted({p["toolchain"]: True for p in PROFILES.values()}.keys())
