"""Unit tests for rules_pyodide.recipe."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest

from rules_pyodide.recipe import Recipe, RecipeError, load_recipe, load_recipes, to_json

SHA = "ab" * 32

FULL = f"""\
package:
  name: Foo_Bar
  version: "1.10"
  top-level: [foo_bar]
  tag: [core]
source:
  url: https://example.invalid/foo-1.10.tar.gz
  extract_dir: foo-1.10
  sha256: {SHA.upper()}
  patches: [patches/0001-fix.patch]
  extras:
    - [extras/setup.cfg, setup.cfg]
build:
  type: package
  skip_host: false
  cflags: -O2 -fPIC
  cxxflags: -std=c++17
  ldflags: -lm
  script: |
    export X=1
  post: rm -rf $PKGDIR/tests
  replace-libs: [a=b]
  exports: requested
  unvendor-tests: false
requirements:
  run: [numpy]
  host: [libfoo]
  executable: [rustc]
test:
  imports: [foo_bar]
about:
  home: https://example.invalid
  PyPI: https://pypi.org/project/foo
  summary: Foo.
  license: MIT
"""


def write(root: Path, name: str, text: str) -> Path:
    path = root / name / "meta.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def simple(name: str, run: tuple[str, ...] = (), host: tuple[str, ...] = ()) -> str:
    return (
        f"package: {{name: {name}, version: '1.0'}}\n"
        f"source: {{path: src}}\n"
        f"requirements: {{run: {list(run)}, host: {list(host)}}}\n"
    )


def error_of(path: Path) -> str:
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    return str(info.value)


def test_full_recipe_every_key(tmp_path: Path) -> None:
    recipe = load_recipe(write(tmp_path, "foo-bar", FULL))
    assert recipe.name == "Foo_Bar"
    assert recipe.canonical_name == "foo-bar"
    assert recipe.package.version == "1.10"
    assert recipe.package.top_level == ("foo_bar",)
    assert recipe.source is not None
    assert recipe.source.sha256 == SHA  # lower-cased
    assert recipe.source.extract_dir == "foo-1.10"
    assert recipe.source.extras == (("extras/setup.cfg", "setup.cfg"),)
    assert recipe.build.skip_host is False
    assert recipe.build.script == "export X=1\n"
    assert recipe.build.exports == "requested"
    assert recipe.build.replace_libs == ("a=b",)
    assert recipe.requirements.executable == ("rustc",)
    assert recipe.dependencies == ("numpy", "libfoo")
    assert recipe.about.PyPI == "https://pypi.org/project/foo"


def test_defaults_follow_pyodide(tmp_path: Path) -> None:
    recipe = load_recipe(write(tmp_path, "a", simple("a")))
    assert recipe.build.type == "package"
    assert recipe.build.exports == "pyinit"
    assert recipe.build.unvendor_tests is True
    assert recipe.source is not None and recipe.source.path == "src"


def test_exports_list_and_legacy_library_flags(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "a",
        "package: {name: a, version: '1'}\nsource: {path: s}\nbuild: {sharedlibrary: true, exports: [f, g]}\n",
    )
    recipe = load_recipe(path)
    assert recipe.build.type == "shared_library"
    assert recipe.build.exports == ("f", "g")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("build: {cflgs: -O2}", "build.cflgs: unknown key (expected one of: type, library"),
        ("sourc: {path: s}", "sourc: unknown key (expected one of: package, source"),
        (f"source: {{url: u, sha256: {int('1' * 20)}}}", "source.sha256: expected a string, got int"),
        ("source: {url: u}", "source.url: a download needs a checksum"),
        (f"source: {{url: u, path: p, sha256: {SHA}}}", "source: exactly one of 'url' and 'path'"),
        ("source: {extract_dir: x}", "source: exactly one of 'url' and 'path'"),
        ("source: {url: u, sha256: abc}", "source.sha256: 'abc' is not a sha256 hex digest"),
        ("source: {path: s, patches: [../x.patch]}", "source.patches[0]: '../x.patch' must be a relative path"),
        ("source: {path: s, extras: [[a, /etc/x]]}", "source.extras[0][1]: '/etc/x' must be a relative path"),
        ("source: {path: s, extras: [[a]]}", "source.extras[0]: expected a [src, dst] pair"),
        ("source: {path: s}\nbuild: {type: wheel}", "build.type: 'wheel' is not one of: package"),
        ("source: {path: s}\nbuild: {exports: all}", "build.exports: 'all' is not one of: pyinit"),
        ("source: {path: s}\nbuild: {cflags: [a]}", "build.cflags: expected a string, got list"),
        ("source: {path: s}\nbuild: {skip_host: 1}", "build.skip_host: expected true or false, got int"),
        ("source: {path: s}\nbuild: {type: package, library: true}", "build.type: 'package' contradicts"),
        ("source: {path: s}\nrequirements: {run: ['numpy>=1']}", "requirements.run[0]: 'numpy>=1' is not a package"),
        ("source: {path: s}\ntest: {imports: x}", "test.imports: expected a list of strings, got str"),
        ("build: {script: x}", "source: required key is missing"),
    ],
)
def test_invalid_keys_name_file_and_key_path(tmp_path: Path, body: str, expected: str) -> None:
    path = write(tmp_path, "a", "package: {name: a, version: '1'}\n" + body + "\n")
    message = error_of(path)
    assert message.startswith(f"{path}: "), message
    assert expected in message, message


def test_unquoted_float_version_is_refused_with_hint(tmp_path: Path) -> None:
    path = write(tmp_path, "a", "package: {name: a, version: 1.10}\nsource: {path: s}\n")
    assert "package.version: expected a string, got float (quote it in YAML)" in error_of(path)


def test_missing_name_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "a", "package: {version: '1'}\nsource: {path: s}\n")
    assert error_of(path) == f"{path}: package.name: required key is missing"


def test_cpython_module_may_omit_source(tmp_path: Path) -> None:
    path = write(tmp_path, "ssl", "package: {name: ssl, version: '1.0.0'}\nbuild: {type: cpython_module}\n")
    assert load_recipe(path).source is None


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "a", "package:\n  name: a\n  version: [1\nsource: {path: s}\n")
    message = error_of(path)
    assert message.startswith(f"{path}: line "), message
    assert "invalid YAML" in message


def test_duplicate_yaml_key_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "a", "package: {name: a, version: '1'}\nsource: {path: s}\nsource: {path: t}\n")
    message = error_of(path)
    assert "line 3" in message and "duplicate key 'source'" in message, message


def test_top_level_not_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "a", "- just\n- a list\n")
    assert "expected a mapping, got list" in error_of(path)


def test_load_recipes_keys_by_directory_and_accepts_canonical_dir(tmp_path: Path) -> None:
    write(tmp_path, "jinja2", simple("Jinja2", run=("markupsafe",)))
    write(tmp_path, "markupsafe", simple("MarkupSafe"))
    write(tmp_path, "b", simple("b", host=("Jinja2", "micropip")))
    recipes = load_recipes(tmp_path, runtime_packages=["micropip"])
    assert list(recipes) == ["b", "jinja2", "markupsafe"]
    assert [r.name for r in recipes.values()] == ["b", "Jinja2", "MarkupSafe"]
    assert all(isinstance(r, Recipe) for r in recipes.values())


def test_directory_must_match_name(tmp_path: Path) -> None:
    path = write(tmp_path, "foo", simple("bar"))
    with pytest.raises(RecipeError, match=r"package.name: 'bar' does not match the directory name 'foo'") as info:
        load_recipes(tmp_path)
    assert str(path) in str(info.value)


def with_profiles(name: str, profiles: list[str], run: tuple[str, ...] = ()) -> str:
    return simple(name, run=run).replace("version: '1.0'}", f"version: '1.0', profiles: {profiles}}}")


def test_one_package_may_have_a_recipe_per_profile(tmp_path: Path) -> None:
    write(tmp_path, "numpy", with_profiles("numpy", ["0.21.3"]))
    write(tmp_path, "numpy2", with_profiles("numpy", ["0.29.5", "0.28.3"]))
    write(tmp_path, "user", simple("user", run=("NumPy",)))
    recipes = load_recipes(tmp_path)
    assert list(recipes) == ["numpy", "numpy2", "user"]
    assert recipes["numpy2"].package.profiles == ("0.29.5", "0.28.3")
    assert recipes["user"].package.profiles == ()


def test_recipes_of_one_package_must_list_disjoint_profiles(tmp_path: Path) -> None:
    write(tmp_path, "numpy", simple("numpy"))
    path = write(tmp_path, "numpy2", with_profiles("numpy", ["0.29.5"]))
    with pytest.raises(RecipeError) as info:
        load_recipes(tmp_path)
    assert str(info.value) == (
        f"{tmp_path / 'numpy' / 'meta.yaml'}: package.name: 'numpy' has recipes in 'numpy' and 'numpy2': each must "
        "list package.profiles (the profiles it is for)"
    )
    write(tmp_path, "numpy", with_profiles("numpy", ["0.21.3", "0.29.5"]))
    with pytest.raises(RecipeError) as info:
        load_recipes(tmp_path)
    assert str(info.value) == (
        f"{path}: package.profiles: 0.29.5 also listed by {tmp_path / 'numpy' / 'meta.yaml'} for 'numpy' "
        "(one recipe per package and profile)"
    )


def test_only_a_per_profile_recipe_may_live_in_another_directory(tmp_path: Path) -> None:
    write(tmp_path, "numpy2", simple("numpy"))
    with pytest.raises(RecipeError, match=r"only a recipe that lists package.profiles may live in another directory"):
        load_recipes(tmp_path)


@pytest.mark.parametrize(
    ("profiles", "message"),
    [
        ("[]", r"package.profiles: expected at least one profile name"),
        ("['0.29.5', '0.29.5']", r"package.profiles\[1\]: '0.29.5' is listed twice"),
        ("0.29.5", r"package.profiles: expected a list of strings, got str"),
    ],
)
def test_bad_profiles_name_the_key(tmp_path: Path, profiles: str, message: str) -> None:
    path = write(tmp_path, "a", f"package: {{name: a, version: '1', profiles: {profiles}}}\nsource: {{path: src}}\n")
    assert re.search(message, error_of(path))


def test_missing_dependency_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "a", simple("a", run=("ghost",)))
    with pytest.raises(RecipeError) as info:
        load_recipes(tmp_path, runtime_packages=["micropip"])
    assert str(info.value) == f"{path}: requirements.run: 'ghost' is neither a recipe nor shipped by the runtime"


def test_runtime_packages_compare_canonically(tmp_path: Path) -> None:
    write(tmp_path, "a", simple("a", run=("Typing_Extensions",)))
    assert list(load_recipes(tmp_path, runtime_packages=["typing-extensions"])) == ["a"]


def test_cycle_is_reported_as_path(tmp_path: Path) -> None:
    write(tmp_path, "a", simple("a", run=("b",)))
    write(tmp_path, "b", simple("b", host=("C",)))
    write(tmp_path, "c", simple("C", run=("a",)))
    write(tmp_path, "d", simple("d", run=("a",)))
    with pytest.raises(RecipeError) as info:
        load_recipes(tmp_path)
    assert str(info.value) == "dependency cycle: a -> b -> C -> a"


def test_self_dependency_is_a_cycle(tmp_path: Path) -> None:
    write(tmp_path, "a", simple("a", run=("A",)))
    with pytest.raises(RecipeError, match="dependency cycle: a -> a"):
        load_recipes(tmp_path)


def test_to_json_is_stable_sorted_and_complete(tmp_path: Path) -> None:
    recipe = load_recipe(write(tmp_path, "foo-bar", FULL))
    text = to_json(recipe)
    assert text == to_json(load_recipe(tmp_path / "foo-bar" / "meta.yaml"))
    data = json.loads(text)
    assert list(data) == sorted(data)
    assert data["canonical_name"] == "foo-bar"
    assert data["package"]["name"] == "Foo_Bar"
    assert data["source"]["extras"] == [["extras/setup.cfg", "setup.cfg"]]
    assert data["build"]["replace_libs"] == ["a=b"]
    assert data["build"]["cross_build_files"] == []
    assert str(tmp_path) not in text


def test_test_script_and_requires(tmp_path: Path) -> None:
    body = simple("a") + "test:\n  imports: [a]\n  script: check_a.py\n  requires: [Pytest]\n"
    write(tmp_path, "a", body)
    write(tmp_path, "pytest", simple("pytest"))
    recipe = load_recipes(tmp_path)["a"]
    assert (recipe.test.script, recipe.test.requires) == ("check_a.py", ("Pytest",))


def test_test_requires_must_be_recipes(tmp_path: Path) -> None:
    path = write(tmp_path, "a", simple("a") + "test:\n  script: ../outside.py\n")
    with pytest.raises(RecipeError, match=r"test.script: '../outside.py' must be a relative path inside the tree"):
        load_recipes(tmp_path)
    path = write(tmp_path, "a", simple("a") + "test:\n  requires: [ghost]\n")
    with pytest.raises(RecipeError) as info:
        load_recipes(tmp_path)
    assert str(info.value) == f"{path}: test.requires: 'ghost' is not a recipe"
