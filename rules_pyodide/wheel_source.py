"""Ship a recipe whose `source.url` is a wheel (pyodide-build's prebuilt-wheel recipes): nothing is built.

    python -m rules_pyodide.wheel_source --source-wheel FILE.whl --profile P --name NAME --version V
        --wheel OUT.whl --site OUT_DIR --fragments OUT_DIR [--tests OUT_DIR] [--unvendor-tests]
        [--retain-test-pattern GLOB ...] [--depends NAME ...] [--imports MOD ...] [--meta packages/NAME/meta.yaml]
        [--post-file build.post.sh --pkgdir packages/NAME]

The wheel was downloaded and its checksum checked by the recipe's `pyodide_source` repository (from the distdir that
`rules-pyodide fetch` fills). Then:
1. Its file name's tags must fit the profile (`check_fits`): a pure wheel (every tag `*-none-any`, e.g.
   `py3-none-any` or `py2.py3-none-any`) fits every profile, a compiled one only a profile whose runtimes accept one
   of its tags as pip would (`cp310-cp310-emscripten_3_1_14_wasm32` for 0.21.3; for 0.29.5 both the
   `pyemscripten_2025_0_wasm32` and the `pyodide_2025_0_wasm32` platform of the runtimes it serves; `abi3` wheels of
   an older CPython too). METADATA's `Requires-Python` must admit the profile's Python. The profiles and their
   runtimes are the table of rules_pyodide.runtimes.
2. METADATA must name the recipe's package and version; a pure wheel must hold no compiled module.
3. `build.post`, when the recipe has one, runs on the installed tree as pyodide-build runs it (`run_post`).
4. Then as the package builds (rules_pyodide.pure_build): installed into `--site`, tests unvendored with
   `--unvendor-tests`, the wheel written again deterministically (same file name and tags) and the index fragments.
An error is one line naming the recipe, and leaves no output.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from rules_pyodide.cli import option_values
from rules_pyodide.emcc_build import run_script
from rules_pyodide.errors import RulesPyodideError, prog, run_command
from rules_pyodide.pure_build import (
    check_metadata,
    check_no_compiled_module,
    empty_output_dir,
    install,
    move_tree,
    ship_package,
    unvendor_tests,
)
from rules_pyodide.runtimes import Table, load_table

PROG = prog("wheel-source")


class WheelSourceError(RulesPyodideError):
    """A recipe's wheel cannot be shipped for the profile; the message names the package and the tags."""


def wheel_tags(filename: str) -> frozenset[Tag]:
    """The tags of a wheel's file name (PEP 427; compressed tag sets such as `py2.py3` expanded)."""
    try:
        return parse_wheel_filename(filename)[3]
    except InvalidWheelFilename as err:
        raise WheelSourceError(f"{filename}: not a wheel file name ({err})") from None


def is_pure(tags: frozenset[Tag]) -> bool:
    """Every tag `*-none-any`: pure Python, fit for every profile."""
    return bool(tags) and all(t.abi == "none" and t.platform == "any" for t in tags)


def profile_tags(table: Table, profile: str) -> list[Tag]:
    """What the profile's runtimes accept, most specific first, as pip on that CPython and platform would."""
    runtime = table.runtime_of_profile(profile)
    major, minor = (int(x) for x in runtime.python.split("."))
    platforms = list(table.wheel_platforms(profile))
    interpreter = f"cp{major}{minor}"
    return [
        *cpython_tags((major, minor), abis=[interpreter], platforms=platforms),
        *compatible_tags((major, minor), interpreter=interpreter, platforms=platforms),
    ]


def check_fits(filename: str, name: str, profile: str, table: Table) -> None:
    """The wheel `filename` fits the profile, or one line naming the package, the wheel's tags and the profile's."""
    if profile not in table.profiles:
        raise WheelSourceError(f"--profile {profile}: not a profile (one of: {', '.join(table.profiles)})")
    tags = wheel_tags(filename)
    if tags & set(profile_tags(table, profile)):
        return
    runtime = table.runtime_of_profile(profile)
    raise WheelSourceError(
        f"{name}: {filename} has the tags {', '.join(sorted(map(str, tags)))}, which do not fit the Pyodide profile "
        f"{profile} (Python {runtime.python}, wheel tag {table.wheel_tag(profile)}): give the recipe "
        "package.profiles, or a wheel of this profile"
    )


def check_requires_python(path: Path, name: str, profile: str, table: Table) -> None:
    """METADATA's `Requires-Python`, when there is one, admits the profile's Python version."""
    with zipfile.ZipFile(path) as zf:
        infos = sorted({n.split("/", 1)[0] for n in zf.namelist() if n.split("/", 1)[0].endswith(".dist-info")})
        text = zf.read(f"{infos[0]}/METADATA").decode("utf-8") if len(infos) == 1 else ""
    requires = HeaderParser().parsestr(text).get("Requires-Python")
    if not requires:
        return
    python = table.runtime_of_profile(profile).python_version
    try:
        admitted = SpecifierSet(requires).contains(python, prereleases=True)
    except InvalidSpecifier:
        raise WheelSourceError(f"{name}: {path.name}: METADATA Requires-Python {requires!r} is not valid") from None
    if not admitted:
        raise WheelSourceError(
            f"{name}: {path.name} requires Python {requires}, the Pyodide profile {profile} has {python}"
        )


