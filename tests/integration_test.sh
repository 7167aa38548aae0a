#!/usr/bin/env bash
# `bazel test //tests:<name>` (tests/BUILD.bazel): this file is a link into the checkout, whose .venv runs the tests.
set -euo pipefail
checkout=$(dirname "$(dirname "$(readlink -f "$0")")")
export PYTHONDONTWRITEBYTECODE=1
exec "$checkout/.venv/bin/python" "$checkout/tests/integration.py" "$@"
