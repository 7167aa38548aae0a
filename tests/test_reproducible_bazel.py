"""Reproducibility and hermeticity of the build: `//packages:core_release` built twice, once from scratch.

The two builds differ in everything that must not matter: checkout directory (and its depth), output base, TMPDIR,
and the host PATH (the second one starts with a directory whose `python3` is another interpreter, Debian's when there
is one). Both run the rules-pyodide PEX built from the checkout's locked wheels (no `.venv`, no
$RULES_PYODIDE_PYTHON). The first is the session's `producer` (tests/conftest.py), which also filled the HTTP cache
for the remote-cache tests. The second has the machine's disk cache when `make test` gives one, so on a machine
that built this commit before, its outputs are those of an earlier cold build in another checkout. Then:
- every output of every action (wheels, file packages, index files, the release and its tarball, and every
  intermediate file; build logs aside) has the same sha256 in both builds, and so has every file of the release;
- every action has the same remote-cache key (command line, environment, inputs with digests, outputs), ran in
  Bazel's sandbox, and names neither checkout nor output base;
- a PATH change in one workspace re-runs nothing;
- the release verifies against its SHA256SUMS and against the other build's, and its provenance names every recipe
  with its source url and sha256.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from bazel_workspace import (
    RELEASE,
    ROOT,
    SANDBOXED_OR_CACHED,
    Producer,
    Workspace,
    action_key,
    checkout,
    file_digests,
    machine_disk_cache,
    output_digests,
)

pytestmark = [pytest.mark.bazel]

OTHER_PYTHON = """#!/bin/sh
exec {python} "$@"
"""


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory, producer: Producer) -> Iterator[tuple[Producer, Producer]]:
    """The session's producer build (cold: every action runs), and a second build in another checkout, output base,
    TMPDIR and PATH, with the machine's disk cache when `make test` gives one: its outputs are then those another
    checkout built earlier (a second clone of the same commit builds nothing), else it runs every action too."""
    base = tmp_path_factory.mktemp("repro_two")
    other_bin = base / "other_bin"
    other_bin.mkdir()
    other = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable
    (other_bin / "python3").write_text(OTHER_PYTHON.format(python=other))
    (other_bin / "python3").chmod(0o755)
    second = checkout(base, "some/much/deeper/checkout", f"{other_bin}{os.pathsep}", machine_disk_cache())
    try:
        yield producer, Producer(second, second.spawns(RELEASE))
    finally:
        second.shutdown(expunge=True)


def _without_logs(outputs: dict[str, str]) -> dict[str, str]:
    """Build logs (`*.log`, diagnostics that are never shipped nor read by another action) may name sandbox paths."""
    return {path: digest for path, digest in outputs.items() if not path.endswith(".log")}


def test_every_output_is_bit_identical(builds: tuple[Producer, Producer]) -> None:
    one, two = builds
    mnemonics = {s["mnemonic"] for s in one.spawns}
    assert {"PyodideBuild", "PyodideFilePackage", "PyodideDist", "PyodideRelease"} <= mnemonics
    outputs, others = _without_logs(output_digests(one.spawns)), _without_logs(output_digests(two.spawns))
    assert len(outputs) > 100  # every file of every action, tree artifacts expanded
    assert sorted(outputs) == sorted(others)
    assert [path for path in sorted(outputs) if outputs[path] != others[path]] == []
    release = file_digests(one.release)
    lock = json.loads((one.release / "pyodide-lock.json").read_text())["packages"]
    shipped = {entry["file_name"] for entry in lock.values()}
    assert len(shipped) >= 12 and shipped | {"SHA256SUMS", "provenance.json", "load_file_package.js"} <= set(release)
    assert any(name.endswith(".data") for name in release)  # file packages
    assert release == file_digests(two.release)
    tarball = one.release.with_name(one.release.name + ".tar.gz")
    assert tarball.read_bytes() == two.release.with_name(two.release.name + ".tar.gz").read_bytes()


def test_shipped_files_name_the_build_directories_by_fixed_names(builds: tuple[Producer, Producer]) -> None:
    # packages/rp-abiprobe's build.post writes its source tree and the build interpreter's site-packages into the
    # package: the scratch directory becomes /build, Bazel's external directory `external` (rules_pyodide.build_paths).
    for build in builds:
        site = build.ws.root / ".bazel" / "bin" / "packages" / "rp-abiprobe_build" / "site"
        source, interpreter = (site / "rp_abiprobe" / "build_paths.txt").read_text().splitlines()
        assert source == "/build/src"
        assert interpreter.startswith("external/rules_pyodide_tool/pex_root/venvs/"), interpreter
        assert interpreter.endswith("/site-packages"), interpreter


def test_action_keys_ignore_checkout_path_output_base_tmpdir_and_host_path(builds: tuple[Producer, Producer]) -> None:
    one, two = builds
    keys = sorted((s["mnemonic"], s["listedOutputs"][0], action_key(s)) for s in one.spawns)
    assert keys == sorted((s["mnemonic"], s["listedOutputs"][0], action_key(s)) for s in two.spawns)
    for build, runners in zip(builds, ({"linux-sandbox"}, SANDBOXED_OR_CACHED), strict=True):
        for spawn in build.spawns:
            assert spawn["runner"] in runners, f"{spawn['progressMessage']} ran outside the sandbox"
            assert spawn["remotable"] and spawn["cacheable"], spawn["progressMessage"]
            text = json.dumps([spawn["commandArgs"], spawn["environmentVariables"], spawn["inputs"]])
            for host_path in (build.ws.root, build.ws.output_base, build.ws.env["TMPDIR"]):
                assert str(host_path) not in text, f"{spawn['progressMessage']} names {host_path}"


def test_changing_path_reruns_nothing(builds: tuple[Producer, Producer]) -> None:
    ws = builds[0].ws
    moved = Workspace(ws.root, ws.output_base, dict(ws.env, PATH=f"/nonexistent/bin{os.pathsep}{ws.env['PATH']}"))
    assert moved.spawns(RELEASE) == []


def test_release_verifies_and_records_every_source(builds: tuple[Producer, Producer]) -> None:
    one, two = builds
    verify = [str(ROOT / ".venv/bin/python"), "-m", "rules_pyodide.release", "verify", str(one.release)]
    result = subprocess.run([*verify, "--expect", str(two.release / "SHA256SUMS")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    check = subprocess.run(["sha256sum", "--check", "--strict", "SHA256SUMS"], cwd=one.release, capture_output=True)
    assert check.returncode == 0, check.stdout

    record = json.loads((one.release / "provenance.json").read_text())
    assert record["profile"] == json.loads((one.release / "pyodide-lock.json").read_text())["info"]
    # The tool's pinned distributions and the Emscripten toolchain; not the host's interpreter, which differs between
    # Debian releases while the outputs do not.
    assert "python" not in record["toolchains"] and record["toolchains"]["setuptools"] and record["toolchains"]["pip"]
    by_meta = {p["recipe"]["path"]: p for p in record["packages"] + record["build_only"]}
    lock = json.loads((one.release / "pyodide-lock.json").read_text())["packages"]
    shipped = {p["name"].lower() for p in record["packages"]}
    assert {e["name"].lower().removesuffix("-tests") for e in lock.values()} <= shipped
    for path, entry in by_meta.items():
        source = yaml.safe_load((ROOT / path).read_text())["source"]
        if "url" in source:
            assert (entry["source"]["url"], entry["source"]["sha256"]) == (source["url"], source["sha256"])
        else:
            assert entry["source"]["path"] == (Path(path).parent / source["path"]).as_posix()
            assert len(entry["source"]["tree_sha256"]) == 64
        assert [p["path"] for p in entry["patches"]] == [
            (Path(path).parent / p).as_posix() for p in source.get("patches", [])
        ]
        assert set(entry["files"]) <= set(file_digests(one.release))
