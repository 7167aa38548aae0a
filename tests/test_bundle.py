"""`rules-pyodide bundle` on a real app (examples/browser_app/app.py: arrow, python-dateutil, six, attrs, toolz, idna
and MarkupSafe's C extension) in Pyodide 0.21.3, its bad-input errors, and the example page in Debian's Chromium."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import pytest
from pyodide_runner import runtime_dir
from recipes_dist import recipes_dist

from rules_pyodide import bundle, run, serve, stdlib
from rules_pyodide.outputs import ZIP_FLOOR_DATE

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
    """The recipes' dist (`//packages:core`), compiled packages included."""
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
    # the standard library: 0.21's own file package, trimmed, replaces pyodide.asm.js + pyodide.asm.data
    std = manifest["stdlib"]
    assert std["kind"] == "file_package" and std["root"] == "/lib/python3.10"
    assert std["runtime_files"] == ["pyodide.asm.js", "pyodide.asm.data"]
    assert sorted(p.name for p in (out / "runtime").iterdir()) == ["pyodide.asm.data", "pyodide.asm.js"]
    assert std["no_longer_fetched"] == ["distutils.tar"]  # the app uses no distutils: fullStdLib: false
    assert std["files"] == sorted(std["files"])
    # what the runtime imports at start-up, what the packages and the app import
    for module in ("encodings/utf_8.py", "tarfile.py", "datetime.py", "json/__init__.py", "calendar.py"):
        assert f"/lib/python3.10/{module}" in std["files"], module
    assert not [f for f in std["files"] if "/distutils/" in f or "/unittest/" in f or "pydoc_data" in f]
    assert len(std["files"]) < 0.3 * std["files_before"]
    assert std["gzip_after"] < 0.3 * std["gzip_before"], std
    # the trimmed archive holds exactly the kept files, with the runtime's bytes
    trimmed = stdlib.read(out / "runtime", VERSION, "3.10.2")
    original = stdlib.read(runtime_dir(VERSION), VERSION, "3.10.2")
    assert sorted(trimmed.files) == std["files"]
    assert all(trimmed.files[f] == original.files[f] for f in std["files"])
    # the report: one row per package, the total, and the load-time breakdown of both runs
    for text in ("gzip before", "markupsafe", "total", "stdlib (pyodide.asm.data, distutils.tar)", "load time"):
        assert text in proc.stdout


def test_app_that_fails_is_reported_and_writes_nothing(dist: Path, tmp_path: Path) -> None:
    app = tmp_path / "broken.py"
    app.write_text("import toolz\nprint('before')\n1 / 0\n")
    proc = cli(app, "--dist", dist, "--pyodide", VERSION, "--output", tmp_path / "out")
    assert proc.returncode == 1
    assert (
        "rules-pyodide bundle: error: the app failed in Pyodide 0.21.3 (trace run): ZeroDivisionError: division by zero"
        in proc.stderr
    )
    assert not (tmp_path / "out").exists()


def test_filter_that_removes_a_needed_file_fails_validation_naming_it(dist: Path, tmp_path: Path) -> None:
    filters = tmp_path / "filters.yaml"
    filters.write_text("packages:\n  arrow:\n    exclude: ['arrow/locales.py']\n")
    out = tmp_path / "out"
    proc = cli(APP, "--dist", dist, "--pyodide", VERSION, "--output", out, "--filters", filters)
    assert proc.returncode == 1, proc.stderr
    message = proc.stderr.strip().splitlines()[-1]
    assert message.startswith(
        "rules-pyodide bundle: error: validation run from the bundle failed: ImportError: cannot import name 'locales'"
    )
    assert (
        "the trace run read files the bundle lacks: /lib/python3.10/site-packages/arrow/locales.py "
        "(package arrow, removed by filter pattern 'arrow/locales.py')"
    ) in message
    assert not out.exists()


STDLIB_MISSED = REPO / "tests" / "fixtures" / "bundle" / "stdlib_missed.py"
RUNTIMES = ["0.21.3", "0.23.4", "0.26.4", "0.29.5", "314.0.7"]


