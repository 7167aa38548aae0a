"""Unit tests of rules_pyodide.errors: the one error type and the one way a command reports it."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import rules_pyodide
from rules_pyodide import errors


def test_run_command_reports_library_errors_and_passes_statuses_through(capsys: pytest.CaptureFixture[str]) -> None:
    def fails() -> None:
        raise errors.RulesPyodideError("packages/x/meta.yaml: build.cflgs: unknown key")

    assert errors.run_command("rules-pyodide t", fails) == 1
    assert capsys.readouterr().err == "rules-pyodide t: error: packages/x/meta.yaml: build.cflgs: unknown key\n"
    assert errors.run_command("rules-pyodide t", lambda: 3) == 3
    assert errors.run_command("rules-pyodide t", lambda: None) == 0
    assert errors.run_command("rules-pyodide t", fails, context="meta.yaml") == 1
    assert capsys.readouterr().err.startswith("rules-pyodide t: error: meta.yaml: packages/x/meta.yaml: ")

    def unreadable() -> None:
        Path("/nonexistent/rules-pyodide-test").read_text()

    assert errors.run_command("rules-pyodide t", unreadable) == 1
    assert (
        capsys.readouterr().err
        == "rules-pyodide t: error: /nonexistent/rules-pyodide-test: No such file or directory\n"
    )

    def bug() -> None:
        raise KeyError("not an input error")

    with pytest.raises(KeyError):  # a bug is not reported as bad input: its traceback is wanted
        errors.run_command("rules-pyodide t", bug)
    assert errors.run_command("rules-pyodide t", bug, reported=(KeyError,)) == 1


def test_every_error_class_is_a_rules_pyodide_error() -> None:
    # tool_pex runs as a plain script with the standard library only (a repository rule): it cannot import ours.
    exempt = {"rules_pyodide.tool_pex.ToolError"}
    found = []
    for info in pkgutil.iter_modules(rules_pyodide.__path__):
        module = importlib.import_module(f"rules_pyodide.{info.name}")
        for name, value in vars(module).items():
            if inspect.isclass(value) and value.__module__ == module.__name__ and name.endswith("Error"):
                found.append(f"{module.__name__}.{name}")
                if found[-1] not in exempt:
                    assert issubclass(value, errors.RulesPyodideError), found[-1]
    assert len(found) >= 20
