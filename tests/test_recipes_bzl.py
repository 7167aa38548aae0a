"""Unit tests for rules_pyodide.recipes_bzl (recipes -> Starlark for the pyodide_recipes repository rule)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from rules_pyodide.recipe import RecipeError
from rules_pyodide.recipes_bzl import archive_name, convert, main, starlark

SHA = "a" * 64


def recipe(root: Path, directory: str, body: str) -> None:
    (root / directory).mkdir(parents=True, exist_ok=True)
    (root / directory / "meta.yaml").write_text(body)


def simple(name: str, version: str = "1.0", extra: str = "", source: str = "") -> str:
    source = source or f"source:\n  url: https://example.org/x/{name}-{version}.tar.gz\n  sha256: {SHA}\n"
    return f"package:\n  name: {name}\n  version: '{version}'\n{source}{extra}"


def test_convert_maps_dependencies_to_directories_and_derives_names(tmp_path: Path) -> None:
    recipe(tmp_path, "python-dateutil", simple("python_dateutil", "2.9.0.post0", "requirements:\n  run: [Six]\n"))
    recipe(
        tmp_path,
        "six",
        simple("six", "1.17.0").replace("version: '1.17.0'\n", "version: '1.17.0'\n  top-level: [six]\n"),
    )
    recipe(tmp_path, "local", simple("local", "2", source="source:\n  path: src\n"))
    data = convert(tmp_path)
    assert data["error"] is None and list(data["recipes"]) == ["local", "python-dateutil", "six"]
    dateutil = data["recipes"]["python-dateutil"]
    assert dateutil["run"] == ["six"]
    assert dateutil["wheel"] == "python_dateutil-2.9.0.post0-py3-none-any.whl"
    assert dateutil["archive"] == "python_dateutil-2.9.0.post0.tar.gz"
    assert dateutil["source_repo"] == "pyodide_source_python_dateutil"
    assert dateutil["meta"] == str(tmp_path / "python-dateutil" / "meta.yaml")
    assert data["recipes"]["local"]["source_repo"] is None and data["recipes"]["local"]["path"] == "src"
    assert data["recipes"]["six"]["imports"] == ["six"] and dateutil["imports"] == []


def test_disabled_recipes_are_listed_and_cannot_be_depended_on(tmp_path: Path) -> None:
    recipe(tmp_path, "a", simple("a", extra="requirements:\n  host: [b]\n"))
    recipe(tmp_path, "b", simple("b").replace("version: '1.0'\n", "version: '1.0'\n  _disabled: true\n"))
    with pytest.raises(RecipeError, match=r"a/meta.yaml: requirements.host: 'b' is disabled"):
        convert(tmp_path)
    (tmp_path / "a" / "meta.yaml").write_text(simple("a"))
    data = convert(tmp_path)
    assert list(data["recipes"]) == ["a"] and data["disabled"] == ["b"]


@pytest.mark.parametrize(
    ("extra", "compiled"),
    [
        ("", False),
        ("build:\n  cflags: -O2\n", True),
        ("build:\n  type: shared_library\n", True),
        ("build:\n  exports: requested\n", True),
        ("build:\n  replace-libs: [a=b]\n", True),
    ],
)
def test_compiled_recipes_are_marked(tmp_path: Path, extra: str, compiled: bool) -> None:
    recipe(tmp_path, "c", simple("c", extra=extra))
    assert convert(tmp_path)["recipes"]["c"]["compiled"] is compiled


def test_compiled_tag_and_library_host_requirements(tmp_path: Path) -> None:
    recipe(tmp_path, "libz", simple("libz", extra="build:\n  type: static_library\n"))
    recipe(tmp_path, "tool", simple("tool"))
    recipe(tmp_path, "ext", simple("ext", extra="requirements:\n  host: [libz, tool]\n"))
    recipe(tmp_path, "tagged", simple("tagged").replace("version: '1.0'\n", "version: '1.0'\n  tag: [compiled]\n"))
    data = convert(tmp_path)["recipes"]
    assert (data["ext"]["compiled"], data["ext"]["libraries"], data["ext"]["host"]) == (True, ["libz"], ["tool"])
    assert data["tagged"]["compiled"] and not data["tool"]["compiled"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("build:\n  type: cpython_module\n", "build.type: 'cpython_module' is not supported"),
        ("build:\n  cross-script: x\n", "build.cross-script: not supported"),
        ("requirements:\n  run: [libz]\n", "requirements.run: 'libz' is a static library"),
        ("requirements:\n  host: [libso]\n", "requirements.host: 'libso' is a shared library, .* requirements.run"),
    ],
)
def test_unsupported_recipes_are_refused_with_the_key(tmp_path: Path, extra: str, message: str) -> None:
    recipe(tmp_path, "libz", simple("libz", extra="build:\n  type: static_library\n"))
    recipe(tmp_path, "libso", simple("libso", extra="build:\n  type: shared_library\n"))
    recipe(tmp_path, "c", simple("c", extra=extra))
    with pytest.raises(RecipeError, match=message):
        convert(tmp_path)


def test_bad_version_and_url_name_the_file(tmp_path: Path) -> None:
    recipe(tmp_path, "v", simple("v", "not a version"))
    with pytest.raises(RecipeError, match=r"v/meta.yaml: package.version: 'not a version' is not a PEP 440"):
        convert(tmp_path)
    with pytest.raises(RecipeError, match="does not end with a file name"):
        archive_name("https://example.org/")
    assert archive_name("https://h/p/a%20b-1.zip?x=1") == "a b-1.zip"


def test_starlark_literals_parse_back() -> None:
    value: dict[str, object] = {'a"b': ["x\\y", "line\nbreak", "tab\t"], "n": None, "t": True, "e": {}, "l": []}
    text = starlark(value)
    # Starlark literals of this subset are Python literals too.
    assert ast.literal_eval(text) == value


def test_main_writes_error_instead_of_failing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    packages = tmp_path / "packages"
    recipe(packages, "bad", "package:\n  name: bad\n  version: '1'\n  colour: red\nsource:\n  path: x\n")
    assert main(["--packages", str(packages), "--output-dir", str(tmp_path / "out")]) == 0
    text = (tmp_path / "out" / "recipes.bzl").read_text()
    assert "bad/meta.yaml: package.colour: unknown key" in text
    assert "package.colour: unknown key" in capsys.readouterr().err
    assert "pass" in (tmp_path / "out" / "sources.bzl").read_text()


def test_sources_bzl_declares_one_repository_per_url(tmp_path: Path) -> None:
    packages = tmp_path / "packages"
    recipe(packages, "six", simple("six"))
    recipe(packages, "local", simple("local", source="source:\n  path: src\n"))
    assert main(["--packages", str(packages), "--output-dir", str(tmp_path / "out"), "--distdir", "dd"]) == 0
    text = (tmp_path / "out" / "sources.bzl").read_text()
    assert text.count("pyodide_source(") == 1 and 'name = "pyodide_source_six"' in text
    assert 'distdir = "dd"' in text and f'sha256 = "{SHA}"' in text


def test_per_profile_recipes_become_a_selected_name(tmp_path: Path) -> None:
    profiles = "version: '1.0'\n  profiles: ['{}']\n"
    recipe(tmp_path, "numpy", simple("numpy", "1.0").replace("version: '1.0'\n", profiles.format("0.21.3")))
    numpy2 = simple("numpy", "2.0").replace("version: '2.0'\n", profiles.format("0.29.5").replace("1.0", "2.0"))
    recipe(tmp_path, "numpy2", numpy2)
    recipe(
        tmp_path, "fast-histogram", simple("fast-histogram", extra="requirements:\n  host: [numpy]\n  run: [NumPy]\n")
    )
    data = convert(tmp_path)
    assert data["names"] == {"numpy": {"name": "numpy", "profiles": {"0.21.3": "numpy", "0.29.5": "numpy2"}}}
    assert data["recipes"]["fast-histogram"]["run"] == ["numpy"]
    assert data["recipes"]["fast-histogram"]["host"] == ["numpy"]
    assert data["recipes"]["fast-histogram"]["package_target"] == "fast-histogram"
    assert data["recipes"]["numpy"]["package_target"] == "numpy_package"
    assert data["recipes"]["numpy2"]["package_target"] == "numpy2_package"
    assert data["recipes"]["numpy2"]["profiles"] == ["0.29.5"]
    # Each recipe has its own source repository, named after its directory.
    assert data["recipes"]["numpy2"]["source_repo"] == "pyodide_source_numpy2"
    assert data["recipes"]["numpy"]["source_repo"] == "pyodide_source_numpy"


def test_per_profile_libraries_are_refused(tmp_path: Path) -> None:
    body = simple("libz").replace("version: '1.0'\n", "version: '1.0'\n  profiles: ['0.29.5']\n")
    recipe(tmp_path, "libz", body + "build:\n  type: static_library\n  script: make\n")
    with pytest.raises(RecipeError, match=r"libz/meta.yaml: package.profiles: not supported for build.type static"):
        convert(tmp_path)
