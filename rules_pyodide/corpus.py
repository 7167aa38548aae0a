"""Measure rules_pyodide on a recipes directory (e.g. Pyodide's own `packages/`): build every recipe, import each.

    rules-pyodide corpus --recipes DIR [--profile 0.21.3] [--jobs N] [--only NAME ...] [--work DIR]
        [--cache DIR] [--report FILE.json|FILE.md]

1. A scratch user workspace `WORK/ws` (never inside this checkout): its WORKSPACE uses this checkout as
   `local_repository(name = "rules_pyodide")` with `rules_pyodide_dependencies()`,
   `rules_pyodide_register_toolchains()` and `pyodide_recipes(packages = "//recipes:BUILD.bazel")`; `recipes/<name>`
   are symlinks to the recipe directories of DIR (nothing is copied), and `recipes/BUILD.bazel` declares
   `pyodide_packages()` plus one package directory `corpus_<name>` per recipe (the package and its run requirements).
2. Sources: every selected recipe's `source.url` (and those of the recipes it needs) goes into a shared cache
   (`--cache`, default `~/.cache/rules_pyodide/corpus-distdir`), taken from this checkout's `.cache/distdir` when it is
   there, else downloaded (`rules_pyodide.fetch`). A source that cannot be downloaded here (host unreachable, HTTP
   error) makes its recipe, and every recipe needing it, "not downloadable": not a failure. A checksum mismatch is.
3. `bazel build --keep_going` of every downloadable recipe's target for `--profile`, with the machine's disk cache
   (`$RULES_PYODIDE_DISK_CACHE`, default `~/.cache/rules_pyodide/bazel-disk-cache`); Bazel's progress goes to stderr.
   Which target built, and the first error line of each failure, come from `--build_event_json_file`.
4. Every built package is loaded in the profile's real Pyodide runtime (Node, `rules_pyodide.run`) from its own
   package directory, and its `test.imports` are imported: one runtime process per recipe (`--jobs` in parallel), so
   one recipe's failure cannot hide another's result.
5. A table (rich): per recipe downloadable / built / imported / first error line, and the totals; `--report` writes
   it as JSON (or Markdown for a `.md` file).

Exit status 0 when the measurement ran (whatever the recipes did), 1 with one error line when it could not run.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from rich.console import Console
from rich.table import Table

from rules_pyodide.errors import RulesPyodideError, prog, run_command
from rules_pyodide.fetch import FetchError, Wanted, check, fetch_one
from rules_pyodide.outputs import write_atomic
from rules_pyodide.recipe import RecipeError
from rules_pyodide.recipes_bzl import convert
from rules_pyodide.run import PROG as RUN_PROG
from rules_pyodide.runtimes import load_table

PROG = prog("corpus")
ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("RULES_PYODIDE_CACHE", str(Path.home() / ".cache" / "rules_pyodide")))
DISK_CACHE = Path(os.environ.get("RULES_PYODIDE_DISK_CACHE", str(CACHE / "bazel-disk-cache")))
RECIPES_PACKAGE = "recipes"
TARGET_PREFIX = "corpus_"
# Suffixes of the targets pyodide_packages() declares for a recipe directory (rules/private/packages.bzl).
_TARGET_SUFFIXES = ("_build", "_source", "_patched", "_site", "_package", "_test")
_DOWNLOAD_FAILED = "cannot download source.url"


class CorpusError(RulesPyodideError):
    """The measurement could not run: bad arguments, no Bazel, a workspace that cannot be written."""


@dataclass(frozen=True)
class Row:
    """One recipe's outcome. `downloadable`: yes | local (source.path) | no | - (not built here: disabled, stdlib,
    broken); `built`: yes | no | -; `imported`: yes | loaded (no test.imports: loaded only) | no | n/a (a static
    library: nothing to load) | -."""

    recipe: str
    kind: str = "-"
    downloadable: str = "-"
    built: str = "-"
    imported: str = "-"
    error: str = ""

    @property
    def outcome(self) -> str:
        """ok | skipped (disabled, stdlib) | not downloadable | failed."""
        if self.downloadable == "no":
            return "not downloadable"
        if self.kind in ("disabled", "stdlib"):
            return "skipped"
        if self.imported in ("yes", "loaded", "n/a"):
            return "ok"
        return "failed"


@dataclass(frozen=True)
class Totals:
    recipes: int
    skipped: int
    downloadable: int
    built: int
    imported: int
    failed: int
    measured: int
    """Recipes that count: every one but the skipped and the not downloadable. A recipe refused before anything was
    downloaded (unparsable, or needing an unparsable one) counts as a failure."""
    percent: float
    """Share of the measured recipes that built and imported (static libraries: that built)."""


def totals(rows: Sequence[Row]) -> Totals:
    measured = [r for r in rows if r.outcome in ("ok", "failed")]
    ok = [r for r in measured if r.outcome == "ok"]
    return Totals(
        recipes=len(rows),
        skipped=sum(r.outcome == "skipped" for r in rows),
        downloadable=sum(r.downloadable in ("yes", "local") for r in rows),
        built=sum(r.built == "yes" for r in rows),
        imported=sum(r.imported in ("yes", "loaded") for r in rows),
        failed=len(measured) - len(ok),
        measured=len(measured),
        percent=round(100.0 * len(ok) / len(measured), 1) if measured else 0.0,
    )


# --- 2. sources -----------------------------------------------------------------------------------------------


def is_not_downloadable(message: str) -> bool:
    """A fetch error that means "this host cannot get the file" (unreachable host, HTTP error, timeout), as opposed
    to a wrong checksum or a local problem, which are failures."""
    return _DOWNLOAD_FAILED in message


def first_line(message: str) -> str:
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    return lines[0] if lines else ""


def wanted_of(entry: Mapping[str, Any]) -> Wanted:
    algorithm, digest = ("sha256", entry["sha256"]) if entry["sha256"] else ("md5", entry["md5"] or "")
    return Wanted(
        entry["name"], entry["version"], entry["meta"], entry["archive"], algorithm, str(digest).lower(), entry["url"]
    )


def seed(want: Wanted, cache: Path, distdirs: Sequence[Path]) -> None:
    """Puts a valid copy of `want` from one of `distdirs` into `cache` (atomically), if one has it."""
    if (cache / want.archive).is_file():
        return
    for distdir in distdirs:
        source = distdir / want.archive
        if not source.is_file():
            continue
        try:
            check(source, want)
        except FetchError:
            continue
        tmp = Path(tempfile.mkdtemp(prefix=f".{want.name}.", dir=cache))
        try:
            shutil.copyfile(source, tmp / want.archive)
            os.replace(tmp / want.archive, cache / want.archive)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return


def fetch_sources(wants: Sequence[Wanted], cache: Path, distdirs: Sequence[Path], jobs: int) -> dict[str, str]:
    """{archive: "" if it is in `cache` now, else the one-line reason}."""
    cache.mkdir(parents=True, exist_ok=True)
    unique = {w.archive: w for w in wants}

    def one(want: Wanted) -> str:
        try:
            seed(want, cache, distdirs)
            fetch_one(want, cache)
        except (FetchError, OSError) as err:
            return first_line(str(err)) or type(err).__name__
        return ""

    with ThreadPoolExecutor(max_workers=max(4, jobs)) as pool:
        results = list(pool.map(one, unique.values()))
    return dict(zip(unique, results, strict=True))


# --- 1. the scratch workspace -----------------------------------------------------------------------------------

WORKSPACE = """\
workspace(name = "rules_pyodide_corpus")

