"""Unit tests for rules_pyodide.fetch (the download is replaced by a fake: these tests never use the network)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from rules_pyodide import fetch


def recipe(packages: Path, name: str, digest_key: str, digest: str) -> None:
    (packages / name).mkdir(parents=True)
    url = f"https://example.org/src/{name}-1.0.tar.gz"
    (packages / name / "meta.yaml").write_text(
        f"package:\n  name: {name}\n  version: '1.0'\nsource:\n  url: {url}\n  {digest_key}: '{digest}'\n"
    )


@pytest.fixture
def fake_download(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []

    def download(want: fetch.Wanted, into: Path) -> Path:
        calls.append(want.url)
        into.mkdir(parents=True)
        project = want.archive.split("-")[0]
        (into / want.archive).write_bytes(b"archive of " + project.encode())
        return into / want.archive

    monkeypatch.setattr(fetch, "download", download)
    return calls


def test_fetch_downloads_checks_and_skips_valid_files(tmp_path: Path, fake_download: list[str]) -> None:
    packages, distdir = tmp_path / "packages", tmp_path / "distdir"
    recipe(packages, "a", "sha256", hashlib.sha256(b"archive of a").hexdigest())
    recipe(packages, "b", "md5", hashlib.md5(b"archive of b").hexdigest())
    assert fetch.main(["--packages", str(packages), "--distdir", str(distdir)]) == 0
    assert (distdir / "a-1.0.tar.gz").read_bytes() == b"archive of a"
    urls = ["https://example.org/src/a-1.0.tar.gz", "https://example.org/src/b-1.0.tar.gz"]
    assert sorted(fake_download) == urls
    assert fetch.main(["--packages", str(packages), "--distdir", str(distdir), "a"]) == 0
    assert sorted(fake_download) == urls  # already there and valid: not downloaded again
    assert sorted(p.name for p in distdir.iterdir()) == ["a-1.0.tar.gz", "b-1.0.tar.gz"]


def test_bad_checksum_shows_expected_and_actual(
    tmp_path: Path, fake_download: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    packages, distdir = tmp_path / "packages", tmp_path / "distdir"
    recipe(packages, "a", "sha256", "0" * 64)
    assert fetch.main(["--packages", str(packages), "--distdir", str(distdir)]) == 1
    err = capsys.readouterr().err
    assert "a/meta.yaml: source.sha256 mismatch for a-1.0.tar.gz" in err
    assert f"expected: {'0' * 64}" in err and f"actual:   {hashlib.sha256(b'archive of a').hexdigest()}" in err
    assert list(distdir.iterdir()) == []  # nothing written


def test_unknown_name_is_an_error(tmp_path: Path, fake_download: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    recipe(tmp_path / "packages", "a", "sha256", "0" * 64)
    assert fetch.main(["--packages", str(tmp_path / "packages"), "--distdir", str(tmp_path / "d"), "zzz"]) == 1
    assert "no recipe named zzz" in capsys.readouterr().err


def test_library_recipe_from_a_python_sdist_shares_its_download(tmp_path: Path, fake_download: list[str]) -> None:
    # libpkg is built from pkg's sdist: one download of the archive both urls name.
    packages, distdir = tmp_path / "packages", tmp_path / "distdir"
    recipe(packages, "pkg", "sha256", hashlib.sha256(b"archive of pkg").hexdigest())
    (packages / "libpkg").mkdir()
    (packages / "libpkg" / "meta.yaml").write_text(
        (packages / "pkg" / "meta.yaml").read_text().replace("name: pkg", "name: libpkg").replace("'1.0'", "'0.8'")
    )
    assert fetch.main(["--packages", str(packages), "--distdir", str(distdir)]) == 0
    assert len(fake_download) == 1 and sorted(p.name for p in distdir.iterdir()) == ["pkg-1.0.tar.gz"]


def test_same_archive_with_two_checksums_is_an_error(
    tmp_path: Path, fake_download: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    packages = tmp_path / "packages"
    recipe(packages, "pkg", "sha256", "1" * 64)
    (packages / "libpkg").mkdir()
    (packages / "libpkg" / "meta.yaml").write_text(
        (packages / "pkg" / "meta.yaml").read_text().replace("name: pkg", "name: libpkg").replace("1" * 64, "2" * 64)
    )
    assert fetch.main(["--packages", str(packages), "--distdir", str(tmp_path / "d")]) == 1
    assert "source: pkg-1.0.tar.gz has another checksum in" in capsys.readouterr().err


def test_a_broken_recipe_does_not_stop_the_others(
    tmp_path: Path, fake_download: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    packages, distdir = tmp_path / "packages", tmp_path / "distdir"
    recipe(packages, "a", "sha256", hashlib.sha256(b"archive of a").hexdigest())
    (packages / "b").mkdir()
    (packages / "b" / "meta.yaml").write_text("package:\n  name: b\n  version: [unclosed\n")
    recipe(packages, "c", "sha256", hashlib.sha256(b"archive of c").hexdigest())
    assert fetch.main(["--packages", str(packages), "--distdir", str(distdir)]) == 1
    # Every other recipe is fetched; the broken one is reported on its own line, and the exit status says so.
    assert sorted(p.name for p in distdir.iterdir()) == ["a-1.0.tar.gz", "c-1.0.tar.gz"]
    out, err = capsys.readouterr()
    assert out.split() == ["fetched", "a-1.0.tar.gz", "fetched", "c-1.0.tar.gz"]
    assert err.startswith(f"rules-pyodide fetch: error: {packages / 'b' / 'meta.yaml'}: line 4, column 1: invalid YAML")
    assert err.count("\n") == 1
    # Asking for other recipes only: the broken one is not in the way; asking for it: its error.
    assert fetch.main(["--packages", str(packages), "--distdir", str(distdir), "a"]) == 0
    assert capsys.readouterr().err == ""
    assert fetch.main(["--packages", str(packages), "--distdir", str(distdir), "b"]) == 1
    assert capsys.readouterr().err.startswith(f"rules-pyodide fetch: error: {packages / 'b' / 'meta.yaml'}: ")


def test_a_missing_packages_directory_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere"
    assert fetch.main(["--packages", str(missing), "--distdir", str(tmp_path / "d")]) == 1
    assert capsys.readouterr().err == (
        f"rules-pyodide fetch: error: --packages {missing}: no such directory (expected the recipes directory, "
        "<name>/meta.yaml)\n"
    )
    assert not (tmp_path / "d").exists()


def test_a_wheel_source_is_fetched_like_any_archive(tmp_path: Path, fake_download: list[str]) -> None:
    packages, distdir = tmp_path / "packages", tmp_path / "distdir"
    (packages / "w").mkdir(parents=True)
    digest = hashlib.sha256(b"archive of w").hexdigest()
    url = "https://example.org/w/w-1.0-py3-none-any.whl"
    (packages / "w" / "meta.yaml").write_text(
        f"package:\n  name: w\n  version: '1.0'\nsource:\n  url: {url}\n  sha256: '{digest}'\n"
    )
    assert fetch.main(["--packages", str(packages), "--distdir", str(distdir)]) == 0
    assert fake_download == [url] and (distdir / "w-1.0-py3-none-any.whl").read_bytes() == b"archive of w"
