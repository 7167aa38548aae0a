"""A recipe's build-requirements.lock in Bazel (rules_pyodide.build_lock), in a fresh copy of the workspace: its
wheels are inputs of that recipe's build action only, so editing the lock re-runs that action (with a new key) and
no other recipe's, and the locked build is deterministic. Small on purpose: two pure recipes' builds (tomlkit,
locked; six, not), no runtime."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from bazel_workspace import action_key, checkout, machine_disk_cache, output_digests

pytestmark = pytest.mark.bazel

TARGETS = ("//packages:tomlkit_build", "//packages:six_build")


def builds(spawns: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The PyodideBuild spawns by recipe directory (from their wheel output, packages/<dir>_build/...)."""
    found = {}
    for spawn in spawns:
        if spawn["mnemonic"] == "PyodideBuild":
            wheel = next(o for o in spawn["listedOutputs"] if o.endswith(".whl"))
            found[wheel.split("/packages/", 1)[1].split("_build/", 1)[0]] = spawn
    return found


def test_editing_a_lock_changes_that_recipes_build_key_only(tmp_path: Path) -> None:
    # The machine's disk cache may serve the builds (its hits are in the execution log too): what is checked is
    # which spawns the edit brings back and under which keys.
    ws = checkout(tmp_path, "ws", disk_cache=machine_disk_cache())
    try:
        first = builds(ws.spawns(*TARGETS))
        assert sorted(first) == ["six", "tomlkit"]
        inputs = {i["path"] for i in first["tomlkit"]["inputs"]}
        assert "packages/tomlkit/build-requirements.lock" in inputs
        assert any(p.endswith("/poetry_core-2.5.0-py3-none-any.whl") for p in inputs), sorted(inputs)
        assert not any(p.endswith((".whl", ".lock")) for p in (i["path"] for i in first["six"]["inputs"]))

        lock = ws.root / "packages" / "tomlkit" / "build-requirements.lock"
        lock.write_text(lock.read_text() + "# edited by test_build_lock_bazel\n")
        second = builds(ws.spawns(*TARGETS))
        # Only tomlkit's build ran again, under another key; six's (same key) was not re-run.
        assert sorted(second) == ["tomlkit"]
        assert action_key(second["tomlkit"]) != action_key(first["tomlkit"])
        # The two runs built in fresh isolated environments: the same wheel, bit for bit.
        wheel = "bazel-out/k8-fastbuild/bin/packages/tomlkit_build/tomlkit-0.13.2-py3-none-any.whl"
        assert output_digests([first["tomlkit"]])[wheel] == output_digests([second["tomlkit"]])[wheel]
    finally:
        ws.shutdown()
