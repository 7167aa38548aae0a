"""Unit tests for rules_pyodide.index, including round trips through the index files the npm runtimes ship."""

from __future__ import annotations

import hashlib
import importlib
import json
from pathlib import Path
from typing import Any

import pytest
from installed import installed

from rules_pyodide.cli import main as cli_main
from rules_pyodide.index import (
    IndexBuildError,
    check_info,
    dump_index,
    fragment_from_entry,
    fragment_to_json,
    fragments_from_index,
    main,
    make_fragment,
    merge,
    read_fragment,
)

RUNTIMES = Path(__file__).resolve().parent.parent / "js" / "node_modules"
SHIPPED = {
    "0.21.3": "repodata.json",
    "0.23.4": "repodata.json",
    "0.26.4": "pyodide-lock.json",
    "0.29.5": "pyodide-lock.json",
    "314.0.7": "pyodide-lock.json",
}
SHA = "0" * 63 + "1"
INFO_026 = {"arch": "wasm32", "platform": "emscripten_3_1_58", "version": "0.26.4", "python": "3.12.1"}


def shipped(version: str) -> tuple[str, dict[str, Any]]:
    path = installed(RUNTIMES / f"pyodide-{version}" / SHIPPED[version], f"Pyodide {version}'s {SHIPPED[version]}")
    text = path.read_text()
    return text, json.loads(text)


def rebuild(version: str) -> tuple[str, str, dict[str, Any]]:
    text, real = shipped(version)
    fmt = SHIPPED[version]
    fragments = [(name, fragment_from_entry(entry, name)) for name, entry in real["packages"].items()]
    ours = dump_index(merge(fmt, check_info(fmt, real["info"], "shipped"), fragments))
    return text, ours, real


@pytest.mark.parametrize("version", ["0.26.4", "0.29.5"])
def test_lock_round_trip_is_byte_identical(version: str) -> None:
    text, ours, _ = rebuild(version)
    assert ours == text + "\n"  # the shipped file only lacks the final newline


def test_lock_314_round_trip_equal_but_for_tool_tables() -> None:
    _, ours, real = rebuild("314.0.7")
    assert real.pop("tool") == {}
    for entry in real["packages"].values():
        assert entry.pop("tool") == {}
    assert json.loads(ours) == real


@pytest.mark.parametrize("version", ["0.21.3", "0.23.4"])
def test_repodata_round_trip(version: str) -> None:
    text, ours, real = rebuild(version)
    data = json.loads(ours)
    assert list(data["info"].items()) == list(real["info"].items())
    assert list(data["packages"]) == list(real["packages"])
    for key, entry in real["packages"].items():
        mine = data["packages"][key]
        if key.endswith("-tests"):  # Pyodide wrote these in another key order, and 0.23 without package_type
            assert mine.pop("package_type", None) in (None, entry.get("package_type", "package"))
            assert mine == entry
        else:
            assert json.dumps(mine) == json.dumps(entry), key  # same keys, same order, same values
    assert ours.endswith("}}}\n") and len(ours.splitlines()) == 1


def test_loader_field_sets_per_format() -> None:
    """Our entries carry exactly the fields each shipped index carries (modulo the optional flags)."""
    frag = make_fragment("Foo_Bar", "1.0", "foo_bar-1.0-py3-none-any.whl", SHA, imports=["foo_bar"])
    for version, fmt in SHIPPED.items():
        _, real = shipped(version)
        index = merge(fmt, check_info(fmt, real["info"], "shipped"), [("f", frag)])
        (entry,) = index["packages"].values()
        shipped_keys = set().union(*(e.keys() for e in real["packages"].values())) - {"tool"}
        assert set(entry) <= shipped_keys, version
        assert shipped_keys - set(entry) <= {"shared_library", "unvendored_tests", "package_type"}, version


def test_pyodide_lock_library_accepts_our_lock() -> None:
    pyodide_lock = importlib.import_module("pyodide_lock")  # the test extra, which make setup installs
    frags = [
        ("a", make_fragment("Foo_Bar", "1.0", "foo_bar-1.0-py3-none-any.whl", SHA, depends=["libfoo"])),
        ("b", make_fragment("libfoo", "2.0", "libfoo-2.0.zip", SHA, package_type="shared_library")),
        ("c", make_fragment("ssl", "1.0.0", "ssl-1.0.0.zip", SHA, package_type="cpython_module", imports=["ssl"])),
    ]
    data = json.loads(dump_index(merge("pyodide-lock.json", INFO_026, frags)))
    spec = pyodide_lock.PyodideLockSpec(**data)
    assert sorted(spec.packages) == ["foo-bar", "libfoo", "ssl"]
    assert spec.packages["ssl"].install_dir == "stdlib"
    spec.check_wheel_filenames()


