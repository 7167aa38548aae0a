"""Unit tests for rules_pyodide.build_lock: the lock writer and reader, lock-build (pip's resolution replaced by a
fake: no network), the isolated build environment (real pip, real venv, the tool's locked flit_core wheel from
.cache/wheels, which `make setup` puts there), locked pure builds, and what fetch and recipes_bzl make of a lock."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import tarfile
import urllib.request
from pathlib import Path

import pytest

from rules_pyodide import build_lock, fetch, pure_build, recipes_bzl
from rules_pyodide.build_lock import BuildLockError, LockedWheel, parse_lock, read_lock, render

ROOT = Path(__file__).resolve().parent.parent
WHEELS = ROOT / ".cache" / "wheels"
FLIT = WHEELS / "flit_core-3.12.0-py3-none-any.whl"
PYTHON = f"{sys.version_info[0]}.{sys.version_info[1]}"
FILES = "https://files.example.org/packages"


def wheel(name: str, version: str, filename: str, sha: str, *pythons: str) -> LockedWheel:
    return LockedWheel(name, version, f"{FILES}/{filename}", sha, pythons or ("3.11", "3.13"))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def flit_lock(path: Path, sha: str = "", source: str = "tiny_pkg-1.0.tar.gz") -> Path:
    """A lock of the tool's own flit_core wheel (as `lock-build` would write it from the sdist `source`)."""
    locked = wheel("flit-core", "3.12.0", FLIT.name, sha or sha256(FLIT))
    path.write_text(render("tiny-pkg", source, ["flit_core>=3.2,<4"], [], [locked]))
    return path


def test_render_is_sorted_and_parses_back(tmp_path: Path) -> None:
    wheels = [
        wheel("ninja", "1.11.1", "ninja-1.11.1-py3-none-manylinux_2_17_x86_64.whl", "b" * 64),
        wheel("cython", "0.29.37", "Cython-0.29.37-cp313-cp313-manylinux_2_17_x86_64.whl", "d" * 64, "3.13"),
        wheel("cython", "0.29.37", "Cython-0.29.37-cp311-cp311-manylinux_2_17_x86_64.whl", "c" * 64, "3.11"),
        wheel("setuptools", "44.1.1", "setuptools-44.1.1-py2.py3-none-any.whl", "a" * 64, "3.11"),
        wheel("setuptools", "45.0.0", "setuptools-45.0.0-py2.py3-none-any.whl", "e" * 64, "3.13"),
    ]
    text = render("x", "x-1.0.tar.gz", ["setuptools<46", "cython>=0.29,<3"], ["ninja<1.12"], wheels)
    assert text == render("x", "x-1.0.tar.gz", ["setuptools<46", "cython>=0.29,<3"], ["ninja<1.12"], wheels[::-1])
    pins = [line for line in text.splitlines() if line and not line.startswith(("#", " "))]
    assert pins == [
        "cython==0.29.37 \\",
        "ninja==1.11.1 \\",
        'setuptools==44.1.1 ; python_version == "3.11" \\',
        'setuptools==45.0.0 ; python_version == "3.13" \\',
    ]
    assert '# requires: ["setuptools<46", "cython>=0.29,<3"]' in text and "# pythons: 3.11 3.13" in text
    lock = parse_lock(text, tmp_path / "build-requirements.lock")
    assert lock.requires == ("setuptools<46", "cython>=0.29,<3") and lock.pythons == ("3.11", "3.13")
    assert lock.source == "x-1.0.tar.gz"
    assert sorted((w.name, w.version, w.url, w.sha256) for w in lock.wheels) == sorted(
        (w.name, w.version, w.url, w.sha256) for w in wheels
    )
    # Each Python installs its own binary and the pins whose marker names it.
    assert [w.filename for w in lock.for_python("3.11")] == [
        "Cython-0.29.37-cp311-cp311-manylinux_2_17_x86_64.whl",
        "ninja-1.11.1-py3-none-manylinux_2_17_x86_64.whl",
        "setuptools-44.1.1-py2.py3-none-any.whl",
    ]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace("# pythons: 3.11 3.13\n", ""), "no `# requires:` or `# pythons:` line"),
        (lambda t: t.replace("--hash=sha256:" + "a" * 64, "--hash=sha256:" + "f" * 64), "--hash values and"),
        (lambda t: t.replace("six==1.17.0", "six>=1.17"), "expected `name==version"),
        (lambda t: t.replace(" sha256=" + "a" * 64, ""), "expected `# wheel: URL sha256=HEX`"),
    ],
    ids=["no-header", "hash-differs", "not-pinned", "wheel-line"],
)
def test_a_malformed_lock_is_refused_naming_the_line(tmp_path: Path, edit: object, message: str) -> None:
    text = render(
        "six",
        "six-1.17.0.tar.gz",
        ["setuptools"],
        [],
        [wheel("six", "1.17.0", "six-1.17.0-py3-none-any.whl", "a" * 64)],
    )
    assert callable(edit)
    with pytest.raises(BuildLockError, match=f"build-requirements.lock.*{message[:12]}"):
        parse_lock(edit(text), tmp_path / "build-requirements.lock")


