"""A release: the package directory, the JS loader, SHA256SUMS and a provenance record, as a directory and a tarball.

    python -m rules_pyodide.release assemble --dist DIR --recipes RECIPES.json --output DIR [--tarball OUT.tar.gz]
        [--loader FILE ...] [--archive REPO=PATH ...] [--recipe-file WORKSPACE_PATH=PATH ...]
        [--toolchain NAME=VERSION ...] [--python-distribution NAME ...]
    python -m rules_pyodide.release verify DIR [--expect SHA256SUMS]

`assemble` copies every file of the package directory `--dist` (index files included) and the `--loader` files into
`--output`, writes `provenance.json`, then `SHA256SUMS` (`sha256sum -c` format, every other file, sorted). The
provenance names, for every package of the dist's `pyodide-lock.json`, its recipe (path + sha256), its source (url +
sha256 of the archive actually used, which must match the recipe; or, for a `source.path` recipe, the digest of its
`--recipe-file`s under that path, as `sha256sum` lines), its patches and extras (path + sha256) and its files; the
same for `build_only` recipes (host requirements and linked libraries that ship nothing); the target profile (the
lock's `info`); the toolchains:
this interpreter, the versions of the `--python-distribution`s it builds with, and every `--toolchain`. A dist package
without a recipe is an error: the record would be incomplete. `--tarball` gets the same tree under `<output name>/`:
members sorted, mtime SOURCE_DATE_EPOCH (default 315532800), owner 0, modes 0644/0755, gzip without name or time
(rules_pyodide.outputs.write_tar_gz).
Everything is written beside its final place and renamed at the end.

`verify` checks a release directory against its SHA256SUMS (every file listed, nothing missing, every digest right)
and, with `--expect`, that its SHA256SUMS equals another one, e.g. the published one after a rebuild.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from packaging.utils import canonicalize_name

from rules_pyodide.errors import RulesPyodideError, prog, run_command
from rules_pyodide.outputs import atomic_dir, sha256_file, source_date_epoch, write_tar_gz

PROG = prog("release")
SUMS = "SHA256SUMS"
PROVENANCE = "provenance.json"
LOCK = "pyodide-lock.json"
SCHEMA = "rules_pyodide/provenance/v1"


class ReleaseError(RulesPyodideError):
    """The release cannot be assembled or does not verify; the message names the file and what is wrong."""


# ---------------------------------------------------------------------------------------------------------------------
# Inputs.


def parse_pairs(values: Sequence[str], flag: str) -> dict[str, str]:
    """`KEY=VALUE` flags as a dict; a missing `=` or a repeated key is an error naming the flag."""
    pairs: dict[str, str] = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key or not rest:
            raise ReleaseError(f"{flag} {value!r}: expected KEY=VALUE")
        if key in pairs and pairs[key] != rest:
            raise ReleaseError(f"{flag} {key}: given twice ({pairs[key]!r} and {rest!r})")
        pairs[key] = rest
    return pairs


def files_sha256(files: Mapping[str, Path]) -> str:
    """Digest of a set of files: sha256 of their sorted `sha256  relative/path` lines (as `sha256sum` prints them)."""
    lines = [f"{sha256_file(files[name])}  {name}\n" for name in sorted(files)]
    return hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()


def _load_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ReleaseError(f"{path}: cannot read {what}: {err}") from None


def _recipes(path: Path) -> dict[str, dict[str, Any]]:
    """`RECIPES["recipes"]` (directory name -> entry), as written by the rule with `json.encode`."""
    data = _load_json(path, "the recipes")
    recipes = data.get("recipes") if isinstance(data, dict) else None
    if not isinstance(recipes, dict):
        raise ReleaseError(f"{path}: expected an object with a 'recipes' object (RECIPES of @pyodide_recipes)")
    return recipes


# ---------------------------------------------------------------------------------------------------------------------
# Provenance.


def _hashed(recipe_files: Mapping[str, Path], path: str, meta: str, key: str) -> dict[str, str]:
    if path not in recipe_files:
        raise ReleaseError(f"{meta}: {key}: {path} is not among the --recipe-file inputs")
    return {"path": path, "sha256": sha256_file(recipe_files[path])}


def _source(recipe: Mapping[str, Any], archives: Mapping[str, Path], files: Mapping[str, Path]) -> dict[str, Any]:
    meta = str(recipe["meta"])
    if recipe.get("url"):
        archive = archives.get(str(recipe["source_repo"]))
        if archive is None:
            raise ReleaseError(f"{meta}: source.url: no --archive for @{recipe['source_repo']}")
        actual = sha256_file(archive)
        if recipe.get("sha256") and recipe["sha256"] != actual:
            raise ReleaseError(
                f"{meta}: source.sha256 mismatch for {recipe['url']}\n"
                f"  expected: {recipe['sha256']}\n  actual:   {actual}"
            )
        source: dict[str, Any] = {"url": recipe["url"], "archive": recipe["archive"], "sha256": actual}
        if recipe.get("md5"):
            source["md5"] = recipe["md5"]
        return source
    path = (PurePosixPath(meta).parent / str(recipe["path"])).as_posix()
    tree = {k[len(path) + 1 :]: v for k, v in files.items() if k.startswith(path + "/")}
    if not tree:
        raise ReleaseError(f"{meta}: source.path: no --recipe-file under {path}/")
    return {"path": path, "tree_sha256": files_sha256(tree)}


def package_record(
    recipe: Mapping[str, Any], files: Sequence[str], archives: Mapping[str, Path], recipe_files: Mapping[str, Path]
) -> dict[str, Any]:
    """What went into one package: recipe, source, patches, extras; and the release files it ships."""
    meta = str(recipe["meta"])
    base = PurePosixPath(meta).parent
    patches = [
        _hashed(recipe_files, (base / p).as_posix(), meta, f"source.patches[{i}]")
        for i, p in enumerate(recipe.get("patches") or [])
    ]
    extras = []
    for i, (src, dst) in enumerate(recipe.get("extras") or []):
        extra = _hashed(recipe_files, (base / src).as_posix(), meta, f"source.extras[{i}]")
        extras.append({**extra, "destination": dst})
    return {
        "name": recipe["name"],
        "version": recipe["version"],
        "recipe": _hashed(recipe_files, meta, meta, "recipe"),
        "source": _source(recipe, archives, recipe_files),
        "patches": patches,
        "extras": extras,
        "files": sorted(files),
    }


def _lock_entries(dist: Path) -> tuple[dict[str, str], dict[str, str], dict[str, Any]]:
    """(canonical package name -> file name, -> version, info) from the dist's pyodide-lock.json."""
    lock = _load_json(dist / LOCK, "the package index")
    packages = lock.get("packages") if isinstance(lock, dict) else None
    info = lock.get("info") if isinstance(lock, dict) else None
    if not isinstance(packages, dict) or not isinstance(info, dict):
        raise ReleaseError(f"{dist / LOCK}: expected 'info' and 'packages' objects")
    files: dict[str, str] = {canonicalize_name(str(e["name"])): str(e["file_name"]) for e in packages.values()}
    versions: dict[str, str] = {canonicalize_name(str(e["name"])): str(e.get("version", "")) for e in packages.values()}
    return files, versions, info