# Written by `rules-pyodide corpus`: a user workspace measuring rules_pyodide on {recipes}.
local_repository(
    name = "rules_pyodide",
    path = {root},
)

load("@rules_pyodide//rules:repositories.bzl", "rules_pyodide_dependencies")

rules_pyodide_dependencies(wheels = {wheels})

load("@rules_pyodide//rules:toolchains.bzl", "rules_pyodide_register_toolchains")

rules_pyodide_register_toolchains(node_modules = {node_modules})

load("@rules_pyodide//rules:defs.bzl", "pyodide_recipes")

pyodide_recipes(
    name = "pyodide_recipes",
    distdir = "distdir",
    packages = "//{package}:BUILD.bazel",
)

load("@pyodide_recipes//:sources.bzl", "pyodide_sources")

pyodide_sources()
"""

BAZELRC = """\
# Written by `rules-pyodide corpus`: an offline Bazel 4.2.3, as rules_pyodide's own .bazelrc.
startup --max_idle_secs=900
build --experimental_repository_disable_download
fetch --experimental_repository_disable_download
query --experimental_repository_disable_download
sync --experimental_repository_disable_download
build --symlink_prefix=.bazel/
build --java_runtime_version=local_jdk
build --tool_java_runtime_version=local_jdk
build --nosandbox_debug
build --spawn_strategy=sandboxed
build --incompatible_strict_action_env
build --distdir={distdir}
fetch --distdir={distdir}
sync --distdir={distdir}
"""

BUILD_HEADER = """\
# Written by `rules-pyodide corpus`: every recipe of {recipes} (symlinked here), and per recipe a package directory
# `corpus_<name>` holding the package and its run requirements, which the corpus loads into Pyodide.