@dataclass(frozen=True)
class Options:
    """What one wheel-source action is asked to do: its flags, named as on the command line (see _parser)."""

    source_wheel: Path
    profile: str
    name: str
    version: str
    wheel: Path
    site: Path
    fragments: Path
    tests: Path | None = None
    unvendor_tests: bool = False
    retain_test_pattern: tuple[str, ...] = ()
    depends: tuple[str, ...] = ()
    imports: tuple[str, ...] = ()
    meta: str = ""
    post_file: Path | None = None
    pkgdir: Path | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Options:
        return cls(**option_values(args, cls))


def run_post(args: Options, site: Path, scratch: Path) -> None:
    """`build.post` on the installed wheel `site`, in the layout and with the variables pyodide-build gives it:
    the working directory stands for the recipe's, where `build/NAME-VERSION/dist/<wheel's name>-<wheel's version>/`
    is the unpacked wheel (0.21-era scripts name it so: `find build/distlib-0.3.4/dist -name '*.exe' -delete`), and
    $WHEELDIR and $SITEPACKAGES name the same tree (the variables of later pyodide-build), $PKGDIR the recipe's
    directory, $PKG_VERSION, $PKG_BUILD_DIR and $DISTDIR as for a build. A failing script is one error with the tail
    of its output."""
    assert args.post_file is not None
    root = scratch / "recipe"
    build_dir = root / "build" / f"{args.name}-{args.version}"
    wheel_name, wheel_version = args.source_wheel.name.split("-", 2)[:2]
    tree = build_dir / "dist" / f"{wheel_name}-{wheel_version}"
    tree.parent.mkdir(parents=True)
    site.rename(tree)
    variables = {
        "PKGDIR": str(args.pkgdir.resolve()) if args.pkgdir else "",
        "PKG_VERSION": args.version,
        "PKG_BUILD_DIR": str(build_dir),
        "DISTDIR": str(build_dir / "dist"),
        "SITEPACKAGES": str(tree),
        "WHEELDIR": str(tree),
    }
    try:
        run_script(
            args.post_file.read_text(encoding="utf-8"),
            root,
            {**os.environ, **variables},
            scratch / "post.log",
            "post",
            scratch,
        )
    finally:
        tree.rename(site)


def ship(args: Options, table: Table | None = None) -> None:
    table = table or load_table()
    source = args.source_wheel
    check_fits(source.name, args.name, args.profile, table)
    if args.wheel.name != source.name:
        raise WheelSourceError(f"--wheel {args.wheel}: must have the source wheel's name {source.name}")
    tags, _ = check_metadata(source, args.name, args.version)
    if not tags:
        raise WheelSourceError(f"{args.name}: {source.name}: its WHEEL file has no Tag line")
    if is_pure(wheel_tags(source.name)):
        check_no_compiled_module(source, args.name)
    check_requires_python(source, args.name, args.profile, table)
    outputs = [(args.site, "--site"), (args.fragments, "--fragments")]
    outputs += [(args.tests, "--tests")] if args.tests else []
    for path, what in outputs:
        empty_output_dir(path, what)
    scratch = Path(tempfile.mkdtemp(prefix=f".{args.name}.", suffix=".wheel", dir=args.site.parent)).resolve()
    try:
        site = scratch / "site"
        install(source, site)
        if args.post_file:
            run_post(args, site, scratch)
        moved = unvendor_tests(site, scratch / "tests", args.retain_test_pattern) if args.unvendor_tests else 0
        ship_package(
            site,
            scratch / "tests",
            moved,
            name=args.name,
            version=args.version,
            wheel=args.wheel,
            wheel_tag=None,
            tests=args.tests,
            fragments=args.fragments,
            depends=args.depends,
            imports=args.imports,
        )
        move_tree(site, args.site)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    parser.add_argument("--source-wheel", required=True, type=Path, help="the downloaded wheel (source.url)")
    parser.add_argument("--profile", required=True, help="the selected Pyodide profile (--//:pyodide)")
    parser.add_argument("--name", required=True, help="package name, as in the recipe (package.name)")
    parser.add_argument("--version", required=True, help="package version, as in the recipe")
    parser.add_argument("--wheel", required=True, type=Path, help="wheel to write (the source wheel's name)")
    parser.add_argument("--site", required=True, type=Path, help="directory to create: the installed package")
    parser.add_argument("--fragments", required=True, type=Path, help="directory to create: index fragments")
    parser.add_argument("--tests", type=Path, help="directory to create: NAME-tests.tar when tests were found")
    parser.add_argument("--unvendor-tests", action="store_true", help="move tests out of the package")
    parser.add_argument("--retain-test-pattern", action="append", default=[], help="build._retain-test-patterns")
    parser.add_argument("--depends", action="append", default=[], help="a run requirement (repeat)")
    parser.add_argument("--imports", action="append", default=[], help="a top-level import name (repeat)")
    parser.add_argument("--meta", default="", help="the recipe file, named first in every error")
    parser.add_argument("--post-file", type=Path, help="build.post (bash), run on the installed wheel")
    parser.add_argument("--pkgdir", type=Path, help="the recipe's directory ($PKGDIR of build.post)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return run_command(PROG, lambda: ship(Options.from_args(args)), reported=(zipfile.BadZipFile,), context=args.meta)


if __name__ == "__main__":
    sys.exit(main())