def test_legacy_formats_map_install_dir_and_drop_fields() -> None:
    ssl = make_fragment("SSL", "1.0.0", "ssl-1.0.0.zip", SHA, package_type="cpython_module", depends=["OpenSSL"])
    lib = make_fragment("OpenSSL", "1.1", "openssl-1.1.zip", SHA, package_type="shared_library")
    frags = [("a", ssl), ("b", lib)]
    old = merge("packages.json", {"arch": "wasm32", "platform": "emscripten_2_0_27"}, frags)
    assert old["packages"]["ssl"] == {
        "name": "SSL",
        "version": "1.0.0",
        "file_name": "ssl-1.0.0.zip",
        "install_dir": "lib",
        "shared_library": True,
        "depends": ["openssl"],
        "imports": [],
    }
    info = {"arch": "wasm32", "platform": "p", "version": "0.21.3", "python": "3.10.2"}
    assert merge("repodata.json", info, frags)["packages"]["ssl"]["install_dir"] == "lib"
    assert "package_type" not in merge("repodata.json", info, frags)["packages"]["ssl"]
    new = merge("repodata.json", {**info, "version": "0.23.4"}, frags)["packages"]["ssl"]
    assert (new["install_dir"], new["package_type"]) == ("stdlib", "cpython_module")


def test_lock_keys_canonical_and_shared_library_by_version() -> None:
    frags = [
        ("a", make_fragment("Ruamel.Yaml", "1", "r.whl", SHA, depends=["Typing_Ext"])),
        ("b", make_fragment("typing-ext", "1", "t.whl", SHA)),
    ]
    with_version = merge("pyodide-lock.json", INFO_026, frags)["packages"]
    assert list(with_version) == ["ruamel-yaml", "typing-ext"]
    assert with_version["ruamel-yaml"]["depends"] == ["Typing_Ext"]  # as given; the loader canonicalizes
    assert with_version["ruamel-yaml"]["shared_library"] is False
    abi_only = {"arch": "wasm32", "platform": "emscripten_4_0_9", "python": "3.13.2", "abi_version": "2025_0"}
    entry = merge("pyodide-lock.json", abi_only, frags)["packages"]["typing-ext"]
    assert "shared_library" not in entry and list(entry) == sorted(entry)


def test_duplicate_and_missing_dependency_errors() -> None:
    a = make_fragment("a", "1", "a.whl", SHA, depends=["b"])
    with pytest.raises(IndexBuildError, match=r"a2.json: package 'A' is already defined by a1.json"):
        merge("pyodide-lock.json", INFO_026, [("a1.json", a), ("a2.json", make_fragment("A", "2", "A.whl", SHA))])
    with pytest.raises(IndexBuildError, match=r"a.json: package 'a' depends on 'b', which is not in the index"):
        merge("pyodide-lock.json", INFO_026, [("a.json", a)])


@pytest.mark.parametrize(
    ("fmt", "info", "message"),
    [
        ("repodata.json", {"arch": "wasm32", "platform": "p", "version": "0.23.4"}, "info.python: required"),
        ("packages.json", {"arch": "wasm32", "platform": "p", "python": "3"}, "info.python: not part of packages"),
        ("pyodide-lock.json", {"arch": "wasm32", "platform": "p", "python": "3"}, "needs 'version'"),
        ("pyodide-lock.json", {**INFO_026, "version": "banana"}, "'banana' is not a version"),
        ("pyodide-lock.json", {**INFO_026, "arch": 32}, "info.arch: expected a non-empty string"),
    ],
)
def test_info_validation(fmt: str, info: dict[str, Any], message: str) -> None:
    with pytest.raises(IndexBuildError, match=message):
        check_info(fmt, info, "info.json")