load("@pyodide_recipes//:recipes.bzl", "RECIPES")
load("@rules_pyodide//rules:defs.bzl", "pyodide_dist", "pyodide_packages")
load("@rules_pyodide//toolchains:profile.bzl", "profile_setting")
load("@rules_pyodide_table//:table.bzl", "PROFILES")

pyodide_packages(recipes = RECIPES)

PYODIDE_VERSION = select({{profile_setting(p): PROFILES[p]["pyodide_version"] for p in PROFILES}})
"""

DIST_TARGET = """
pyodide_dist(
    name = {name},
    out = {out},
    packages = [{package}],
    pyodide_version = PYODIDE_VERSION,
)
"""


def _quote(value: str) -> str:
    return json.dumps(value)


def recipe_directories(recipes: Path) -> list[str]:
    return sorted(meta.parent.name for meta in recipes.glob("*/meta.yaml"))


def build_file(recipes: Path, entries: Mapping[str, Mapping[str, Any]]) -> str:
    parts = [BUILD_HEADER.format(recipes=recipes)]
    for directory, entry in sorted(entries.items()):
        if entry["type"] == "static_library":
            continue
        parts.append(
            DIST_TARGET.format(
                name=_quote(TARGET_PREFIX + directory),
                out=_quote(f"corpus/{directory}"),
                package=_quote(":" + entry["package_target"]),
            )
        )
    return "".join(parts)


def write_workspace(ws: Path, recipes: Path, entries: Mapping[str, Mapping[str, Any]], root: Path = ROOT) -> None:
    """(Re)writes the scratch workspace: its files, a symlink per recipe directory, an empty `distdir`."""
    package = ws / RECIPES_PACKAGE
    package.mkdir(parents=True, exist_ok=True)
    (ws / "distdir").mkdir(exist_ok=True)
    files = {
        ws / "WORKSPACE": WORKSPACE.format(
            recipes=recipes,
            root=_quote(str(root)),
            wheels=_quote(str(root / ".cache" / "wheels")),
            node_modules=_quote(str(root / "js" / "node_modules")),
            package=RECIPES_PACKAGE,
        ),
        ws / ".bazelrc": BAZELRC.format(distdir=ws / "distdir"),
        ws / ".bazelignore": ".bazel\n",
        ws / "BUILD.bazel": "",
        package / "BUILD.bazel": build_file(recipes, entries),
    }
    for path, text in files.items():
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            write_atomic(path, text)
    wanted = set(recipe_directories(recipes))
    for link in package.iterdir():
        if link.is_symlink() and link.name not in wanted:
            link.unlink()
    for name in sorted(wanted):
        link = package / name
        target = (recipes / name).resolve()
        if link.is_symlink() and Path(os.readlink(link)) == target:
            continue
        if link.is_symlink():
            link.unlink()
        link.symlink_to(target, target_is_directory=True)


def link_distdir(ws: Path, cache: Path, archives: Iterable[str]) -> None:
    """`ws/distdir/<archive>` -> the cache's copy, for every archive in the cache; others removed."""
    distdir = ws / "distdir"
    present = {a for a in archives if (cache / a).is_file()}
    for link in distdir.iterdir():
        if link.name not in present:
            link.unlink()
    for archive in sorted(present):
        link = distdir / archive
        if not link.is_symlink():
            link.symlink_to(cache / archive)


# --- 3. the build and its build events --------------------------------------------------------------------------


@dataclass
class BuildEvents:
    """What a `--build_event_json_file` says about the top-level targets."""

    succeeded: dict[str, list[str]] = field(default_factory=dict)
    """label -> its output files (paths, from the `importantOutput` uris)."""
    failed: dict[str, str] = field(default_factory=dict)
    """label -> Bazel's ERROR line naming it when it failed before any action ran (loading, analysis), else ""."""
    causes: dict[str, list[str]] = field(default_factory=dict)
    """label of a failed target -> the labels of the failed actions Bazel names as its root causes."""
    messages: dict[str, str] = field(default_factory=dict)
    """label of a failed target -> the first line of Bazel's own failure message (names no recipe or error)."""
    actions: dict[str, str] = field(default_factory=dict)
    """label of a failed action (e.g. `//recipes:six_build`) -> its first error line."""


def _uri_path(uri: str) -> str:
    return unquote(urlsplit(uri).path) if uri.startswith("file:") else uri


