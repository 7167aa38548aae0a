"""Repository rules that provide the Emscripten toolchain: `emscripten_tree` (a pinned toolchain tree built by
`make setup` from Debian's packages, toolchains/trees/: what the profiles compile with), `emscripten_local` (an
installed Emscripten, e.g. Debian's or an emsdk checkout) and `emscripten_sdk` (a pinned emsdk release, downloaded
by version with a sha256 per host).

All three generate the same repository, whose `:toolchain` goes to `register_toolchains` (rules_pyodide registers
its trees' toolchains for the profiles that use them, toolchains/BUILD.bazel; a toolchain registered before them
wins, for every profile):

    emscripten/     the install's emscripten directory (emcc.py, src/, system/, cache/ with the sysroot)
    llvm/bin/       clang, clang++, wasm-ld, llvm-ar, llvm-nm, ... (with the install's LLVM_ADD_VERSION suffix)
    llvm/resource   clang's resource directory (its own headers), so that they are hashed too
    binaryen/bin/   wasm-opt, wasm-emscripten-finalize, wasm-metadce, ...
    hostlibs/       the shared libraries those binaries load (libLLVM, libclang-cpp, libbinaryen), for hashing
    node/node       the node that emscripten runs; node_modules/acorn (Debian's node-acorn, or the install's own)
    tree.json       (emscripten_tree) the tree's manifest: its `tree_digest` is part of every compile action's key
    config.py       the emscripten config: paths relative to this repository, FROZEN_CACHE = True,
                    NODE_JS = [node, "--no-experimental-fetch"] (Node 20's global fetch breaks generated loaders)
    bin/emcc, bin/em++, bin/emar, bin/emranlib   wrappers: EM_CONFIG, EM_CACHE, NODE_PATH, then `python3 emcc.py`
    BUILD.bazel     :files (everything above, minus tests, docs and the LTO libraries), :toolchain

All of these are symlinks or generated text, and the BUILD file lists them by relative path: action keys hash their
contents, not where the install lives. The frozen cache is used read-only (side modules need its `pic/` libraries;
executables built by configure scripts need the others); nothing is built into it.

No Emscripten found (or a broken one) does not fail the fetch: the toolchain then carries an `error`, and only
targets that compile fail, with that message (how to install or point to one).
"""

load(":trees.bzl", "find_tree", "profile_trees", "tree_repository_name")

# Pinned emsdk releases, copied from emsdk's bazel/revisions.bzl (EMSCRIPTEN_TAGS: `hash`, `sha_<host>`): the release
# revision (which names the download url) and the sha256 of its `wasm-binaries` archive per host. `emscripten_sdk`
# looks a version up here; its `sha256`/`revision` attrs override or extend it (e.g. a version not listed). The
# versions are the ones the Pyodide profiles accept: 3.1.6 (Debian's, 0.21.3 and 0.23.4), 3.1.14 (the 0.21.3
# runtime's own), 3.1.32 (the 0.23.4 runtime's own).
EMSDK_RELEASES = {
    "3.1.6": struct(
        revision = "8791c3e936141cbc2dd72d76290ea9b2726d39f3",
        sha256 = {
            "linux": "f43dfe707dff18fa7a08dbfe2fa3f8d46afb65ccba9bbe554465d83d5d80e388",
            "mac": "13a01080ff042560b9a9b1b2c9fc5f8c154710bc41db8bbd907a9e53c286afd0",
            "mac_arm64": "7ae97e85593b037c345b539e7f8b8952b82c001be982219060c83f0834bb6827",
            "win": "e7005c0a5439e532cb64f34ba90405792288a1ed8845cdafcedd3de5af6fd3f2",
        },
    ),
    "3.1.14": struct(
        revision = "ade9d780ff17c88d81aa13860361743e3c1e1396",
        sha256 = {
            "linux": "e2c43068fb1985592db42183a13f85bbd9518b3747746e0003d70c7d770a0b2f",
            "mac": "567e9548f3fa7c1aa717821af4aaa7849a0f7217cb55eb7f66a06c898808fd96",
            "mac_arm64": "df8319aba8bc0d0c40ebec3c8f45e507c2a51a57df24826d4cab6f6cd75017ac",
            "win": "6bfec6bf6a01e483a57e91f7223340a425f6ff711cbd32a08ed78002810d7882",
        },
    ),
    "3.1.32": struct(
        revision = "29ad1037cd6b99e5d8a1bd75bc188c1e9a6fda8d",
        sha256 = {
            "linux": "25fa252e9fc674d1bcef35b3a10dd85024aa93c843b8067f8d917e5151968ffc",
            "mac": "7881714e7738eb183b5a421bb2b907e96359e791ad0a622be6e7f5690a16b9d6",
            "mac_arm64": "04eede7352aca4b6fc1c111a8b31d00e8aa40547c3cd062ff9be4ffe1ed98d95",
            "win": "22c3429eb1e6051bda46e9c02c14eca1ae3749ba8c411fbd5a3b51e3b9623161",
        },
    ),
}

