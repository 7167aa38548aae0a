"""Unit tests for rules_pyodide.recipes_bzl (recipes -> Starlark for the pyodide_recipes repository rule)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from rules_pyodide.recipe import RecipeError
from rules_pyodide.recipes_bzl import archive_name, convert, main, starlark

ROOT = Path(__file__).resolve().parent.parent
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


def test_disabled_recipes_are_listed_and_disable_what_needs_them(tmp_path: Path) -> None:
    recipe(tmp_path, "a", simple("a", extra="requirements:\n  host: [b]\n"))
    recipe(tmp_path, "b", simple("b").replace("version: '1.0'\n", "version: '1.0'\n  _disabled: true\n"))
    data = convert(tmp_path)
    # As pyodide-build: what needs a disabled recipe is disabled too, with a note.
    assert data["recipes"] == {} and data["disabled"] == ["a", "b"] and data["broken"] == {}
    assert data["warnings"] == [
        f"{tmp_path / 'a' / 'meta.yaml'}: requirements.host: 'b' is disabled, so this recipe is too"
    ]
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
    recipe(tmp_path, "c", simple("c", extra=extra, source="source:\n  path: src\n"))
    (tmp_path / "c" / "src").mkdir()
    (tmp_path / "c" / "src" / "c.py").write_text("")
    assert convert(tmp_path)["recipes"]["c"]["compiled"] is compiled


def sdist(distdir: Path, name: str, files: dict[str, str]) -> str:
    """Write `distdir/<name>-1.0.tar.gz` holding `files` under `<name>-1.0/`; returns its sha256."""
    import hashlib
    import io
    import tarfile

    distdir.mkdir(parents=True, exist_ok=True)
    with tarfile.open(distdir / f"{name}-1.0.tar.gz", "w:gz") as tar:
        for path, text in sorted(files.items()):
            data = text.encode()
            info = tarfile.TarInfo(f"{name}-1.0/{path}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return hashlib.sha256((distdir / f"{name}-1.0.tar.gz").read_bytes()).hexdigest()


def with_sha(name: str, sha: str) -> str:
    return simple(name, source=f"source:\n  url: https://example.org/x/{name}-1.0.tar.gz\n  sha256: {sha}\n")


def test_compiled_or_pure_is_found_out_from_the_sdist(tmp_path: Path) -> None:
    packages, distdir = tmp_path / "packages", tmp_path / "distdir"
    setup_py = "from setuptools import setup\nsetup()\n"
    recipe(packages, "ext", with_sha("ext", sdist(distdir, "ext", {"setup.py": setup_py, "ext/_x.c": "int x;"})))
    recipe(packages, "pure", with_sha("pure", sdist(distdir, "pure", {"setup.py": setup_py, "tests/t.c": ""})))
    recipe(packages, "absent", simple("absent"))
    sha = sdist(distdir, "wrong", {"w/_x.c": ""})
    recipe(packages, "wrong", with_sha("wrong", "b" * 64))
    assert sha != "b" * 64
    data = convert(packages, distdir)["recipes"]
    assert (data["ext"]["compiled"], data["ext"]["kind"], data["ext"]["allow_pure"]) == (True, "compiled", False)
    assert data["ext"]["kind_reason"] == "ext/_x.c is a compiled-language source file"
    assert (data["pure"]["compiled"], data["pure"]["kind"]) == (False, "pure")  # a C file of the tests is not built
    # Not looked into: the emcc path (as pyodide-build builds every recipe), where a pure result is allowed.
    for name, why in (("absent", "is not in the distdir"), ("wrong", "does not have the recipe's sha256")):
        assert (data[name]["compiled"], data[name]["kind"], data[name]["allow_pure"]) == (True, "unknown", True)
        assert why in data[name]["kind_reason"]


def test_compiled_tag_and_library_host_requirements(tmp_path: Path) -> None:
    recipe(tmp_path, "libz", simple("libz", extra="build:\n  type: static_library\n"))
    recipe(tmp_path, "tool", simple("tool", source="source:\n  path: src\n"))
    (tmp_path / "tool" / "src").mkdir()
    (tmp_path / "tool" / "src" / "tool.py").write_text("")
    recipe(tmp_path, "ext", simple("ext", extra="requirements:\n  host: [libz, tool]\n"))
    recipe(tmp_path, "tagged", simple("tagged").replace("version: '1.0'\n", "version: '1.0'\n  tag: [compiled]\n"))
    data = convert(tmp_path)["recipes"]
    assert (data["ext"]["compiled"], data["ext"]["libraries"], data["ext"]["host"]) == (True, ["libz"], ["tool"])
    assert data["tagged"]["compiled"] and not data["tool"]["compiled"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("package:\n  name: c\n  version: 'x y'\n", "package.version: 'x y' is not a PEP 440 version"),
        ("requirements:\n  run: [nowhere]\n", "requirements.run: 'nowhere' is neither a recipe nor shipped"),
    ],
)
def test_a_broken_recipe_breaks_what_needs_it_only(tmp_path: Path, extra: str, message: str) -> None:
    recipe(
        tmp_path,
        "c",
        extra + simple("c").split("\n", 3)[3] if extra.startswith("package") else simple("c", extra=extra),
    )
    recipe(tmp_path, "user", simple("user", extra="requirements:\n  run: [c]\n"))
    recipe(tmp_path, "other", simple("other"))
    data = convert(tmp_path)
    assert message in data["broken"]["c"] and data["broken"]["c"].startswith(str(tmp_path / "c" / "meta.yaml"))
    # What needs it is broken too, naming the cause; the others are untouched.
    assert data["broken"]["user"].startswith(
        f"{tmp_path / 'user' / 'meta.yaml'}: requirements.run: 'c' cannot be built"
    )
    assert list(data["recipes"]) == ["other"]


def test_requirements_as_pyodide_build_reads_them(tmp_path: Path) -> None:
    """0.21-era static libraries in run, shared libraries in host only, stdlib modules, cross-script."""
    recipe(tmp_path, "libz", simple("libz", extra="build:\n  type: static_library\n"))
    recipe(tmp_path, "libso", simple("libso", "1.1.1n", extra="build:\n  type: shared_library\n"))
    recipe(tmp_path, "ssl", simple("ssl", extra="build:\n  type: cpython_module\n"))
    recipe(tmp_path, "old", simple("old", extra="requirements:\n  run: [libz, distutils, ssl]\n"))
    recipe(tmp_path, "new", simple("new", extra="requirements:\n  host: [libso]\nbuild:\n  cross-script: export A=1\n"))
    data = convert(tmp_path)
    assert data["broken"] == {} and data["stdlib"] == ["ssl"] and "ssl" not in data["recipes"]
    old, new = data["recipes"]["old"], data["recipes"]["new"]
    # A static library in run (Pyodide 0.21 had no host) is linked at build time; stdlib modules need no recipe.
    assert (old["run"], old["libraries"], old["compiled"]) == ([], ["libz"], True)
    # A shared library is loaded before the package that links it: a run requirement too.
    assert (new["run"], new["libraries"], new["cross_script"]) == (["libso"], ["libso"], "export A=1")
    assert data["recipes"]["libso"]["wheel"] == ""  # a library's version need not be PEP 440


def test_bad_version_and_url_name_the_file(tmp_path: Path) -> None:
    recipe(tmp_path, "v", simple("v", "not a version"))
    assert re.search(
        r"v/meta.yaml: package.version: 'not a version' is not a PEP 440", convert(tmp_path)["broken"]["v"]
    )
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
    recipe(packages, "six", simple("six"))
    recipe(packages, "old", simple("old", extra="build:\n  library: true\n  script: make\n"))
    assert main(["--packages", str(packages), "--output-dir", str(tmp_path / "out")]) == 0
    text = (tmp_path / "out" / "recipes.bzl").read_text()
    data = ast.literal_eval(text.split("RECIPES = ", 1)[1])
    assert list(data["broken"]) == ["bad"] and "bad/meta.yaml: package.colour: unknown key" in data["broken"]["bad"]
    assert sorted(data["recipes"]) == ["old", "six"]  # one bad recipe does not stop the others
    assert data["warnings"] == [
        f"{packages / 'old' / 'meta.yaml'}: build.library: deprecated, use build.type: static_library"
    ]
    err = capsys.readouterr().err
    assert "error: " in err and "package.colour: unknown key" in err and "warning: " in err
    assert 'name = "pyodide_source_six"' in (tmp_path / "out" / "sources.bzl").read_text()


def test_sources_bzl_declares_one_repository_per_url(tmp_path: Path) -> None:
    packages = tmp_path / "packages"
    recipe(packages, "six", simple("six"))
    recipe(packages, "local", simple("local", source="source:\n  path: src\n"))
    assert main(["--packages", str(packages), "--output-dir", str(tmp_path / "out"), "--distdir", "dd"]) == 0
    text = (tmp_path / "out" / "sources.bzl").read_text()
    assert text.count("pyodide_source(") == 1 and 'name = "pyodide_source_six"' in text
    assert 'distdir = "dd"' in text and f'sha256 = "{SHA}"' in text


def test_summary_prints_figures_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    packages = tmp_path / "packages"
    recipe(packages, "six", simple("six"))
    recipe(packages, "bad", simple("bad", extra="build:\n  colour: red\n"))
    assert main(["--packages", str(packages), "--summary", "--distdir", str(tmp_path / "none")]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (
        f"{packages}: 2 recipes: 1 buildable (0 compiled, 0 pure, 1 source not looked into), 0 disabled, "
        "0 stdlib, 1 broken; 0 warnings"
    )
    assert out[1].startswith(f"error: {packages / 'bad' / 'meta.yaml'}: build.colour: unknown key")
    assert not (tmp_path / "out").exists()


def test_per_profile_recipes_become_a_selected_name(tmp_path: Path) -> None:
    profiles = "version: '1.0'\n  profiles: ['{}']\n"
    recipe(tmp_path, "numpy", simple("numpy", "1.0").replace("version: '1.0'\n", profiles.format("0.21.3")))
    numpy2 = simple("numpy", "2.0").replace("version: '2.0'\n", profiles.format("0.29.5").replace("1.0", "2.0"))
    recipe(tmp_path, "numpy2", numpy2)
    recipe(
        tmp_path, "fast-histogram", simple("fast-histogram", extra="requirements:\n  host: [numpy]\n  run: [NumPy]\n")
    )
    data = convert(tmp_path)
    assert data["names"]["numpy"] == {"name": "numpy", "profiles": {"0.21.3": "numpy", "0.29.5": "numpy2"}}
    assert data["recipes"]["fast-histogram"]["run"] == ["numpy"]
    assert data["recipes"]["fast-histogram"]["host"] == ["numpy"]
    # It needs numpy, so it exists for numpy's profiles only: a selected name of its own.
    assert data["recipes"]["fast-histogram"]["profiles"] == ["0.21.3", "0.29.5"]
    assert data["recipes"]["fast-histogram"]["package_target"] == "fast-histogram_package"
    assert data["names"]["fast-histogram"] == {
        "name": "fast-histogram",
        "profiles": {"0.21.3": "fast-histogram", "0.29.5": "fast-histogram"},
        "requires": ["numpy"],
    }
    assert data["recipes"]["numpy"]["package_target"] == "numpy_package"
    assert data["recipes"]["numpy2"]["package_target"] == "numpy2_package"
    assert data["recipes"]["numpy2"]["profiles"] == ["0.29.5"]
    # Each recipe has its own source repository, named after its directory.
    assert data["recipes"]["numpy2"]["source_repo"] == "pyodide_source_numpy2"
    assert data["recipes"]["numpy"]["source_repo"] == "pyodide_source_numpy"


def test_requirements_limit_profiles_transitively_or_break_a_recipe(tmp_path: Path) -> None:
    def limited(name: str, version: str, profile: str) -> str:
        return simple(name, version).replace(
            f"version: '{version}'\n", f"version: '{version}'\n  profiles: ['{profile}']\n"
        )

    recipe(tmp_path, "numpy", limited("numpy", "1.0", "0.21.3"))
    recipe(tmp_path, "numpy2", limited("numpy", "2.0", "0.29.5"))
    recipe(tmp_path, "scipy", limited("scipy", "1.0", "0.29.5"))
    recipe(tmp_path, "uses-numpy", simple("uses-numpy", extra="requirements:\n  run: [numpy]\n"))
    recipe(tmp_path, "app", simple("app", extra="requirements:\n  run: [uses-numpy]\n"))
    recipe(tmp_path, "both", simple("both", extra="requirements:\n  run: [uses-numpy, scipy]\n"))
    recipe(tmp_path, "neither", simple("neither", extra="requirements:\n  run: [numpy, scipy-21]\n"))
    recipe(tmp_path, "scipy-21", limited("scipy-21", "1.0", "0.21.3"))
    recipe(tmp_path, "bad", simple("bad", extra="requirements:\n  run: [numpy2-only, numpy]\n"))
    recipe(tmp_path, "numpy2-only", simple("numpy2-only", extra="requirements:\n  run: [scipy]\n"))
    data = convert(tmp_path)
    recipes = data["recipes"]
    assert recipes["app"]["profiles"] == ["0.21.3", "0.29.5"]  # through uses-numpy
    assert data["names"]["app"]["requires"] == ["numpy"]
    assert recipes["both"]["profiles"] == ["0.29.5"]
    assert data["names"]["both"]["requires"] == ["numpy", "scipy"]
    assert recipes["neither"]["profiles"] == ["0.21.3"]
    assert recipes["numpy2-only"]["profiles"] == ["0.29.5"]
    assert recipes["bad"]["profiles"] == ["0.29.5"]
    assert "six" not in data["names"]


def test_requirements_with_no_common_profile_break_the_recipe(tmp_path: Path) -> None:
    def limited(name: str, profile: str) -> str:
        return simple(name).replace("version: '1.0'\n", f"version: '1.0'\n  profiles: ['{profile}']\n")

    recipe(tmp_path, "old", limited("old", "0.21.3"))
    recipe(tmp_path, "new", limited("new", "0.29.5"))
    recipe(tmp_path, "mixed", simple("mixed", extra="requirements:\n  run: [old, new]\n"))
    recipe(tmp_path, "user", simple("user", extra="requirements:\n  run: [mixed]\n"))
    data = convert(tmp_path)
    assert "mixed" not in data["recipes"] and "user" not in data["recipes"]
    assert "requirements: no profile has all of ['new', 'old']" in data["broken"]["mixed"]
    assert "'mixed' cannot be built" in data["broken"]["user"]


def test_per_profile_libraries_are_refused(tmp_path: Path) -> None:
    body = simple("libz").replace("version: '1.0'\n", "version: '1.0'\n  profiles: ['0.29.5']\n")
    recipe(tmp_path, "libz", body + "build:\n  type: static_library\n  script: make\n")
    data = convert(tmp_path)
    assert "libz" not in data["recipes"]
    assert "package.profiles: not supported for build.type static_library" in data["broken"]["libz"]


def test_pure_tag_forces_the_pure_path(tmp_path: Path) -> None:
    recipe(tmp_path, "a", simple("a").replace("version: '1.0'\n", "version: '1.0'\n  tag: [pure]\n"))
    entry = convert(tmp_path)["recipes"]["a"]
    assert (entry["compiled"], entry["kind"]) == (False, "pure") and "package.tag 'pure'" in entry["kind_reason"]
    recipe(
        tmp_path,
        "a",
        simple("a", extra="build:\n  cflags: -O2\n").replace("version: '1.0'\n", "version: '1.0'\n  tag: [pure]\n"),
    )
    assert "package.tag: 'pure', but the recipe compiles (build.cflags)" in convert(tmp_path)["broken"]["a"]


def _imports(module: str, seen: set[str]) -> set[str]:
    """`module` and the rules_pyodide modules it imports, directly or not."""
    if module not in seen:
        seen.add(module)
        tree = ast.parse((ROOT / "rules_pyodide" / f"{module}.py").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("rules_pyodide."):
                _imports(str(node.module).split(".")[1], seen)
    return seen


def test_the_recipes_repository_watches_every_module_the_converter_imports() -> None:
    # A module missing from the list would not re-run the repository rule when it changes (stale RECIPES).
    bzl = (ROOT / "rules" / "private" / "recipes_repository.bzl").read_text(encoding="utf-8")
    listed = re.search(r"_CONVERTER_IMPORTS = \[(.*?)\]", bzl, re.S)
    assert listed is not None
    assert set(re.findall(r'"(\w+)"', listed.group(1))) == _imports("recipes_bzl", set()) - {"recipes_bzl"}


def test_entries_have_the_fields_that_recipe_bzl_documents(tmp_path: Path) -> None:
    """rules/private/recipe.bzl refuses a field it does not know and fails on a missing required one: every entry
    must have exactly the fields of its RECIPE_FIELDS."""
    text = (Path(__file__).parent.parent / "rules" / "private" / "recipe.bzl").read_text(encoding="utf-8")
    table = text[text.index("RECIPE_FIELDS = {") : text.index("\n}\n", text.index("RECIPE_FIELDS = {"))]
    documented = dict(re.findall(r'^    "(\w+)": \(([^,]+),', table, flags=re.MULTILINE))
    required = {key for key, default in documented.items() if default == "REQUIRED"}
    recipe(tmp_path, "six", simple("six"))
    recipe(tmp_path, "libz", simple("libz", extra="build:\n  type: static_library\n"))
    recipe(
        tmp_path,
        "whl",
        simple("whl", source=f"source:\n  url: https://e.org/whl-1.0-py3-none-any.whl\n  sha256: {SHA}\n"),
    )
    for entry in convert(tmp_path)["recipes"].values():
        assert set(entry) == set(documented)
        assert required <= {key for key, value in entry.items() if value is not None}


def wheel_recipe(name: str, filename: str, extra: str = "") -> str:
    return simple(name, source=f"source:\n  url: https://example.org/w/{filename}\n  sha256: {SHA}\n", extra=extra)


def test_a_wheel_source_is_shipped_not_built(tmp_path: Path) -> None:
    recipe(tmp_path, "pure", wheel_recipe("pure", "pure-1.0-py2.py3-none-any.whl", "requirements:\n  run: [six]\n"))
    recipe(tmp_path, "wasm", wheel_recipe("wasm", "wasm-1.0-cp310-cp310-emscripten_3_1_14_wasm32.whl"))
    recipe(tmp_path, "six", simple("six"))
    data = convert(tmp_path)
    assert data["broken"] == {}
    pure, wasm = data["recipes"]["pure"], data["recipes"]["wasm"]
    assert pure["wheel_source"] and wasm["wheel_source"] and not data["recipes"]["six"]["wheel_source"]
    # Its own file name is what ships; pure or not is the tags' say (no distdir to look into).
    assert (pure["wheel"], pure["kind"], pure["compiled"]) == ("pure-1.0-py2.py3-none-any.whl", "pure", False)
    assert pure["kind_reason"] == "a prebuilt wheel tagged py2-none-any, py3-none-any" and pure["run"] == ["six"]
    assert (wasm["wheel"], wasm["kind"], wasm["compiled"]) == (
        "wasm-1.0-cp310-cp310-emscripten_3_1_14_wasm32.whl",
        "compiled",
        True,
    )
    assert pure["source_repo"] == "pyodide_source_pure" and pure["archive"] == pure["wheel"]


@pytest.mark.parametrize(
    ("filename", "extra", "message"),
    [
        ("other-1.0-py3-none-any.whl", "", "source.url: other-1.0-py3-none-any.whl is a wheel of 'other', not of"),
        ("w-2.0-py3-none-any.whl", "", "source.url: w-2.0-py3-none-any.whl has version 2.0, the recipe '1.0'"),
        ("w-1.0.whl", "", "source.url: w-1.0.whl is not a wheel file name"),
        ("w-1.0-py3-none-any.whl", "build:\n  type: static_library\n", "build.type: static_library cannot come from"),
    ],
)
def test_a_wheel_source_unlike_its_recipe_is_broken(tmp_path: Path, filename: str, extra: str, message: str) -> None:
    recipe(tmp_path, "w", wheel_recipe("w", filename, extra))
    broken = convert(tmp_path)["broken"]["w"]
    assert broken.startswith(f"{tmp_path / 'w' / 'meta.yaml'}: ") and message in broken and "\n" not in broken