def _action_error(action: Mapping[str, Any]) -> str:
    """The first error line of a failed action: its stderr's `rules-pyodide ...: error:` line, else the first line
    that says error, else its first line, else Bazel's failure message."""
    text = ""
    for stream in ("stderr", "stdout"):
        uri = (action.get(stream) or {}).get("uri", "")
        if uri:
            with contextlib.suppress(OSError):  # gone already: Bazel's failure message below
                text += Path(_uri_path(uri)).read_text(encoding="utf-8", errors="replace")
    return (
        shorten(error_line(text))
        or first_line(str((action.get("failureDetail") or {}).get("message", "")))
        or (f"{action.get('type', 'action')} failed with exit code {action.get('exitCode', '?')}")
    )


_EXECROOT = re.compile(r"(?:/[^\s'\"]*)?/execroot/[^/\s'\"]+/")


def shorten(line: str) -> str:
    """`bazel-out/...` instead of the absolute (sandbox) execroot path, which changes with every run."""
    return _EXECROOT.sub("", line)


_EXCEPTION = re.compile(r"^[\w.]*(Error|Exception): ")
# pip's own lines that say only that the build failed.
_PIP_NOISE = ("subprocess-exited-with-error", "metadata-generation-failed", "legacy-install-failure")


def log_cause(tail: Sequence[str]) -> str:
    """The line of a log's tail that says why: the first Python exception line, else the first compiler-style
    `error:` line, else the last line."""
    for line in tail:
        if _EXCEPTION.match(line):
            return line
    for line in tail:
        if "error:" in line and not any(noise in line for noise in _PIP_NOISE):
            return line
    return tail[-1] if tail else ""


def error_line(text: str) -> str:
    """The line of a log that best says what failed: rules_pyodide's one error line (when it ends with ":", the
    log's tail follows: the line of it that says why is added, see `log_cause`), else Bazel's ERROR line, else any
    line with "error", else the first line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for i, line in enumerate(lines):
        if line.startswith("rules-pyodide ") and ": error: " in line:
            return f"{line} {log_cause(lines[i + 1 :])}" if line.endswith(":") and i + 1 < len(lines) else line
    for line in lines:
        if line.startswith("ERROR: ") and "Build did NOT complete" not in line:
            return line
    for line in lines:
        if "error" in line.lower():
            return line
    return lines[0] if lines else ""


def _analysis_error(label: str, progress: Sequence[str]) -> str:
    """The first `ERROR:` line of Bazel's progress output that names `label` (an analysis or loading error), else
    the first ERROR line."""
    errors = [line.strip() for text in progress for line in text.splitlines() if line.startswith("ERROR: ")]
    errors = [e for e in errors if "Build did NOT complete" not in e and "Analysis of target" not in e]
    named = [e for e in errors if label in e]
    return (named or errors or [""])[0]


def parse_build_events(path: Path) -> BuildEvents:
    """Per top-level target: built (and its outputs) or failed (and the first error line of its root cause)."""
    actions: dict[str, str] = {}
    """Id of a failed action (its JSON) -> its first error line."""
    action_labels: dict[str, str] = {}
    completed: list[tuple[str, Mapping[str, Any], list[str]]] = []
    aborted: dict[str, str] = {}
    progress: list[str] = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            event = json.loads(line)
            ident = event.get("id", {})
            if "progress" in event:
                progress.append(str(event["progress"].get("stderr", "")))
            if "actionCompleted" in ident and "action" in event:
                key = json.dumps(ident["actionCompleted"], sort_keys=True)
                actions[key] = _action_error(event["action"])
                action_labels[key] = str(event["action"].get("label") or ident["actionCompleted"].get("label", ""))
            if "targetCompleted" in ident:
                label = str(ident["targetCompleted"].get("label", ""))
                children = [json.dumps(c["actionCompleted"], sort_keys=True) for c in event.get("children", [])]
                children = [c for c in children if c != "null"]
                if "completed" in event:
                    completed.append((label, event["completed"], children))
                elif "aborted" in event:
                    aborted[label] = str(event["aborted"].get("description", ""))
            elif event.get("aborted", {}).get("reason"):
                # A pattern or a configured target that never got as far (loading or analysis failure); Bazel 4
                # reports the `--@rules_pyodide//:pyodide` flag's target as aborted with no reason: not a failure.
                for key in ("targetConfigured", "configuredLabel", "unconfiguredLabel"):
                    if key in ident and "label" in ident[key]:
                        aborted.setdefault(str(ident[key]["label"]), str(event["aborted"].get("description", "")))
    result = BuildEvents()
    for label, body, children in completed:
        if body.get("success"):
            outputs = [_uri_path(str(o.get("uri", ""))) for o in body.get("importantOutput", [])]
            result.succeeded[label] = outputs
            continue
        result.failed[label] = ""
        result.causes[label] = [action_labels[c] for c in children if c in action_labels]
        result.messages[label] = first_line(str((body.get("failureDetail") or {}).get("message", "")))
    for label, description in aborted.items():
        if label not in result.succeeded and label not in result.failed:
            result.failed[label] = _analysis_error(label, progress)
            result.messages[label] = first_line(description) or "aborted"
    for key, label in sorted(action_labels.items()):
        result.actions.setdefault(label, actions[key])
    return result


def recipe_of_label(label: str, directories: Iterable[str]) -> str | None:
    """The recipe directory a `//recipes:...` target belongs to (`six_build`, `corpus_six`, `six_files/six`)."""
    name = label.rsplit(":", 1)[-1].split("/", 1)[0]
    known = set(directories)
    if name.startswith(TARGET_PREFIX) and name[len(TARGET_PREFIX) :] in known:
        return name[len(TARGET_PREFIX) :]
    if name in known:
        return name
    for suffix in (*_TARGET_SUFFIXES, "_files"):
        if name.endswith(suffix) and name[: -len(suffix)] in known:
            return name[: -len(suffix)]
    return None


def target_of(directory: str, entry: Mapping[str, Any]) -> str:
    if entry["type"] == "static_library":
        return f"//{RECIPES_PACKAGE}:{directory}"
    return f"//{RECIPES_PACKAGE}:{TARGET_PREFIX}{directory}"


# --- 4. imports in Pyodide ----------------------------------------------------------------------------------------

IMPORT_CODE = """\
import importlib
for name in {imports!r}:
    importlib.import_module(name)
