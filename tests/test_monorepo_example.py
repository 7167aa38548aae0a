"""examples/monorepo, a separate workspace that uses rules_pyodide as an external repository, built and tested offline.

Two fresh checkouts at different paths, each with its own output base and TMPDIR: the first has the checkout's
`.venv` linked in (as `make setup` leaves a checkout), the second has no `.venv` at all. In each,
`bazel test //...` inside examples/monorepo builds its recipes (six, pure; MarkupSafe, compiled for the profile its
.bazelrc selects), its file_package, pyodide_pack and pyodide_bundle, and runs its tests in real Pyodide (with the
machine's disk cache when `make test` gives one, as a user's CI would: outputs and test results of these exact inputs
may come from it). Then:

- every action ran in Bazel's sandbox (or came from the cache), and none names `.venv`, either checkout or output
  base in its command line, environment or inputs (the JSON execution log lists each spawn's inputs): the actions
  run the rules-pyodide PEX, which is an input of every rules_pyodide action, with the same digest in both;
- every action has the same remote-cache key in both (command line, environment, inputs with digests, outputs):
  deleting `.venv`, or moving the checkout, changes no action key;
- a WORKSPACE that skips a set-up macro, and an unknown profile, each fail with one line saying what to do.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from bazel_workspace import (
    ROOT,
    SANDBOXED_OR_CACHED,
    Workspace,
    action_key,
    copy_workspace,
    machine_disk_cache,
    read_execution_log,
)

pytestmark = [pytest.mark.bazel]

EXAMPLE = "examples/monorepo"
PEX = "external/rules_pyodide_tool/rules-pyodide.pex"
TESTS = ["//:app_test", "//third_party/pyodide:markupsafe_test", "//third_party/pyodide:six_test"]
PROFILE = "0.29.5"  # examples/monorepo/.bazelrc


@dataclass
class Example:
    checkout: Path
    ws: Workspace
    spawns: list[dict[str, Any]]
    output: str  # Bazel's stdout (the test summary) and stderr


def _profile_tree() -> str:
    return str(json.loads((ROOT / "rules_pyodide" / "runtimes.json").read_text())["profiles"][PROFILE]["toolchain"])


def _example(base: Path, relative: str, venv: bool) -> Example:
    checkout = copy_workspace(base / relative, venv=venv)
    os.symlink(ROOT / "js" / "node_modules", checkout / "js" / "node_modules")
    tmpdir = base / "tmp"
    tmpdir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RULES_PYODIDE_")}
    env["TMPDIR"] = str(tmpdir)
    ws = Workspace(checkout / EXAMPLE, base / "output_base", env, machine_disk_cache())
    log = base / "exec.json"
    result = ws.bazel("test", f"--execution_log_json_file={log}", "//...")
    return Example(checkout, ws, read_execution_log(log), result.stdout + result.stderr)


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Example]:
    """The example in a fresh checkout that has the checkout's `.venv` linked in, as `make setup` leaves it."""
    tree = _profile_tree()
    if not (ROOT / "toolchains" / "trees" / f"{tree}.lock.json").is_file():
        pytest.skip(f"toolchain tree {tree} (toolchains/trees/) is not in this checkout: the compiled recipe needs it")
    one = _example(tmp_path_factory.mktemp("monorepo_one"), "rules_pyodide", venv=True)
    try:
        yield one
    finally:
        one.ws.shutdown(expunge=True)


@pytest.fixture(scope="module")
def examples(first: Example, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Example, Example]]:
    """`first`, and the example in another fresh checkout, at another path and depth, with no `.venv` at all."""
    two = _example(tmp_path_factory.mktemp("monorepo_two"), "elsewhere/much/deeper/rules_pyodide", venv=False)
    try:
        yield first, two
    finally:
        two.ws.shutdown(expunge=True)


def _passed(test: str, output: str) -> bool:
    # "(cached) PASSED": the machine's disk cache has this test's result for exactly these inputs.
    return re.search(rf"^{re.escape(test)}\s+(\(cached\) )?PASSED", output, re.MULTILINE) is not None


def test_builds_and_tests_pass_offline(examples: tuple[Example, Example]) -> None:
    for example in examples:
        assert (example.checkout / ".venv").exists() == (example is examples[0])
        for test in TESTS:
            assert _passed(test, example.output), example.output[-3000:]
        mnemonics = {s["mnemonic"] for s in example.spawns}
        wanted = {"PyodideBuild", "PyodideEmccBuild", "PyodideFilePackage", "PyodidePack", "PyodideBundle"}
        assert wanted <= mnemonics, mnemonics
        bundle = example.ws.root / ".bazel" / "bin" / "app_bundle"
        assert {"bundle.js", "bundle.data", "bundle.json"} <= {p.name for p in bundle.iterdir()}


def test_no_action_reads_the_venv_and_every_one_runs_the_pex(examples: tuple[Example, Example]) -> None:
    pex_digests = set()
    for example in examples:
        for spawn in example.spawns:
            assert spawn["runner"] in SANDBOXED_OR_CACHED, f"{spawn['progressMessage']} ran outside the sandbox"
            text = json.dumps([spawn["commandArgs"], spawn["environmentVariables"], spawn["inputs"]])
            assert ".venv" not in text, f"{spawn['progressMessage']} names a .venv"
            for host_path in (example.checkout, example.ws.output_base):
                assert str(host_path) not in text, f"{spawn['progressMessage']} names {host_path}"
            if spawn["mnemonic"].startswith("Pyodide"):
                inputs = {i["path"]: i["digest"]["hash"] for i in spawn["inputs"] if "digest" in i}
                assert PEX in inputs, f"{spawn['progressMessage']}: the rules-pyodide PEX is not an input"
                pex_digests.add(inputs[PEX])
    assert len(pex_digests) == 1, pex_digests


