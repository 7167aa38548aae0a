#!/usr/bin/env bash
# Debian 13 check (not part of CI): proves that the project sets itself up and builds the same bytes on a Debian 13
# (trixie) machine, from a Debian 12 (or 13) host, as root:
#
#   sudo bash tools/debian13_check.sh [--root DIR] [--repo PATH] [--profiles "0.21.3 0.23.4 0.29.5"] [--no-build]
#                                     [--demo] [--test] [--umount]
#
# 1. Creates a trixie tree with `debootstrap --variant=minbase trixie DIR` (DIR outside the repository; default
#    /work/d13-root; reused when it already holds a Debian 13 userland), mounts /proc, /dev (bind), /dev/pts and
#    /sys in it and copies /etc/resolv.conf. A policy-rc.d refuses to start services (nginx would otherwise start
#    inside the chroot on the host's port 80).
# 2. Installs only what a fresh machine of this kind has before our set-up: git ca-certificates python3 python3-venv
#    python3-pip make curl xz-utils nodejs npm procps (Debian 13's python3 is 3.13; the machine kind ships its own),
#    and the host's local CA certificates (/usr/local/share/ca-certificates: the egress proxy's).
# 3. Clones the repository (default: this checkout, at its HEAD) into /root/rules_pyodide inside the chroot (a fresh
#    clone by the host's git, or the earlier run's clone moved to this commit) and runs the README set-up there, `bash tools/setup.sh`: the toolchain trees are downloaded and
#    built again into the chroot's ~/.cache/rules_pyodide/toolchains (~1 GB, a few minutes) and must come out with
#    the tree_digest of their locks (the set-up refuses a tree that does not).
# 4. For every profile (default: all of rules_pyodide/runtimes.json), `bazel build //:release --//:pyodide=<p>`
#    inside the chroot, saving .bazel/bin/packages/release/SHA256SUMS (and provenance.json) to $RESULTS/d13/SHA256SUMS.<p> (RESULTS defaults to
#    /tmp/d13-results). Compare with the same build on the host in a fresh clone of the same commit:
#        git clone REPO /tmp/d12-clone && cd /tmp/d12-clone && bash tools/setup.sh &&
#        bazel build //:release --//:pyodide=<p> && diff .bazel/bin/packages/release/SHA256SUMS $RESULTS/d13/SHA256SUMS.<p>
#    Every line must be equal.
# 5. `--demo` runs `make demo` inside the chroot, `--test` runs `make test` (logs under $RESULTS/d13/).
# Heavy steps run under `nice -n 10`. `--umount` only unmounts (reverse order) and exits; the mounts are also removed
# when the script ends. Never `rm -rf` the tree while anything is mounted in it (`findmnt -R DIR` shows).
set -euo pipefail

ROOT_DIR=/work/d13-root
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PROFILES=""
RESULTS="${RESULTS:-/tmp/d13-results}"
DO_BUILD=1 DO_DEMO=0 DO_TEST=0 ONLY_UMOUNT=0
while [ $# -gt 0 ]; do
  case "$1" in
    --root) ROOT_DIR="$2"; shift 2 ;;
    --repo) REPO="$2"; shift 2 ;;
    --profiles) PROFILES="$2"; shift 2 ;;
    --no-build) DO_BUILD=0; shift ;;
    --demo) DO_DEMO=1; shift ;;
    --test) DO_TEST=1; shift ;;
    --umount) ONLY_UMOUNT=1; shift ;;
    -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
    *) echo "debian13_check: unknown argument $1" >&2; exit 2 ;;
  esac
