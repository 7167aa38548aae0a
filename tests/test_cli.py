"""Unit tests of the `rules-pyodide` dispatcher (rules_pyodide.cli) and of the one way every subcommand reports bad
input (rules_pyodide.errors)."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from rules_pyodide import cli, errors

REPO = Path(__file__).resolve().parent.parent
PEOPLE_RUN = ("run", "mkpkg", "fetch", "pack", "bundle", "release", "file-packager", "serve")
# How the rules' Starlark names the subcommand of an action: args.add("X"), add_all(["X", ...]), tool_args(ctx, "X").
_ACTION_COMMAND = re.compile(r'(?:args\.add\(|add_all\(\[|tool_args\(ctx, )"([a-z][a-z-]*)"')


def _groups(text: str) -> dict[str, list[str]]:
    """The --help text's groups: title -> command names."""
    groups: dict[str, list[str]] = {}
    for block in text.split("\n\n")[1:]:
        title, *rows = block.splitlines()
        groups[title.rstrip(":")] = [row.split()[0] for row in rows]
    return groups


def test_help_lists_the_commands_people_run_apart_from_those_of_bazel_actions(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["--help"]) == 0
    groups = _groups(capsys.readouterr().out)
    assert list(groups) == ["commands", "used by Bazel actions"]
    assert set(PEOPLE_RUN) <= set(groups["commands"])
    assert groups["used by Bazel actions"] == [
        "dist",
        "dist-archive",
        "emcc-build",
        "patch",
        "pure-build",
        "unpack",
        "wheel-source",
    ]
    assert sorted(groups["commands"] + groups["used by Bazel actions"]) == sorted(cli.SUBCOMMANDS)
    assert all(names == sorted(names) for names in groups.values())


def test_the_bazel_group_is_what_the_rules_actions_run() -> None:
    run_by_actions = set()
    for bzl in (REPO / "rules" / "private").glob("*.bzl"):
        run_by_actions |= set(_ACTION_COMMAND.findall(bzl.read_text(encoding="utf-8")))
    assert run_by_actions - {"file", "dir", "env", "index", "assemble"} <= set(cli.SUBCOMMANDS)  # pack/release modes
    assert set(cli.ACTION_COMMANDS) <= run_by_actions  # nothing there that no action runs


def test_every_subcommand_has_a_main(capsys: pytest.CaptureFixture[str]) -> None:
    for name, (module, _) in cli.SUBCOMMANDS.items():
        assert callable(importlib.import_module(module).main), name


def test_an_unknown_or_missing_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: rules-pyodide COMMAND") and err.endswith(
        "rules-pyodide: error: unknown command 'nope'\n"
    )
    assert cli.main([]) == 2
    assert capsys.readouterr().err.endswith("rules-pyodide: error: no command given\n")


# (command, arguments naming MISSING, a path that does not exist, and OUT) for commands that can run here without a
# network or Node.
BAD_INPUTS = [
    ("unpack", ["--archive", "MISSING", "--output", "OUT"]),
    ("patch", ["--source", "MISSING", "--output", "OUT"]),
    (
        "dist",
        ["--output", "OUT", "--platform", "p", "--pyodide-version", "0", "--python", "3", "--fragment", "MISSING"],
    ),
    ("index", ["fragment", "--name", "a", "--version", "1", "--file", "MISSING", "--output", "OUT"]),
    ("file-packager", ["OUT", "--preload", "MISSING"]),
    ("pack", ["dir", "MISSING", "--name", "p", "--output", "OUT"]),
    ("fetch", ["--packages", "MISSING", "--distdir", "OUT", "zzz"]),
    ("dist-archive", ["--output", "OUT", "--pyproject", "MISSING", "--pex", "MISSING"]),
    ("toolchain-tree", ["verify", "--tree", "MISSING", "--lock", "MISSING"]),
    ("serve", ["MISSING"]),
    ("run", ["--dist", "MISSING", "--pyodide", "0.21.3", "-c", "pass"]),
]


@pytest.mark.parametrize(("command", "args"), BAD_INPUTS, ids=[c for c, _ in BAD_INPUTS])
def test_bad_input_is_one_error_line_naming_it_and_exit_status_1(
    command: str, args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = {"MISSING": str(tmp_path / "missing"), "OUT": str(tmp_path / "out")}
    assert cli.main([command, *(paths.get(a, a) for a in args)]) == errors.EXIT_ERROR == 1
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"rules-pyodide {command}: error: "), captured.err
    assert "missing" in lines[0]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_malformed_command_line_is_argparses_with_the_same_error_prefix(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["unpack", "--archive", "a.tar"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "rules-pyodide unpack: error: the following arguments are required: --output"
    )
