"""A tiny package for the pyodide_pack example."""

GREETING = "hello from mytool"
