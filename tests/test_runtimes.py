"""The one table of runtimes and profiles (rules_pyodide/runtimes.json, rules_pyodide.runtimes)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from rules_pyodide import runtimes
from rules_pyodide.runtimes import TableError, load_table, parse_table


def table_data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(runtimes.TABLE.read_text(encoding="utf-8"))
    return data


def test_table_matches_the_installed_runtimes() -> None:
    # The runtimes' facts are generated from each installed runtime's own index; a hand edit or a new runtime in
    # js/package.json without `--update` fails here.
    assert runtimes.main(["--check"]) == 0
    assert list(load_table().runtimes) == runtimes.installed_versions()


def test_facts_of_a_runtime_come_from_its_own_index() -> None:
    facts = runtimes.runtime_facts(runtimes.NODE_MODULES / "pyodide-0.29.5")
    assert facts == {
        "python_version": "3.13.2",
        "platform": "emscripten_4_0_9",
        "abi_version": "2025_0",
        "index_format": "pyodide-lock.json",
        "wheel_platform": "pyemscripten_2025_0_wasm32",  # the tag most of its own wheels carry (3 still say pyodide_)
        "emscripten": "4.0.9",
    }
    assert runtimes.runtime_facts(runtimes.NODE_MODULES / "pyodide-0.21.3")["index_format"] == "repodata.json"


def test_every_profile_names_known_runtimes_and_its_generated_directory_exists() -> None:
    table = load_table()
    root = runtimes.ROOT / "toolchains" / "profiles"
    for name, profile in table.profiles.items():
        assert (root / name / "profile.json").is_file(), name
        assert (root / name / "sysconfig.json").is_file(), name
        assert table.runtime_of_profile(name).version == profile.runtimes[0]
    assert table.runtimes["0.21.3"].site_packages == "/lib/python3.10/site-packages"
    assert table.profiles["0.29.5"].runtimes == ("0.29.5", "0.28.3")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["profiles"]["0.29.5"].update(runtimes=["0.99.0"]), "profiles.0.29.5.runtimes: ['0.99.0']"),
        (lambda d: d["profiles"]["0.29.5"].update(runtimes=[]), "profiles.0.29.5.runtimes: empty"),
        (lambda d: d.update(default_profile="1.0"), "default_profile: 1.0 is not a profile"),
        (lambda d: d["runtimes"]["0.21.3"].pop("platform"), "missing or malformed key 'platform'"),
    ],
)
def test_a_malformed_table_names_the_key(edit: Any, message: str) -> None:
    data = copy.deepcopy(table_data())
    edit(data)
    with pytest.raises(TableError, match=f"runtimes.json: .*{message[:20]}"):
        parse_table(data, "runtimes.json")
    with pytest.raises(TableError) as err:
        parse_table(data, "runtimes.json")
    assert message in str(err.value)


def test_wheel_platform_needs_a_compiled_wheel(tmp_path: Path) -> None:
    runtime = tmp_path / "pyodide-1.0.0"
    runtime.mkdir()
    index = {
        "info": {"platform": "emscripten_9_9_9", "python": "3.99.0"},
        "packages": {"six": {"file_name": "six-1.0-py3-none-any.whl"}},
    }
    (runtime / "pyodide-lock.json").write_text(json.dumps(index))
    with pytest.raises(TableError, match="lists no compiled wheel"):
        runtimes.runtime_facts(runtime)
