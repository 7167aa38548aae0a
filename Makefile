# Two entry points (see README.md): `make demo` and `make test`. Both set the machine up first.
SHELL := /bin/bash
PY := .venv/bin/python
BAZEL := bazel

.PHONY: setup demo test lint unit bazel-test bench clean

setup:
	@tools/setup.sh

demo: setup
	$(PY) -m rules_pyodide.demo

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	js/node_modules/.bin/buildifier -mode=check -lint=warn -r .

unit: setup
	$(PY) -m pytest -q

bazel-test: setup
	$(BAZEL) test //...

test: lint unit bazel-test

bench: setup
	$(PY) -m bench.file_packager_bench

clean:
	-$(BAZEL) clean --expunge
	rm -rf .venv .cache js/node_modules