EMSDK_URL = "https://storage.googleapis.com/webassembly/emscripten-releases-builds/{os}/{revision}/{file}"

DEBIAN_CONFIG = "/usr/share/emscripten/.emscripten"

_HOW_TO = """To get one:
  - Debian/Ubuntu: `apt-get install emscripten node-acorn` (what `make setup` does), or
  - point to an install: set EM_CONFIG (its config file) or EMSDK (an emsdk checkout) before running bazel, or
    `emscripten_local(name = "emscripten", path = "/path/to/emscripten")` in WORKSPACE, or
  - download a pinned release: `emscripten_sdk(name = "emscripten", version = "3.1.14")` in WORKSPACE."""

_LLVM_TOOLS = ["clang", "clang++", "wasm-ld", "llvm-ar", "llvm-nm", "llvm-ranlib", "llvm-objcopy", "llvm-dwarfdump"]
_BINARYEN_TOOLS = [
    "wasm-opt",
    "wasm-emscripten-finalize",
    "wasm-metadce",
    "wasm-ctor-eval",
    "wasm-split",
    "wasm2js",
    "wasm-as",
    "wasm-dis",
]

# Reads an emscripten config file (Python) and prints the settings the toolchain needs as JSON.
_READ_CONFIG = """\
import json, os, sys
config = {}
with open(sys.argv[1]) as f:
    exec(f.read(), config)
node = config.get("NODE_JS")
if isinstance(node, list):
    node = node[0] if node else None
print(json.dumps({k: config.get(k) for k in ("EMSCRIPTEN_ROOT", "LLVM_ROOT", "BINARYEN_ROOT", "LLVM_ADD_VERSION",
                                             "CLANG_ADD_VERSION")} | {"NODE_JS": node}))
"""

_CONFIG = """\
# Generated by @rules_pyodide//toolchains:emscripten_repository.bzl ({origin}).
# Every path is inside this repository, whose location the wrappers in bin/ pass in RULES_PYODIDE_EMSDK_ROOT.
import os

_root = os.environ["RULES_PYODIDE_EMSDK_ROOT"]
EMSCRIPTEN_ROOT = os.path.join(_root, "emscripten")
LLVM_ROOT = os.path.join(_root, "llvm", "bin")
BINARYEN_ROOT = os.path.join(_root, "binaryen")
# Node 20's global fetch makes emscripten's generated loaders take the browser path.
NODE_JS = [os.path.join(_root, "node", "node"), "--no-experimental-fetch"]
CACHE = os.path.join(_root, "emscripten", "cache")
# The cache is read-only and prebuilt (incl. the pic/ libraries that side modules need): never build into it.
FROZEN_CACHE = True
LLVM_ADD_VERSION = {llvm_add_version}
CLANG_ADD_VERSION = {clang_add_version}
"""

_WRAPPER = """\
#!/bin/sh
# Generated by @rules_pyodide//toolchains:emscripten_repository.bzl: runs {script} of this repository's install with
# its config. The python is $EMSDK_PYTHON (set by the build actions), else python3 on PATH.
set -eu
root="$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)"
export RULES_PYODIDE_EMSDK_ROOT="$root"
export EM_CONFIG="$root/config.py"
export EM_CACHE="$root/emscripten/cache"
export EMCC_SKIP_SANITY_CHECK=1
export NODE_PATH="$root/node_modules:$root/emscripten/node_modules"
exec "${{EMSDK_PYTHON:-python3}}" "$root/emscripten/{script}" "$@"
"""