def sdist(path: Path, files: dict[str, str]) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def test_pyproject_requires_reads_the_top_file_and_pep518_default(tmp_path: Path) -> None:
    top = '[build-system]\nrequires = ["poetry-core>=1.0.0"]\nbuild-backend = "poetry.core.masonry.api"\n'
    nested = '[build-system]\nrequires = ["nested"]\n'
    archive = sdist(tmp_path / "x-1.0.tar.gz", {"x-1.0/tests/pyproject.toml": nested, "x-1.0/pyproject.toml": top})
    assert build_lock.pyproject_requires(archive) == ("poetry-core>=1.0.0",)
    legacy = sdist(tmp_path / "y-1.0.tar.gz", {"y-1.0/setup.py": "", "y-1.0/tests/pyproject.toml": nested})
    assert build_lock.pyproject_requires(legacy) is None
    assert build_lock.build_requirements(None, [], []) == ["setuptools>=40.8.0", "wheel"]
    # A requirements.host recipe is provided by its built tree; build extras are added.
    got = build_lock.build_requirements(["setuptools", "cppy>=1.2", "wheel"], ["setuptools-scm<8"], ["CPPY"])
    assert got == ["setuptools", "wheel", "setuptools-scm<8"]


def test_lock_build_writes_the_lock_beside_the_recipe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    packages, distdir = tmp_path / "packages", tmp_path / "distdir"
    distdir.mkdir()
    archive = sdist(distdir / "x-1.0.tar.gz", {"x-1.0/pyproject.toml": '[build-system]\nrequires = ["cython<3"]\n'})
    (packages / "x").mkdir(parents=True)
    (packages / "x" / "meta.yaml").write_text(
        f"package:\n  name: x\n  version: '1.0'\nsource:\n  url: https://example.org/x-1.0.tar.gz\n"
        f"  sha256: {sha256(archive)}\nrequirements:\n  constraint: ['cython!=0.29.36']\n"
    )
    calls: list[tuple[list[str], list[str], str]] = []

    def resolve(requires: list[str], constraints: list[str], version: str, abi: str) -> list[LockedWheel]:
        calls.append((list(requires), list(constraints), version))
        filename = f"Cython-0.29.37-{abi}-{abi}-manylinux_2_17_x86_64.whl"
        return [wheel("cython", "0.29.37", filename, abi[-1] * 64, version)]

    monkeypatch.setattr(build_lock, "pip_resolve", resolve)
    monkeypatch.setattr(build_lock, "pure_alternative", lambda w: w)
    assert build_lock.main(["--packages", str(packages), "--distdir", str(distdir), "x"]) == 0
    assert calls == [(["cython<3"], ["cython!=0.29.36"], "3.11"), (["cython<3"], ["cython!=0.29.36"], "3.13")]
    lock = read_lock(packages / "x" / build_lock.LOCK_NAME)
    assert lock.requires == ("cython<3",)
    assert [w.filename for w in lock.for_python("3.13")] == ["Cython-0.29.37-cp313-cp313-manylinux_2_17_x86_64.whl"]
    first = (packages / "x" / build_lock.LOCK_NAME).read_bytes()
    assert build_lock.main(["--packages", str(packages), "--distdir", str(distdir), "--all"]) == 0
    assert (packages / "x" / build_lock.LOCK_NAME).read_bytes() == first  # deterministic


def test_lock_build_needs_the_fetched_source(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "packages" / "x").mkdir(parents=True)
    (tmp_path / "packages" / "x" / "meta.yaml").write_text(
        "package:\n  name: x\n  version: '1.0'\nsource:\n  url: https://example.org/x-1.0.tar.gz\n"
        f"  sha256: {'a' * 64}\n"
    )
    assert build_lock.main(["--packages", str(tmp_path / "packages"), "--distdir", str(tmp_path), "x"]) == 1
    assert "x-1.0.tar.gz is missing: run `rules-pyodide fetch x` first" in capsys.readouterr().err