"""


def import_check(dist: Path, pyodide_version: str, package: str, imports: Sequence[str], log: Path) -> tuple[str, str]:
    """("yes" | "loaded" | "no", first error line): `rules-pyodide run` (its own process, its output in `log`) loads
    `package` and its run requirements from `dist` in the runtime, then imports `imports`."""
    command = [sys.executable, "-m", "rules_pyodide.run", "--dist", str(dist), "--pyodide", pyodide_version]
    command += ["--package", package, "-c", IMPORT_CODE.format(imports=list(imports))]
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    write_atomic(log, f"$ {' '.join(command)}\n--- stdout ---\n{proc.stdout}--- stderr ---\n{proc.stderr}")
    if proc.returncode == 0:
        return ("yes" if imports else "loaded"), ""
    prefix = f"{RUN_PROG}: error: "
    errors = [line[len(prefix) :] for line in proc.stderr.splitlines() if line.startswith(prefix)]
    error = errors[-1] if errors else error_line(proc.stderr) or f"exit status {proc.returncode}"
    return "no", error.removeprefix(f"Pyodide {pyodide_version} run failed: ")


# --- the measurement --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    recipes: Path
    profile: str
    jobs: int = 2
    only: tuple[str, ...] = ()
    work: Path | None = None
    cache: Path = CACHE / "corpus-distdir"
    report: Path | None = None
    bazel: str = "bazel"
    disk_cache: Path = DISK_CACHE


def startup_flags(work: Path) -> list[str]:
    """The scratch workspace's Bazel server: its output base inside WORK (deleting WORK removes everything), and
    the JVM's temporary files in $TMPDIR (Bazel's JVM ignores it otherwise)."""
    flags = [f"--output_base={work / 'output_base'}"]
    if os.environ.get("TMPDIR"):
        flags.append(f"--host_jvm_args=-Djava.io.tmpdir={os.environ['TMPDIR']}")
    return flags


def default_work(recipes: Path) -> Path:
    digest = hashlib.sha256(str(recipes.resolve()).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"rules-pyodide-corpus-{recipes.resolve().parent.name}-{digest}"


def closure(directory: str, entries: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The recipe and every recipe it needs to build and load (run, host, libraries), transitively, sorted."""
    seen: set[str] = set()
    todo = [directory]
    while todo:
        d = todo.pop()
        if d in seen or d not in entries:
            continue
        seen.add(d)
        entry = entries[d]
        todo += [*entry["run"], *entry["host"], *entry["libraries"]]
    return sorted(seen)


def _kind(entry: Mapping[str, Any]) -> str:
    """pure | compiled | unknown (source not looked into: not downloadable) | static_library | shared_library."""
    if entry["type"] != "package":
        return str(entry["type"])
    return str(entry["kind"]) if entry["kind"] == "unknown" else ("compiled" if entry["compiled"] else "pure")


