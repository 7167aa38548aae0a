# Two entry points (see README.md): `make demo` and `make test`. Both set the machine up first.
SHELL := /bin/bash
PY := .venv/bin/python
BAZEL := bazel
# The machine-level Bazel disk cache that `make test` and `make demo` share between clones (what CI keeps between
# runs): every output is the same whatever the checkout's path, so a second clone's `bazel test //...` is mostly cache
# hits. Bazel 4 never trims it: delete the directory to reclaim the space. The pytest integration tests use it too
# (tests/bazel_workspace.py), except the cold builds whose point is running every action.
DISK_CACHE := $(HOME)/.cache/rules_pyodide/bazel-disk-cache

.PHONY: setup demo test lint unit bazel-test bench bench-numpy corpus clean

setup:
	@bash tools/setup.sh

demo: setup
	RULES_PYODIDE_DISK_CACHE=$(DISK_CACHE) $(PY) tools/demo.py

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	find . \( -path ./.venv -o -path ./.cache -o -path ./js/node_modules -o -path ./.bazel -o -name 'bazel-*' \) -prune \
	  -o -type f \( -name BUILD -o -name BUILD.bazel -o -name WORKSPACE -o -name '*.BUILD' -o -name '*.bzl' \) -print0 \
	  | xargs -0 -r js/node_modules/.bin/buildifier -mode=check -lint=warn

# The host, in the key of the integration tests' cached results (tests/BUILD.bazel): a disk cache kept across a
# Debian 12 and a Debian 13 boot must not answer for the other one.
HOST := $(shell . /etc/os-release && echo "$$ID-$$VERSION_ID-$$(uname -m)")

# The tests that run neither Bazel nor a Pyodide runtime, on every core; `bazel test //tests/...` runs the others.
unit: setup
	$(PY) -m pytest -q -n auto -m "not bazel and not pyodide"

# Everything else: Bazel tests, and the integration tests (//tests), which build in scratch checkouts with the
# machine's toolchain trees and disk cache. The sandbox lets them write the disk cache and the tool's caches, never the
# toolchain trees (which an action's Python would otherwise fill with __pycache__, failing their digest check).
TOOL_CACHES := $(addprefix $(HOME)/.cache/rules_pyodide/,pex pex_root corpus-distdir)
bazel-test: setup
	mkdir -p $(DISK_CACHE) $(TOOL_CACHES)
	$(BAZEL) test --disk_cache=$(DISK_CACHE) $(addprefix --sandbox_writable_path=,$(DISK_CACHE) $(TOOL_CACHES)) \
	  --test_env=HOME --test_env=RULES_PYODIDE_DISK_CACHE=$(DISK_CACHE) --test_env=RULES_PYODIDE_HOST=$(HOST) //...

test: lint unit bazel-test

bench: setup
	$(PY) -m bench.file_packager_bench
	$(PY) -m bench.remote_cache_bench

# numpy: a cold build of //packages:numpy and the rebuild after editing one patch (~10 minutes on 2 cores).
bench-numpy: setup
	$(PY) -m bench.numpy_build_bench

# Issue 13: build every recipe of a Pyodide recipes directory and import each in that profile's Pyodide, e.g.
#   make corpus RECIPES=/path/to/pyodide-0.21.3/packages PROFILE=0.21.3 [ONLY="six regex"] [JOBS=2] [REPORT=r.md]
# (hours for a whole corpus on 2 cores; the scratch workspace and its output base go to $TMPDIR, see README).
PROFILE ?= 0.21.3
JOBS ?= 2
corpus: setup
	@test -n "$(RECIPES)" || { echo "make corpus: error: give RECIPES=DIR (a recipes directory: DIR/<name>/meta.yaml)" >&2; exit 2; }
	RULES_PYODIDE_DISK_CACHE=$(DISK_CACHE) $(PY) -m rules_pyodide.corpus --recipes "$(RECIPES)" --profile $(PROFILE) \
	  --jobs $(JOBS) $(if $(ONLY),--only $(ONLY)) $(if $(REPORT),--report "$(REPORT)") $(if $(WORK),--work "$(WORK)")

clean:
	-$(BAZEL) clean --expunge
	rm -rf .venv .cache js/node_modules