_BUILD = """\
# Generated by @rules_pyodide//toolchains:emscripten_repository.bzl: {origin}, emscripten {version}.

load("@rules_pyodide//toolchains:emscripten_toolchain.bzl", "emscripten_toolchain")

package(default_visibility = ["//visibility:public"])

filegroup(
    name = "files",
    srcs = ["config.py"] + glob(["tree.json"]) + glob(
        ["emscripten/**", "llvm/**", "binaryen/**", "hostlibs/**", "node/**", "node_modules/**"],
        exclude = [
            "emscripten/tests/**",
            "emscripten/test/**",
            "emscripten/docs/**",
            "emscripten/site/**",
            "emscripten/media/**",
            "emscripten/**/__pycache__/**",
            "emscripten/cache/build/**",
            "emscripten/cache/*.lock",
            "emscripten/cache/sysroot/lib/*/lto/**",
            "emscripten/cache/sysroot/lib/*/lto-pic/**",
            "emscripten/node_modules/google-closure-compiler*/**",
            "**/* *",
        ] + {dangling},
    ),
)

emscripten_toolchain(
    name = "emscripten",
    emar = "bin/emar",
    emcc = "bin/emcc",
    emranlib = "bin/emranlib",
    emxx = "bin/em++",
    files = [":files"],
    origin = {origin_repr},
    version = {version_repr},
)

toolchain(
    name = "toolchain",
    toolchain = ":emscripten",
    toolchain_type = "@rules_pyodide//toolchains:emscripten",
)
"""

_BUILD_MISSING = """\
# Generated by @rules_pyodide//toolchains:emscripten_repository.bzl: no usable Emscripten (see `error`).

load("@rules_pyodide//toolchains:emscripten_toolchain.bzl", "emscripten_toolchain")

package(default_visibility = ["//visibility:public"])

emscripten_toolchain(
    name = "emscripten",
    error = {error},
    origin = {origin},
)

toolchain(
    name = "toolchain",
    toolchain = ":emscripten",
    toolchain_type = "@rules_pyodide//toolchains:emscripten",
)
"""

def _write_missing(rctx, origin, error):
    rctx.file("WORKSPACE", "workspace(name = \"{}\")\n".format(rctx.name))
    rctx.file("BUILD.bazel", _BUILD_MISSING.format(error = repr(error), origin = repr(origin)))

def _read_version(rctx, root):
    path = root.get_child("emscripten-version.txt")
    if not path.exists:
        return None
    return rctx.read(path).strip().strip("\"").strip()

def _ldd_libs(rctx, binary):
    """Shared libraries of `binary` that belong to the toolchain (LLVM, clang, binaryen): hashed as inputs."""
    result = rctx.execute(["ldd", str(binary)])
    libs = []
    for line in result.stdout.splitlines():
        parts = line.strip().split(" => ")
        if len(parts) != 2:
            continue
        name = parts[0].strip()
        target = parts[1].split(" (")[0].strip()
        if target.startswith("/") and ("LLVM" in name or "clang" in name or "binaryen" in name):
            libs.append((name, target))
    return libs

# A tree's tools are wrapper scripts that find the tree from their own path (toolchain_tree): the repository runs
# them through its `tree` link with a forwarding script, so no file of the repository names where the tree is.
_FORWARD = """\
#!/bin/sh
# Generated by @rules_pyodide//toolchains:emscripten_repository.bzl: runs {target} of this repository's tree.
exec "$(dirname "$(readlink -f "$0")")/{up}tree/{target}" "$@"
"""

def _dangling_links(rctx, emscripten_root):
    """The links of the emscripten directory that point nowhere, as `emscripten/...` paths.

    Debian's 3.1.69 links compiler-rt sources it does not ship: a glob would list them, and every compile would
    fail on a missing input.
    """
    result = rctx.execute(["find", "-L", ".", "-type", "l"], working_directory = str(emscripten_root))
    if result.return_code != 0:
        fail("find dangling links in {}: {}".format(emscripten_root, result.stderr))
    return sorted(["emscripten/" + line[2:] for line in result.stdout.splitlines() if line.startswith("./")])

def _link_tool(rctx, tree_root, path, dest):
    """Puts a tool into the repository: a symlink, or for a tree's wrapper a forwarding script."""
    if tree_root == None:
        rctx.symlink(path, dest)
        return
    prefix = str(tree_root) + "/"
    target = str(path)
    if not target.startswith(prefix):
        fail("{} is not inside the tree {}".format(target, tree_root))
    rctx.file(dest, _FORWARD.format(target = target[len(prefix):], up = "../" * dest.count("/")), executable = True)

