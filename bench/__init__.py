"""Benchmarks that compare rules_pyodide against the reference tools, printing ratios."""
