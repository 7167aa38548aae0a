"""`make demo`: build the examples and every recipe with Bazel, load them into real Pyodide in Node, print a summary.

1. `bazel build` of the example file packages and of `//packages:dist_<profile>` for every ABI profile of the table
   (rules_pyodide/runtimes.json): one package directory per profile (wheels, file packages, index files).
2. File packages (plain and LZ4) are loaded into each Pyodide runtime through js/load_file_package.js; the sha256 of
   every file is computed inside Python and compared with the source tree, and the packaged module is imported.
3. Every package of each profile's directory is loaded with `pyodide.loadPackage` through our own index
   (`rules-pyodide run`) in each runtime that profile serves, and each recipe's `test/imports` is imported; the
   pure-Python ones also in the oldest and the newest runtime.

Exit status 1 if anything failed; every check is shown in the tables either way.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name
from rich.console import Console
from rich.table import Table

from rules_pyodide.recipe import Recipe, load_recipes
from rules_pyodide.run import RUNNER_JS, CodeFailed, find_runtime, run, run_node, summary
from rules_pyodide.runtimes import installed_versions, load_table

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".bazel" / "bin"
EXAMPLE = "examples/file_package"
EXAMPLE_SITE = ROOT / EXAMPLE / "site"
EXAMPLE_EXCLUDES = (".md",)  # examples/file_package/BUILD.bazel excludes *.md
SITE_PACKAGES = "/lib/python3.10/site-packages"  # the example's `prefix`
TABLE = load_table()
FILE_PACKAGE_RUNTIMES = tuple(installed_versions())

console = Console()


@dataclass(frozen=True)
class Check:
    """One row of a summary: what was checked, where, and how it went."""

    subject: str
    runtime: str
    ok: bool
    detail: str
    seconds: float


def bazel_build(targets: Sequence[str]) -> None:
    console.rule("[bold]1. bazel build")
    started = time.perf_counter()
    subprocess.run(["bazel", "build", *targets], cwd=ROOT, check=True)
    console.print(f"built {' '.join(targets)} in {time.perf_counter() - started:.1f} s")


def profile_dist(profile: str) -> Path:
    """Where `//packages:dist_<profile>` is (its own output directory: it is built through a transition)."""
    target = f"//packages:dist_{profile}"
    out = subprocess.run(["bazel", "cquery", "--output=files", target], cwd=ROOT, check=True, capture_output=True)
    return ROOT / out.stdout.decode().strip().splitlines()[-1]


def expected_digests() -> dict[str, str]:
    """sha256 of each example file, keyed by its path below site-packages."""
    return {
        str(path.relative_to(EXAMPLE_SITE)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(EXAMPLE_SITE.rglob("*"))
        if path.is_file() and not path.name.endswith(EXAMPLE_EXCLUDES)
    }


FILE_PACKAGE_CHECK = f"""
import hashlib, json, os, sys
root = {SITE_PACKAGES!r}
sys.path.insert(0, root)  # runtimes newer than 0.21 have another site-packages
digests = {{}}
for directory, _, names in os.walk(os.path.join(root, "hello")):
    for name in names:
        path = os.path.join(directory, name)
        with open(path, "rb") as f:
            digests[os.path.relpath(path, root)] = hashlib.sha256(f.read()).hexdigest()
