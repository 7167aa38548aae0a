"""Offline stand-in for rules_python's `python/defs.bzl`: re-exports Bazel 4.2.3's native Python rules.

BUILD files load the rules from `@rules_python//python:defs.bzl`, the spelling the real rules_python uses, so that
switching to it later only changes WORKSPACE.
"""

# buildifier: disable=native-py
py_binary = native.py_binary

# buildifier: disable=native-py
py_library = native.py_library

# buildifier: disable=native-py
py_runtime = native.py_runtime

# buildifier: disable=native-py
py_test = native.py_test