def test_wheels_are_checked_against_the_lock(tmp_path: Path) -> None:
    lock = read_lock(flit_lock(tmp_path / "build-requirements.lock"))
    assert build_lock.select_wheels(lock, [FLIT], "tiny-pkg") == [FLIT]
    with pytest.raises(BuildLockError, match=r"flit_core-3.12.0-py3-none-any.whl \(flit-core==3.12.0\) is not among"):
        build_lock.select_wheels(lock, [], "tiny-pkg")
    bad = read_lock(flit_lock(tmp_path / "bad.lock", "0" * 64))
    with pytest.raises(BuildLockError, match=f"sha256 {sha256(FLIT)}, the lock says {'0' * 64}"):
        build_lock.select_wheels(bad, [FLIT], "tiny-pkg")
    other = tmp_path / "other.lock"
    other.write_text(flit_lock(tmp_path / "o.lock").read_text().replace("# pythons: 3.11 3.13", "# pythons: 3.99"))
    with pytest.raises(BuildLockError, match=f"locked for CPython 3.99, not this build's {PYTHON}: run `rules-pyodide"):
        build_lock.select_wheels(read_lock(other), [FLIT], "tiny-pkg")


def test_the_build_environment_holds_the_locked_wheels_only(tmp_path: Path) -> None:
    assert FLIT.is_file(), f"{FLIT} is missing: run `make setup`"
    env = build_lock.create_build_env(tmp_path, read_lock(flit_lock(tmp_path / "lock")), [FLIT], "tiny-pkg")
    probe = "import flit_core, importlib.util as u; print(flit_core.__version__, u.find_spec('yaml') is None)"
    result = subprocess.run([str(env.python), "-c", probe], capture_output=True, text=True, check=True)
    # flit_core from the lock; PyYAML (the tool's, importable here) is not in the isolated environment.
    assert result.stdout.split() == ["3.12.0", "True"]
    assert (env.site / "flit_core").is_dir() and [p.name for p in env.frontend.iterdir()] == ["pip"]


SETUPTOOLS_PROJECT = '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
FLIT_PROJECT = """\
[build-system]
requires = ["flit_core>=3.2,<4"]
build-backend = "flit_core.buildapi"

[project]
name = "tiny_pkg"
version = "1.0"
description = "tiny"
"""


def build(tmp_path: Path, pyproject: str, lock: Path, *wheels: Path) -> int:
    src = tmp_path / "src"
    (src / "tiny_pkg").mkdir(parents=True)
    (src / "pyproject.toml").write_text(pyproject)
    (src / "tiny_pkg" / "__init__.py").write_text('"""tiny"""\nVALUE = 1\n')
    out = tmp_path / "out"
    args = ["--source", str(src), "--name", "tiny-pkg", "--version", "1.0"]
    args += ["--wheel", str(out / "tiny_pkg-1.0-py3-none-any.whl"), "--site", str(out / "site")]
    args += ["--fragments", str(out / "fragments"), "--build-lock", str(lock)]
    args += [a for w in wheels for a in ("--build-wheel", str(w))]
    return pure_build.main(args)


def test_a_locked_build_runs_the_backend_in_the_isolated_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lock = flit_lock(tmp_path / "build-requirements.lock")
    assert build(tmp_path / "flit", FLIT_PROJECT, lock, FLIT) == 0
    assert (tmp_path / "flit" / "out" / "site" / "tiny_pkg" / "__init__.py").is_file()
    # setuptools is in the tool's own environment, but not in this lock: the backend cannot import it.
    assert build(tmp_path / "st", SETUPTOOLS_PROJECT, lock, FLIT) == 1
    err = capsys.readouterr().err
    assert "tiny-pkg: the PEP 517 build failed" in err and "No module named 'setuptools'" in err
    assert list((tmp_path / "st" / "out" / "site").iterdir()) == []


def test_a_locked_build_without_its_wheel_says_to_fetch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert build(tmp_path, FLIT_PROJECT, flit_lock(tmp_path / "build-requirements.lock")) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "run `rules-pyodide fetch tiny-pkg`" in err


