"""rules_pyodide.dist_archive: the source archive + PEX of `//:dist_archive`, deterministic, with http_archive lines."""

from __future__ import annotations

import hashlib
import tarfile
from pathlib import Path

import pytest

from rules_pyodide.dist_archive import DistArchiveError, main, parse_files, project_version

PYPROJECT = '[build-system]\nversion = "9"\n\n[project]\nname = "rules-pyodide"\nversion = "1.2.3"\n'


def _inputs(tmp_path: Path) -> list[str]:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    (tmp_path / "rules.pex").write_bytes(b"#!/bin/sh\npex\n")
    (tmp_path / "defs.bzl").write_text('"""Defs."""\n')
    (tmp_path / "setup.sh").write_text("#!/bin/sh\n")
    (tmp_path / "setup.sh").chmod(0o755)
    args = ["--pyproject", str(tmp_path / "pyproject.toml"), "--pex", str(tmp_path / "rules.pex")]
    args += ["--url-prefix", "https://mirror.invalid/r/"]
    args += [f"--file=rules/defs.bzl={tmp_path / 'defs.bzl'}", f"--file=tools/setup.sh={tmp_path / 'setup.sh'}"]
    return args


def test_writes_archive_pex_sums_and_http_archive_lines(tmp_path: Path) -> None:
    args = _inputs(tmp_path)
    assert main([*args, "--output", str(tmp_path / "one")]) == 0
    out = tmp_path / "one"
    assert sorted(p.name for p in out.iterdir()) == [
        "SHA256SUMS",
        "http_archive.bzl",
        "rules-pyodide-1.2.3.pex",
        "rules_pyodide-1.2.3.tar.gz",
    ]
    with tarfile.open(out / "rules_pyodide-1.2.3.tar.gz") as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert sorted(members) == [
            "rules_pyodide-1.2.3",
            "rules_pyodide-1.2.3/rules",
            "rules_pyodide-1.2.3/rules/defs.bzl",
            "rules_pyodide-1.2.3/tools",
            "rules_pyodide-1.2.3/tools/setup.sh",
        ]
        assert members["rules_pyodide-1.2.3/tools/setup.sh"].mode == 0o755
        assert members["rules_pyodide-1.2.3/rules/defs.bzl"].mode == 0o644
    lines = (out / "SHA256SUMS").read_text().splitlines()
    sums = {name: digest for digest, name in (line.split("  ", 1) for line in lines)}
    archive_sha = hashlib.sha256((out / "rules_pyodide-1.2.3.tar.gz").read_bytes()).hexdigest()
    assert sums["rules_pyodide-1.2.3.tar.gz"] == archive_sha
    text = (out / "http_archive.bzl").read_text()
    assert f'sha256 = "{archive_sha}"' in text
    assert 'strip_prefix = "rules_pyodide-1.2.3"' in text
    assert 'urls = ["https://mirror.invalid/r/rules_pyodide-1.2.3.tar.gz"]' in text

    assert main([*args, "--output", str(tmp_path / "two")]) == 0  # bit-identical on a rebuild
    for name in sums:
        assert (out / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


def test_bad_input_is_one_line_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = _inputs(tmp_path)
    assert main([*args, "--file=../escape=/etc/hostname", "--output", str(tmp_path / "out")]) == 1
    assert "expected REL=PATH with a relative REL inside the archive" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    with pytest.raises(DistArchiveError, match="given twice"):
        parse_files(["a=x", "a=y"])
    (tmp_path / "nover.toml").write_text('[tool.x]\nversion = "1"\n')
    with pytest.raises(DistArchiveError, match=r"no version in its \[project\] table"):
        project_version(tmp_path / "nover.toml")
