"""Entry point of the `//rules_pyodide:file_packager` py_binary: runs the module exactly as `python -m` does."""

import runpy

if __name__ == "__main__":
    runpy.run_module("rules_pyodide.file_packager", run_name="__main__", alter_sys=True)