def select_directories(data: Mapping[str, Any], every: Sequence[str], only: Sequence[str]) -> list[str]:
    if not only:
        return list(every)
    by_name = {d.lower(): d for d in every}
    for directory, entry in data["recipes"].items():
        by_name.setdefault(str(entry["canonical_name"]), directory)
    chosen = []
    for name in only:
        directory = by_name.get(name.lower()) or by_name.get(name.lower().replace("_", "-"))
        if directory is None:
            raise CorpusError(f"--only {name}: no recipe of that name in the recipes directory")
        chosen.append(directory)
    return sorted(set(chosen))


def static_rows(data: Mapping[str, Any], selected: Sequence[str]) -> dict[str, Row]:
    """Rows of the recipes that are not built at all: disabled, stdlib, broken."""
    rows: dict[str, Row] = {}
    for d in selected:
        if d in data["disabled"]:
            rows[d] = Row(d, kind="disabled", error="package._disabled (or it needs a disabled recipe)")
        elif d in data["stdlib"]:
            rows[d] = Row(d, kind="stdlib", error="standard library module: the runtime ships it")
        elif d in data["broken"]:
            rows[d] = Row(d, built="no", error=first_line(data["broken"][d]))
    return rows


def download_rows(
    entries: Mapping[str, Mapping[str, Any]], selected: Sequence[str], reasons: Mapping[str, str]
) -> dict[str, Row]:
    """Rows of the recipes whose source (or a needed recipe's) is not downloadable, or failed to fetch; the others
    get downloadable yes/local and are built."""
    rows: dict[str, Row] = {}
    for d in selected:
        problems = []
        for dep in closure(d, entries):
            archive = entries[dep]["archive"]
            reason = reasons.get(archive, "") if archive else ""
            if reason:
                problems.append((dep, reason))
        kind = _kind(entries[d])
        if not problems:
            rows[d] = Row(d, kind=kind, downloadable="yes" if entries[d]["url"] else "local")
            continue
        dep, reason = next(((p, r) for p, r in problems if p == d), problems[0])
        where = "" if dep == d else f"needs {dep}: "
        if all(is_not_downloadable(r) for _, r in problems):
            rows[d] = Row(d, kind=kind, downloadable="no", error=where + reason)
        else:
            dep, reason = next((p, r) for p, r in problems if not is_not_downloadable(r))
            where = "" if dep == d else f"needs {dep}: "
            rows[d] = Row(d, kind=kind, downloadable="yes", built="no", error=where + reason)
    return rows


def build_rows(
    rows: Mapping[str, Row],
    events: BuildEvents,
    entries: Mapping[str, Mapping[str, Any]],
) -> dict[str, Row]:
    """`built` and the error line of each row that was built, from the build events."""
    result = dict(rows)

    def needs(dep: str | None, line: str) -> str:
        return line if dep == d else f"needs {dep}: {line}"

    for d, row in rows.items():
        target = target_of(d, entries[d])
        if target in events.succeeded:
            imported = "n/a" if entries[d]["type"] == "static_library" else "-"
            result[d] = replace(row, built="yes", imported=imported)
            continue
        # The recipe's own failed action if Bazel names it as a root cause, else the first root cause (a recipe it
        # needs), else Bazel's loading/analysis error, else a failed action of the recipe or of one it needs.
        causes = [(recipe_of_label(c, entries), events.actions[c]) for c in events.causes.get(target, [])]
        own = [line for dep, line in causes if dep == d]
        failed = {recipe_of_label(label, entries): line for label, line in sorted(events.actions.items())}
        needed = [dep for dep in closure(d, entries) if dep in failed]
        if own or causes:
            line = own[0] if own else needs(*causes[0])
        elif events.failed.get(target):
            line = events.failed[target]
        elif needed:
            dep = d if d in needed else needed[0]
            line = needs(dep, failed[dep])
        else:
            line = events.messages.get(target) or "not built (no build event for its target)"
        result[d] = replace(row, built="no", error=line)
    return result


def bazel_command(options: Options, bep: Path, targets: Sequence[str]) -> list[str]:
    return [
        options.bazel,
        "build",
        "--keep_going",
        f"--jobs={max(1, options.jobs)}",
        f"--disk_cache={options.disk_cache}",
        f"--build_event_json_file={bep}",
        "--curses=no",
        "--show_progress_rate_limit=10",
        f"--@rules_pyodide//:pyodide={options.profile}",
        *targets,
    ]


def _bazel(options: Options, ws: Path, args: Sequence[str]) -> int:
    command = [options.bazel, *startup_flags(ws.parent), *args]
    try:
        return subprocess.run(command, cwd=ws, check=False, stdout=sys.stderr).returncode
    except FileNotFoundError as err:
        raise CorpusError(f"{options.bazel}: Bazel not found; run `make setup`") from err


