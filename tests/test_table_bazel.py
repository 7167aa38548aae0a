"""Adding a profile is one table entry plus its generated directory: every Bazel consumer picks it up.

A copy of the workspace gets a fake profile `9.9.9` (the 0.26.4 runtime, compiled with the 3.1.69 toolchain tree);
nothing else is edited. The flag accepts it, the profile target and its headers exist, the compiled-recipe tests
get a test in its runtime, and under `--//:pyodide=9.9.9` the package directory's index carries that runtime's
`info` and the file packages install into its site-packages.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator

import pytest
from bazel_workspace import ROOT, Workspace, copy_workspace, machine_disk_cache

# It runs Bazel in a copy of the workspace.
pytestmark = [pytest.mark.bazel]


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    base = tmp_path_factory.mktemp("table")
    root = copy_workspace(base / "rules_pyodide")
    table_path = root / "rules_pyodide" / "runtimes.json"
    table = json.loads(table_path.read_text())
    table["profiles"]["9.9.9"] = {
        "runtimes": ["0.26.4"],
        "toolchain": "emscripten-3.1.69",
        "headers": {"tree": "emscripten-3.1.69", "include": "usr/include/python3.13"},
    }
    table_path.write_text(json.dumps(table, indent=2))
    fake = root / "toolchains" / "profiles" / "9.9.9"
    shutil.copytree(ROOT / "toolchains" / "profiles" / "0.29.5", fake)
    profile = json.loads((fake / "profile.json").read_text())
    profile["cflags"].append("-DRULES_PYODIDE_FAKE_PROFILE")
    (fake / "profile.json").write_text(json.dumps(profile))
    workspace = Workspace(root, base / "output_base", dict(os.environ), machine_disk_cache())
    yield workspace
    workspace.shutdown()


def test_the_flag_and_the_profile_target_know_the_new_entry(ws: Workspace) -> None:
    out = ws.bazel("cquery", "--//:pyodide=9.9.9", "//toolchains/profiles:selected", "--output=build").stdout
    assert "//toolchains/profiles:9.9.9" in out
    refused = ws.fails("cquery", "--//:pyodide=9.9.8", "//toolchains/profiles:selected")
    assert "9.9.8" in refused and "9.9.9" in refused  # the flag lists the table's profiles


def test_compiled_recipe_tests_get_one_in_the_new_profiles_runtime(ws: Workspace) -> None:
    out = ws.bazel("query", "attr(runtime_version, 0.26.4, //tests/bazel/compiled:all)").stdout.split()
    assert "//tests/bazel/compiled:markupsafe_0_26_4_test" in out


def aquery(ws: Workspace, mnemonic: str, target: str) -> str:
    """The actions of `target` with `mnemonic` under the fake profile, param files included."""
    query = f"mnemonic('{mnemonic}', {target})"
    out = ws.bazel("aquery", "--//:pyodide=9.9.9", "--include_param_files", query).stdout
    assert f"Mnemonic: {mnemonic}" in out, f"no {mnemonic} action of {target}"
    return out


def test_the_package_directory_and_compile_actions_follow_the_profile(ws: Workspace) -> None:
    dist = aquery(ws, "PyodideDist", "//packages:all")
    assert "emscripten_3_1_58" in dist and "3.12.1" in dist and "2024_0" in dist  # the 0.26.4 runtime's info
    build = aquery(ws, "PyodideEmccBuild", "//packages:markupsafe_build")
    assert "-DRULES_PYODIDE_FAKE_PROFILE" in build and "cp312-cp312-pyodide_2024_0_wasm32" in build
    assert "/lib/python3.12/site-packages" in aquery(ws, "PyodideFilePackage", "//packages:six_files/six")
