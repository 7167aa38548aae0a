"""A profile's package directory as a runtime's own indexURL: every package loads and imports in that runtime.

    dist_index_checks.py DIST_DIR RUNTIME_PACKAGE_JSON RUN_IN_PYODIDE_JS

Not merged into the runtime's index (that is what `rules-pyodide run` does): the runtime gets a directory holding its
own files (wasm, JS, standard library) and the dist's files with the dist's own index file of the runtime's format,
and `pyodide.loadPackage` must resolve every package of the dist and its dependencies from that index alone. Each
package's `imports` must then import from the runtime's site-packages (shared libraries: load only).
"""

import json
import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

from rules_pyodide.runtimes import load_table

DIST, PACKAGE_JSON, RUNNER = (Path(a) for a in sys.argv[1:4])
RUNTIME_DIR = PACKAGE_JSON.parent
VERSION = json.loads(PACKAGE_JSON.read_text())["version"]
RUNTIME = load_table().runtimes[VERSION]
INDEX_FILES = ("packages.json", "repodata.json", "pyodide-lock.json")

CODE = """
import importlib, json
results = {}
for name, modules in IMPORTS.items():
    where = []
    for module in modules:
        m = importlib.import_module(module)
        where.append(getattr(m, "__file__", None) or next(iter(getattr(m, "__path__", [])), ""))
    results[name] = where
json.dumps(results)
"""


def index_url_dir(into: Path) -> None:
    """The runtime's files, then the dist's (its index file replaces the runtime's)."""
    for source in (RUNTIME_DIR, DIST):
        for entry in sorted(source.iterdir()):
            if source == RUNTIME_DIR and entry.name in INDEX_FILES:
                continue
            target = into / entry.name
            if target.exists() or target.is_symlink():
                target.unlink()
            os.symlink(entry.resolve(), target)


class DistAsIndexUrlTest(unittest.TestCase):
    def test_every_package_loads_from_the_dist_index_alone(self) -> None:
        index = json.loads((DIST / RUNTIME.index_format).read_text())
        info = index["info"]
        self.assertEqual((info["platform"], info["python"]), (RUNTIME.platform, RUNTIME.python_version))
        self.assertEqual(info.get("abi_version", ""), RUNTIME.abi_version)
        packages = {k: p for k, p in index["packages"].items() if not k.endswith("-tests")}
        self.assertGreaterEqual(len(packages), 10)
        imports = {
            p["name"]: list(p.get("imports", []))
            for p in packages.values()
            if not (p.get("shared_library") or p.get("package_type") == "shared_library")
        }
        with tempfile.TemporaryDirectory() as tmp:
            index_url_dir(Path(tmp))
            command = ["node", str(RUNNER), "--pyodide", str(RUNTIME_DIR), "--index-dir", tmp]
            for name in sorted(p["name"] for p in packages.values()):
                command += ["--load-package", name]
            command += ["--code", f"IMPORTS = {imports!r}\n{CODE}"]
            result = subprocess.run(command, capture_output=True, text=True, check=False)
        report = json.loads(result.stdout.strip().splitlines()[-1])
        self.assertTrue(report["ok"], f"{report.get('error')}\n{result.stderr[-3000:]}")
        loaded = {name.lower() for name in report["loadedPackages"]}
        self.assertEqual({p["name"].lower() for p in packages.values()} - loaded, set())
        for name, where in json.loads(report["result"]).items():
            for path in where:
                self.assertTrue(path.startswith(RUNTIME.site_packages + "/"), f"{name}: {path}")


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1])