@pytest.mark.parametrize("version", RUNTIMES)
def test_stdlib_module_the_trace_missed_fails_validation_naming_it(dist: Path, tmp_path: Path, version: str) -> None:
    out = tmp_path / "out"
    proc = cli(STDLIB_MISSED, "--dist", dist, "--pyodide", version, "--output", out)
    assert proc.returncode == 1, proc.stderr
    message = proc.stderr.strip().splitlines()[-1]
    assert message.startswith(
        "rules-pyodide bundle: error: validation run from the bundle failed: ModuleNotFoundError:"
    ), message
    assert message.endswith(
        f"stdlib module 'colorsys' ({stdlib_root(version)}/colorsys.py) is in Pyodide {version}'s standard library "
        "but not in the bundle's: the trace run did not import it (keep it with --keep-stdlib colorsys)"
    ), message
    assert not out.exists()
    # keeping it makes the bundle work in every runtime, from its trimmed stdlib alone
    proc = cli(STDLIB_MISSED, "--dist", dist, "--pyodide", version, "--output", out, "--keep-stdlib", "colorsys")
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((out / "bundle.json").read_text())
    std = manifest["stdlib"]
    assert f"{stdlib_root(version)}/colorsys.py" in std["files"]
    assert manifest["expected_stdout"] == "same output\n"
    assert len(std["files"]) < 0.4 * std["files_before"], std
    if version == "0.21.3":
        assert std["kind"] == "file_package"
        return
    assert std["kind"] == "zip" and std["runtime_files"] == ["python_stdlib.zip"]
    with zipfile.ZipFile(out / "runtime" / "python_stdlib.zip") as zf:
        infos = zf.infolist()
    names = [i.filename for i in infos]
    assert names == sorted(names)
    assert sorted(n for n in names if not n.endswith("/")) == sorted(f.split(".zip/", 1)[1] for f in std["files"])
    assert {i.date_time for i in infos} == {ZIP_FLOOR_DATE}
    assert {i.compress_type for i in infos} == {zipfile.ZIP_STORED}


def test_app_using_only_the_stdlib_and_distutils_in_0_21(dist: Path, tmp_path: Path) -> None:
    """0.21 loads distutils.tar at start-up; the bundle's runtime starts without it (fullStdLib: false), so the
    distutils files the app uses move into the trimmed stdlib archive. No package file is used: no bundle.js."""
    app = tmp_path / "app.py"
    app.write_text('import distutils.version\nprint(distutils.version.LooseVersion("1.2") < "1.10")\n')
    out = tmp_path / "out"
    proc = cli(app, "--dist", dist, "--pyodide", VERSION, "--output", out)
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((out / "bundle.json").read_text())
    assert manifest["expected_stdout"] == "True\n"
    assert manifest["js"] is None and manifest["files"] == [] and not (out / "bundle.js").exists()
    distutils = [f for f in manifest["stdlib"]["files"] if "/distutils/" in f]
    assert distutils == ["/lib/python3.10/distutils/__init__.py", "/lib/python3.10/distutils/version.py"]
    assert manifest["stdlib"]["no_longer_fetched"] == ["distutils.tar"]
    # deterministic: a second run in another directory writes the same bytes
    again = tmp_path / "elsewhere" / "out"
    assert cli(app, "--dist", dist, "--pyodide", VERSION, "--output", again).returncode == 0
    files = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    assert Path("runtime/pyodide.asm.data") in files
    assert all((out / f).read_bytes() == (again / f).read_bytes() for f in files)


def stdlib_root(version: str) -> str:
    return (
        "/lib/python3.10"
        if version == "0.21.3"
        else {
            "0.23.4": "/lib/python311.zip",
            "0.26.4": "/lib/python312.zip",
            "0.29.5": "/lib/python313.zip",
            "314.0.7": "/lib/python314.zip",
        }[version]
    )


