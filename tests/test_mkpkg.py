"""`rules-pyodide mkpkg` (rules_pyodide.mkpkg): recipes from sdists built here (the download step is injected)."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tarfile
import zipfile
from collections.abc import Mapping
from pathlib import Path

import pytest

from rules_pyodide.build_lock import LOCK_NAME, lock_archive, read_lock
from rules_pyodide.mkpkg import (
    MkpkgError,
    main,
    mkpkg,
    parse_spec,
    pip_download,
    read_sdist,
    run_requirements,
)
from rules_pyodide.recipe import load_recipe, load_recipes

PKG_INFO = """\
Metadata-Version: 2.1
Name: Demo_Pkg
Version: 1.2.3
Summary: A demo: with a colon & "quotes"
Home-page: https://example.org/demo
License: MIT
Requires-Dist: six>=1.0
Requires-Dist: typing-extensions; python_version < "3.11"
Requires-Dist: pywin32; sys_platform == "win32"
Requires-Dist: colorama; platform_system == "Windows"
Requires-Dist: numpy; platform_machine == "x86_64"
Requires-Dist: exceptiongroup; platform_system == "Emscripten" and platform_machine == "wasm32"
Requires-Dist: pytest; extra == "test"
Requires-Dist: Six
Provides-Extra: test
"""


def build_sdist(directory: Path, files: Mapping[str, str], *, name: str = "Demo_Pkg-1.2.3.tar.gz") -> Path:
    """A gzipped tar sdist whose members are `files` (path -> text), all under one top directory."""
    path = directory / name
    if name.endswith(".zip"):
        with zipfile.ZipFile(path, "w") as zf:
            for member, text in files.items():
                zf.writestr(member, text)
        return path
    with tarfile.open(path, "w:gz") as tf:
        for member, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def demo_files(**extra: str) -> dict[str, str]:
    return {
        "Demo_Pkg-1.2.3/PKG-INFO": PKG_INFO,
        "Demo_Pkg-1.2.3/setup.py": "",
        "Demo_Pkg-1.2.3/src/demo_pkg/__init__.py": "",
        "Demo_Pkg-1.2.3/src/demo_helper.py": "",
        "Demo_Pkg-1.2.3/tests/test_demo.py": "",
        **extra,
    }


def downloader(archive: Path) -> object:
    """A download step that copies `archive` and records what it was asked for."""
    calls: list[tuple[str, str | None]] = []

    def download(name: str, version: str | None, into: Path) -> Path:
        calls.append((name, version))
        return Path(shutil.copy(archive, into / archive.name))

    download.calls = calls  # type: ignore[attr-defined]
    return download


def test_recipe_round_trips_through_load_recipe(tmp_path: Path) -> None:
    archive = build_sdist(tmp_path, demo_files())
    packages = tmp_path / "packages"
    (packages / "six").mkdir(parents=True)
    (packages / "six" / "meta.yaml").write_text("package: {name: six, version: '1'}\nsource: {path: src}\n")
    download = downloader(archive)
    locked: list[tuple[Path, str, bool]] = []

    def lock(where: Path, directory: str, sdist: Path) -> Path:
        locked.append((where, directory, sdist.is_file()))
        return where / directory / LOCK_NAME

    path, missing = mkpkg("demo-pkg==1.2.3", packages, download=download, lock=lock)  # type: ignore[arg-type]
    assert download.calls == [("demo-pkg", "1.2.3")]  # type: ignore[attr-defined]
    assert locked == [(packages, "demo-pkg", True)]  # the lock is made from the same sdist, still there
    assert path == packages / "demo-pkg" / "meta.yaml"
    recipe = load_recipe(path)
    assert (recipe.package.name, recipe.package.version) == ("demo-pkg", "1.2.3")
    assert recipe.package.top_level == ("demo_helper", "demo_pkg")
    assert recipe.test.imports == ("demo_helper", "demo_pkg")
    assert recipe.requirements.run == ("six", "typing-extensions", "exceptiongroup")
    assert recipe.source is not None
    assert recipe.source.url == ("https://files.pythonhosted.org/packages/source/D/Demo_Pkg/Demo_Pkg-1.2.3.tar.gz")
    assert recipe.source.sha256 == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert recipe.about.summary == 'A demo: with a colon & "quotes"'
    assert (recipe.about.home, recipe.about.license) == ("https://example.org/demo", "MIT")
    assert recipe.about.PyPI == "https://pypi.org/project/demo-pkg"
    assert missing == ["typing-extensions", "exceptiongroup"]
    assert sorted(os.listdir(path.parent)) == ["meta.yaml"]
    # The new recipe joins the set: its requirements without recipes are what the set check reports.
    with pytest.raises(Exception, match="typing-extensions"):
        load_recipes(packages)


def test_markers_follow_the_python_version() -> None:
    requires = ['tomli; python_version < "3.11"', 'x; python_full_version == "3.12.1"', "y; os_name == 'nt'"]
    assert run_requirements(requires, "3.10", "t") == ["tomli"]
    assert run_requirements(requires, "3.12", "t") == ["x"]
    with pytest.raises(MkpkgError, match=r"t: Requires-Dist\[0\]: 'bad ;;': "):
        run_requirements(["bad ;;"], "3.10", "t")


def test_refuses_to_overwrite_unless_forced(tmp_path: Path) -> None:
    archive = build_sdist(tmp_path, demo_files())
    packages = tmp_path / "packages"
    (packages / "Demo_Pkg").mkdir(parents=True)
    (packages / "Demo_Pkg" / "meta.yaml").write_text("old\n")
    with pytest.raises(MkpkgError, match=r"Demo_Pkg/meta\.yaml: a recipe for demo-pkg exists \(use --force"):
        mkpkg("demo-pkg", packages, download=downloader(archive))  # type: ignore[arg-type]
    assert (packages / "Demo_Pkg" / "meta.yaml").read_text() == "old\n"
    path, _ = mkpkg("demo-pkg", packages, force=True, download=downloader(archive))  # type: ignore[arg-type]
    assert path == packages / "Demo_Pkg" / "meta.yaml"  # the existing directory is reused
    assert load_recipe(path).package.version == "1.2.3"


def test_egg_info_requires_and_top_level(tmp_path: Path) -> None:
    files = demo_files(
        **{
            "Demo_Pkg-1.2.3/PKG-INFO": "Metadata-Version: 1.1\nName: Demo_Pkg\nVersion: 1.2.3\nLicense: UNKNOWN\n"
            "Classifier: License :: OSI Approved :: BSD License\n"
            "Project-URL: Source, https://example.org/src\n",
            "Demo_Pkg-1.2.3/Demo_Pkg.egg-info/top_level.txt": "demo\ntests\n",
            "Demo_Pkg-1.2.3/Demo_Pkg.egg-info/requires.txt": "six\n\n[:sys_platform == 'win32']\npywin32\n\n"
            "[test]\npytest\n\n[:python_version < '3.11']\ntomli\n",
        }
    )
    info = read_sdist(build_sdist(tmp_path, files, name="Demo_Pkg-1.2.3.zip"))
    assert info.top_level == ("demo",)
    assert run_requirements(info.requires_dist, "3.10", "t") == ["six", "tomli"]
    assert (info.license, info.home, info.summary) == ("BSD License", "https://example.org/src", None)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"a/PKG-INFO": "x", "b/PKG-INFO": "y"}, r"expected one top directory, found \['a', 'b'\]"),
        ({"d-1/setup.py": ""}, r"d-1/PKG-INFO is missing: not an sdist"),
        ({"d-1/PKG-INFO": "Name: d\n"}, r"d-1/PKG-INFO: Version: required field is missing"),
    ],
)
def test_bad_sdists(tmp_path: Path, files: dict[str, str], message: str) -> None:
    with pytest.raises(MkpkgError, match=message):
        read_sdist(build_sdist(tmp_path, files))


def test_bad_specs_and_mismatches(tmp_path: Path) -> None:
    assert parse_spec("Foo_Bar==1.0") == ("Foo_Bar", "1.0")
    assert parse_spec("foo") == ("foo", None)
    for spec in ("foo>=1", "foo[x]==1", "foo==1.*", "foo; python_version<'3'", "not a name"):
        with pytest.raises(MkpkgError, match="expected NAME or NAME==VERSION|only an exact version"):
            parse_spec(spec)
    archive = build_sdist(tmp_path, demo_files())
    packages = tmp_path / "packages"
    with pytest.raises(MkpkgError, match=r"PKG-INFO: Version: '1\.2\.3', but '9' was asked for"):
        mkpkg("demo-pkg==9", packages, download=downloader(archive))  # type: ignore[arg-type]
    with pytest.raises(MkpkgError, match=r"PKG-INFO: Name: 'Demo_Pkg', but 'other' was asked for"):
        mkpkg("other", packages, download=downloader(archive))  # type: ignore[arg-type]
    assert not packages.exists() or not any(packages.iterdir())  # no partial output


def test_cli_reports_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    packages = tmp_path / "packages"
    (packages / "six").mkdir(parents=True)
    (packages / "six" / "meta.yaml").write_text("x\n")
    assert main(["six", "--packages", str(packages)]) == 1
    assert "six/meta.yaml: a recipe for six exists (use --force" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["six", "--python", "3"])


@pytest.mark.network
def test_real_pip_download_of_a_small_sdist(tmp_path: Path) -> None:
    """Real PyPI through pip (about 1 s): iniconfig 2.1.0, a hatch sdist with no egg-info (top level from src/)."""
    try:
        path, _ = mkpkg("iniconfig==2.1.0", tmp_path / "packages", download=pip_download, lock=lock_archive)
    except MkpkgError as err:
        if "pip download" in str(err):
            pytest.skip(f"PyPI not reachable through pip: {str(err)[:200]}")
        raise
    recipe = load_recipe(path)
    assert (recipe.package.name, recipe.package.version, recipe.package.top_level) == (
        "iniconfig",
        "2.1.0",
        ("iniconfig",),
    )
    assert recipe.source is not None and recipe.source.url is not None
    ours = load_recipe(Path(__file__).resolve().parent.parent / "packages" / "iniconfig" / "meta.yaml")
    assert ours.source is not None and recipe.source.sha256 == ours.source.sha256
    # The URL pip downloaded from (the index's own link), not the /packages/source/ redirect some mirrors lack.
    assert recipe.source.url == ours.source.url, recipe.source.url
    # Its build-requirements.lock, from the sdist's pyproject.toml, resolved by pip on PyPI for both host Pythons.
    lock = read_lock(path.parent / LOCK_NAME)
    assert lock.requires == ("hatch-vcs", "hatchling>=1.26") and lock.pythons == ("3.11", "3.13")
    assert {"hatchling", "hatch-vcs", "setuptools-scm", "packaging"} <= {w.name for w in lock.wheels}
    assert all(w.filename.endswith("-none-any.whl") and w.url.startswith("https://") for w in lock.wheels)
