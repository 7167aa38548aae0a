"""Download every recipe's source archive into the distdir, so that the Bazel build runs offline.

    rules-pyodide fetch [--packages packages] [--distdir .cache/distdir] [--jobs 4] [NAME ...]

For each enabled recipe with a `source.url` (or only the NAMEs given): exactly the file the url names is downloaded
(and every wheel its `build-requirements.lock` names, checked against the lock's sha256: rules_pyodide.build_lock)
(nothing is built or resolved: an sdist's build requirements are never installed to fetch it). Recipes naming the same
archive share one download. The file must have the recipe's sha256 (or md5); a mismatch names the recipe and shows the
expected and the actual digest, and nothing is written. It is stored under the url's base name (Bazel's `--distdir`
finds archives by base name + sha256). An archive already in the distdir with the right digest is kept without
downloading. Files are moved into the distdir atomically.

One bad recipe does not stop the others: each `meta.yaml` is read on its own (rules_pyodide.recipe.load_recipe; what
fetching needs is the recipe's own source, so the dependency graph is not checked here: `recipes-bzl --summary` does
that), every readable recipe's archive is fetched, and then each error (an unreadable recipe, a failed download, a
wrong checksum) is printed as its own `rules-pyodide fetch: error: ...` line and the exit status is 1. Fetching what
can be fetched first means the one recipe to mend is all that is left to download afterwards. With NAMEs, a broken
recipe counts only when its directory is one of them. A `--packages` directory that does not exist is an error.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name

from rules_pyodide.build_lock import LOCK_NAME, BuildLockError, read_lock
from rules_pyodide.errors import EXIT_ERROR, RulesPyodideError, prog, report, run_command
from rules_pyodide.outputs import file_digest
from rules_pyodide.recipe import Recipe, RecipeError, load_recipe
from rules_pyodide.recipes_bzl import archive_name


class FetchError(RulesPyodideError):
    """A source could not be fetched or does not match its recipe."""


@dataclass(frozen=True)
class Wanted:
    """One archive the distdir must hold."""

    name: str
    version: str
    meta: str
    archive: str
    algorithm: str  # "sha256" or "md5"
    digest: str
    url: str = ""


PROG = prog("fetch")
_TIMEOUT_S = 120


def load(packages: Path) -> tuple[dict[str, Recipe], dict[str, str]]:
    """(directory -> recipe, for the recipes that parse; directory -> one-line error, for the others)."""
    if not packages.is_dir():
        raise FetchError(f"--packages {packages}: no such directory (expected the recipes directory, <name>/meta.yaml)")
    recipes: dict[str, Recipe] = {}
    errors: dict[str, str] = {}
    for meta in sorted(packages.glob("*/meta.yaml")):
        try:
            recipes[meta.parent.name] = load_recipe(meta)
        except RecipeError as err:
            errors[meta.parent.name] = str(err)
    return recipes, errors


def wanted(packages: Path, only: Sequence[str] = ()) -> tuple[list[Wanted], list[str]]:
    """The archives to fetch, and the errors of the recipes that cannot be read (those of `only`, when given)."""
    recipes, broken = load(packages)
    selected = {str(canonicalize_name(n)) for n in only}
    known = {r.canonical_name for r in recipes.values()} | {str(canonicalize_name(d)) for d in recipes}
    broken_selected = [e for d, e in broken.items() if not selected or str(canonicalize_name(d)) in selected]
    unknown = selected - known - {str(canonicalize_name(d)) for d in broken}
    if unknown:
        raise FetchError(f"no recipe named {', '.join(sorted(unknown))} in {packages}")
    result = []
    for directory, recipe in recipes.items():
        source = recipe.source
        if source is None or source.url is None or recipe.package.disabled:
            continue
        if selected and recipe.canonical_name not in selected and str(canonicalize_name(directory)) not in selected:
            continue
        algorithm, digest = ("sha256", source.sha256) if source.sha256 else ("md5", source.md5)
        assert digest is not None  # recipe.py requires a checksum with a url
        meta = str(packages / directory / "meta.yaml")
        try:
            archive = archive_name(source.url)
        except RecipeError as err:
            broken_selected.append(f"{meta}: {err}")
            continue
        result.append(Wanted(recipe.name, recipe.package.version, meta, archive, algorithm, digest, source.url))
        try:
            result += locked_wheels(recipe.name, recipe.package.version, packages / directory / LOCK_NAME)
        except BuildLockError as err:
            broken_selected.append(str(err))
    return result, broken_selected


def locked_wheels(name: str, version: str, lock: Path) -> list[Wanted]:
    """The wheels of a recipe's build-requirements lock (every Python's: the build action's inputs are all of them)."""
    if not lock.is_file():
        return []
    wheels = read_lock(lock).wheels
    return [Wanted(name, version, str(lock), w.filename, "sha256", w.sha256, w.url) for w in wheels]