def test_filter_can_remove_stdlib_modules_and_validation_names_them(dist: Path, tmp_path: Path) -> None:
    filters = tmp_path / "filters.yaml"
    filters.write_text("packages:\n  stdlib:\n    exclude: ['calendar.py']\n")
    proc = cli(APP, "--dist", dist, "--pyodide", VERSION, "--output", tmp_path / "out", "--filters", filters)
    assert proc.returncode == 1, proc.stderr
    assert (
        proc.stderr.strip()
        .splitlines()[-1]
        .endswith("stdlib module 'calendar' (/lib/python3.10/calendar.py) was removed by filter pattern 'calendar.py'")
    )
    assert not (tmp_path / "out").exists()


def test_runtime_without_a_known_stdlib_layout_is_refused_naming_it(tmp_path: Path) -> None:
    fake = tmp_path / "runtime"
    fake.mkdir()
    (fake / "pyodide.asm.wasm").write_bytes(b"")
    with pytest.raises(stdlib.StdlibError) as err:
        stdlib.read(fake, "0.99.0", "3.99.1")
    assert str(err.value) == (
        f"Pyodide 0.99.0 ({fake}): neither python_stdlib.zip nor pyodide.asm.data + pyodide.asm.js: "
        "do not know where this runtime keeps its standard library, so it cannot be trimmed"
    )
    (fake / "pyodide.asm.js").write_text("var x = 1;")
    (fake / "pyodide.asm.data").write_bytes(b"")
    with pytest.raises(stdlib.StdlibError, match=r"Pyodide 0\.99\.0: .*pyodide\.asm\.js: expected exactly one"):
        stdlib.read(fake, "0.99.0", "3.99.1")


