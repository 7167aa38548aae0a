"""rules_pyodide.tool_pex: the lock parser, wheel selection with sha256 checks, and the cache key of the tool PEX."""

from __future__ import annotations

import hashlib
import threading
import zipfile
from pathlib import Path

import pytest

from rules_pyodide import tool_pex
from rules_pyodide.tool_pex import PEX_LOCK_NAMES, ToolError, cache_key, parse_lock, select_wheels

ROOT = Path(__file__).resolve().parent.parent
HINT = "run tools/setup.sh"


def _lock(tmp_path: Path, wheels: dict[str, bytes], markers: dict[str, str] | None = None) -> Path:
    lines = ["# Generated: test"]
    by_pin: dict[str, list[str]] = {}
    for filename in wheels:
        name, version = filename.split("-")[:2]
        by_pin.setdefault(f"{name}=={version}", []).append(filename)
    for pin, files in sorted(by_pin.items()):
        lines += [f"# {f}" for f in files]
        marker = (markers or {}).get(pin, "")
        lines.append(f"{pin}{' ; ' + marker if marker else ''} \\")
        hashes = [f"    --hash=sha256:{hashlib.sha256(wheels[f]).hexdigest()}" for f in files]
        lines += [h + " \\" for h in hashes[:-1]] + hashes[-1:]
    path = tmp_path / "tool.lock"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_the_checked_in_locks_parse_and_cover_both_pythons() -> None:
    pins = parse_lock(ROOT / "tools" / "tool-requirements.lock")
    names = {p.name for p in pins}
    assert {"lz4", "pyyaml", "packaging", "rich", "pip", "setuptools", "wheel", "hatchling", "cython"} <= names
    # A compiled pin has a wheel for each host Python (Debian 12: 3.11, Debian 13: 3.13).
    (numpy,) = [p for p in pins if p.name == "numpy"]
    assert numpy.version == "2.2.5" and numpy.pythons == []
    assert {tag for tag in ("cp311", "cp313") if any(f"-{tag}-{tag}-" in f for f in numpy.files)} == {"cp311", "cp313"}
    assert all(len(h) == 64 for p in pins for h in p.hashes)
    # pex, and the pip it resolves with (with the setuptools and wheel pex bootstraps that pip with): pure wheels.
    pex_pins = parse_lock(ROOT / "tools" / "pex-requirements.lock")
    assert sorted(p.name for p in pex_pins) == sorted(PEX_LOCK_NAMES)
    assert all(p.hashes and p.pythons == [] for p in pex_pins)


def test_selects_the_wheel_for_the_interpreter_and_checks_its_sha256(tmp_path: Path) -> None:
    wheels = {
        "lz4-4.4.5-cp311-cp311-manylinux2014_x86_64.whl": b"311",
        "lz4-4.4.5-cp313-cp313-manylinux2014_x86_64.whl": b"313",
        "six-1.17.0-py2.py3-none-any.whl": b"six",
        "numpy-1.26.4-cp311-cp311-manylinux2014_x86_64.whl": b"np",
    }
    lock = _lock(tmp_path, wheels, {"numpy==1.26.4": 'python_version == "3.11"'})
    directory = tmp_path / "wheels"
    directory.mkdir()
    for name, data in wheels.items():
        (directory / name).write_bytes(data)
    chosen = [p.name for p in select_wheels(parse_lock(lock), directory, "3.13", lock, HINT)]
    assert chosen == ["lz4-4.4.5-cp313-cp313-manylinux2014_x86_64.whl", "six-1.17.0-py2.py3-none-any.whl"]
    assert len(select_wheels(parse_lock(lock), directory, "3.11", lock, HINT)) == 3

    (directory / "six-1.17.0-py2.py3-none-any.whl").write_bytes(b"tampered")
    with pytest.raises(ToolError, match=r"sha256 .* is not one of .*six==1.17.0.*delete it and run tools/setup.sh"):
        select_wheels(parse_lock(lock), directory, "3.13", lock, HINT)
    (directory / "six-1.17.0-py2.py3-none-any.whl").unlink()
    with pytest.raises(ToolError, match=r"no wheel of six==1.17.0 for Python 3.13 in .*; run tools/setup.sh"):
        select_wheels(parse_lock(lock), directory, "3.13", lock, HINT)


