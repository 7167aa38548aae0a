"""Integration tests of //packages through Bazel, in a temporary copy of the workspace with its own output base.

One Bazel server serves the whole module (tests run in file order and restore what they edit): a cold build of
//packages:all, a null build and an incremental one (execution log), then the errors a recipe author meets (bad
sha256, hostile archives, malformed YAML, unknown key, missing dependency, cycle, failing patch, new recipe directory).
Offline: sources come from the main workspace's distdir (symlinked) or Bazel's repository cache.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from bazel_workspace import ROOT, Workspace, copy_workspace, machine_disk_cache

from rules_pyodide.recipe import Recipe, load_recipe
from rules_pyodide.runtimes import load_table

DEFAULT_PROFILE = load_table().default_profile

pytestmark = [pytest.mark.bazel]

ATTRS_PATCH = "packages/attrs/patches/0001-build-without-hatch-fancy-pypi-readme.patch"


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    base = tmp_path_factory.mktemp("bazel_ws")
    root = copy_workspace(base / "rules_pyodide")
    env = {k: v for k, v in os.environ.items() if k != "RULES_PYODIDE_PYTHON"}
    workspace = Workspace(root, base / "output_base", env, machine_disk_cache())
    yield workspace
    workspace.shutdown(expunge=True)


def _edit(path: Path, old: str, new: str) -> str:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))
    return text


# ---------------------------------------------------------------------------------------------------------------------
# Incrementality


def _in_core(recipe: Recipe) -> bool:
    profiles = recipe.package.profiles
    return "slow" not in recipe.package.tag and (not profiles or DEFAULT_PROFILE in profiles)


def test_cold_null_and_incremental_builds(ws: Workspace) -> None:
    cold = ws.spawns("//packages:core")
    mnemonics = [s["mnemonic"] for s in cold]
    # //packages:core: every recipe of the default profile but those tagged slow (numpy; they are in //packages:all).
    metas = [m for m in (ws.root / "packages").glob("*/meta.yaml") if _in_core(load_recipe(m))]
    # Compiled: Emcc; a prebuilt wheel (packages/tabulate): shipped by PyodideWheelSource.
    built = ("PyodideBuild", "PyodideEmccBuild", "PyodideWheelSource")
    assert sum(mnemonics.count(m) for m in built) == len(metas)
    assert mnemonics.count("PyodideWheelSource") == len([m for m in metas if load_recipe(m).wheel_source])
    # Static libraries are linked into their dependents, not shipped: the dist has every other recipe.
    recipes = len([m for m in metas if load_recipe(m).build.type != "static_library"])
    assert mnemonics.count("PyodideDist") == 1
    assert (ws.root / ".bazel/bin/packages/core_dist/pyodide-lock.json").is_file()

    assert ws.spawns("//packages:core") == []  # a null build runs nothing

    patch = ws.root / ATTRS_PATCH
    original = _edit(
        patch, '+readme = "README.md"', '+readme = {text = "attrs for Pyodide", content-type = "text/plain"}'
    )
    try:
        rebuilt = sorted((s["mnemonic"], s["progressMessage"]) for s in ws.spawns("//packages:core"))
    finally:
        patch.write_text(original)
    assert rebuilt == [
        ("PyodideBuild", "Building wheel of //packages:attrs_build"),
        ("PyodideDist", f"Assembling //packages:core ({recipes} packages and their run requirements)"),
        ("PyodideFilePackage", "Packing 1 sources into //packages:attrs_files/attrs"),
        ("PyodidePatch", "Patching //packages:attrs_patched (1 patches, 0 extras)"),
    ]
    with zipfile.ZipFile(ws.root / ".bazel/bin/packages/attrs_build/attrs-25.4.0-py3-none-any.whl") as zf:
        assert "attrs for Pyodide" in zf.read("attrs-25.4.0.dist-info/METADATA").decode()


def test_every_profile_analyses_every_recipe(ws: Workspace) -> None:
    # A package with recipes for some profiles only (numpy) and what needs it (fast-histogram) are skipped elsewhere.
    profiles = load_table().profiles
    node_modules = ws.root / "js" / "node_modules"  # the recipes' tests run in the runtimes: analysis needs them
    if not node_modules.exists():
        node_modules.symlink_to(ROOT / "js" / "node_modules")
    for profile in profiles:
        ws.bazel("build", "--nobuild", "//packages/...", f"--//:pyodide={profile}")
    recipes = [load_recipe(m) for m in (ws.root / "packages").glob("*/meta.yaml")]
    numpy = {p for r in recipes if r.canonical_name == "numpy" for p in r.package.profiles}
    missing = next(p for p in profiles if p not in numpy)
    stderr = ws.fails("build", "--nobuild", "//packages:fast-histogram", f"--//:pyodide={missing}")
    assert "Target //packages:fast-histogram is incompatible and cannot be built" in stderr
    assert "didn't satisfy constraint //toolchains:not_a_profile_of_the_recipe" in stderr


# ---------------------------------------------------------------------------------------------------------------------
# Errors a recipe author meets


def test_bad_sha256_shows_expected_and_actual(ws: Workspace) -> None:
    meta = ws.root / "packages/idna/meta.yaml"
    good = "12f65c9b470abda6dc35cf8e63cc574b1c52b11df2c86030af0ac09b01b13ea9"
    bad = "ab" * 32
    original = _edit(meta, good, bad)
    try:
        err = ws.fails("build", "//packages:idna")
    finally:
        meta.write_text(original)
    assert "packages/idna/meta.yaml: source.sha256 mismatch for" in err
    assert f"expected: {bad}" in err and f"actual:   {good}" in err


def _hostile_tar(kind: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        ok = tarfile.TarInfo("evil-1.0/setup.py")
        ok.size = 0
        tar.addfile(ok, io.BytesIO(b""))
        if kind == "dotdot":
            info = tarfile.TarInfo("evil-1.0/../../escaped.py")
        elif kind == "absolute":
            info = tarfile.TarInfo("/tmp/absolute.py")
        else:
            info = tarfile.TarInfo("evil-1.0/link")
            info.type, info.linkname = tarfile.SYMTYPE, "../../../etc/passwd"
        if info.type == tarfile.REGTYPE:
            info.size = 1
            tar.addfile(info, io.BytesIO(b"x"))
        else:
            tar.addfile(info)
    return buffer.getvalue()


HOSTILE = {
    "dotdot": "member 'evil-1.0/../../escaped.py': '..' in path refused",
    "absolute": "member '/tmp/absolute.py': absolute path refused",
    "symlink": "member 'evil-1.0/link': symlink to '../../../etc/passwd' escapes the tree",
}


def _add_hostile_recipe(ws: Workspace, kind: str) -> None:
    data = _hostile_tar(kind)
    archive = f"evil_{kind}-1.0.tar.gz"
    (ws.root / ".cache/distdir" / archive).write_bytes(data)
    (ws.root / "packages" / f"evil-{kind}").mkdir()
    (ws.root / "packages" / f"evil-{kind}" / "meta.yaml").write_text(
        f"package:\n  name: evil-{kind}\n  version: '1.0'\nsource:\n"
        f"  url: https://example.invalid/{archive}\n  sha256: {hashlib.sha256(data).hexdigest()}\n"
    )


def test_new_recipes_need_a_refresh_and_hostile_archives_are_refused(ws: Workspace) -> None:
    # Settle (recipe edits of earlier tests re-ran pyodide_recipes) with what test_cold_null_and_incremental_builds
    # built: //packages:all would compile numpy 1.22.4 (minutes) and prove nothing more here.
    ws.bazel("build", "//packages:core")
    for kind in HOSTILE:
        _add_hostile_recipe(ws, kind)
    try:
        err = ws.fails("build", "//packages:all")
        assert "the recipe list is out of date (new: evil-absolute, evil-dotdot, evil-symlink; removed: none)" in err
        assert "bazel sync --only=pyodide_recipes" in err
        ws.bazel("sync", "--only=pyodide_recipes")  # the documented refresh works offline
        err = ws.fails("build", "--keep_going", *(f"//packages:evil-{kind}_source" for kind in HOSTILE))
        for kind, message in HOSTILE.items():
            assert f"Unpacking evil_{kind}-1.0.tar.gz for //packages:evil-{kind}_source failed" in err
            assert message in err
    finally:
        for kind in HOSTILE:
            shutil.rmtree(ws.root / "packages" / f"evil-{kind}")
    ws.bazel("build", "//packages:core")  # removed recipes are seen at once: their meta.yaml was watched


def test_server_restart_also_refreshes_the_recipe_list(ws: Workspace) -> None:
    ws.bazel("build", "//packages:core")
    _add_hostile_recipe(ws, "dotdot")
    try:
        assert "the recipe list is out of date" in ws.fails("build", "//packages:evil-dotdot_source")
        ws.bazel("shutdown")  # pyodide_recipes is `local`: it re-runs when the server starts
        assert HOSTILE["dotdot"] in ws.fails("build", "//packages:evil-dotdot_source")
    finally:
        shutil.rmtree(ws.root / "packages" / "evil-dotdot")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "  name: iniconfig\n",
            "  name: [iniconfig\n",
            "packages/iniconfig/meta.yaml: line 3, column 10: invalid YAML",
        ),
        ("source:\n", "build:\n  cflgs: -O2\nsource:\n", "packages/iniconfig/meta.yaml: build.cflgs: unknown key"),
        ("source:\n", "requirements:\n  run: [no-such-package]\nsource:\n", "requirements.run: 'no-such-package' is"),
    ],
    ids=["malformed-yaml", "unknown-key", "missing-dependency"],
)
def test_recipe_errors_name_the_file_and_key(ws: Workspace, old: str, new: str, message: str) -> None:
    meta = ws.root / "packages/iniconfig/meta.yaml"
    original = _edit(meta, old, new)
    try:
        err = ws.fails("build", "//packages:all")
    finally:
        meta.write_text(original)
    assert message in err


def test_dependency_cycle_names_both_packages(ws: Workspace) -> None:
    meta = ws.root / "packages/six/meta.yaml"
    original = _edit(meta, "test:\n", "requirements:\n  run: [python-dateutil]\ntest:\n")
    try:
        err = ws.fails("build", "//packages:all")
    finally:
        meta.write_text(original)
    assert "dependency cycle: python-dateutil -> six -> python-dateutil" in err


def test_failing_patch_names_the_patch_and_the_file(ws: Workspace) -> None:
    patch = ws.root / ATTRS_PATCH
    original = _edit(patch, '-dynamic = ["version", "readme"]', '-dynamic = ["something", "else"]')
    try:
        err = ws.fails("build", "//packages:attrs")
    finally:
        patch.write_text(original)
    assert "0001-build-without-hatch-fancy-pypi-readme.patch: patch failed" in err
    assert "pyproject.toml" in err and "FAILED" in err


def _wheel(directory: Path, filename: str) -> str:
    """A small wheel in the distdir whose file name and WHEEL carry one tag; returns its sha256."""
    name, version, tag = filename[: -len(".whl")].split("-", 2)
    info = f"{name}-{version}.dist-info"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr(f"{name}/__init__.py", "VALUE = 42\n")
        zf.writestr(f"{info}/WHEEL", f"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: {tag}\n")
        zf.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        zf.writestr(f"{info}/RECORD", "")
    (directory / filename).write_bytes(buffer.getvalue())
    return hashlib.sha256(buffer.getvalue()).hexdigest()


def test_a_wheel_source_fits_its_profile_only(ws: Workspace) -> None:
    table = load_table()
    wasm = f"wasmpkg-1.0-{table.wheel_tag('0.29.5')}.whl"
    recipes = {"wasmpkg": (wasm, ""), "newpure": ("newpure-1.0-py3-none-any.whl", "  profiles: ['0.29.5']\n")}
    for name, (filename, package_extra) in recipes.items():
        sha = _wheel(ws.root / ".cache/distdir", filename)
        (ws.root / "packages" / name).mkdir()
        (ws.root / "packages" / name / "meta.yaml").write_text(
            f"package:\n  name: {name}\n  version: '1.0'\n{package_extra}source:\n"
            f"  url: https://example.invalid/{filename}\n  sha256: {sha}\n"
        )
    try:
        ws.bazel("sync", "--only=pyodide_recipes")
        # A compiled wheel of another profile: one line naming the recipe, the wheel's tags and the profile's tag.
        err = ws.fails("build", "//packages:wasmpkg", f"--//:pyodide={DEFAULT_PROFILE}")
        assert (
            f"packages/wasmpkg/meta.yaml: wasmpkg: {wasm} has the tags {table.wheel_tag('0.29.5')}, which do not fit "
            f"the Pyodide profile {DEFAULT_PROFILE} (Python {table.runtime_of_profile(DEFAULT_PROFILE).python}, "
            f"wheel tag {table.wheel_tag(DEFAULT_PROFILE)})"
        ) in err
        ws.bazel("build", "//packages:wasmpkg", "--//:pyodide=0.29.5")
        fragment = ws.root / ".bazel/bin/packages/wasmpkg_build/fragments/wasmpkg.json"
        assert f'"file_name": "{wasm}"' in fragment.read_text()
        # A pure wheel limited to some profiles is incompatible elsewhere, as any per-profile recipe.
        err = ws.fails("build", "//packages:newpure", f"--//:pyodide={DEFAULT_PROFILE}")
        assert "is incompatible and cannot be built" in err
        ws.bazel("build", "//packages:newpure", "--//:pyodide=0.29.5")
    finally:
        for name in recipes:
            shutil.rmtree(ws.root / "packages" / name)