def check(path: Path, want: Wanted) -> None:
    actual = file_digest(path, want.algorithm)
    if actual != want.digest:
        raise FetchError(
            f"{want.meta}: source.{want.algorithm} mismatch for {want.archive}\n"
            f"  expected: {want.digest}\n  actual:   {actual} ({path})"
        )


def download(want: Wanted, into: Path) -> Path:
    """Downloads `want.url` into the new directory `into`; returns the file."""
    into.mkdir(parents=True)
    dest = into / want.archive
    request = urllib.request.Request(want.url, headers={"User-Agent": "rules-pyodide-fetch"})
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response, open(dest, "wb") as out:
            shutil.copyfileobj(response, out, 1 << 20)
    except (urllib.error.URLError, TimeoutError) as err:
        raise FetchError(f"{want.meta}: cannot download source.url {want.url}: {err}") from err
    return dest


def fetch_one(want: Wanted, distdir: Path) -> str:
    """Make distdir/archive valid; returns what was done, for the log."""
    dest = distdir / want.archive
    if dest.is_file():
        try:
            check(dest, want)
            return f"ok       {want.archive}"
        except FetchError:
            pass  # downloaded again below; a recipe with a wrong digest then fails with expected/actual
    tmp = Path(tempfile.mkdtemp(prefix=f".{want.name}.", dir=distdir))
    try:
        downloaded = download(want, tmp / "d")
        check(downloaded, want)
        os.replace(downloaded, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return f"fetched  {want.archive}"


def fetch(packages: Path, distdir: Path, only: Sequence[str] = (), jobs: int = 4) -> tuple[list[str], list[str]]:
    """Fetches what can be fetched; returns (one line per archive, one message per error)."""
    found, errors = wanted(packages, only)
    distdir.mkdir(parents=True, exist_ok=True)
    wants = []
    by_archive: dict[str, Wanted] = {}
    for want in found:
        first = by_archive.setdefault(want.archive, want)
        if first is want:
            wants.append(want)
        elif (first.algorithm, first.digest) != (want.algorithm, want.digest):
            errors.append(f"{want.meta}: source: {want.archive} has another checksum in {first.meta}")
    lines: list[str] = []
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(fetch_one, w, distdir) for w in wants]
        for future in futures:
            try:
                lines.append(future.result())
            except (FetchError, OSError) as err:
                errors.append(str(err))
    return lines, errors


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    parser.add_argument("--packages", type=Path, default=Path("packages"), help="the recipes directory")
    parser.add_argument("--distdir", type=Path, default=Path(".cache/distdir"), help="where archives go")
    parser.add_argument("--jobs", type=int, default=4, help="parallel downloads")
    parser.add_argument("names", nargs="*", help="only these recipes (default: all)")
    args = parser.parse_args(argv)
    return run_command(PROG, lambda: _command(args))


def _command(args: argparse.Namespace) -> int:
    lines, errors = fetch(args.packages, args.distdir, args.names, args.jobs)
    for line in lines:
        print(line)
    for message in errors:
        report(PROG, message)
    return EXIT_ERROR if errors else 0


if __name__ == "__main__":
    sys.exit(main())