def output_dir(ws: Path, outputs: Sequence[str], directory: str) -> Path:
    """The package directory a `corpus_<name>` target built: where its index files are (Bazel lists the files of
    a directory output), else its path under the convenience symlink."""
    for path in outputs:
        if Path(path).name in ("repodata.json", "pyodide-lock.json"):
            return Path(path).parent
    return ws / ".bazel" / "bin" / RECIPES_PACKAGE / "corpus" / directory


def measure(options: Options, console: Console) -> list[Row]:
    recipes = options.recipes.resolve()
    if not recipes.is_dir() or not recipe_directories(recipes):
        raise CorpusError(f"--recipes {options.recipes}: no <name>/meta.yaml in that directory")
    table = load_table()
    if options.profile not in table.profiles:
        raise CorpusError(f"--profile {options.profile}: not a profile (one of: {', '.join(sorted(table.profiles))})")
    pyodide_version = table.profiles[options.profile].runtimes[0]
    work = (options.work or default_work(recipes)).resolve()
    if work == ROOT or ROOT in work.parents:
        raise CorpusError(f"--work {work}: must be outside the rules_pyodide checkout {ROOT}")
    ws = work / "ws"
    every = recipe_directories(recipes)
    ws.mkdir(parents=True, exist_ok=True)
    # Parse the recipes as the repository rule will (paths as it names them, from the scratch workspace).
    write_workspace(ws, recipes, {})
    try:
        data = _convert_in(ws, options.cache)
    except RecipeError as err:
        raise CorpusError(str(err)) from err
    entries: Mapping[str, Mapping[str, Any]] = data["recipes"]
    selected = select_directories(data, every, options.only)
    rows = static_rows(data, selected)
    buildable = [d for d in selected if d not in rows and d in entries]
    needed = sorted({dep for d in buildable for dep in closure(d, entries)})
    wants = [wanted_of(entries[d]) for d in needed if entries[d]["url"]]
    say(console, f"{len(selected)} recipes selected; fetching {len(wants)} sources into {options.cache}")
    reasons = fetch_sources(wants, options.cache, [ROOT / ".cache" / "distdir"], options.jobs)
    fetched = sorted(a for a, r in reasons.items() if not r)
    # Recipes converted again now that their archives are there (compiled or pure is found out from the source).
    link_distdir(ws, options.cache, [entries[d]["archive"] for d in entries if entries[d]["archive"]])
    data = _convert_in(ws, options.cache)
    entries = data["recipes"]
    write_workspace(ws, recipes, entries)
    rows.update(static_rows(data, [d for d in buildable if d not in entries]))
    buildable = [d for d in buildable if d in entries]
    checked = download_rows(entries, buildable, reasons)
    to_build = {d: r for d, r in checked.items() if r.downloadable != "no" and r.built != "no"}
    rows.update({d: r for d, r in checked.items() if d not in to_build})
    say(console, f"{len(fetched)} of {len(reasons)} sources here; building {len(to_build)} recipes")
    if to_build:
        _refresh_recipes(options, ws, work, fetched)
        bep = work / "build_events.json"
        bep.unlink(missing_ok=True)
        targets = [target_of(d, entries[d]) for d in sorted(to_build)]
        _bazel(options, ws, bazel_command(options, bep, targets)[1:])
        if not bep.is_file():
            raise CorpusError(f"{bep}: Bazel wrote no build events (see its output above)")
        events = parse_build_events(bep)
        built = build_rows(to_build, events, entries)
        rows.update(built)
        to_import = [d for d, r in built.items() if r.built == "yes" and r.imported == "-"]
        say(console, f"{len(to_import)} packages built; importing each in Pyodide {pyodide_version}")

        def check_one(d: str) -> tuple[str, str, str]:
            target = target_of(d, entries[d])
            dist = output_dir(ws, events.succeeded.get(target, []), d)
            log = work / "logs" / f"{d}.import.log"
            imported, error = import_check(dist, pyodide_version, entries[d]["name"], entries[d]["test_imports"], log)
            say(console, f"  {d}: {imported}{' - ' + error if error else ''}")
            return d, imported, error

        with ThreadPoolExecutor(max_workers=max(1, options.jobs)) as pool:
            for d, imported, error in pool.map(check_one, to_import):
                rows[d] = replace(rows[d], imported=imported, error=error)
    return [rows[d] for d in sorted(rows, key=str.lower)]


def say(console: Console, message: str) -> None:
    """A progress line on stderr (no rich markup: recipe names and errors are data)."""
    console.print(f"[corpus] {message}", markup=False, highlight=False, soft_wrap=True)


