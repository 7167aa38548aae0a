"""Unit tests of rules_pyodide.release: assembling a release (files, SHA256SUMS, provenance, tarball), verifying it."""

from __future__ import annotations

import hashlib
import json
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from rules_pyodide import release
from rules_pyodide.outputs import DEFAULT_SOURCE_DATE_EPOCH


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


ARCHIVE = b"six source archive bytes"
PATCH = b"--- a/x\n+++ b/x\n"
META = b"package:\n  name: six\n"
LOCAL_META = b"package:\n  name: local-pkg\n"


def _recipe(name: str, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": name,
        "version": "1.0",
        "meta": f"packages/{name}/meta.yaml",
        "url": None,
        "sha256": None,
        "md5": None,
        "archive": None,
        "source_repo": None,
        "path": None,
        "patches": [],
        "extras": [],
    }
    return {**base, **fields}


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    """A dist with two packages (six from an archive with a patch, an extra and a host requirement; local-pkg from
    source.path) and a recipe that is not in it."""
    dist = tmp_path / "dist"
    dist.mkdir()
    files = {
        "six-1.17.0-py3-none-any.whl": b"wheel",
        "six.data": b"data",
        "six.js": b"js",
        "local_pkg-1.0-py3-none-any.whl": b"wheel2",
        "local_pkg-tests.tar": b"tests",
        "packages.json": b"{}",
        "repodata.json": b"{}",
    }
    for name, data in files.items():
        (dist / name).write_bytes(data)
    lock = {
        "info": {"arch": "wasm32", "platform": "emscripten_3_1_14", "python": "3.10.2", "version": "0.21.3"},
        "packages": {
            "six": {"name": "six", "file_name": "six-1.17.0-py3-none-any.whl"},
            "local-pkg": {"name": "local-pkg", "file_name": "local_pkg-1.0-py3-none-any.whl"},
            "local-pkg-tests": {"name": "local-pkg-tests", "file_name": "local_pkg-tests.tar"},
        },
    }
    (dist / "pyodide-lock.json").write_text(json.dumps(lock))
    recipes: dict[str, Any] = {
        "error": None,
        "disabled": [],
        "recipes": {
            "six": _recipe(
                "six",
                version="1.17.0",
                url="https://example.invalid/six-1.17.0.tar.gz",
                sha256=_sha(ARCHIVE),
                archive="six-1.17.0.tar.gz",
                source_repo="pyodide_source_six",
                patches=["patches/fix.patch"],
                extras=[["extras/pyproject.toml", "pyproject.toml"]],
                host=["hostdep"],
            ),
            "hostdep": _recipe("hostdep", url="https://example.invalid/hd.tar.gz", source_repo="pyodide_source_hd"),
            "local-pkg": _recipe("local-pkg", path="src"),
            "unused": _recipe("unused", url="https://example.invalid/u.tar.gz", source_repo="pyodide_source_unused"),
        },
    }
    (tmp_path / "recipes.json").write_text(json.dumps(recipes))
    for name, data in {
        "archive.tar.gz": ARCHIVE,
        "fix.patch": PATCH,
        "meta.yaml": META,
        "local.yaml": LOCAL_META,
    }.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "pyproject.toml").write_text("[project]\n")
    tree = tmp_path / "tree"
    (tree / "pkg").mkdir(parents=True)
    (tree / "pkg" / "__init__.py").write_text("x = 1\n")
    (tmp_path / "load_file_package.js").write_text("export {}\n")
    return {"root": tmp_path, "dist": dist, "tree": tree}


def _args(inputs: dict[str, Path], out: Path, *extra: str) -> list[str]:
    root = inputs["root"]
    return [
        "assemble",
        f"--dist={inputs['dist']}",
        f"--recipes={root / 'recipes.json'}",
        f"--output={out}",
        f"--tarball={out.parent / 'release.tar.gz'}",
        f"--loader={root / 'load_file_package.js'}",
        f"--archive=pyodide_source_six={root / 'archive.tar.gz'}",
        f"--recipe-file=packages/six/meta.yaml={root / 'meta.yaml'}",
        f"--recipe-file=packages/six/patches/fix.patch={root / 'fix.patch'}",
        f"--recipe-file=packages/six/extras/pyproject.toml={root / 'pyproject.toml'}",
        f"--recipe-file=packages/local-pkg/meta.yaml={root / 'local.yaml'}",
        f"--recipe-file=packages/local-pkg/src/pkg/__init__.py={inputs['tree'] / 'pkg' / '__init__.py'}",
        f"--archive=pyodide_source_hd={root / 'pyproject.toml'}",
        f"--recipe-file=packages/hostdep/meta.yaml={root / 'meta.yaml'}",
        "--toolchain=emscripten=3.1.6",
        "--python-distribution=packaging",
        *extra,
    ]