def _generate(rctx, origin, emscripten_root, llvm_root, binaryen_root, node, acorn, add_versions, tree_root = None):
    """Writes the repository (see the module docstring); returns an error message or None."""
    if tree_root != None:
        rctx.symlink(tree_root, "tree")
    version = _read_version(rctx, emscripten_root)
    if version == None:
        return "{}: {} has no emscripten-version.txt: not an emscripten directory.".format(origin, emscripten_root)
    expected = rctx.attr.version
    if expected and version != expected:
        return ("{}: found emscripten {} at {}, but version {} was requested. Install that version, or change " +
                "`version` (the selected Pyodide profile says which versions fit).").format(
            origin,
            version,
            emscripten_root,
            expected,
        )
    if not emscripten_root.get_child("emcc.py").exists:
        return "{}: {}/emcc.py is missing.".format(origin, emscripten_root)
    rctx.symlink(emscripten_root, "emscripten")
    llvm_add, clang_add = add_versions
    hostlibs = {}
    for tool in _LLVM_TOOLS:
        suffix = clang_add if tool.startswith("clang") else llvm_add
        name = tool + ("-" + suffix if suffix else "")
        path = llvm_root.get_child(name)
        if path.exists:
            _link_tool(rctx, tree_root, path, "llvm/bin/" + name)
            for lib, target in _ldd_libs(rctx, path):
                hostlibs[lib] = target
        elif tool in ("clang", "clang++", "wasm-ld", "llvm-ar", "llvm-nm"):
            return "{}: {} is missing (LLVM_ROOT {}).".format(origin, name, llvm_root)
    clang = llvm_root.get_child("clang" + ("-" + clang_add if clang_add else ""))
    resource = rctx.execute([str(clang), "-print-resource-dir"])
    if resource.return_code == 0 and resource.stdout.strip():
        rctx.symlink(resource.stdout.strip(), "llvm/resource")
    for tool in _BINARYEN_TOOLS:
        path = binaryen_root.get_child("bin").get_child(tool)
        if path.exists:
            _link_tool(rctx, tree_root, path, "binaryen/bin/" + tool)
            for lib, target in _ldd_libs(rctx, path):
                hostlibs[lib] = target
    if not binaryen_root.get_child("bin").get_child("wasm-opt").exists:
        return "{}: {}/bin/wasm-opt is missing (BINARYEN_ROOT).".format(origin, binaryen_root)
    for lib, target in sorted(hostlibs.items()):
        rctx.symlink(target, "hostlibs/" + lib)
    if node == None or not rctx.path(node).exists:
        return "{}: node ({}) not found: emscripten needs Node.js (`apt-get install nodejs`).".format(origin, node)
    _link_tool(rctx, tree_root, rctx.path(node), "node/node")
    if acorn != None and rctx.path(acorn).exists:
        rctx.symlink(acorn, "node_modules/acorn")
    rctx.file("config.py", _CONFIG.format(
        origin = origin,
        llvm_add_version = repr(llvm_add) if llvm_add else "None",
        clang_add_version = repr(clang_add) if clang_add else "None",
    ))
    for tool in ("emcc", "em++", "emar", "emranlib"):
        rctx.file("bin/" + tool, _WRAPPER.format(script = tool + ".py"), executable = True)
    rctx.file("WORKSPACE", "workspace(name = \"{}\")\n".format(rctx.name))
    rctx.file("BUILD.bazel", _BUILD.format(
        dangling = repr(_dangling_links(rctx, emscripten_root)),
        origin = origin,
        origin_repr = repr(origin),
        version = version,
        version_repr = repr(version),
    ))
    return None

