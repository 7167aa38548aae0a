# numpy 2's own test suite in Pyodide: `bazel test //packages:numpy2_test` runs this file in Pyodide 0.29.5 (recipe key
# `test.script`) with numpy, numpy-tests (the unvendored tests), pytest and hypothesis loaded through our index.
# The same harness as packages/numpy/test_numpy.py (numpy 1.22.4 in 0.21.3); the modules moved to numpy/_core in 2.0.
#
# A fixed part of the suite runs (MODULES) with a fixed hypothesis seed. Tests that fail because of WebAssembly are
# listed in EXPECTED_FAILURES with the reason; they are marked `xfail(strict=True)`, so one that passes fails the run
# as well as any failure not listed, and so does a listed test that no longer exists. The summary line gives the
# passed / failed / skipped / expected-failure counts (README.md quotes them).
import contextlib
import io
import os
import sys
import time

import pyodide_js

await pyodide_js.loadPackage(["numpy-tests", "hypothesis"])  # noqa: F704 (runs with runPythonAsync: top-level await)

import numpy as np  # noqa: E402
import pytest  # noqa: E402

SITE = "/lib/python{}.{}/site-packages".format(*sys.version_info[:2])
MODULES = [
    "numpy/_core/tests/test_numeric.py",
    "numpy/_core/tests/test_umath.py",
    "numpy/linalg/tests/test_linalg.py",
    "numpy/random/tests/test_generator_mt19937.py",
    "numpy/fft/tests/test_pocketfft.py",
    "numpy/lib/tests/test_function_base.py",
]

# nodeid -> reason. Keep sorted. Empty: numpy 2.2.5 marks what cannot work in WebAssembly itself (46 `IS_WASM` skips
# in these six modules: "fp errors don't work in wasm", "wasm doesn't have threads", "Cannot start subprocess", ...,
# counted as skipped), so every test that runs here must pass; one that fails is not a known WebAssembly limit.
EXPECTED_FAILURES: dict[str, str] = {}


class ExpectedFailures:
    """Marks EXPECTED_FAILURES strict xfail and counts outcomes."""

    def __init__(self) -> None:
        self.collected: set[str] = set()
        self.outcomes: dict[str, int] = {}
        self.failed: list[tuple[str, str]] = []
        self.xfailed: list[str] = []

    @pytest.hookimpl
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            self.collected.add(item.nodeid)
            reason = EXPECTED_FAILURES.get(item.nodeid)
            if reason:
                item.add_marker(pytest.mark.xfail(reason=reason, strict=True))

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call" and report.outcome == "passed":
            return
        outcome = report.outcome  # a strict xfail that passes is "failed"
        if hasattr(report, "wasxfail"):
            outcome = "xfailed" if report.skipped else "xpassed"  # numpy's own non-strict xfail marks
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        if outcome == "failed":
            self.failed.append((report.nodeid, report.longreprtext[-2000:]))
        if outcome == "xfailed":
            self.xfailed.append(report.nodeid)


os.chdir(SITE)
plugin = ExpectedFailures()
start = time.monotonic()
terminal = io.StringIO()  # pytest's progress dots: one line each through Pyodide's stdout; only its summary is shown
with contextlib.redirect_stdout(terminal):
    code = pytest.main(
        [
            "-q",
            "--color=no",
            "-p",
            "no:cacheprovider",
            "--hypothesis-seed=0",
            "-W",
            "ignore::pytest.PytestUnraisableExceptionWarning",
            "--rootdir",
            SITE,
            *MODULES,
        ],
        plugins=[plugin],
    )
elapsed = time.monotonic() - start
stale = sorted(set(EXPECTED_FAILURES) - plugin.collected)
counts = ", ".join(f"{plugin.outcomes.get(k, 0)} {k}" for k in ("passed", "failed", "skipped", "xfailed", "xpassed"))
print(f"numpy {np.__version__} in Pyodide: {counts} ({len(MODULES)} modules, {elapsed:.0f} s)")
for nodeid, text in plugin.failed:
    print(f"--- {nodeid}\n{text}")
for nodeid, _ in plugin.failed:
    print(f"FAILED (not an expected failure, or an expected one that passed): {nodeid}")
for nodeid in sorted(plugin.xfailed):
    print(f"expected failure: {nodeid}: {EXPECTED_FAILURES.get(nodeid, 'marked xfail by numpy itself')}")
for nodeid in stale:
    print(f"STALE expected failure (not collected): {nodeid}")
if plugin.failed or stale or code not in (0, 1):
    sys.exit(1)