def _recipe_of(recipes: Mapping[str, Mapping[str, Any]], versions: Mapping[str, str]) -> dict[str, str]:
    """Canonical name -> the directory of its recipe; of a package with one recipe per profile (numpy: packages/numpy
    and packages/numpy2), the one whose version the dist ships."""
    found: dict[str, str] = {}
    for d, r in sorted(recipes.items()):
        name = canonicalize_name(str(r["name"]))
        if name not in found or str(r.get("version")) == versions.get(name):
            found[name] = d
    return found


def _package_files(directory: str, name: str, lock: Mapping[str, str], dist_files: set[str]) -> list[str]:
    """The package's own index entries (itself and `<name>-tests`) and its file package `<directory>.data/.js`."""
    canonical = canonicalize_name(name)
    files = [lock[n] for n in (canonical, f"{canonical}-tests") if n in lock]
    files += [f"{directory}{ext}" for ext in (".data", ".js") if f"{directory}{ext}" in dist_files]
    return files


def toolchains(distributions: Sequence[str], extra: Mapping[str, str]) -> dict[str, str]:
    """The versions of the Python distributions the tool builds with, and the given toolchains."""
    found: dict[str, str] = {}
    for dist in distributions:
        try:
            found[str(canonicalize_name(dist))] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            raise ReleaseError(f"--python-distribution {dist}: not installed in {sys.prefix}") from None
    for name, version in extra.items():
        if name in found:
            raise ReleaseError(f"--toolchain {name}: already recorded as {found[name]!r}")
        found[name] = version
    return dict(sorted(found.items()))


