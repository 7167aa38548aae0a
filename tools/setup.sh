#!/usr/bin/env bash
# Installs everything rules_pyodide needs on a fresh Debian 12 or 13 machine, from apt, PyPI and npm only.
# Idempotent: each step is skipped when its stamp matches its inputs, so a second run takes about a second.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
STAMPS="$ROOT/.cache/stamps"
mkdir -p "$STAMPS"

# The same packages on Debian 12 (bookworm) and 13 (trixie): nothing below depends on the host's release.
APT_PACKAGES=(
  bazel-bootstrap bazel-skylib bazel-platforms bazel-rules-java
  # No emscripten and no CPython headers from the host's release (bookworm and trixie differ): the compilers, the
  # file_packager reference and the profiles' headers come from the toolchain trees built below from pinned Debian
  # packages (toolchains/trees/README.md), identical on every host.
  node-acorn nodejs patch
  python3 python3-pip python3-venv  # the interpreter of the rules-pyodide PEX (toolchains/tool.bzl), and its pip
  nginx
  chromium
)

log() { printf '[setup] %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

install_apt() {
  local missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    return
  fi
  log "apt: installing ${missing[*]}"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# Prints a hash of the given files; a step reruns only when this changes.
inputs_hash() {
  cat "$@" | sha256sum | cut -d' ' -f1
}

install_python() {
  local stamp="$STAMPS/venv" want
  want="$(inputs_hash pyproject.toml)"
  if [ -x .venv/bin/python ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    return
  fi
  log "python: creating .venv and installing rules_pyodide[test]"
  python3 -m venv .venv
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test]"
  echo "$want" >"$stamp"
}

install_npm() {
  local stamp="$STAMPS/npm" want
  want="$(inputs_hash js/package.json js/package-lock.json)"
  if [ -d js/node_modules ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    return
  fi
  log "npm: installing Pyodide runtimes and buildifier into js/node_modules"
  (cd js && npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" >"$stamp"
}

# BuildGrid (gRPC remote cache for the remote-cache tests and benchmark) in its own virtualenv, .cache/buildgrid: its
# dependency pins would clash with the project's. Every version is pinned in tools/buildgrid-requirements.txt.
install_buildgrid() {
  local stamp="$STAMPS/buildgrid" want
  want="$(inputs_hash tools/buildgrid-requirements.txt)"
  if [ -x .cache/buildgrid/bin/bgd ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    return
  fi
  log "buildgrid: creating .cache/buildgrid (gRPC remote cache for the tests)"
  rm -rf .cache/buildgrid
  python3 -m venv .cache/buildgrid
  .cache/buildgrid/bin/python -m pip install -q --disable-pip-version-check -r tools/buildgrid-requirements.txt
  echo "$want" >"$stamp"
}

# The wheels of the rules-pyodide tool (tools/tool-requirements.lock) and of pex, which builds it at fetch time
# (toolchains/tool.bzl), into .cache/wheels: only the files for this host's Debian python3, each checked against the
# lock's sha256 (--require-hashes). Downloaded by that interpreter's own pip, so that the lock's python_version markers
# are evaluated for it; the machine's pip configuration is ignored (PyPI only). One download per lock: both pin a pip,
# a setuptools and a wheel (the tool's, and those pex resolves with), which pip refuses in one requirement set.
fetch_tool_wheels() {
  local stamp="$STAMPS/tool-wheels" want
  want="$(inputs_hash tools/tool-requirements.lock tools/pex-requirements.lock; /usr/bin/python3 --version)"
  if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    return
  fi
  log "wheels: downloading the rules-pyodide tool's locked wheels into .cache/wheels"
  mkdir -p .cache/wheels
  local lock
  for lock in tools/tool-requirements.lock tools/pex-requirements.lock; do
    PIP_CONFIG_FILE=/dev/null /usr/bin/python3 -m pip download --isolated --quiet --disable-pip-version-check \
      --index-url https://pypi.org/simple --require-hashes --no-deps --only-binary=:all: -r "$lock" -d .cache/wheels
  done
  echo "$want" >"$stamp"
}

# Recipe sources into .cache/distdir (Bazel's --distdir, see .bazelrc), so that the build runs offline. Files already
# there with the recipe's checksum are kept; only missing ones are downloaded (exactly the file each url names).
fetch_sources() {
  .venv/bin/python -m rules_pyodide.cli fetch --packages packages --distdir .cache/distdir >/dev/null
}

# The pinned Emscripten toolchain trees of toolchains/trees/*.lock.json, built from Debian packages into the per-user
# cache (${XDG_CACHE_HOME:-~/.cache}/rules_pyodide/toolchains). A tree already built for a lock is found by its
# manifest and returned at once; the first build downloads about 650 MB of .debs.
build_toolchain_trees() {
  local locks=() lock
  for lock in toolchains/trees/*.lock.json; do
    locks+=(--lock "$lock")
  done
  .venv/bin/python -m rules_pyodide.cli toolchain-tree build "${locks[@]}" >/dev/null
}

install_apt
install_python
install_npm
install_buildgrid
fetch_tool_wheels
fetch_sources
build_toolchain_trees
log "ready"