def test_fetch_downloads_the_locked_wheels_naming_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    packages, distdir = tmp_path / "packages", tmp_path / "distdir"
    source = b"archive of a"
    (packages / "a").mkdir(parents=True)
    (packages / "a" / "meta.yaml").write_text(
        "package:\n  name: a\n  version: '1.0'\nsource:\n  url: https://example.org/a-1.0.tar.gz\n"
        f"  sha256: {hashlib.sha256(source).hexdigest()}\n"
    )
    flit_lock(packages / "a" / build_lock.LOCK_NAME)

    def download(want: fetch.Wanted, into: Path) -> Path:
        into.mkdir(parents=True)
        data = FLIT.read_bytes() if want.archive.endswith(".whl") else source
        (into / want.archive).write_bytes(data)
        return into / want.archive

    monkeypatch.setattr(fetch, "download", download)
    assert fetch.main(["--packages", str(packages), "--distdir", str(distdir)]) == 0
    assert sha256(distdir / FLIT.name) == sha256(FLIT)
    (distdir / FLIT.name).unlink()
    flit_lock(packages / "a" / build_lock.LOCK_NAME, "0" * 64)
    assert fetch.main(["--packages", str(packages), "--distdir", str(distdir)]) == 1
    assert f"a/build-requirements.lock: source.sha256 mismatch for {FLIT.name}" in capsys.readouterr().err
    assert not (distdir / FLIT.name).exists()


def test_recipes_bzl_declares_the_wheels_for_the_locked_recipe_only(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "meta.yaml").write_text(
            f"package:\n  name: {name}\n  version: '1.0'\nsource:\n  url: https://example.org/{name}-1.0.tar.gz\n"
            f"  sha256: {'a' * 64}\n"
        )
    flit_lock(tmp_path / "a" / build_lock.LOCK_NAME, source="a-1.0.tar.gz")
    data = recipes_bzl.convert(tmp_path)
    a, b = data["recipes"]["a"], data["recipes"]["b"]
    assert a["build_lock"] == "build-requirements.lock"
    assert a["build_wheels"] == ["pyodide_wheel_flit_core_3_12_0_py3_none_any"]
    assert (b["build_lock"], b["build_wheels"], b["build_wheel_sources"]) == (None, [], [])  # the tool's own backends
    sources = recipes_bzl.sources_bzl(data, ".cache/distdir", "@//rules/private:source_repository.bzl")
    assert sources.count("pyodide_source(\n") == 3
    assert f'archive = "{FLIT.name}"' in sources and f'sha256 = "{sha256(FLIT)}"' in sources
    flit_lock(tmp_path / "a" / build_lock.LOCK_NAME, source="a-0.9.tar.gz")
    message = recipes_bzl.convert(tmp_path)["broken"]["a"]
    assert message.endswith(
        "made from a-0.9.tar.gz, but the recipe's source is a-1.0.tar.gz: run `rules-pyodide "
        "fetch a` and `rules-pyodide lock-build a`"
    ), message
    (tmp_path / "a" / build_lock.LOCK_NAME).write_text("garbage\n")
    assert "a/build-requirements.lock:1: expected `name==version" in recipes_bzl.convert(tmp_path)["broken"]["a"]


def test_a_pure_wheel_of_the_same_release_is_preferred(monkeypatch: pytest.MonkeyPatch) -> None:
    files = [
        {
            "filename": "Cython-3.0.12-cp311-cp311-manylinux_2_17_x86_64.whl",
            "url": f"{FILES}/Cython-3.0.12-cp311-cp311-manylinux_2_17_x86_64.whl",
            "hashes": {"sha256": "1" * 64},
        },
        {
            "filename": "Cython-3.0.11-py2.py3-none-any.whl",
            "url": f"{FILES}/Cython-3.0.11-py2.py3-none-any.whl",
            "hashes": {"sha256": "2" * 64},
        },
        {
            "filename": "Cython-3.0.12-py2.py3-none-any.whl",
            "url": f"{FILES}/Cython-3.0.12-py2.py3-none-any.whl",
            "hashes": {"sha256": "3" * 64},
        },
        {"filename": "Cython-3.0.12.tar.gz", "url": f"{FILES}/Cython-3.0.12.tar.gz", "hashes": {"sha256": "4" * 64}},
    ]
    asked: list[str] = []

    def urlopen(request: object, timeout: float) -> io.BytesIO:
        asked.append(getattr(request, "full_url", ""))
        return io.BytesIO(json.dumps({"files": files}).encode())

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    binary = wheel("cython", "3.0.12", "Cython-3.0.12-cp311-cp311-manylinux_2_17_x86_64.whl", "1" * 64, "3.11")
    pure = build_lock.pure_alternative(binary)
    assert (pure.filename, pure.sha256, pure.pythons) == ("Cython-3.0.12-py2.py3-none-any.whl", "3" * 64, ("3.11",))
    assert asked == ["https://pypi.org/simple/cython/"]
    ninja = wheel("ninja", "1.11.1", "ninja-1.11.1-py3-none-manylinux_2_17_x86_64.whl", "5" * 64)
    assert build_lock.pure_alternative(ninja) == ninja  # no pure wheel of that release: the binary stays
    assert build_lock.pure_alternative(pure) == pure and len(asked) == 2  # a pure one is not looked up