def _emscripten_tree_impl(rctx):
    tree = rctx.attr.tree
    origin = "toolchain tree {}".format(tree)
    root, manifest, error = find_tree(rctx, tree)
    if error:
        _write_missing(rctx, origin, error)
        return
    error = _generate(
        rctx,
        origin,
        rctx.path("{}/{}".format(root, manifest["emscripten_root"])),
        rctx.path("{}/{}".format(root, manifest["wrappers"])),
        rctx.path("{}/{}".format(root, manifest["wrappers"].rpartition("/")[0])),
        "{}/{}".format(root, manifest["node"]),
        "{}/{}/acorn".format(root, manifest["node_path"]),
        ("", ""),
        tree_root = root,
    )
    if error:
        _write_missing(rctx, origin, error)
        return
    rctx.file("tree.json", json.encode_indent({
        "name": manifest["name"],
        "emscripten_version": manifest["emscripten_version"],
        "tree_digest": manifest["tree_digest"],
    }) + "\n")

emscripten_tree = repository_rule(
    implementation = _emscripten_tree_impl,
    doc = """A pinned Emscripten toolchain tree (toolchains/trees/<tree>.lock.json, built by `make setup` into the
per-user cache) as a toolchain repository. Its manifest must match the lock; its `tree_digest` is an input of every
compile action. A missing or mismatching tree registers a toolchain whose error says how to build it.""",
    attrs = {
        "tree": attr.string(mandatory = True, doc = "The tree's name, e.g. `emscripten-3.1.69`."),
        "version": attr.string(doc = "If set, the emscripten version the tree must have."),
    },
    environ = ["HOME", "XDG_CACHE_HOME", "RULES_PYODIDE_TOOLCHAINS"],
)

def _python(rctx):
    for candidate in ("python3", "python"):
        found = rctx.which(candidate)
        if found:
            return found
    return None

def _read_config(rctx, config):
    python = _python(rctx)
    if python == None:
        return None, "python3 not found on PATH (needed to read {})".format(config)
    result = rctx.execute([python, "-c", _READ_CONFIG, str(config)])
    if result.return_code != 0:
        return None, "cannot read emscripten config {}: {}".format(config, result.stderr.strip())
    return json.decode(result.stdout), None

def _local_candidates(rctx):
    """(origin, config file or None, emscripten root or None): where to look, in order."""
    if rctx.attr.path:
        root = rctx.path(rctx.attr.path)
        config = root.get_child(".emscripten")
        return ("path {}".format(root), config if config.exists else None, root)
    if rctx.os.environ.get("EM_CONFIG"):
        return ("EM_CONFIG={}".format(rctx.os.environ["EM_CONFIG"]), rctx.path(rctx.os.environ["EM_CONFIG"]), None)
    if rctx.os.environ.get("EMSDK"):
        emsdk = rctx.path(rctx.os.environ["EMSDK"])
        return ("EMSDK={}".format(emsdk), emsdk.get_child(".emscripten"), emsdk.get_child("upstream").get_child("emscripten"))
    return ("Debian's emscripten ({})".format(DEBIAN_CONFIG), rctx.path(DEBIAN_CONFIG), None)

def _emscripten_local_impl(rctx):
    origin, config_file, root = _local_candidates(rctx)
    if config_file == None and root == None or (config_file != None and not config_file.exists and root == None):
        _write_missing(rctx, origin, "No Emscripten found ({}: {} does not exist).\n{}".format(
            origin,
            config_file,
            _HOW_TO,
        ))
        return
    settings = {}
    if config_file != None and config_file.exists:
        settings, error = _read_config(rctx, config_file)
        if error:
            _write_missing(rctx, origin, "{}: {}\n{}".format(origin, error, _HOW_TO))
            return
    if root == None:
        root = rctx.path(settings.get("EMSCRIPTEN_ROOT") or str(config_file.dirname))
    if not root.exists:
        _write_missing(rctx, origin, "No Emscripten found ({}: {} does not exist).\n{}".format(origin, root, _HOW_TO))
        return
    llvm_root = rctx.path(settings.get("LLVM_ROOT") or str(root.dirname.get_child("bin")))
    binaryen_root = rctx.path(settings.get("BINARYEN_ROOT") or str(root.dirname))
    node = settings.get("NODE_JS") or rctx.which("node")
    acorn = rctx.attr.acorn or None
    error = _generate(
        rctx,
        origin,
        root,
        llvm_root,
        binaryen_root,
        node,
        acorn,
        (settings.get("LLVM_ADD_VERSION") or "", settings.get("CLANG_ADD_VERSION") or ""),
    )
    if error:
        _write_missing(rctx, origin, error + "\n" + _HOW_TO)

