# numpy's own test suite in Pyodide: `bazel test //packages:numpy_test` runs this file in Pyodide 0.21.3 (recipe key
# `test.script`) with numpy, numpy-tests (the unvendored tests), pytest and hypothesis loaded through our index.
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
    "numpy/core/tests/test_numeric.py",
    "numpy/core/tests/test_umath.py",
    "numpy/linalg/tests/test_linalg.py",
    "numpy/random/tests/test_generator_mt19937.py",
    "numpy/fft/tests/test_pocketfft.py",
    "numpy/lib/tests/test_function_base.py",
]

# Reasons, shared by the tests below.
NO_FPE = (
    "WebAssembly has no floating-point status flags: a float operation that overflows, divides by zero or is "
    "invalid sets no flag, so numpy cannot warn or raise (patches/0002-no-fenv-flags-in-wasm.patch)"
)
NO_THREADS = "Pyodide has no threads: threading.Thread.start() raises RuntimeError"
NO_SUBPROCESS = "Pyodide cannot start subprocesses (OSError: Function not implemented)"
TEST_BUG = (
    "not WebAssembly: hypothesis (seed 0) finds t=0.5, a=1, b=1/3, where _lerp is not symmetric in IEEE doubles; the "
    "host's numpy gives the same two results"
)
MUSL_COMPLEX = (
    "numpy uses the C library's complex functions when configure finds them: emscripten's (musl's) casinh, catan, "
    "cacos ... differ from glibc's in signs on the branch cuts and lose precision for tiny arguments"
)