def test_assemble_writes_files_sums_and_provenance(inputs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out" / "release"
    assert release.main(_args(inputs, out)) == 0
    names = sorted(p.name for p in out.iterdir())
    dist_names = sorted(p.name for p in inputs["dist"].iterdir())
    assert names == sorted([*dist_names, "load_file_package.js", "provenance.json", "SHA256SUMS"])
    # sha256sum itself agrees with SHA256SUMS.
    check = subprocess.run(["sha256sum", "--check", "--strict", "SHA256SUMS"], cwd=out, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "SHA256SUMS" not in (out / "SHA256SUMS").read_text()

    record = json.loads((out / "provenance.json").read_text())
    assert record["schema"] == release.SCHEMA and record["source_date_epoch"] == DEFAULT_SOURCE_DATE_EPOCH
    assert record["profile"] == {
        "arch": "wasm32",
        "platform": "emscripten_3_1_14",
        "python": "3.10.2",
        "version": "0.21.3",
    }
    assert record["toolchains"]["emscripten"] == "3.1.6"
    assert "python" not in record["toolchains"], "the host's interpreter differs between Debian releases"
    assert "packaging" in record["toolchains"]
    by_name = {p["name"]: p for p in record["packages"]}
    assert sorted(by_name) == ["local-pkg", "six"]  # "unused" is not in the dist
    six = by_name["six"]
    assert six["source"] == {
        "url": "https://example.invalid/six-1.17.0.tar.gz",
        "archive": "six-1.17.0.tar.gz",
        "sha256": _sha(ARCHIVE),
    }
    assert six["recipe"] == {"path": "packages/six/meta.yaml", "sha256": _sha(META)}
    assert six["patches"] == [{"path": "packages/six/patches/fix.patch", "sha256": _sha(PATCH)}]
    assert six["extras"][0]["destination"] == "pyproject.toml"
    assert six["files"] == ["six-1.17.0-py3-none-any.whl", "six.data", "six.js"]
    local = by_name["local-pkg"]
    tree_lines = f"{_sha((inputs['tree'] / 'pkg' / '__init__.py').read_bytes())}  pkg/__init__.py\n"
    assert local["source"] == {"path": "packages/local-pkg/src", "tree_sha256": _sha(tree_lines.encode())}
    assert local["files"] == ["local_pkg-1.0-py3-none-any.whl", "local_pkg-tests.tar"]
    # A host requirement ships nothing but is a source of what it helped build.
    assert [(b["name"], b["source"]["url"], b["files"]) for b in record["build_only"]] == [
        ("hostdep", "https://example.invalid/hd.tar.gz", [])
    ]
    assert release.main(["verify", str(out)]) == 0


def test_tarball_is_deterministic_sorted_and_stamped(inputs: dict[str, Path], tmp_path: Path) -> None:
    tarballs = []
    for where in ("a", "b/deeper"):
        out = tmp_path / where / "release"
        assert release.main(_args(inputs, out)) == 0
        tarballs.append((out.parent / "release.tar.gz").read_bytes())
    assert tarballs[0] == tarballs[1]
    assert tarballs[0][4:8] == b"\0\0\0\0"  # gzip header mtime
    with tarfile.open(tmp_path / "a" / "release.tar.gz") as tar:
        members = tar.getmembers()
        names = [m.name for m in members]
        assert names[0] == "release" and names[1:] == sorted(names[1:])
        stamps = {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in members}
        assert stamps == {(DEFAULT_SOURCE_DATE_EPOCH, 0, 0, "", "")}
        assert {m.mode for m in members if m.isfile()} == {0o644}
        sums = tar.extractfile("release/SHA256SUMS")
        assert sums is not None and sums.read() == (tmp_path / "a" / "release" / "SHA256SUMS").read_bytes()


def test_wrong_archive_checksum_names_the_recipe_and_leaves_nothing(inputs: dict[str, Path], tmp_path: Path) -> None:
    (inputs["root"] / "archive.tar.gz").write_bytes(b"tampered")
    out = tmp_path / "out" / "release"
    with pytest.raises(release.ReleaseError) as err:
        release.assemble(release._parser().parse_args(_args(inputs, out)))
    message = str(err.value)
    assert "packages/six/meta.yaml: source.sha256 mismatch" in message
    assert f"expected: {_sha(ARCHIVE)}" in message and f"actual:   {_sha(b'tampered')}" in message
    assert not out.exists() and not (out.parent / "release.tar.gz").exists()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ("no-recipe", "no recipe for extra-pkg: the provenance would be incomplete"),
        ("no-archive", "packages/six/meta.yaml: source.url: no --archive for @pyodide_source_six"),
        ("no-patch", "source.patches[0]: packages/six/patches/fix.patch is not among the --recipe-file inputs"),
        ("loader-clash", "a file named six.js is already in the release"),
        ("bad-pair", "--toolchain 'emscripten': expected KEY=VALUE"),
        ("unknown-dist", "--python-distribution no-such-distribution-xyz: not installed"),
    ],
)
def test_incomplete_inputs_are_clear_errors(
    inputs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], edit: str, message: str
) -> None:
    out = tmp_path / "out" / "release"
    args = _args(inputs, out)
    if edit == "no-recipe":
        lock_path = inputs["dist"] / "pyodide-lock.json"
        lock = json.loads(lock_path.read_text())
        lock["packages"]["extra-pkg"] = {"name": "extra-pkg", "file_name": "six.data"}
        lock_path.write_text(json.dumps(lock))
    elif edit == "no-archive":
        args = [a for a in args if not a.startswith("--archive=")]
    elif edit == "no-patch":
        args = [a for a in args if "fix.patch" not in a]
    elif edit == "loader-clash":
        args.append(f"--loader={inputs['dist'] / 'six.js'}")
    elif edit == "bad-pair":
        args.append("--toolchain=emscripten")
    else:
        args.append("--python-distribution=no-such-distribution-xyz")
    assert release.main(args) == 1
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_verify_reports_changed_missing_and_extra_files(
    inputs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out" / "release"
    assert release.main(_args(inputs, out)) == 0
    published = tmp_path / "published-SHA256SUMS"
    published.write_bytes((out / "SHA256SUMS").read_bytes())
    assert release.main(["verify", str(out), "--expect", str(published)]) == 0
    assert "OK" in capsys.readouterr().out

    (out / "six.js").write_text("tampered")
    (out / "six.data").unlink()
    (out / "stray.txt").write_text("x")
    assert release.main(["verify", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"six.js: sha256 {_sha(b'tampered')} here, {_sha(b'js')} in SHA256SUMS" in err
    assert "six.data: listed in SHA256SUMS, missing here" in err
    assert "stray.txt: not listed in SHA256SUMS" in err

    # A rebuild whose SHA256SUMS differs from the published one: the differing files are named.
    published.write_text(published.read_text().replace(_sha(b"wheel"), "0" * 64))
    problems = release.verify(out, published)
    assert any(p.startswith("six-1.17.0-py3-none-any.whl: ") and "0" * 64 in p for p in problems)


def test_parse_sums_rejects_malformed_lines(tmp_path: Path) -> None:
    with pytest.raises(release.ReleaseError, match="SUMS:2: not a `sha256  name` line"):
        release.parse_sums(f"{'a' * 64}  ok\nnot a line\n", "SUMS")


def test_provenance_picks_the_recipe_of_the_shipped_version(tmp_path: Path) -> None:
    """numpy has a recipe per profile (packages/numpy 1.22.4, packages/numpy2 2.2.5): the shipped one is recorded,
    and a requirement naming numpy (fast-histogram's host) is that recipe, not a build-only one."""
    from rules_pyodide.release import _build_only, _recipe_of

    recipes = {
        "fast-histogram": {"name": "fast-histogram", "version": "0.11", "host": ["numpy"], "libraries": []},
        "numpy": {"name": "numpy", "version": "1.22.4", "host": [], "libraries": []},
        "numpy2": {"name": "numpy", "version": "2.2.5", "host": ["cython"], "libraries": []},
        "cython": {"name": "Cython", "version": "3.0.12", "host": [], "libraries": []},
    }
    found = _recipe_of(recipes, {"numpy": "2.2.5", "fast-histogram": "0.11"})
    assert found["numpy"] == "numpy2" and found["fast-histogram"] == "fast-histogram"
    assert _build_only(["fast-histogram", "numpy2"], recipes) == ["cython"]
    assert _recipe_of(recipes, {"numpy": "1.22.4"})["numpy"] == "numpy"
