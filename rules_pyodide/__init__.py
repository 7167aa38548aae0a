"""Bazel rules for building Pyodide packages: action scripts and the rules-pyodide CLI."""
