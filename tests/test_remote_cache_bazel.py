"""Remote caching with real cache servers on 127.0.0.1: nginx (WebDAV HTTP cache) and BuildGrid (gRPC cache).

The session's `producer` (tests/conftest.py) built `//packages:core_release` (bazel_workspace.RELEASE) with
`--config=ci` against the empty HTTP cache: everything ran locally and was uploaded. A consumer checkout in another
directory, with its own (empty) output base, builds it again: every action must be a remote cache hit (none runs
locally) and the release must be the producer's.
The gRPC cache is filled the same way for a small set of packages (SMALL; the point does not need every recipe):
the consumer, after `bazel clean`, builds SMALL against the empty BuildGrid, and a second fresh checkout gets 100 %
hits. Then the faults: a corrupted blob in the HTTP cache is detected (Bazel checks the digest of what it downloads),
its action re-runs locally, the release is still right and the cache is repaired; a cache server stopped in the
middle of a build does not fail the build, whose outputs are still right. Servers are stopped by their own process
ids (rules_pyodide.cache_server), also when a test fails.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bazel_workspace import (
    RELEASE,
    RELEASE_DIR,
    Producer,
    Workspace,
    checkout,
    ci_flags,
    file_digests,
    output_digests,
    process_summary,
    read_execution_log,
)

from rules_pyodide.cache_server import CacheServer, running

pytestmark = [pytest.mark.bazel]

# arrow and its run requirements (each //packages:<name> builds its own files only).
SMALL = ("//packages:arrow", "//packages:python-dateutil", "//packages:six", "//packages:types-python-dateutil")
HIT_KINDS = {"remote cache hit", "internal"}
# Actions that copy the six wheel (same bytes, same cache blob) into the dist and the release.
DEPENDENTS = ("Assembling //packages:core (", f"Assembling release {RELEASE}")


@pytest.fixture(scope="module")
def consumer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """A fresh checkout in another directory, with its own output base."""
    ws = checkout(tmp_path_factory.mktemp("consumer"), "elsewhere/checkout")
    yield ws
    ws.shutdown(expunge=True)


@pytest.fixture(scope="module")
def small_reference(consumer: Workspace, caches: dict[str, CacheServer]) -> dict[str, str]:
    """The consumer builds SMALL locally against the empty gRPC cache (uploading it): every output, by path."""
    consumer.bazel("clean")
    result, spawns = consumer.logged_build(*ci_flags(caches["grpc"], *SMALL))
    assert spawns and not any(s["remoteCacheHit"] for s in spawns), "the gRPC cache was not empty"
    assert "Remote Cache" not in result.stderr, result.stderr  # every upload succeeded
    return output_digests(spawns)


def _all_hits(result: subprocess.CompletedProcess[str], spawns: list[dict[str, Any]], expected: int) -> None:
    total, kinds = process_summary(result.stderr)
    assert set(kinds) <= HIT_KINDS, f"some actions ran locally: {kinds}"
    assert kinds.get("remote cache hit") == len(spawns) == expected, (kinds, len(spawns), expected)
    assert all(s["remoteCacheHit"] for s in spawns)


def test_http_cache_gives_a_fresh_checkout_100_percent_hits(
    producer: Producer, consumer: Workspace, caches: dict[str, CacheServer]
) -> None:
    result, spawns = consumer.logged_build(*ci_flags(caches["http"], RELEASE))
    _all_hits(result, spawns, len(producer.spawns))
    assert file_digests(consumer.root / ".bazel/bin" / RELEASE_DIR) == file_digests(producer.release)


def test_grpc_cache_gives_a_fresh_checkout_100_percent_hits(
    tmp_path_factory: pytest.TempPathFactory, small_reference: dict[str, str], caches: dict[str, CacheServer]
) -> None:
    ws = checkout(tmp_path_factory.mktemp("grpc_consumer"), "yet/another/checkout")
    try:
        result, spawns = ws.logged_build(*ci_flags(caches["grpc"], *SMALL))
    finally:
        ws.shutdown(expunge=True)
    _all_hits(result, spawns, len({s["listedOutputs"][0] for s in spawns}))
    assert output_digests(spawns) == small_reference


def test_corrupted_blob_is_detected_rebuilt_and_never_shipped(
    producer: Producer, consumer: Workspace, caches: dict[str, CacheServer]
) -> None:
    http, release = caches["http"], file_digests(producer.release)
    wheel = next(name for name in release if name.startswith("six-") and name.endswith(".whl"))
    blob = http.cas_file(release[wheel])
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, one byte flipped
    blob.write_bytes(bytes(data))

    consumer.bazel("clean")
    result, spawns = consumer.logged_build(*ci_flags(http, RELEASE))
    assert f"Expected digest '{release[wheel]}/{len(data)}' does not match received digest" in result.stderr
    # The wheel's action re-runs. Its dependents hit the cache once its upload has repaired the blob; one that looks
    # it up before that meets the bad blob too and re-runs as well. Nothing else runs.
    local = sorted(s["progressMessage"] for s in spawns if not s["remoteCacheHit"])
    assert "Building wheel of //packages:six_build" in local
    assert all(m.startswith(("Building wheel of //packages:six_build", *DEPENDENTS)) for m in local), local
    assert process_summary(result.stderr)[1].get("linux-sandbox") == len(local)
    assert file_digests(consumer.root / ".bazel/bin" / RELEASE_DIR) == release
    assert file_digests(blob.parent)[blob.name] == release[wheel], "the local result was uploaded over the bad blob"


def _stopped_mid_build(consumer: Workspace, server: CacheServer, written: Path, tmp_path: Path) -> dict[str, str]:
    """Build SMALL against `server` (empty), stop the server once the build has written to it; return the outputs."""
    consumer.bazel("clean")
    log = tmp_path / "exec.json"
    with open(tmp_path / "stderr", "w") as stderr:
        build = subprocess.Popen(
            consumer.command("build", f"--execution_log_json_file={log}", *ci_flags(server, *SMALL)),
            cwd=consumer.root,
            env=consumer.env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        try:
            deadline = time.monotonic() + 300
            while build.poll() is None and time.monotonic() < deadline and not any(written.rglob("*")):
                time.sleep(0.05)
            assert build.poll() is None, "the build ended before anything reached the cache"
            server.stop()
            assert build.wait(600) == 0, (tmp_path / "stderr").read_text()[-5000:]
        finally:
            if build.poll() is None:
                build.terminate()
                build.wait()
    assert "Remote Cache" in (tmp_path / "stderr").read_text()  # Bazel noticed, warned, and went on locally
    return output_digests(read_execution_log(log))


def test_http_cache_stopped_mid_build(small_reference: dict[str, str], consumer: Workspace, tmp_path: Path) -> None:
    with running("http", tmp_path / "http") as server:
        outputs = _stopped_mid_build(consumer, server, server.data / "ac", tmp_path)
        assert not server.running()
    assert outputs == small_reference


def test_grpc_cache_stopped_mid_build(small_reference: dict[str, str], consumer: Workspace, tmp_path: Path) -> None:
    with running("grpc", tmp_path / "grpc") as server:
        outputs = _stopped_mid_build(consumer, server, server.data / "cas" / "objects", tmp_path)
        assert not server.running()
    assert outputs == small_reference


def test_servers_are_stopped_by_their_own_pids(tmp_path: Path) -> None:
    with running("http", tmp_path / "http") as server:
        pids = [server.pid, *server.children]
        assert len(pids) >= 2  # nginx master + workers
    assert not any(_alive(pid) for pid in pids)


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_servers_die_with_the_process_that_started_them(tmp_path: Path) -> None:
    """Even a test run killed with SIGKILL (no teardown, no atexit) leaves no server behind."""
    script = (
        "import sys, time; from pathlib import Path; from rules_pyodide.cache_server import start_nginx\n"
        "s = start_nginx(Path(sys.argv[1])); print(s.pid, *s.children, flush=True); time.sleep(600)\n"
    )
    owner = subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "http")], stdout=subprocess.PIPE, text=True)
    assert owner.stdout is not None
    pids = [int(p) for p in owner.stdout.readline().split()]
    assert len(pids) >= 2 and all(_alive(pid) for pid in pids)
    owner.kill()
    owner.wait()
    deadline = time.monotonic() + 15
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in pids)