def test_a_bad_lock_line_names_the_file_and_line(tmp_path: Path) -> None:
    lock = tmp_path / "bad.lock"
    lock.write_text("# x-1-py3-none-any.whl\nx>=1 \\\n    --hash=sha256:" + "0" * 64 + "\n")
    with pytest.raises(ToolError, match=r"bad.lock:2: not `name==version"):
        parse_lock(lock)
    lock.write_text('# x-1-py3-none-any.whl\nx==1 ; sys_platform == "linux" \\\n    --hash=sha256:' + "0" * 64 + "\n")
    with pytest.raises(ToolError, match=r"bad.lock:2: marker"):
        parse_lock(lock)


def test_cache_key_changes_with_sources_locks_and_python(tmp_path: Path) -> None:
    sources = tmp_path / "src" / "rules_pyodide"
    sources.mkdir(parents=True)
    (sources / "cli.py").write_text("print(1)\n")
    lock = tmp_path / "tool.lock"
    lock.write_text("# lock\n")
    pex_lock = tmp_path / "pex.lock"
    pex_lock.write_text("pex==1\npip==24.1\n")
    key = cache_key(lock, pex_lock, sources.parent, "3.11.2")
    assert key == cache_key(lock, pex_lock, sources.parent, "3.11.2")
    (sources / "__pycache__").mkdir()
    (sources / "__pycache__" / "cli.pyc").write_bytes(b"ignored")
    assert cache_key(lock, pex_lock, sources.parent, "3.11.2") == key
    assert cache_key(lock, pex_lock, sources.parent, "3.13.5") != key
    pex_lock.write_text("pex==1\npip==24.2\n")  # pex resolves with another pip
    assert cache_key(lock, pex_lock, sources.parent, "3.11.2") != key
    pex_lock.write_text("pex==1\npip==24.1\n")
    (sources / "cli.py").write_text("print(2)\n")
    assert cache_key(lock, pex_lock, sources.parent, "3.11.2") != key


def test_main_reports_a_missing_wheel_directory_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--sources", str(tmp_path), "--lock", str(ROOT / "tools" / "tool-requirements.lock")]
    args += ["--pex-lock", str(ROOT / "tools" / "pex-requirements.lock"), "--wheels", str(tmp_path / "none")]
    args += ["--cache", str(tmp_path / "cache"), "--output", str(tmp_path / "out.pex")]
    assert tool_pex.main(args) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"rules-pyodide tool: wheel directory {tmp_path / 'none'} does not exist; {HINT}"
    assert not (tmp_path / "out.pex").exists()


def test_two_builds_of_one_pex_at_once_both_succeed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Two workspaces fetching the same tool build the same cache entry at once. pex writes `<-o>~` and then renames
    # it; the fake does the same, both builds between the two steps at once (one shared name lost a file here).
    barrier = threading.Barrier(2, timeout=30)

    def fake_pex(command: list[str], env: dict[str, str], what: str) -> None:
        out = Path(command[command.index("-o") + 1])
        Path(f"{out}~").write_text("pex\n")
        barrier.wait()
        Path(f"{out}~").rename(out)

    monkeypatch.setattr(tool_pex, "_run", fake_pex)
    wheel = tmp_path / "pex-2.105.2-py2.py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("pex/__init__.py", "")
    (tmp_path / "sources").mkdir()
    output = tmp_path / "cache" / "rules-pyodide.pex"
    output.parent.mkdir()
    pex = tool_pex.Pex(wheel=wheel, pip_version="24.1", pip_wheels=())
    errors: list[BaseException] = []

    def build() -> None:
        try:
            tool_pex.build_pex(pex, [], tmp_path / "sources", output, tmp_path / "pex_root")
        except BaseException as e:  # reported by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=build) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert output.read_text() == "pex\n"
    assert sorted(p.name for p in output.parent.iterdir()) == ["rules-pyodide.pex"]  # no partial file left