emscripten_local = repository_rule(
    implementation = _emscripten_local_impl,
    doc = """An installed Emscripten as a toolchain repository (register `@<name>//:toolchain`).

Where: `path` (an emscripten directory, e.g. emsdk's `upstream/emscripten`), else `$EM_CONFIG` (a config file),
else `$EMSDK` (an emsdk checkout), else Debian's `/usr/share/emscripten/.emscripten`. The version is read from
`emscripten-version.txt`; the Pyodide profile checks it when a package is compiled.""",
    attrs = {
        "acorn": attr.string(
            default = "/usr/share/nodejs/acorn",
            doc = "The acorn node module emscripten's JS optimizer needs (Debian's node-acorn); linked into " +
                  "`node_modules/`, which the wrappers put on NODE_PATH.",
        ),
        "path": attr.string(doc = "An emscripten directory (holding emcc.py); default: see the rule's doc."),
        "version": attr.string(doc = "If set, the version the install must have; another one is an error."),
    },
    environ = ["EM_CONFIG", "EMSDK"],
    local = True,
)

def _host(rctx):
    name = rctx.os.name.lower()
    if name.startswith("mac"):
        arch = rctx.execute(["uname", "-m"]).stdout.strip()
        return "mac_arm64" if arch == "arm64" else "mac"
    if name.startswith("windows"):
        return "win"
    return "linux"

def _emscripten_sdk_impl(rctx):
    version = rctx.attr.version
    release = EMSDK_RELEASES.get(version)
    revision = rctx.attr.revision or (release.revision if release else "")
    sha256 = dict(release.sha256) if release else {}
    sha256.update(rctx.attr.sha256)
    host = _host(rctx)
    origin = "emsdk release {} ({})".format(version, host)
    if not revision or host not in sha256:
        fail(("emscripten_sdk @{}: no pinned release {} for host {} (known: {}); give `revision` and " +
              "`sha256 = {{\"{}\": ...}}`.").format(rctx.name, version, host, ", ".join(EMSDK_RELEASES), host))
    file = {"win": "wasm-binaries.zip", "mac_arm64": "wasm-binaries-arm64.tbz2"}.get(host, "wasm-binaries.tbz2")
    url = rctx.attr.url.format(os = {"mac_arm64": "mac"}.get(host, host), revision = revision, file = file)
    result = rctx.download_and_extract(
        url,
        output = "sdk",
        sha256 = sha256[host],
        type = "zip" if file.endswith(".zip") else "tar.bz2",
        allow_fail = True,
    )
    if not result.success:
        fail(("emscripten_sdk @{}: cannot download {} (sha256 {}). Without network, put `{}` in the --distdir " +
              "(Bazel finds it by name and sha256), or use emscripten_local.").format(
            rctx.name,
            url,
            sha256[host],
            file,
        ))
    install = rctx.path("sdk/install")
    root = install.get_child("emscripten")
    node = rctx.attr.node or rctx.which("node")
    error = _generate(rctx, origin, root, install.get_child("bin"), install, node, None, ("", ""))
    if error:
        fail("emscripten_sdk @{}: {}".format(rctx.name, error))

emscripten_sdk = repository_rule(
    implementation = _emscripten_sdk_impl,
    doc = """A pinned emsdk release, downloaded by version with a sha256 per host (`EMSDK_RELEASES`), as a toolchain
repository (register `@<name>//:toolchain`). The archive is found by name + sha256 in `--distdir` without network.""",
    attrs = {
        "node": attr.string(doc = "Node.js binary emscripten runs; default: `node` on PATH."),
        "revision": attr.string(doc = "Release revision (emsdk's hash); default: from `EMSDK_RELEASES`."),
        "sha256": attr.string_dict(doc = "sha256 per host (linux, mac, mac_arm64, win), overriding the pinned ones."),
        "url": attr.string(default = EMSDK_URL, doc = "URL template with {os}, {revision} and {file}."),
        "version": attr.string(mandatory = True, doc = "The emscripten version, e.g. `3.1.14`."),
    },
)

def emscripten_trees():
    """Declares `@<tree with _ for - and .>` (emscripten_tree) for every toolchain tree a profile uses.

    Register `@rules_pyodide//toolchains:all` for their toolchains (each serves the profiles that name its tree).
    """
    for tree in profile_trees():
        emscripten_tree(name = tree_repository_name(tree), tree = tree)
