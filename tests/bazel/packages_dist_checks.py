"""Checks a profile's package directory (//packages:dist_<profile>): index files against the files shipped.

    packages_dist_checks.py DIST_DIR PROFILE

Run by `bazel test //tests/bazel:packages_dist_<profile>_test`; the working directory is the runfiles root of the
workspace. pyodide-lock.json is validated with the `pyodide-lock` library (the format's own model), and every index
carries the `info` of the profile's runtime (rules_pyodide/runtimes.json). Loading the packages in real Pyodide is
dist_index_checks.py's job; here every byte the index promises is checked.
"""

import base64
import csv
import hashlib
import io
import json
import sys
import tarfile
import unittest
import zipfile
from pathlib import Path
from typing import Any

from pyodide_lock import PyodideLockSpec

from rules_pyodide.runtimes import load_table

DIST = Path(sys.argv[1]) if len(sys.argv) > 2 else Path("packages/dist")
PROFILE = load_table().profiles[sys.argv[2] if len(sys.argv) > 2 else load_table().default_profile]
RUNTIME = load_table().runtimes[PROFILE.runtimes[0]]
INDEXES = ("packages.json", "repodata.json", "pyodide-lock.json")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load(name: str) -> dict[str, Any]:
    value = json.loads((DIST / name).read_text(encoding="utf-8"))
    assert isinstance(value, dict)
    return value


PYTHON_TAG = "cp" + RUNTIME.python.replace(".", "")
PROFILE_WHEEL_TAG = f"-{PYTHON_TAG}-{PYTHON_TAG}-{RUNTIME.wheel_platform}.whl"


class PackagesDistTest(unittest.TestCase):
    def test_pyodide_lock_is_valid_for_the_pyodide_lock_library(self) -> None:
        lock = PyodideLockSpec.from_json(DIST / "pyodide-lock.json")
        lock.check_wheel_filenames()
        self.assertEqual(lock.info.version, RUNTIME.version)
        self.assertEqual(lock.info.python, RUNTIME.python_version)
        self.assertEqual(lock.info.platform, RUNTIME.platform)
        self.assertEqual(getattr(lock.info, "abi_version", None) or "", RUNTIME.abi_version)
        for fmt in INDEXES:
            info = load(fmt)["info"]
            with self.subTest(fmt=fmt):
                self.assertEqual(
                    (info["platform"], info.get("python", RUNTIME.python_version)),
                    (RUNTIME.platform, RUNTIME.python_version),
                )
        self.assertGreaterEqual(len([p for p in lock.packages.values() if p.file_name.endswith(".whl")]), 8)

    def test_every_index_lists_the_same_packages_with_the_right_sha256(self) -> None:
        names = {fmt: {p["name"] for p in load(fmt)["packages"].values()} for fmt in INDEXES}
        self.assertEqual(names["packages.json"], names["repodata.json"])
        self.assertEqual(names["repodata.json"], names["pyodide-lock.json"])
        for fmt in ("repodata.json", "pyodide-lock.json"):
            for entry in load(fmt)["packages"].values():
                with self.subTest(fmt=fmt, package=entry["name"]):
                    # Shared-library recipes install into the runtime's library directory, everything else into
                    # site-packages.
                    shared = entry.get("shared_library") or entry.get("package_type") == "shared_library"
                    self.assertEqual(entry["install_dir"], "dynlib" if shared else "site")
                    self.assertEqual(sha256(DIST / entry["file_name"]), entry["sha256"])

    def test_shipped_files_are_exactly_the_indexed_ones_plus_file_packages(self) -> None:
        packages = load("repodata.json")["packages"]
        indexed = {p["file_name"] for p in packages.values()}
        keys = [key for key in packages if not key.endswith("-tests")]
        file_packages = {f"{key}{ext}" for key in keys for ext in (".data", ".js")}
        shipped = {p.name for p in DIST.iterdir()} - set(INDEXES)
        self.assertEqual(shipped, indexed | file_packages)

    def test_wheels_are_tagged_by_content_with_a_valid_record(self) -> None:
        for wheel in sorted(DIST.glob("*.whl")):
            with self.subTest(wheel=wheel.name), zipfile.ZipFile(wheel) as zf:
                # A wheel with extension modules fits only the profile's runtimes: it carries their tag.
                compiled = any(n.endswith(".so") for n in zf.namelist())
                self.assertTrue(wheel.name.endswith(PROFILE_WHEEL_TAG if compiled else "-py3-none-any.whl"))
                record_name = next(n for n in zf.namelist() if n.endswith(".dist-info/RECORD"))
                self.assertEqual(zf.namelist()[-1], record_name)
                for name, digest, size in csv.reader(io.StringIO(zf.read(record_name).decode())):
                    if name == record_name:
                        continue
                    data = zf.read(name)
                    expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
                    self.assertEqual((digest, int(size)), (f"sha256={expected}", len(data)), name)
                self.assertFalse([n for n in zf.namelist() if "/tests/" in n or n.startswith("tests/")])

    def test_unvendored_tests_and_dependency_chain(self) -> None:
        packages = load("repodata.json")["packages"]
        self.assertTrue(packages["toolz"]["unvendored_tests"])
        self.assertEqual(packages["toolz-tests"]["depends"], ["toolz"])
        with tarfile.open(DIST / packages["toolz-tests"]["file_name"]) as tar:
            names = tar.getnames()
        self.assertIn("toolz/tests/test_functoolz.py", names)
        self.assertFalse([n for n in names if n.startswith(("/", "..", "./"))])
        self.assertIn("python-dateutil", packages["arrow"]["depends"])
        self.assertEqual(packages["python-dateutil"]["depends"], ["six"])


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1])