def test_action_keys_ignore_the_venv_and_the_checkout_path(examples: tuple[Example, Example]) -> None:
    one, two = examples

    def keys(example: Example) -> list[tuple[str, str, str]]:
        # Bazel's own test.xml step takes the test's duration as an argument (never cached): left out.
        spawns = [s for s in example.spawns if not s["listedOutputs"][0].endswith("/test.xml")]
        return sorted((s["mnemonic"], s["listedOutputs"][0], action_key(s)) for s in spawns)

    assert len(one.spawns) >= 15
    assert keys(one) == keys(two)


def _workspace_without(example: Example, line: str, tmp_path: Path) -> Workspace:
    root = tmp_path / "user_workspace"
    root.mkdir()
    text = (example.ws.root / "WORKSPACE").read_text()
    assert line in text
    text = text.replace(line, "").replace('path = "../.."', f'path = "{example.checkout}"')
    (root / "WORKSPACE").write_text(text.replace('"../../', f'"{example.checkout}/'))
    (root / "BUILD.bazel").write_text("")
    (root / ".bazelrc").write_text((example.ws.root / ".bazelrc").read_text().replace("../../", f"{example.checkout}/"))
    (root / "third_party" / "pyodide").mkdir(parents=True)
    (root / "third_party" / "pyodide" / "BUILD.bazel").write_text("")
    return Workspace(root, tmp_path / "output_base", example.ws.env, example.ws.disk_cache)


def test_forgotten_macro_is_one_line_saying_what_to_add(first: Example, tmp_path: Path) -> None:
    register = 'rules_pyodide_register_toolchains(node_modules = "../../js/node_modules")'
    ws = _workspace_without(first, register, tmp_path)
    try:
        stderr = ws.fails("query", "//...")
    finally:
        ws.shutdown(expunge=True)
    wanted = (
        "rules_pyodide: add `rules_pyodide_register_toolchains()` (load it from @rules_pyodide//rules:toolchains.bzl) "
        "to WORKSPACE before pyodide_recipes()"
    )
    assert wanted in stderr, stderr[-3000:]


def test_unknown_profile_names_the_known_ones(first: Example) -> None:
    stderr = first.ws.fails("build", "--@rules_pyodide//:pyodide=9.9.9", "//:app_data")
    known = sorted(json.loads((ROOT / "rules_pyodide" / "runtimes.json").read_text())["profiles"])
    wanted = f"Error setting @rules_pyodide//:pyodide: invalid value '9.9.9'. Allowed values are {json.dumps(known)}"
    assert wanted in stderr, stderr[-3000:]


def test_the_dist_archive_works_from_http_archive(first: Example, tmp_path: Path) -> None:
    """README's http_archive lines (from //:dist_archive) in a user workspace, offline: the archive comes from a
    --distdir by base name and sha256, and a pure recipe builds and loads in Pyodide from it."""
    one = first
    rules = Workspace(one.checkout, tmp_path / "rules_output_base", one.ws.env, one.ws.disk_cache)
    distdir = tmp_path / "distdir"
    try:
        rules.bazel("build", "//:dist_archive")
        dist = one.checkout / ".bazel" / "bin" / "dist_archive"
        http_archive = (dist / "http_archive.bzl").read_text()
        archive = next(dist.glob("rules_pyodide-*.tar.gz"))
        lines = (dist / "SHA256SUMS").read_text().splitlines()
        distdir.mkdir()
        (distdir / archive.name).write_bytes(archive.read_bytes())
    finally:
        rules.shutdown(expunge=True)
    sums = {name: digest for digest, name in (line.split("  ", 1) for line in lines)}
    assert f'sha256 = "{sums[archive.name]}"' in http_archive
    for source in (ROOT / ".cache" / "distdir").glob("six-*"):
        os.symlink(source, distdir / source.name)

    root = tmp_path / "user"
    (root / "third_party" / "pyodide" / "six").mkdir(parents=True)
    example = one.ws.root
    workspace = (example / "WORKSPACE").read_text()
    local = 'local_repository(\n    name = "rules_pyodide",\n    path = "../..",\n)\n'
    assert local in workspace
    workspace = workspace.replace(local, http_archive).replace('"../../', f'"{one.checkout}/')
    (root / "WORKSPACE").write_text(
        workspace.replace(f'distdir = "{one.checkout}/.cache/distdir"', f'distdir = "{distdir}"')
    )
    (root / "BUILD.bazel").write_text("")
    bazelrc = (example / ".bazelrc").read_text().replace("../../.cache/distdir", str(distdir))
    (root / ".bazelrc").write_text(bazelrc.replace("build --@rules_pyodide//:pyodide=0.29.5\n", ""))
    shutil.copy(example / "third_party" / "pyodide" / "BUILD.bazel", root / "third_party" / "pyodide" / "BUILD.bazel")
    shutil.copytree(
        example / "third_party" / "pyodide" / "six", root / "third_party" / "pyodide" / "six", dirs_exist_ok=True
    )
    user = Workspace(root, tmp_path / "user_output_base", one.ws.env, one.ws.disk_cache)
    try:
        result = user.bazel("test", "//third_party/pyodide:six_test")
    finally:
        user.shutdown(expunge=True)
    assert _passed("//third_party/pyodide:six_test", result.stdout), result.stdout