import hello
json.dumps({{"digests": digests, "greeting": hello.greet("Pyodide")}})
"""


def check_file_package(runtime_version: str, package: str, expected: dict[str, str]) -> Check:
    runtime = find_runtime(runtime_version, None)
    js = BIN / EXAMPLE / f"{package}.js"
    started = time.perf_counter()
    command = ["node", str(RUNNER_JS), "--pyodide", str(runtime.directory), "--package", str(js)]
    report = run_node([*command, "--code", FILE_PACKAGE_CHECK])
    seconds = time.perf_counter() - started
    if not report.ok:
        return Check(package, runtime_version, False, report.error.strip().splitlines()[-1], seconds)
    result = json.loads(report.result)
    wrong = sorted(set(expected.items()) ^ set(result["digests"].items()))
    if wrong:
        return Check(package, runtime_version, False, f"{len(wrong)} files differ, e.g. {wrong[0][0]}", seconds)
    return Check(package, runtime_version, True, f"{len(expected)} files match; {result['greeting']}", seconds)


def dist_packages(dist: Path) -> dict[str, bool]:
    """The dist's packages (canonical name -> compiled): a compiled one fits only the profile's runtimes. Static
    libraries (linked into their dependents) and `slow` recipes (numpy: `bazel test //packages:numpy_test`) are not
    in the dist."""
    index = json.loads((dist / "pyodide-lock.json").read_text(encoding="utf-8"))
    return {key: not p["file_name"].endswith("-none-any.whl") for key, p in index["packages"].items()}


def check_recipes(dist: Path, runtime_version: str, compiled: bool, recipes: dict[str, Recipe]) -> list[Check]:
    """Loads the dist's packages in `runtime_version`: every one (`compiled`: the runtime serves the dist's profile),
    else the pure-Python ones."""
    runtime = find_runtime(runtime_version, None)
    shipped = dist_packages(dist)
    names = sorted(
        r.package.name
        for r in recipes.values()
        if (key := canonicalize_name(r.package.name)) in shipped and (compiled or not shipped[key])
    )
    imports = {r.package.name: list(r.test.imports) for r in recipes.values() if r.package.name in names}
    code = (
        "import importlib, json\n"
        f"imports = {imports!r}\n"
        "results = {}\n"
        "for name, modules in imports.items():\n"
        "    try:\n"
        "        for module in modules:\n"
        "            importlib.import_module(module)\n"
        "        results[name] = 'ok'\n"
        "    except Exception as error:\n"
        "        results[name] = f'{type(error).__name__}: {error}'\n"
        "print(json.dumps(results))\n"
    )
    started = time.perf_counter()
    try:
        report = run(dist, runtime, code, packages=names)
    except CodeFailed as error:
        seconds = time.perf_counter() - started
        return [Check(name, runtime_version, False, summary(str(error)), seconds) for name in names]
    seconds = time.perf_counter() - started
    results: dict[str, str] = json.loads(report.stdout.strip().splitlines()[-1])
    versions = {r.package.name: r.package.version for r in recipes.values()}
    checks = []
    for name in names:
        outcome = results.get(name, "not imported")
        detail = f"{versions[name]}: imports {', '.join(imports[name]) or '(none)'}"
        checks.append(Check(name, runtime_version, outcome == "ok", detail if outcome == "ok" else outcome, seconds))
    return checks


def show(title: str, checks: Sequence[Check]) -> None:
    table = Table(title=title)
    for column in ("what", "Pyodide", "result", "detail", "s"):
        table.add_column(column, justify="right" if column == "s" else "left")
    for check in checks:
        mark = "[green]ok[/green]" if check.ok else "[red]FAILED[/red]"
        table.add_row(check.subject, check.runtime, mark, check.detail, f"{check.seconds:.1f}")
    console.print(table)


def main() -> int:
    bazel_build([f"//{EXAMPLE}:all", *(f"//packages:dist_{profile}" for profile in TABLE.profiles)])

    console.rule("[bold]2. file packages in real Pyodide")
    expected = expected_digests()
    file_checks = []
    for version in FILE_PACKAGE_RUNTIMES:
        for package in ("hello", "hello_lz4"):
            with console.status(f"Pyodide {version}: loading {package}"):
                file_checks.append(check_file_package(version, package, expected))
    show("example file packages (plain and LZ4): every file's sha256 checked inside Python", file_checks)

    console.rule("[bold]3. recipes through our index")
    recipes = load_recipes(ROOT / "packages")
    recipe_checks = []
    for profile in TABLE.profiles.values():
        dist = profile_dist(profile.name)
        runtimes = [(v, True) for v in profile.runtimes]
        if profile.name == TABLE.default_profile:
            runtimes += [(v, False) for v in TABLE.pure_test_runtimes if v not in profile.runtimes]
        for version, compiled in runtimes:
            with console.status(f"Pyodide {version}: loadPackage of profile {profile.name}'s packages"):
                recipe_checks += check_recipes(dist, version, compiled, recipes)
    title = "every package of each profile's directory: loadPackage through our index, then test/imports"
    show(f"{title} (compiled ones in the runtimes of their profile, pure ones also in the newest)", recipe_checks)

    checks = file_checks + recipe_checks
    failed = [c for c in checks if not c.ok]
    console.rule("[bold]summary")
    console.print(f"{len(checks) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
