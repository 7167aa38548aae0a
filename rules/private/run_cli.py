"""Entry point of the `//rules_pyodide:cli` py_binary: `rules-pyodide SUBCOMMAND ...`, exactly as `python -m` runs it.

Actions pass one argument, `@PARAMFILE` (multiline: the subcommand, then its flags), which the CLI expands.
"""

import runpy

if __name__ == "__main__":
    runpy.run_module("rules_pyodide.cli", run_name="__main__", alter_sys=True)