def _convert_in(ws: Path, cache: Path) -> dict[str, Any]:
    """recipes_bzl.convert of the scratch workspace's recipes, run from it so that messages name
    `recipes/<name>/meta.yaml`, looking into the archives of the scratch distdir."""
    previous = Path.cwd()
    os.chdir(ws)
    try:
        return convert(Path(RECIPES_PACKAGE), Path("distdir"))
    finally:
        os.chdir(previous)


def _refresh_recipes(options: Options, ws: Path, work: Path, archives: Sequence[str]) -> None:
    """The recipes repository rule reads the distdir (compiled or pure) but cannot watch it: re-run it when the set
    of archives differs from the last run's."""
    stamp = work / "recipes.stamp"
    listing = "\n".join([*archives, *recipe_directories(ws / RECIPES_PACKAGE)]) + "\n"
    if stamp.is_file() and stamp.read_text(encoding="utf-8") == listing:
        return
    _bazel(options, ws, ["sync", "--only=pyodide_recipes"])
    write_atomic(stamp, listing)


# --- 5. the table -----------------------------------------------------------------------------------------------


def render(rows: Sequence[Row], title: str) -> Table:
    table = Table(title=title, show_lines=False)
    for column in ("recipe", "kind", "downloadable", "built", "imported", "first error line"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(row.recipe, row.kind, row.downloadable, row.built, row.imported, row.error)
    return table


def totals_line(t: Totals) -> str:
    return (
        f"{t.recipes} recipes: {t.skipped} skipped (disabled or stdlib), {t.downloadable} downloadable, "
        f"{t.built} built, {t.imported} imported, {t.failed} failed; "
        f"{t.percent}% of the {t.measured} recipes measured (downloadable, or refused before any download) built "
        "and imported"
    )


def markdown(rows: Sequence[Row], title: str) -> str:
    lines = [f"# {title}", "", totals_line(totals(rows)), ""]
    lines += ["| recipe | kind | downloadable | built | imported | first error line |", "|---|---|---|---|---|---|"]
    for r in rows:
        error = r.error.replace("|", "\\|")
        lines.append(f"| {r.recipe} | {r.kind} | {r.downloadable} | {r.built} | {r.imported} | {error} |")
    return "\n".join(lines) + "\n"


def report_json(rows: Sequence[Row], recipes: Path, profile: str) -> str:
    data = {
        "recipes_dir": str(recipes),
        "profile": profile,
        "totals": asdict(totals(rows)),
        "rows": [asdict(r) | {"outcome": r.outcome} for r in rows],
    }
    return json.dumps(data, indent=2) + "\n"


def write_report(path: Path, rows: Sequence[Row], recipes: Path, profile: str) -> None:
    title = f"rules_pyodide on {recipes} (profile {profile})"
    text = markdown(rows, title) if path.suffix == ".md" else report_json(rows, recipes, profile)
    write_atomic(path, text)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    parser.add_argument("--recipes", required=True, type=Path, help="a recipes directory: <name>/meta.yaml")
    parser.add_argument("--profile", default=load_table().default_profile, help="ABI profile (default: %(default)s)")
    parser.add_argument("--jobs", type=int, default=2, help="Bazel jobs and parallel import checks")
    parser.add_argument("--only", nargs="+", default=[], metavar="NAME", help="only these recipes (and what they need)")
    parser.add_argument("--work", type=Path, help="scratch directory (default: one per recipes directory in $TMPDIR)")
    parser.add_argument("--cache", type=Path, default=CACHE / "corpus-distdir", help="shared source archive cache")
    parser.add_argument("--report", type=Path, help="write the table: FILE.md (Markdown) or any other name (JSON)")
    parser.add_argument("--bazel", default="bazel", help="the Bazel binary")
    parser.add_argument("--disk-cache", type=Path, default=DISK_CACHE, help="Bazel's --disk_cache")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return run_command(PROG, lambda: _command(args))


def _command(args: argparse.Namespace) -> None:
    options = Options(
        recipes=args.recipes,
        profile=args.profile,
        jobs=args.jobs,
        only=tuple(args.only),
        work=args.work,
        cache=args.cache.resolve(),
        report=args.report,
        bazel=args.bazel,
        disk_cache=args.disk_cache,
    )
    console = Console(width=None if sys.stdout.isatty() else 200)
    rows = measure(options, Console(stderr=True))
    console.print(render(rows, f"rules_pyodide on {options.recipes} (profile {options.profile})"))
    console.print(totals_line(totals(rows)))
    if options.report is not None:
        write_report(options.report, rows, options.recipes, options.profile)


if __name__ == "__main__":
    sys.exit(main())
