"""`rules-pyodide bundle` on a real app (examples/browser_app/app.py: arrow, python-dateutil, six, attrs, toolz, idna
and MarkupSafe's C extension) in Pyodide 0.21.3, its bad-input errors, and the example page in Debian's Chromium."""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import mimetypes
import shutil
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyodide_runner import runtime_dir
from recipes_dist import recipes_dist

from rules_pyodide import bundle

pytestmark = [pytest.mark.pyodide, pytest.mark.bazel]

REPO = Path(__file__).resolve().parent.parent
APP = REPO / "examples" / "browser_app" / "app.py"
VERSION = "0.21.3"


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rules_pyodide.cli", "bundle", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def dist() -> Path:
    """The recipes' dist (`//packages:all`), compiled packages included."""
    return recipes_dist()


@pytest.fixture(scope="module")
def built(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    out = tmp_path_factory.mktemp("bundle") / "out"
    proc = cli(APP, "--dist", dist, "--pyodide", VERSION, "--output", out)
    assert proc.returncode == 0, proc.stderr
    return out, proc


def test_bundle_of_a_real_app_is_smaller_and_validated(built: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    out, proc = built
    manifest = json.loads((out / "bundle.json").read_text())
    packages = manifest["packages"]
    assert {"arrow", "attrs", "idna", "markupsafe", "python-dateutil", "six", "toolz"} <= set(packages)
    assert "distutils" not in packages  # loaded by the runtime itself, not for the app
    assert manifest["gzip_after"] <= 0.7 * manifest["gzip_before"], manifest  # at least 30 % smaller
    extension = "/lib/python3.10/site-packages/markupsafe/_speedups.cpython-310-wasm32-emscripten.so"
    assert manifest["preload"] == [extension]
    assert extension in manifest["files"]
    assert packages["types-python-dateutil"]["files_after"] == 0  # stubs are never read
    assert not [f for f in manifest["files"] if "/tests/" in f or f.endswith((".md", ".pyi"))]
    assert "titles as HTML: &lt;kick-off&gt; &amp; &lt;design review&gt;" in manifest["expected_stdout"]
    assert "escaped in C: True" in manifest["expected_stdout"]
    with zipfile.ZipFile(out / "bundle.zip") as zf:
        assert sorted("/" + n for n in zf.namelist()) == manifest["files"]
    assert (out / "app.py").read_bytes() == APP.read_bytes()
    # the report: one row per package, the total, and the load-time breakdown of both runs
    for text in ("gzip before", "markupsafe", "total", "load time", "trace (packages from the dist)", "bundle"):
        assert text in proc.stdout


def test_app_that_fails_is_reported_and_writes_nothing(dist: Path, tmp_path: Path) -> None:
    app = tmp_path / "broken.py"
    app.write_text("import toolz\nprint('before')\n1 / 0\n")
    proc = cli(app, "--dist", dist, "--pyodide", VERSION, "--output", tmp_path / "out")
    assert proc.returncode == 1
    assert "error: the app failed in Pyodide 0.21.3 (trace run): ZeroDivisionError: division by zero" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_filter_that_removes_a_needed_file_fails_validation_naming_it(dist: Path, tmp_path: Path) -> None:
    filters = tmp_path / "filters.yaml"
    filters.write_text("packages:\n  arrow:\n    exclude: ['arrow/locales.py']\n")
    out = tmp_path / "out"
    proc = cli(APP, "--dist", dist, "--pyodide", VERSION, "--output", out, "--filters", filters)
    assert proc.returncode == 1, proc.stderr
    message = proc.stderr.strip().splitlines()[-1]
    assert message.startswith("error: validation run from the bundle failed: ImportError: cannot import name 'locales'")
    assert (
        "the trace run read files the bundle lacks: /lib/python3.10/site-packages/arrow/locales.py "
        "(package arrow, removed by filter pattern 'arrow/locales.py')"
    ) in message
    assert not out.exists()


def test_bad_arguments_and_filter_files(dist: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("packages:\n  arrow:\n    exclude: arrow/locales.py\n")
    proc = cli(APP, "--dist", dist, "--pyodide", VERSION, "--output", tmp_path / "o", "--filters", bad)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: {bad}: packages.arrow.exclude: expected a list of patterns, got str"
    proc = cli(tmp_path / "missing.py", "--dist", dist, "--pyodide", VERSION, "--output", tmp_path / "o")
    assert proc.returncode == 2 and "missing.py: the app is not a file" in proc.stderr
    proc = cli(APP, "--dist", dist, "--pyodide", VERSION, "--output", tmp_path / "o", "--package", "nope")
    assert proc.returncode == 2 and "--package nope: not in the dist" in proc.stderr
    assert not (tmp_path / "o").exists()


def test_used_files_keep_plain_libraries_and_imported_extensions() -> None:
    trace = bundle.TraceReport(
        ok=True,
        error="",
        stdout="",
        loaded_packages=("p",),
        app_reads=("/s/p/__init__.py",),
        load_reads=(),
        dynlibs=(
            "/s/p/_a.cpython-310-wasm32-emscripten.so",
            "/s/p/_b.cpython-310-wasm32-emscripten.so",
            "/usr/lib/libz.so",
        ),
        extension_modules=("/s/p/_a.cpython-310-wasm32-emscripten.so",),
        timings={},
    )
    assert bundle.used_files(trace) == [
        "/s/p/__init__.py",
        "/s/p/_a.cpython-310-wasm32-emscripten.so",
        "/usr/lib/libz.so",
    ]


# --- the example page in Chromium -----------------------------------------------------------------------------------


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def serve(directory: Path) -> Iterator[str]:
    """An HTTP server for `directory` on 127.0.0.1 and a free port, stopped on exit; yields its base URL."""
    mimetypes.add_type("application/wasm", ".wasm")  # WebAssembly.instantiateStreaming needs it
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_browser_page_runs_the_bundled_app_in_chromium(
    built: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    assert shutil.which("chromium"), "chromium is not installed; run `make setup`"
    out, _ = built
    site = tmp_path / "site"
    site.mkdir()
    for name in ("index.html", "page.js"):
        shutil.copy(REPO / "examples" / "browser_app" / name, site / name)
    shutil.copy(REPO / "js" / "load_file_package.js", site / "load_file_package.js")
    (site / "pyodide").symlink_to(runtime_dir(VERSION))
    (site / "bundle").symlink_to(out)
    driver = REPO / "tests" / "fixtures" / "js" / "browser_page.js"
    with serve(site) as url:
        proc = subprocess.run(
            ["node", str(driver), url + "index.html", "120000"],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["state"] == "done", report
    expected = json.loads((out / "bundle.json").read_text())["expected_stdout"]
    assert report["output"] == expected
    assert report["timings"].startswith(
        f"{len(json.loads((out / 'bundle.json').read_text())['files'])} files, 1 shared"
    )