def test_lock_info_keys_are_sorted() -> None:
    assert list(check_info("pyodide-lock.json", {"version": "0.26.4", **INFO_026}, "x")) == sorted(INFO_026)
    assert list(check_info("repodata.json", dict(reversed(INFO_026.items())), "x")) == list(INFO_026)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sha256": "XYZ"}, "sha256: 'XYZ' is not a lowercase sha256"),
        ({"file_name": "dir/a.whl"}, "file_name: 'dir/a.whl' must be a plain file name"),
        ({"install_dir": "lib"}, "install_dir: 'lib' is not one of"),
        ({"package_type": "static_library"}, "static libraries are only used at build time"),
        ({"depends": ["numpy>=1"]}, "depends: 'numpy>=1' is not a package name"),
    ],
)
def test_fragment_validation(kwargs: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {"name": "a", "version": "1", "file_name": "a.whl", "sha256": SHA, **kwargs}
    with pytest.raises(IndexBuildError, match=message):
        make_fragment(**args)


def test_read_fragment_errors_name_file_and_key(tmp_path: Path) -> None:
    good = json.loads(fragment_to_json(make_fragment("a", "1", "a.whl", SHA)))
    cases: list[tuple[dict[str, Any], str]] = [
        ({"extra": 1}, "extra: unknown key"),
        ({"depends": "b"}, "depends: expected a list of strings"),
        ({"shared_library": "yes"}, "shared_library: expected true or false"),
        ({"version": 1}, "version: expected a string"),
    ]
    for patch, message in cases:
        path = tmp_path / "f.json"
        path.write_text(json.dumps({**good, **patch}))
        with pytest.raises(IndexBuildError, match=f"{path}: {message}"):
            read_fragment(path)
    del good["sha256"]
    (tmp_path / "g.json").write_text(json.dumps(good))
    with pytest.raises(IndexBuildError, match="sha256: required key is missing"):
        read_fragment(tmp_path / "g.json")


def test_cli_fragment_and_merge_end_to_end(tmp_path: Path) -> None:
    wheel = tmp_path / "foo-1.0-py3-none-any.whl"
    wheel.write_bytes(b"wheel bytes")
    lib = tmp_path / "libbar-2.zip"
    lib.write_bytes(b"zip bytes")
    frag_foo, frag_bar = tmp_path / "foo.json", tmp_path / "bar.json"
    assert main(["fragment", "--name", "foo", "--version", "1.0", "--file", str(wheel), "--depends", "libbar",
                 "--imports", "foo", "--unvendored-tests", "--output", str(frag_foo)]) == 0  # fmt: skip
    assert main(["fragment", "--name", "libbar", "--version", "2", "--file", str(lib),
                 "--package-type", "shared_library", "--output", str(frag_bar)]) == 0  # fmt: skip
    assert main(["fragment", "--name", "x", "--version", "1", "--file", str(tmp_path / "nope.whl"),
                 "--output", str(tmp_path / "x.json")]) == 1  # fmt: skip
    assert not (tmp_path / "x.json").exists()
    foo = read_fragment(frag_foo)
    assert foo.sha256 == hashlib.sha256(b"wheel bytes").hexdigest()
    assert (foo.file_name, foo.install_dir, foo.shared_library) == (wheel.name, "site", False)
    bar = read_fragment(frag_bar)
    assert (bar.install_dir, bar.shared_library) == ("dynlib", True)

    info = tmp_path / "info.json"
    info.write_text(json.dumps(INFO_026))
    params = tmp_path / "merge.params"  # as the rules pass it: `rules-pyodide @FILE`
    merge = ["merge", "--format", "pyodide-lock.json", "--info-json", str(info), "--output",
             str(tmp_path / "a" / "pyodide-lock.json"), str(frag_foo), str(frag_bar)]  # fmt: skip
    params.write_text("\n".join(["index", *merge]))
    assert cli_main([f"@{params}"]) == 0
    out = tmp_path / "a" / "pyodide-lock.json"
    assert main(["merge", "--format", "pyodide-lock.json", "--info-json", str(info), "--output",
                 str(tmp_path / "b.json"), str(frag_bar), str(frag_foo)]) == 0  # fmt: skip
    assert out.read_bytes() == (tmp_path / "b.json").read_bytes()  # independent of fragment order
    data = json.loads(out.read_text())
    assert data["packages"]["foo"]["depends"] == ["libbar"] and data["packages"]["foo"]["unvendored_tests"] is True
    assert out.read_text().endswith("\n") and [p.name for p in out.parent.iterdir()] == ["pyodide-lock.json"]


def test_cli_merge_with_base_index(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base: dict[str, Any] = {"info": INFO_026, "packages": {
        "micropip": {"name": "micropip", "version": "0.6", "file_name": "m.whl", "install_dir": "site",
                     "sha256": SHA, "package_type": "package", "imports": ["micropip"], "depends": [],
                     "shared_library": False, "unvendored_tests": False},
        "foo": {"name": "foo", "version": "0.1", "file_name": "old.whl", "install_dir": "site", "sha256": SHA,
                "package_type": "package", "imports": [], "depends": [], "shared_library": False,
                "unvendored_tests": False}}}  # fmt: skip
    (tmp_path / "base.json").write_text(json.dumps(base))
    frag = tmp_path / "foo.json"
    frag.write_text(fragment_to_json(make_fragment("foo", "1.0", "foo.whl", SHA, depends=["micropip"])))
    out = tmp_path / "out.json"
    argv = ["merge", "--format", "pyodide-lock.json", "--base", str(tmp_path / "base.json"), "--output", str(out)]
    assert main([*argv, str(frag)]) == 0
    data = json.loads(out.read_text())
    assert data["info"] == dict(sorted(INFO_026.items()))
    assert data["packages"]["micropip"] == base["packages"]["micropip"]
    assert data["packages"]["foo"]["version"] == "1.0"  # the fragment replaces the base entry

    frag.write_text(fragment_to_json(make_fragment("foo", "1.0", "foo.whl", SHA, depends=["ghost"])))
    assert main([*argv, str(frag)]) == 1
    assert "depends on 'ghost', which is not in the index" in capsys.readouterr().err
    assert json.loads(out.read_text())["packages"]["foo"]["depends"] == ["micropip"]  # old output untouched


@pytest.mark.parametrize("fmt", ["packages.json", "repodata.json", "pyodide-lock.json"])
def test_fragments_from_index_inverts_every_writer(fmt: str) -> None:
    info = {
        "packages.json": {"arch": "wasm32", "platform": "emscripten"},
        "repodata.json": {"arch": "wasm32", "platform": "emscripten_3_1_14", "version": "0.21.3", "python": "3.10.2"},
        "pyodide-lock.json": INFO_026,
    }[fmt]
    fragments = [
        ("a", make_fragment("Top-Pkg", "1.0", "top_pkg-1.0-py3-none-any.whl", SHA, depends=["dep"], imports=["top"])),
        ("b", make_fragment("dep", "2.0", "dep-2.0-py3-none-any.whl", SHA, imports=["dep"], unvendored_tests=True)),
        ("c", make_fragment("libfoo", "3", "libfoo-3.zip", SHA, package_type="shared_library")),
        ("d", make_fragment("ssl", "1.0.0", "ssl-1.0.0.zip", SHA, package_type="cpython_module")),
    ]
    index = merge(fmt, info, fragments)
    if fmt == "packages.json":  # no sha256 in this format: refused with the entry named
        with pytest.raises(IndexBuildError, match=r"idx: packages\.dep: sha256: required key is missing"):
            fragments_from_index(index, "idx")
        return
    back = fragments_from_index(json.loads(dump_index(index)), "idx")
    assert [origin for origin, _ in back] == [
        "idx: packages.dep",
        "idx: packages.libfoo",
        "idx: packages.ssl",
        *["idx: packages.top-pkg"],
    ]
    by_version = {f.version: f for _, f in back}
    for _, original in fragments:
        again = by_version[original.version]
        assert again.name.lower() == original.name.lower()
        assert (again.file_name, again.install_dir, again.package_type, again.depends, again.imports) == (
            original.file_name,
            original.install_dir,
            original.package_type,
            original.depends,
            original.imports,
        )
        assert again.unvendored_tests == original.unvendored_tests
    assert dump_index(merge(fmt, info, back)) == dump_index(index)


@pytest.mark.parametrize(
    ("index", "message"),
    [
        ([], "idx: expected a JSON object with a 'packages' object"),
        ({"packages": {"x": []}}, r"idx: packages\.x: expected a JSON object"),
        (
            {"packages": {"x": {"name": "x", "version": "1", "install_dir": "site"}}},
            r"packages\.x: file_name: expected",
        ),
        (
            {
                "packages": {
                    "x": {"name": "x", "version": "1", "file_name": "x.whl", "install_dir": "site", "sha256": "z"}
                }
            },
            r"idx: packages\.x: package 'x': sha256: 'z' is not a lowercase sha256",
        ),
        (
            {
                "packages": {
                    "x": {"name": "x", "version": "1", "file_name": "x.whl", "install_dir": "site", "depends": "y"}
                }
            },
            r"idx: packages\.x: depends: expected a list of strings",
        ),
    ],
)
def test_fragments_from_index_errors_name_the_entry(index: object, message: str) -> None:
    with pytest.raises(IndexBuildError, match=message):
        fragments_from_index(index, "idx")