done
ROOT_DIR="$(realpath -m "$ROOT_DIR")"
case "$ROOT_DIR/" in "$REPO"/*) echo "debian13_check: $ROOT_DIR is inside the repository" >&2; exit 2 ;; esac
[ "$(id -u)" = 0 ] || { echo "debian13_check: needs root (debootstrap, mount, chroot)" >&2; exit 2; }

log() { printf '[debian13_check %s] %s\n' "$(date +%T)" "$*" >&2; }

MOUNTS=(proc dev dev/pts sys)
umount_all() {
  local i m
  for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
    m="$ROOT_DIR/${MOUNTS[$i]}"
    if mountpoint -q "$m"; then umount "$m" || umount -l "$m"; fi
  done
}
if [ "$ONLY_UMOUNT" = 1 ]; then umount_all; exit 0; fi

if [ ! -f "$ROOT_DIR/etc/debian_version" ] || [ ! -x "$ROOT_DIR/usr/bin/apt-get" ]; then
  log "debootstrap --variant=minbase trixie $ROOT_DIR (about a minute)"
  mkdir -p "$ROOT_DIR"
  nice -n 10 debootstrap --variant=minbase trixie "$ROOT_DIR"
fi
grep -q '^13' "$ROOT_DIR/etc/debian_version" || { echo "debian13_check: $ROOT_DIR is not Debian 13" >&2; exit 1; }

in_chroot() { chroot "$ROOT_DIR" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin /bin/bash -c "$1"; }

cleanup() {
  # A Bazel server left running in the chroot would keep its mounts busy.
  [ -d "$ROOT_DIR/root/rules_pyodide" ] && in_chroot 'cd /root/rules_pyodide && bazel shutdown 2>/dev/null' || true
  umount_all
}
trap cleanup EXIT
mountpoint -q "$ROOT_DIR/proc" || mount -t proc proc "$ROOT_DIR/proc"
mountpoint -q "$ROOT_DIR/dev" || mount --bind /dev "$ROOT_DIR/dev"
mountpoint -q "$ROOT_DIR/dev/pts" || mount -t devpts devpts "$ROOT_DIR/dev/pts"
mountpoint -q "$ROOT_DIR/sys" || mount -t sysfs sysfs "$ROOT_DIR/sys"
cp /etc/resolv.conf "$ROOT_DIR/etc/resolv.conf"
printf '#!/bin/sh\nexit 101\n' >"$ROOT_DIR/usr/sbin/policy-rc.d"
chmod 755 "$ROOT_DIR/usr/sbin/policy-rc.d"


BASE=(git ca-certificates python3 python3-venv python3-pip make curl xz-utils nodejs npm procps)
log "apt inside the chroot: ${BASE[*]}"
in_chroot "dpkg-query -W -f='\${Status}\n' ${BASE[*]} 2>/dev/null | grep -c 'install ok installed' | grep -qx ${#BASE[@]} ||
  { apt-get update -q && DEBIAN_FRONTEND=noninteractive nice -n 10 apt-get install -y -q ${BASE[*]}; }"
# Machines of this kind reach PyPI and npm through an egress proxy whose CA certificates the host trusts
# (/usr/local/share/ca-certificates): a fresh machine has them too, so the chroot trusts the same ones.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  mkdir -p "$ROOT_DIR/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$ROOT_DIR/usr/local/share/ca-certificates/"
  in_chroot 'update-ca-certificates >/dev/null'
fi
in_chroot 'cat /etc/debian_version; python3 --version; node --version; npm --version' >&2

COMMIT="$(git -C "$REPO" rev-parse HEAD)"
log "cloning $REPO at $COMMIT into /root/rules_pyodide"
# Cloned by the host's git: a worktree's .git names its main repository by an absolute host path the chroot lacks.
# A clone from an earlier run is moved to the commit instead (its .venv and Bazel output base are kept).
CLONE="$ROOT_DIR/root/rules_pyodide"
if [ -d "$CLONE/.git" ] && [ -z "$(git -C "$CLONE" status --porcelain --untracked-files=no)" ]; then
  git -C "$CLONE" fetch -q "$REPO" "$COMMIT" && git -C "$CLONE" checkout -q "$COMMIT"
else
  rm -rf "$CLONE"
  git clone -q --no-hardlinks "$REPO" "$CLONE"
  git -C "$CLONE" checkout -q "$COMMIT"
fi

OUT="$RESULTS/d13"
mkdir -p "$OUT"
log "bash tools/setup.sh inside the chroot (log: $OUT/setup.log)"
in_chroot "cd /root/rules_pyodide && time nice -n 10 bash tools/setup.sh" 2>&1 | tee "$OUT/setup.log" >&2
in_chroot 'cd /root/rules_pyodide && for l in toolchains/trees/*.lock.json; do
  n=$(basename $l .lock.json); d=$(ls -d ~/.cache/rules_pyodide/toolchains/$n-* | head -1)
  echo "$n lock=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[\"tree_digest\"])" $l)" \
       "tree=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[\"tree_digest\"])" $d/TREE.json)"
  .venv/bin/python -m rules_pyodide.cli toolchain-tree verify --tree $d --lock $l; done' 2>&1 | tee "$OUT/trees.txt" >&2

if [ "$DO_BUILD" = 1 ]; then
  [ -n "$PROFILES" ] || PROFILES="$(python3 -c 'import json,sys; print(" ".join(json.load(open(sys.argv[1]))["profiles"]))' \
    "$REPO/rules_pyodide/runtimes.json")"
  for p in $PROFILES; do
    log "bazel build //:release --//:pyodide=$p inside the chroot"
    in_chroot "cd /root/rules_pyodide && time nice -n 10 bazel build //:release --//:pyodide=$p" 2>&1 |
      tee "$OUT/build.$p.log" >&2
    # .bazel/bin is an absolute link inside the chroot: read it there.
    in_chroot "cat /root/rules_pyodide/.bazel/bin/packages/release/SHA256SUMS" >"$OUT/SHA256SUMS.$p"
    in_chroot "cat /root/rules_pyodide/.bazel/bin/packages/release/provenance.json" >"$OUT/provenance.$p.json"
    log "saved $OUT/SHA256SUMS.$p ($(wc -l <"$OUT/SHA256SUMS.$p") files)"
  done
fi
if [ "$DO_DEMO" = 1 ]; then
  log "make demo inside the chroot (log: $OUT/demo.log)"
  in_chroot "cd /root/rules_pyodide && time nice -n 10 make demo" 2>&1 | tee "$OUT/demo.log" >&2
fi
if [ "$DO_TEST" = 1 ]; then
  log "make test inside the chroot (log: $OUT/test.log)"
  in_chroot "cd /root/rules_pyodide && time nice -n 10 make test" 2>&1 | tee "$OUT/test.log" >&2
fi
log "done"
