"""Tests of rules_pyodide.corpus: the parts that need no Bazel (build-event parsing, the "not downloadable"
classification, the rows and figures, the report), and one end-to-end run on tiny recipes written here."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from rules_pyodide import corpus, fetch
from rules_pyodide.corpus import BuildEvents, Row

CONFIG = {"id": "ee7e8f17"}


def _action(label: str, primary: str) -> dict[str, Any]:
    return {"primaryOutput": primary, "label": label, "configuration": CONFIG}


def write_events(path: Path, events: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path


def build_events(tmp_path: Path) -> Path:
    """A build-event file shaped like Bazel 4.2.3's (copied from a real `--keep_going` run, paths shortened): one
    target built, one whose own build action failed (its stderr file holds the tool's error and the log's tail),
    one failed because a recipe it needs failed, and the flag target Bazel always reports aborted."""
    stderr = tmp_path / "stderr-6"
    stderr.write_text(
        "rules-pyodide pure-build: error: recipes/bad/meta.yaml: bad: the PEP 517 build failed (pip wheel, exit 2):\n"
        "  Traceback (most recent call last):\n"
        "ERROR: '/ob/sandbox/linux-sandbox/6/execroot/ws/bazel-out/k8-fastbuild/bin/recipes/bad_build/src' is bad\n"
    )
    bad_action = _action("//recipes:bad_build", "bazel-out/k8-fastbuild/bin/recipes/bad_build/bad-1.0.whl")
    out = "file:///ob/execroot/ws/bazel-out/k8-fastbuild/bin/recipes/corpus/good"
    return write_events(
        tmp_path / "bep.json",
        [
            {"id": {"started": {}}, "started": {"uuid": "x"}},
            {"id": {"progress": {}}, "progress": {"stderr": "INFO: Analyzed 3 targets\n"}},
            {
                "id": {"actionCompleted": bad_action},
                "action": {
                    "exitCode": 1,
                    "stderr": {"name": "stderr", "uri": stderr.as_uri()},
                    "label": "//recipes:bad_build",
                    "type": "PyodideBuild",
                },
            },
            {
                "id": {"targetCompleted": {"label": "//recipes:corpus_good", "configuration": CONFIG}},
                "completed": {
                    "success": True,
                    "importantOutput": [
                        {"name": "recipes/corpus/good/good.js", "uri": f"{out}/good.js"},
                        {"name": "recipes/corpus/good/repodata.json", "uri": f"{out}/repodata.json"},
                    ],
                },
            },
            {
                "id": {"targetCompleted": {"label": "//recipes:corpus_bad", "configuration": CONFIG}},
                "children": [{"actionCompleted": bad_action}],
                "completed": {"failureDetail": {"message": "cli failed: error executing command ...\n\nUse ..."}},
            },
            {
                "id": {"targetCompleted": {"label": "//recipes:corpus_needs-bad", "configuration": CONFIG}},
                "children": [{"actionCompleted": bad_action}],
                "completed": {"failureDetail": {"message": "cli failed: error executing command ..."}},
            },
            {
                "id": {"targetCompleted": {"label": "//recipes:corpus_silent", "configuration": CONFIG}},
                "completed": {"failureDetail": {"message": "cli failed: error executing command ..."}},
            },
            {"id": {"targetConfigured": {"label": "@rules_pyodide//:pyodide"}}, "aborted": {}},
        ],
    )


def entry(name: str, *, run: tuple[str, ...] = (), archive: str | None = None, kind: str = "pure") -> dict[str, Any]:
    return {
        "name": name,
        "canonical_name": name,
        "version": "1.0",
        "meta": f"recipes/{name}/meta.yaml",
        "url": f"https://example.org/{archive}" if archive else None,
        "sha256": "a" * 64 if archive else None,
        "md5": None,
        "archive": archive,
        "run": list(run),
        "host": [],
        "libraries": [],
        "type": "package",
        "compiled": kind == "compiled",
        "kind": kind,
        "package_target": name,
        "test_imports": [name],
    }


ENTRIES = {
    "good": entry("good", archive="good-1.0.tar.gz"),
    "bad": entry("bad", archive="bad-1.0.tar.gz", kind="compiled"),
    "needs-bad": entry("needs-bad", run=("bad",), archive="needs-bad-1.0.tar.gz"),
}


def test_build_events_give_each_target_built_or_its_first_error_line(tmp_path: Path) -> None:
    events = corpus.parse_build_events(build_events(tmp_path))
    assert events.succeeded == {
        "//recipes:corpus_good": [
            "/ob/execroot/ws/bazel-out/k8-fastbuild/bin/recipes/corpus/good/good.js",
            "/ob/execroot/ws/bazel-out/k8-fastbuild/bin/recipes/corpus/good/repodata.json",
        ]
    }
    bad_line = (  # the tool's line, with the log's last line (the sandbox path made relative to the execroot)
        "rules-pyodide pure-build: error: recipes/bad/meta.yaml: bad: the PEP 517 build failed (pip wheel, exit 2): "
        "ERROR: 'bazel-out/k8-fastbuild/bin/recipes/bad_build/src' is bad"
    )
    assert events.failed == {
        "//recipes:corpus_bad": "",
        "//recipes:corpus_needs-bad": "",
        "//recipes:corpus_silent": "",
    }
    assert events.causes == {
        "//recipes:corpus_bad": ["//recipes:bad_build"],
        "//recipes:corpus_needs-bad": ["//recipes:bad_build"],
        "//recipes:corpus_silent": [],
    }
    assert events.messages["//recipes:corpus_silent"] == "cli failed: error executing command ..."
    assert events.actions == {"//recipes:bad_build": bad_line}

    entries = {**ENTRIES, "silent": entry("silent")}
    rows = {d: Row(d, kind="pure", downloadable="yes") for d in entries}
    built = corpus.build_rows(rows, events, entries)
    assert built["good"] == Row("good", "pure", "yes", "yes", "-", "")
    assert built["bad"] == Row("bad", "pure", "yes", "no", "-", bad_line)
    assert built["needs-bad"] == Row("needs-bad", "pure", "yes", "no", "-", f"needs bad: {bad_line}")
    assert built["silent"] == Row("silent", "pure", "yes", "no", "-", "cli failed: error executing command ...")
    assert corpus.output_dir(tmp_path, events.succeeded["//recipes:corpus_good"], "good") == Path(
        "/ob/execroot/ws/bazel-out/k8-fastbuild/bin/recipes/corpus/good"
    )


def test_a_target_without_an_error_line_gets_the_needed_recipes_failure(tmp_path: Path) -> None:
    events = BuildEvents(failed={"//recipes:corpus_needs-bad": ""}, actions={"//recipes:bad_build": "bad: exploded"})
    rows = corpus.build_rows({"needs-bad": Row("needs-bad", downloadable="yes")}, events, ENTRIES)
    assert rows["needs-bad"].error == "needs bad: bad: exploded"
    # Root causes in both the recipe and one it needs: the recipe's own line.
    events = BuildEvents(
        failed={"//recipes:corpus_needs-bad": ""},
        causes={"//recipes:corpus_needs-bad": ["//recipes:bad_build", "//recipes:needs-bad_build"]},
        actions={"//recipes:bad_build": "bad: exploded", "//recipes:needs-bad_build": "needs-bad: its own"},
    )
    rows = corpus.build_rows({"needs-bad": Row("needs-bad", downloadable="yes")}, events, ENTRIES)
    assert rows["needs-bad"].error == "needs-bad: its own"
    # A target Bazel said nothing about (e.g. the build stopped early) is not built, and says so.
    rows = corpus.build_rows({"good": Row("good", downloadable="yes")}, BuildEvents(), ENTRIES)
    assert rows["good"] == Row(
        "good", downloadable="yes", built="no", error="not built (no build event for its target)"
    )


def test_an_analysis_failure_takes_bazels_error_line_naming_the_target(tmp_path: Path) -> None:
    bep = write_events(
        tmp_path / "bep.json",
        [
            {
                "id": {"progress": {}},
                "progress": {
                    "stderr": "ERROR: /ws/recipes/BUILD.bazel:9:17: in pyodide_dist rule //recipes:corpus_x: "
                    "missing input\nERROR: Analysis of target '//recipes:corpus_x' failed\n"
                },
            },
            {
                "id": {"targetCompleted": {"label": "//recipes:corpus_x", "configuration": CONFIG}},
                "aborted": {"reason": "ANALYSIS_FAILURE"},
            },
        ],
    )
    events = corpus.parse_build_events(bep)
    assert events.failed == {
        "//recipes:corpus_x": "ERROR: /ws/recipes/BUILD.bazel:9:17: in pyodide_dist rule //recipes:corpus_x: "
        "missing input"
    }


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (
            "noise\nrules-pyodide emcc-build: error: recipes/x/meta.yaml: no\nmore\n",
            "rules-pyodide emcc-build: error: recipes/x/meta.yaml: no",
        ),
        ("warning: a\nfoo.c:1:2: error: bad thing\n", "foo.c:1:2: error: bad thing"),
        ("ERROR: x failed\nFAILED: Build did NOT complete successfully\n", "ERROR: x failed"),
        ("just one line\n", "just one line"),
        (  # the tool's line ends with ":" and the log's tail follows: its first exception line is the cause
            "rules-pyodide emcc-build: error: k: the package build (pip wheel) failed (exit 1); the log:\n"
            "  Traceback (most recent call last):\n  ModuleNotFoundError: No module named 'cppy'\n"
            "  error: subprocess-exited-with-error\n  hint: See above for details.\n",
            "rules-pyodide emcc-build: error: k: the package build (pip wheel) failed (exit 1); the log: "
            "ModuleNotFoundError: No module named 'cppy'",
        ),
        (  # else a compiler's error line (not pip's), else the last line
            "rules-pyodide emcc-build: error: c: failed:\n  error: subprocess-exited-with-error\n"
            "  src/a.c:1:10: fatal error: 'ffi.h' file not found\n  ERROR: Failed to build one or more wheels\n",
            "rules-pyodide emcc-build: error: c: failed: src/a.c:1:10: fatal error: 'ffi.h' file not found",
        ),
        ("rules-pyodide x: error: y:\n  the end\n", "rules-pyodide x: error: y: the end"),
        ("", ""),
    ],
)
def test_error_line(text: str, line: str) -> None:
    assert corpus.error_line(text) == line


def test_unreachable_sources_are_not_downloadable_and_wrong_checksums_are_failures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def urlopen(request: Any, timeout: float) -> Any:
        if "unreachable" in request.full_url:
            raise urllib.error.URLError("[Errno -2] Name or service not known")
        raise urllib.error.HTTPError(request.full_url, 404, "Not Found", None, None)  # type: ignore[arg-type]

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    checkout = tmp_path / "checkout-distdir"
    checkout.mkdir()
    (checkout / "good-1.0.tar.gz").write_bytes(b"good")  # already in the checkout's distdir: no download
    (checkout / "wrong-1.0.tar.gz").write_bytes(b"not what the recipe says")
    wants = [
        fetch.Wanted("good", "1.0", "g/meta.yaml", "good-1.0.tar.gz", "sha256", _sha256(b"good"), "https://x/good"),
        fetch.Wanted("u", "1.0", "u/meta.yaml", "u-1.0.tar.gz", "sha256", "0" * 64, "https://unreachable/u"),
        fetch.Wanted("gone", "1.0", "n/meta.yaml", "gone-1.0.tar.gz", "md5", "0" * 32, "https://pypi/gone"),
        fetch.Wanted("wrong", "1.0", "w/meta.yaml", "wrong-1.0.tar.gz", "sha256", "1" * 64, "https://unreachable/w"),
    ]
    reasons = corpus.fetch_sources(wants, tmp_path / "cache", [checkout], jobs=2)
    assert reasons["good-1.0.tar.gz"] == ""
    assert (tmp_path / "cache" / "good-1.0.tar.gz").read_bytes() == b"good"
    assert reasons["u-1.0.tar.gz"] == (
        "u/meta.yaml: cannot download source.url https://unreachable/u: <urlopen error [Errno -2] Name or service not "
        "known>"
    )
    assert (
        reasons["gone-1.0.tar.gz"]
        == "n/meta.yaml: cannot download source.url https://pypi/gone: HTTP Error 404: Not Found"
    )
    assert corpus.is_not_downloadable(reasons["u-1.0.tar.gz"]) and corpus.is_not_downloadable(
        reasons["gone-1.0.tar.gz"]
    )
    # The checkout's copy has another digest and the url is unreachable: not downloadable (no valid copy here).
    assert corpus.is_not_downloadable(reasons["wrong-1.0.tar.gz"])
    assert not corpus.is_not_downloadable("w/meta.yaml: source.sha256 mismatch for wrong-1.0.tar.gz")
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["good-1.0.tar.gz"]  # nothing partial


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_download_rows_follow_requirements() -> None:
    entries = {
        "app": entry("app", run=("lib",), archive="app-1.0.tar.gz"),
        "lib": entry("lib", archive="lib-1.0.tar.gz"),
        "alone": entry("alone", archive="alone-1.0.tar.gz"),
        "mismatch": entry("mismatch", archive="mismatch-1.0.tar.gz"),
        "local": entry("local"),
    }
    reasons = {
        "app-1.0.tar.gz": "",
        "lib-1.0.tar.gz": "recipes/lib/meta.yaml: cannot download source.url https://x/lib: HTTP Error 404: Not Found",
        "alone-1.0.tar.gz": "",
        "mismatch-1.0.tar.gz": "recipes/mismatch/meta.yaml: source.sha256 mismatch for mismatch-1.0.tar.gz",
    }
    rows = corpus.download_rows(entries, sorted(entries), reasons)
    assert rows == {
        "alone": Row("alone", "pure", "yes"),
        "app": Row("app", "pure", "no", error=f"needs lib: {reasons['lib-1.0.tar.gz']}"),
        "lib": Row("lib", "pure", "no", error=reasons["lib-1.0.tar.gz"]),
        "local": Row("local", "pure", "local"),
        "mismatch": Row("mismatch", "pure", "yes", "no", error=reasons["mismatch-1.0.tar.gz"]),
    }


ROWS = [
    Row("a", "pure", "yes", "yes", "yes"),
    Row("b", "compiled", "yes", "yes", "no", "ImportError: x"),
    Row("c", "pure", "yes", "no", "-", "rules-pyodide pure-build: error: c | d"),
    Row("d", "unknown", "no", error="cannot download source.url https://github.com/x"),
    Row("e", "static_library", "yes", "yes", "n/a"),
    Row("f", "pure", "local", "yes", "loaded"),
    Row("g", "disabled", error="package._disabled (or it needs a disabled recipe)"),
    Row("h", built="no", error="recipes/h/meta.yaml: package.name: expected a string"),
]


def test_totals_and_outcomes() -> None:
    assert [r.outcome for r in ROWS] == ["ok", "failed", "failed", "not downloadable", "ok", "ok", "skipped", "failed"]
    # h, refused by the parser before its source was looked at, counts as a failure, not as not downloadable.
    assert corpus.totals(ROWS) == corpus.Totals(
        recipes=8, skipped=1, downloadable=5, built=4, imported=2, failed=3, measured=6, percent=50.0
    )
    assert corpus.totals_line(corpus.totals(ROWS)) == (
        "8 recipes: 1 skipped (disabled or stdlib), 5 downloadable, 4 built, 2 imported, 3 failed; "
        "50.0% of the 6 recipes measured (downloadable, or refused before any download) built and imported"
    )
    assert corpus.totals([]).percent == 0.0


def test_reports(tmp_path: Path) -> None:
    corpus.write_report(tmp_path / "r.md", ROWS, Path("/c/packages"), "0.21.3")
    md = (tmp_path / "r.md").read_text().splitlines()
    assert md[0] == "# rules_pyodide on /c/packages (profile 0.21.3)"
    assert md[2].startswith("8 recipes: 1 skipped")
    assert md[4:6] == [
        "| recipe | kind | downloadable | built | imported | first error line |",
        "|---|---|---|---|---|---|",
    ]
    assert md[8] == "| c | pure | yes | no | - | rules-pyodide pure-build: error: c \\| d |"
    corpus.write_report(tmp_path / "r.json", ROWS, Path("/c/packages"), "0.21.3")
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["totals"]["percent"] == 50.0 and data["profile"] == "0.21.3"
    assert data["rows"][3] == {
        "recipe": "d",
        "kind": "unknown",
        "downloadable": "no",
        "built": "-",
        "imported": "-",
        "error": "cannot download source.url https://github.com/x",
        "outcome": "not downloadable",
    }
    table = corpus.render(ROWS, "t")
    assert [c.header for c in table.columns][-1] == "first error line" and table.row_count == 8


def test_recipe_of_label() -> None:
    dirs = ["six", "six-extra", "py"]
    assert corpus.recipe_of_label("//recipes:corpus_six", dirs) == "six"
    assert corpus.recipe_of_label("//recipes:six_build", dirs) == "six"
    assert corpus.recipe_of_label("//recipes:six-extra_source", dirs) == "six-extra"
    assert corpus.recipe_of_label("//recipes:py_files/py", dirs) == "py"
    assert corpus.recipe_of_label("@rules_pyodide//:pyodide", dirs) is None


def test_the_work_directory_cannot_be_in_the_checkout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recipes = tmp_path / "recipes"
    (recipes / "x").mkdir(parents=True)
    (recipes / "x" / "meta.yaml").write_text("package:\n  name: x\n  version: '1'\nsource:\n  path: .\n")
    status = corpus.main(["--recipes", str(recipes), "--work", str(corpus.ROOT / ".cache" / "corpus")])
    assert status == 1
    assert capsys.readouterr().err.startswith(
        f"rules-pyodide corpus: error: --work {corpus.ROOT}/.cache/corpus: must be"
    )
    assert corpus.main(["--recipes", str(tmp_path / "none")]) == 1
    assert "no <name>/meta.yaml" in capsys.readouterr().err
    assert corpus.main(["--recipes", str(recipes), "--profile", "9.9"]) == 1
    assert "--profile 9.9: not a profile (one of: 0.21.3" in capsys.readouterr().err


def test_workspace_links_the_recipes_and_uses_this_checkout(tmp_path: Path) -> None:
    recipes = tmp_path / "corpus" / "packages"
    for name in ("a", "b"):
        (recipes / name).mkdir(parents=True)
        (recipes / name / "meta.yaml").write_text("x")
    (recipes / "README.md").write_text("not a recipe")
    ws = tmp_path / "work" / "ws"
    corpus.write_workspace(ws, recipes, {"a": entry("a"), "b": {**entry("b"), "type": "static_library"}})
    assert sorted(p.name for p in (ws / "recipes").iterdir()) == ["BUILD.bazel", "a", "b"]
    assert os.readlink(ws / "recipes" / "a") == str(recipes / "a")
    assert f'path = "{corpus.ROOT}"' in (ws / "WORKSPACE").read_text()
    build = (ws / "recipes" / "BUILD.bazel").read_text()
    assert 'name = "corpus_a"' in build and "corpus_b" not in build  # a static library has no package directory
    (recipes / "b" / "meta.yaml").unlink()
    corpus.write_workspace(ws, recipes, {})
    assert sorted(p.name for p in (ws / "recipes").iterdir()) == ["BUILD.bazel", "a"]


# --- end to end -----------------------------------------------------------------------------------------------


def _pure_recipe(root: Path, name: str, imports: list[str], backend: str = "flit_core.buildapi") -> None:
    module = name.replace("-", "_")
    src = root / name / "src"
    (src / module).mkdir(parents=True)
    (src / module / "__init__.py").write_text('"""A tiny corpus test package."""\n\nANSWER = 42\n')
    (src / "pyproject.toml").write_text(
        f'[build-system]\nrequires = ["flit_core>=3.2"]\nbuild-backend = "{backend}"\n\n'
        f'[project]\nname = "{name}"\nversion = "1.0"\ndescription = "tiny"\n'
    )
    listed = "".join(f"    - {i}\n" for i in imports)
    (root / name / "meta.yaml").write_text(
        f"package:\n  name: {name}\n  version: '1.0'\nsource:\n  path: src\ntest:\n  imports:\n{listed}"
    )


@pytest.mark.bazel
def test_end_to_end_on_tiny_recipes(tmp_path: Path) -> None:
    """Four recipes: one that builds and imports, one whose import test fails, one whose build fails and one whose
    source URL is unreachable; the table has exactly their rows, and each failure's first line."""
    recipes = tmp_path / "packages"
    _pure_recipe(recipes, "tiny-good", ["tiny_good"])
    _pure_recipe(recipes, "tiny-badimport", ["tiny_missing_module"])
    _pure_recipe(recipes, "tiny-buildfail", ["tiny_buildfail"], backend="tiny_no_such_backend")
    (recipes / "tiny-unreachable").mkdir()
    (recipes / "tiny-unreachable" / "meta.yaml").write_text(
        "package:\n  name: tiny-unreachable\n  version: '1.0'\nsource:\n"
        "  url: https://unreachable.invalid/tiny-unreachable-1.0.tar.gz\n"
        f"  sha256: '{'0' * 64}'\n"
    )
    work = tmp_path / "work"
    report = tmp_path / "report.json"
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    command = [sys.executable, "-m", "rules_pyodide.corpus", "--recipes", str(recipes), "--profile", "0.21.3"]
    command += ["--work", str(work), "--cache", str(tmp_path / "cache"), "--report", str(report)]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, env=env, check=False, timeout=1800)
    finally:
        subprocess.run(["bazel", f"--output_base={work / 'output_base'}", "shutdown"], cwd=work / "ws", check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    rows = {r["recipe"]: r for r in json.loads(report.read_text())["rows"]}
    assert rows == {
        "tiny-badimport": {
            "recipe": "tiny-badimport",
            "kind": "pure",
            "downloadable": "local",
            "built": "yes",
            "imported": "no",
            "error": "ModuleNotFoundError: No module named 'tiny_missing_module'",
            "outcome": "failed",
        },
        "tiny-buildfail": {
            "recipe": "tiny-buildfail",
            "kind": "pure",
            "downloadable": "local",
            "built": "no",
            "imported": "-",
            "error": "rules-pyodide pure-build: error: recipes/tiny-buildfail/meta.yaml: tiny-buildfail: the PEP 517 "
            "build failed (pip wheel, exit 2): ModuleNotFoundError: No module named 'tiny_no_such_backend'",
            "outcome": "failed",
        },
        "tiny-good": {
            "recipe": "tiny-good",
            "kind": "pure",
            "downloadable": "local",
            "built": "yes",
            "imported": "yes",
            "error": "",
            "outcome": "ok",
        },
        "tiny-unreachable": {
            "recipe": "tiny-unreachable",
            "kind": "unknown",
            "downloadable": "no",
            "built": "-",
            "imported": "-",
            "error": rows["tiny-unreachable"]["error"],
            "outcome": "not downloadable",
        },
    }
    assert rows["tiny-unreachable"]["error"].startswith(
        "recipes/tiny-unreachable/meta.yaml: cannot download source.url "
        "https://unreachable.invalid/tiny-unreachable-1.0.tar.gz: <urlopen error"
    )
    assert proc.stdout.splitlines()[-1] == (
        "4 recipes: 0 skipped (disabled or stdlib), 3 downloadable, 2 built, 1 imported, 2 failed; "
        "33.3% of the 3 recipes measured (downloadable, or refused before any download) built and imported"
    )