def test_bad_arguments_and_filter_files(dist: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("packages:\n  arrow:\n    exclude: arrow/locales.py\n")
    proc = cli(APP, "--dist", dist, "--pyodide", VERSION, "--output", tmp_path / "o", "--filters", bad)
    assert proc.returncode == 1
    assert (
        proc.stderr.strip()
        == f"rules-pyodide bundle: error: {bad}: packages.arrow.exclude: expected a list of patterns, got str"
    )
    proc = cli(tmp_path / "missing.py", "--dist", dist, "--pyodide", VERSION, "--output", tmp_path / "o")
    assert proc.returncode == 1 and "missing.py: the app is not a file" in proc.stderr
    proc = cli(APP, "--dist", dist, "--pyodide", VERSION, "--output", tmp_path / "o", "--package", "nope")
    assert proc.returncode == 1 and "--package nope: not in the dist" in proc.stderr
    proc = cli(APP, "--dist", dist, "--pyodide", VERSION, "--output", tmp_path / "o", "--keep-stdlib", "nope.x")
    assert proc.returncode == 1
    assert (
        proc.stderr.strip()
        == "rules-pyodide bundle: error: --keep-stdlib nope.x: not a module of Pyodide 0.21.3's standard library"
    )
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


def test_server_sends_gzip_with_the_right_types_and_refuses_dotdot(tmp_path: Path) -> None:
    (tmp_path / "m.wasm").write_bytes(b"\0asm" + b"\1" * 4000)
    (tmp_path / "tiny.js").write_text("x")
    assert serve.accepts_gzip("gzip, deflate, br") and serve.accepts_gzip("*")
    assert not serve.accepts_gzip("gzip;q=0") and not serve.accepts_gzip("br") and not serve.accepts_gzip(None)
    with serve.serve(tmp_path) as url:
        request = urllib.request.Request(url + "m.wasm", headers={"Accept-Encoding": "gzip"})
        with urllib.request.urlopen(request) as response:
            assert response.headers["Content-Type"] == "application/wasm"
            assert response.headers["Content-Encoding"] == "gzip"
            assert gzip.decompress(response.read()) == (tmp_path / "m.wasm").read_bytes()
        with urllib.request.urlopen(url + "m.wasm") as response:  # no Accept-Encoding: identity
            assert response.headers["Content-Encoding"] is None and response.read()[:4] == b"\0asm"
        request = urllib.request.Request(url + "tiny.js", headers={"Accept-Encoding": "gzip"})
        with urllib.request.urlopen(request) as response:  # gzip would be larger: sent as is
            assert response.headers["Content-Encoding"] is None and response.read() == b"x"
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(url + "a/%2e%2e/m.wasm")
        assert err.value.code == 404


# --- the example page in Chromium -----------------------------------------------------------------------------------


def _site(tmp: Path, name: str) -> Path:
    site = tmp / name
    site.mkdir()
    for file in ("index.html", "page.js"):
        shutil.copy(REPO / "examples" / "browser_app" / file, site / file)
    shutil.copy(REPO / "js" / "load_file_package.js", site / "load_file_package.js")
    (site / "pyodide").mkdir()
    return site


def packages_site(tmp: Path, dist: Path, app: Path, version: str) -> Path:
    """(a) The app and the runtime with the dist's packages in its index: the page loads them with loadPackage."""
    site = _site(tmp, "packages")
    runtime = run.find_runtime(version, None)
    index = run.merged_index(runtime, run.dist_fragments(dist, runtime.index_file))
    run.make_index_dir(runtime, dist, index, site / "pyodide")
    shutil.copy(app, site / "app.py")
    return site


def bundle_site(tmp: Path, out: Path, version: str) -> Path:
    """(b) The bundle, and the runtime with the bundle's trimmed standard library in place of its own."""
    site = _site(tmp, "bundle")
    bundle.overlay_runtime(runtime_dir(version), out / "runtime", site / "pyodide")
    (site / "bundle").symlink_to(out)
    return site


def open_page(url: str, mbit_per_s: int | None = None) -> dict[str, Any]:
    driver = REPO / "tests" / "fixtures" / "js" / "browser_page.js"
    throttle = [str(mbit_per_s)] if mbit_per_s else []
    proc = subprocess.run(
        ["node", str(driver), url, "120000", *throttle], capture_output=True, text=True, timeout=180, check=False
    )
    report: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["state"] == "done", report
    return report


def wire_bytes(report: dict[str, Any], base: str) -> dict[str, int]:
    """Bytes received per file of the site (path relative to it), from the page's network log."""
    files: dict[str, int] = {}
    for entry in report["network"]:
        assert entry["status"] == 200, entry
        assert entry["url"].startswith(base), entry
        name = entry["url"][len(base) :].split("?")[0]
        files[name] = files.get(name, 0) + int(entry["bytes"])
    return files


THROTTLE_MBIT = 20
"""The second measurement of each page: a 20 Mbit/s connection (DevTools emulation), to show what bytes cost."""


def wire_table(a: dict[str, int], b: dict[str, int], first_output: dict[str, tuple[float, float]]) -> str:
    """Markdown table: per file, bytes on the wire with (a) loadPackage and (b) the bundle; totals; first output."""

    def kib(n: int) -> str:
        return f"{n / 1024:,.1f} KiB" if n else "-"

    lines = ["| file | (a) loadPackage | (b) bundle |", "|---|---:|---:|"]
    for name in sorted(set(a) | set(b)):
        lines.append(f"| {name} | {kib(a.get(name, 0))} | {kib(b.get(name, 0))} |")
    total_a, total_b = sum(a.values()), sum(b.values())
    lines.append(f"| **total** | **{kib(total_a)}** | **{kib(total_b)}** ({1 - total_b / total_a:.0%} smaller) |")
    for condition, (ms_a, ms_b) in first_output.items():
        lines.append(f"| time to first output, {condition} | {ms_a:,.0f} ms | {ms_b:,.0f} ms |")
    return "\n".join(lines)


def measure_both(
    tmp: Path, dist: Path, app: Path, out: Path, version: str
) -> tuple[dict[str, Any], dict[str, Any], dict[str, tuple[float, float]]]:
    """Opens (a) and (b) in Chromium, each served by rules_pyodide.serve, unthrottled and at THROTTLE_MBIT; the
    two unthrottled reports (with "files": bytes per file) and the times to first output per condition."""
    reports, throttled = {}, {}
    for name, site in (("a", packages_site(tmp, dist, app, version)), ("b", bundle_site(tmp, out, version))):
        with serve.serve(site) as url:
            query = "?mode=packages" if name == "a" else ""
            reports[name] = open_page(url + "index.html" + query)
            reports[name]["files"] = wire_bytes(reports[name], url)
            throttled[name] = open_page(url + "index.html" + query, THROTTLE_MBIT)
            assert throttled[name]["output"] == reports[name]["output"]
            assert wire_bytes(throttled[name], url).keys() == reports[name]["files"].keys()
    first_output = {
        "127.0.0.1": (reports["a"]["firstOutputMs"], reports["b"]["firstOutputMs"]),
        f"{THROTTLE_MBIT} Mbit/s": (throttled["a"]["firstOutputMs"], throttled["b"]["firstOutputMs"]),
    }
    return reports["a"], reports["b"], first_output


def test_browser_page_bundle_cuts_the_whole_download_in_chromium(
    built: tuple[Path, subprocess.CompletedProcess[str]], dist: Path, tmp_path: Path
) -> None:
    assert shutil.which("chromium"), "chromium is not installed; run `make setup`"
    out, _ = built
    manifest = json.loads((out / "bundle.json").read_text())
    a, b, first_output = measure_both(tmp_path, dist, APP, out, VERSION)
    # the same output both ways, and the trace run's
    assert a["output"] == b["output"] == manifest["expected_stdout"]
    assert b["timings"].startswith(f"{len(manifest['files'])} files, 1 shared")
    assert "packages arrow, attrs, distutils, idna, markupsafe" in a["timings"]
    # served compressed on both sides, with the right types
    for report in (a, b):
        by_name = {e["url"].rsplit("/", 1)[-1]: e for e in report["network"]}
        assert by_name["pyodide.asm.wasm"]["mimeType"] == "application/wasm"
        for file in ("pyodide.asm.wasm", "pyodide.asm.js", "pyodide.asm.data"):
            assert by_name[file]["encoding"] == "gzip", by_name[file]
    # (a) fetches the whole stdlib and the wheels; (b) the trimmed stdlib and the bundle, not distutils
    assert "pyodide/distutils.tar" in a["files"] and "pyodide/distutils.tar" not in b["files"]
    assert "pyodide/arrow-1.3.0-py3-none-any.whl" in a["files"]
    assert {"bundle/bundle.data", "bundle/bundle.js", "bundle/app.py"} <= set(b["files"])
    assert b["files"]["pyodide/pyodide.asm.data"] < 0.4 * a["files"]["pyodide/pyodide.asm.data"]
    table = wire_table(a["files"], b["files"], first_output)
    print(f"\nChromium, gzip transfer, Pyodide {VERSION}:\n{table}")
    total_a, total_b = sum(a["files"].values()), sum(b["files"].values())
    assert total_b <= 0.6 * total_a, table  # the whole page download is at least 40 % smaller


def test_browser_page_bundle_with_trimmed_python_stdlib_zip_in_chromium_314(dist: Path, tmp_path: Path) -> None:
    """314.0.7 (ESM runtime, python_stdlib.zip): the page runs the bundle on the trimmed zip. Its pyodide.asm.wasm
    alone is over half of (a), so no 40 % here; the stdlib and the packages shrink all the same."""
    version = "314.0.7"
    out = tmp_path / "out"
    proc = cli(STDLIB_MISSED, "--dist", dist, "--pyodide", version, "--output", out, "--keep-stdlib", "colorsys")
    assert proc.returncode == 0, proc.stderr
    a, b, first_output = measure_both(tmp_path, dist, STDLIB_MISSED, out, version)
    assert a["output"] == b["output"] == "same output\n"
    for report in (a, b):
        zip_entry = next(e for e in report["network"] if e["url"].endswith("/pyodide/python_stdlib.zip"))
        assert zip_entry["encoding"] == "gzip" and zip_entry["mimeType"] == "application/zip"
    assert b["files"]["pyodide/python_stdlib.zip"] < 0.4 * a["files"]["pyodide/python_stdlib.zip"]
    assert "pyodide/toolz-1.0.0-py3-none-any.whl" in a["files"] and "bundle/bundle.data" in b["files"]
    table = wire_table(a["files"], b["files"], first_output)
    print(f"\nChromium, gzip transfer, Pyodide {version}:\n{table}")
    assert sum(b["files"].values()) < 0.8 * sum(a["files"].values()), table