# nodeid -> reason. Keep sorted.
EXPECTED_FAILURES: dict[str, str] = {
    "numpy/core/tests/test_numeric.py::TestFloatExceptions::test_floating_exceptions[D]": NO_FPE,
    "numpy/core/tests/test_numeric.py::TestFloatExceptions::test_floating_exceptions[F]": NO_FPE,
    "numpy/core/tests/test_numeric.py::TestFloatExceptions::test_floating_exceptions[G]": NO_FPE,
    "numpy/core/tests/test_numeric.py::TestFloatExceptions::test_floating_exceptions[d]": NO_FPE,
    "numpy/core/tests/test_numeric.py::TestFloatExceptions::test_floating_exceptions[e]": NO_FPE,
    "numpy/core/tests/test_numeric.py::TestFloatExceptions::test_floating_exceptions[f]": NO_FPE,
    "numpy/core/tests/test_numeric.py::TestFloatExceptions::test_floating_exceptions[g]": NO_FPE,
    "numpy/core/tests/test_numeric.py::TestFloatExceptions::test_warnings": NO_FPE,
    "numpy/core/tests/test_numeric.py::TestNonzero::test_structured_threadsafety": NO_THREADS,
    "numpy/core/tests/test_numeric.py::TestSeterr::test_divide_err": NO_FPE,
    "numpy/core/tests/test_numeric.py::TestSeterr::test_errobj": NO_FPE,
    "numpy/core/tests/test_umath.py::TestComplexFunctions::test_branch_cuts": MUSL_COMPLEX,
    "numpy/core/tests/test_umath.py::TestComplexFunctions::test_branch_cuts_complex64": MUSL_COMPLEX,
    "numpy/core/tests/test_umath.py::TestComplexFunctions::test_loss_of_precision[complex128]": MUSL_COMPLEX,
    "numpy/core/tests/test_umath.py::TestComplexFunctions::test_loss_of_precision[complex256]": MUSL_COMPLEX,
    "numpy/core/tests/test_umath.py::TestComplexFunctions::test_loss_of_precision[complex64]": MUSL_COMPLEX,
    "numpy/core/tests/test_umath.py::TestComplexFunctions::test_precisions_consistent": MUSL_COMPLEX,
    "numpy/core/tests/test_umath.py::TestDivision::test_floor_division_errors[d]": NO_FPE,
    "numpy/core/tests/test_umath.py::TestDivision::test_floor_division_errors[e]": NO_FPE,
    "numpy/core/tests/test_umath.py::TestDivision::test_floor_division_errors[f]": NO_FPE,
    "numpy/core/tests/test_umath.py::TestDivision::test_floor_division_errors[g]": NO_FPE,
    "numpy/core/tests/test_umath.py::TestLog2::test_log2_special": NO_FPE,
    "numpy/core/tests/test_umath.py::TestRemainder::test_float_divmod_errors[d]": NO_FPE,
    "numpy/core/tests/test_umath.py::TestRemainder::test_float_divmod_errors[e]": NO_FPE,
    "numpy/core/tests/test_umath.py::TestRemainder::test_float_divmod_errors[f]": NO_FPE,
    "numpy/core/tests/test_umath.py::TestRemainder::test_float_divmod_errors[g]": NO_FPE,
    "numpy/core/tests/test_umath.py::TestRemainder::test_float_remainder_errors[fmod-d]": NO_FPE,
    "numpy/core/tests/test_umath.py::TestRemainder::test_float_remainder_errors[fmod-e]": NO_FPE,
    "numpy/core/tests/test_umath.py::TestRemainder::test_float_remainder_errors[fmod-f]": NO_FPE,
    "numpy/core/tests/test_umath.py::TestRemainder::test_float_remainder_errors[fmod-g]": NO_FPE,
    "numpy/core/tests/test_umath.py::TestRemainder::test_float_remainder_errors[remainder-d]": NO_FPE,
    "numpy/core/tests/test_umath.py::TestRemainder::test_float_remainder_errors[remainder-e]": NO_FPE,
    "numpy/core/tests/test_umath.py::TestRemainder::test_float_remainder_errors[remainder-f]": NO_FPE,
    "numpy/core/tests/test_umath.py::TestRemainder::test_float_remainder_errors[remainder-g]": NO_FPE,
    "numpy/core/tests/test_umath.py::TestRemainder::test_float_remainder_overflow": NO_FPE,
    "numpy/core/tests/test_umath.py::TestSpecialFloats::test_arccosh": NO_FPE,
    "numpy/core/tests/test_umath.py::TestSpecialFloats::test_arcsincos": NO_FPE,
    "numpy/core/tests/test_umath.py::TestSpecialFloats::test_arctanh": NO_FPE,
    "numpy/core/tests/test_umath.py::TestSpecialFloats::test_cosh": NO_FPE,
    "numpy/core/tests/test_umath.py::TestSpecialFloats::test_exp2": NO_FPE,
    "numpy/core/tests/test_umath.py::TestSpecialFloats::test_expm1": NO_FPE,
    "numpy/core/tests/test_umath.py::TestSpecialFloats::test_log_values": NO_FPE,
    "numpy/core/tests/test_umath.py::TestSpecialFloats::test_reciprocal_values": NO_FPE,
    "numpy/core/tests/test_umath.py::TestSpecialFloats::test_sincos_values": NO_FPE,
    "numpy/core/tests/test_umath.py::TestSpecialFloats::test_sinh": NO_FPE,
    "numpy/core/tests/test_umath.py::TestSpecialFloats::test_square_values": NO_FPE,
    "numpy/core/tests/test_umath.py::TestSpecialFloats::test_tan": NO_FPE,
    "numpy/fft/tests/test_pocketfft.py::TestFFTThreadSafe::test_fft": NO_THREADS,
    "numpy/fft/tests/test_pocketfft.py::TestFFTThreadSafe::test_ifft": NO_THREADS,
    "numpy/fft/tests/test_pocketfft.py::TestFFTThreadSafe::test_irfft": NO_THREADS,
    "numpy/fft/tests/test_pocketfft.py::TestFFTThreadSafe::test_rfft": NO_THREADS,
    "numpy/lib/tests/test_function_base.py::TestMedian::test_empty": NO_FPE,
    "numpy/lib/tests/test_function_base.py::TestLerp::test_linear_interpolation_formula_symmetric": TEST_BUG,
    "numpy/linalg/tests/test_linalg.py::test_sdot_bug_8577": NO_SUBPROCESS,
    "numpy/random/tests/test_generator_mt19937.py::TestThread::test_exp": NO_THREADS,
    "numpy/random/tests/test_generator_mt19937.py::TestThread::test_multinomial": NO_THREADS,
    "numpy/random/tests/test_generator_mt19937.py::TestThread::test_normal": NO_THREADS,
}


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
