"""Session fixtures shared by the release tests (test_reproducible_bazel.py, test_remote_cache_bazel.py).

`caches`: nginx (WebDAV HTTP cache) and BuildGrid (gRPC cache) on 127.0.0.1, empty, stopped by their own process ids
at the end of the session (rules_pyodide.cache_server). `producer`: one cold build of `//:release` in a fresh
checkout with its own output base and TMPDIR, with `--config=ci` against the empty HTTP cache: every action runs
locally (it is the first build of the reproducibility comparison) and is uploaded (what the remote-cache tests read).
Building the release once for both keeps the suite within its time budget: `bazel test //tests:release` runs the
two modules in one pytest session (tests/BUILD.bazel).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from bazel_workspace import RELEASE, Producer, checkout, ci_flags

from rules_pyodide.cache_server import CacheServer, running


@pytest.fixture(scope="session")
def caches(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, CacheServer]]:
    base = tmp_path_factory.mktemp("caches")
    with running("http", base / "http") as http, running("grpc", base / "grpc") as grpc:
        yield {"http": http, "grpc": grpc}


@pytest.fixture(scope="session")
def producer(tmp_path_factory: pytest.TempPathFactory, caches: dict[str, CacheServer]) -> Iterator[Producer]:
    ws = checkout(tmp_path_factory.mktemp("producer"), "rules_pyodide")
    try:
        result, spawns = ws.logged_build(*ci_flags(caches["http"], RELEASE))
        assert spawns and not any(s["remoteCacheHit"] for s in spawns), "the HTTP cache was not empty"
        assert "Remote Cache" not in result.stderr, result.stderr  # every upload succeeded
        yield Producer(ws, spawns)
    finally:
        ws.shutdown(expunge=True)