def _build_only(shipped: Sequence[str], recipes: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Recipes that shipped ones need at build time only (`host` requirements, linked `libraries`), transitively.
    A requirement naming a package with per-profile recipes (its target is the canonical name, e.g. `numpy`) is the
    shipped recipe of that name when there is one."""
    seen, todo = set(shipped), list(shipped)
    shipped_dirs = {canonicalize_name(str(recipes[d]["name"])): d for d in shipped}
    while todo:
        recipe = recipes[todo.pop()]
        for target in [*(recipe.get("host") or []), *(recipe.get("libraries") or [])]:
            dep = shipped_dirs.get(canonicalize_name(target), target)
            if dep not in seen and dep in recipes:
                seen.add(dep)
                todo.append(dep)
    return sorted(seen - set(shipped))


def provenance(
    dist: Path,
    recipes: Mapping[str, Mapping[str, Any]],
    archives: Mapping[str, Path],
    recipe_files: Mapping[str, Path],
    tools: Mapping[str, str],
) -> dict[str, Any]:
    lock, versions, info = _lock_entries(dist)
    dist_files = {p.name for p in dist.iterdir()}
    by_canonical = _recipe_of(recipes, versions)
    names = sorted({n.removesuffix("-tests") if n not in by_canonical else n for n in lock})
    missing = [n for n in names if n not in by_canonical]
    if missing:
        raise ReleaseError(f"{dist / LOCK}: no recipe for {', '.join(missing)}: the provenance would be incomplete")
    shipped = [by_canonical[n] for n in names]
    packages = [
        package_record(recipes[d], _package_files(d, str(recipes[d]["name"]), lock, dist_files), archives, recipe_files)
        for d in shipped
    ]
    build_only = [package_record(recipes[d], [], archives, recipe_files) for d in _build_only(shipped, recipes)]
    try:
        generator = importlib.metadata.version("rules-pyodide")
    except importlib.metadata.PackageNotFoundError:
        generator = "unknown"
    return {
        "schema": SCHEMA,
        "generator": {"name": "rules-pyodide", "version": generator},
        "source_date_epoch": source_date_epoch(),
        "profile": dict(sorted(info.items())),
        "toolchains": dict(tools),
        "packages": packages,
        "build_only": build_only,
    }


# ---------------------------------------------------------------------------------------------------------------------
# Writing.


def sums_text(root: Path) -> str:
    """`sha256sum` lines for every file under root except SHA256SUMS, sorted by path."""
    names = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    return "".join(f"{sha256_file(root / n)}  {n}\n" for n in names if n != SUMS)


def assemble(args: argparse.Namespace) -> None:
    recipes = _recipes(args.recipes)
    record = provenance(
        args.dist,
        recipes,
        {k: Path(v) for k, v in parse_pairs(args.archive, "--archive").items()},
        {k: Path(v) for k, v in parse_pairs(args.recipe_file, "--recipe-file").items()},
        toolchains(args.python_distribution, parse_pairs(args.toolchain, "--toolchain")),
    )
    output: Path = args.output
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise ReleaseError(f"{output}: output exists and is not an empty directory")
    with atomic_dir(output) as tmp:
        sources = [p for p in sorted(args.dist.iterdir()) if p.is_file()] + list(args.loader)
        for path in sources:
            if (tmp / path.name).exists() or path.name in (SUMS, PROVENANCE):
                raise ReleaseError(f"{path}: a file named {path.name} is already in the release")
            shutil.copyfile(path, tmp / path.name)
            os.chmod(tmp / path.name, 0o644)
        (tmp / PROVENANCE).write_text(json.dumps(record, indent=2, sort_keys=False) + "\n", encoding="utf-8")
        (tmp / SUMS).write_text(sums_text(tmp), encoding="utf-8")
        for path in tmp.iterdir():
            os.chmod(path, 0o644)
        if args.tarball:
            write_tar_gz(tmp, args.tarball, prefix=output.name)


# ---------------------------------------------------------------------------------------------------------------------
# Verifying.


def parse_sums(text: str, origin: str) -> dict[str, str]:
    """`sha256sum` lines as name -> digest; a malformed line is an error naming the file and line."""
    listed: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64 or not name:
            raise ReleaseError(f"{origin}:{number}: not a `sha256  name` line: {line!r}")
        listed[name] = digest
    return listed


def compare_sums(ours: Mapping[str, str], theirs: Mapping[str, str], where: str) -> list[str]:
    """One line per file that only one side lists or whose digests differ (`where` names the other side)."""
    problems = []
    for name in sorted(set(ours) | set(theirs)):
        if name not in theirs:
            problems.append(f"{name}: not listed in {where}")
        elif name not in ours:
            problems.append(f"{name}: listed in {where}, missing here")
        elif ours[name] != theirs[name]:
            problems.append(f"{name}: sha256 {ours[name]} here, {theirs[name]} in {where}")
    return problems


def verify(root: Path, expect: Path | None) -> list[str]:
    """Problems found (empty: the release verifies)."""
    sums_path = root / SUMS
    if not sums_path.is_file():
        return [f"{sums_path}: missing"]
    listed = parse_sums(sums_path.read_text(encoding="utf-8"), str(sums_path))
    problems = compare_sums(parse_sums(sums_text(root), str(root)), listed, SUMS)
    if expect is not None:
        problems += compare_sums(listed, parse_sums(expect.read_text(encoding="utf-8"), str(expect)), str(expect))
    return problems


# ---------------------------------------------------------------------------------------------------------------------
# Entry point.


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    a = sub.add_parser("assemble", help="assemble a release directory (and tarball) from a package directory")
    a.add_argument("--dist", required=True, type=Path, help="the package directory (pyodide_dist output)")
    a.add_argument("--recipes", required=True, type=Path, help="RECIPES of @pyodide_recipes as JSON")
    a.add_argument("--output", required=True, type=Path, help="release directory to create")
    a.add_argument("--tarball", type=Path, help="also write the release as this .tar.gz")
    a.add_argument("--loader", action="append", default=[], type=Path, help="a JS file to ship (repeat)")
    a.add_argument("--archive", action="append", default=[], help="REPO=PATH: a recipe's source archive (repeat)")
    a.add_argument("--recipe-file", action="append", default=[], help="WORKSPACE_PATH=PATH: a recipe's file (repeat)")
    a.add_argument("--toolchain", action="append", default=[], help="NAME=VERSION to record (repeat)")
    a.add_argument("--python-distribution", action="append", default=[], help="record its installed version")
    v = sub.add_parser("verify", help="check a release directory against its SHA256SUMS")
    v.add_argument("release", type=Path, help="the release directory")
    v.add_argument("--expect", type=Path, help="a SHA256SUMS the release must reproduce (e.g. the published one)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "assemble":
        return run_command(PROG, lambda: assemble(args))
    return run_command(PROG, lambda: _verify(args.release, args.expect))


def _verify(release: Path, expect: Path | None) -> int:
    """Prints each problem (or that every file matches); 1 when there is one."""
    problems = verify(release, expect)
    for problem in problems:
        print(f"{release}: {problem}", file=sys.stderr)
    if not problems:
        print(f"{release}: OK, every file matches {SUMS}" + (f" and {expect}" if expect else ""))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
