"""tests/integration.py, the runner of the integration tests in `bazel test`, and their list in tests/BUILD.bazel."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from bazel_workspace import ROOT
from integration import MARKERS, declared_inputs, pytest_args, undeclared


def _listed_modules() -> list[str]:
    """The modules of INTEGRATION_TESTS in tests/BUILD.bazel, with repeats."""
    build = (ROOT / "tests" / "BUILD.bazel").read_text()
    table = build[build.index("INTEGRATION_TESTS = {") : build.index("\n}\n")]
    return re.findall(r'"(test_\w+\.py)"', table)


def test_every_module_with_integration_tests_has_one_bazel_test() -> None:
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "-m", MARKERS, "tests"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    marked = {Path(line.split("::")[0]).name for line in collected.splitlines() if "::" in line}
    listed = _listed_modules()
    assert len(marked) >= 10 and "test_reproducible_bazel.py" in marked
    assert sorted(listed) == sorted(marked)  # each once: a module run by two targets would build twice


def test_a_listed_file_that_is_no_input_is_reported(tmp_path: Path) -> None:
    runfiles = tmp_path / "rules_pyodide"
    (runfiles / "rules").mkdir(parents=True)
    (runfiles / "rules" / "defs.bzl").symlink_to(ROOT / "rules" / "defs.bzl")
    declared = declared_inputs(runfiles)
    assert declared == {"rules/defs.bzl"}
    listed = ["rules/defs.bzl", "rules/private/common.bzl", "no/such/deleted_file.py"]
    assert undeclared(listed, declared) == ["rules/private/common.bzl"]  # a deleted file is not copied: no input


def test_pytest_runs_the_marked_tests_of_the_modules(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XML_OUTPUT_FILE", str(tmp_path / "test.xml"))
    args = pytest_args(["tests/test_pack.py"], tmp_path)
    assert args[args.index("-m") + 1] == MARKERS
    assert f"--junitxml={tmp_path / 'test.xml'}" in args and f"--basetemp={tmp_path / 'pytest'}" in args
    assert args[-1] == str(ROOT / "tests" / "test_pack.py")
