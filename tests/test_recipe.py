"""Unit tests for rules_pyodide.recipe."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest

from rules_pyodide.recipe import (
    SPEC,
    Recipe,
    RecipeError,
    load_each,
    load_recipe,
    load_recipes,
    to_json,
    vendor_sharedlib_default,
)

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


def test_flags_written_as_yaml_blocks_are_one_line(tmp_path: Path) -> None:
    # numpy 1.22.4's recipe (`cflags: |`) and 14 others of Pyodide 0.21.3's: the block's newlines, its last one
    # included, must not reach the action's one-argument-per-line param file.
    text = (
        "package: {name: a, version: '1'}\nsource: {path: s}\nbuild:\n"
        "  cflags: |\n    -Wno-implicit-function-declaration\n    -DX='a b'\n"
        '  ldflags: >\n    -lm\n    -lz\n  cxxflags: "-O2\\r\\n-g"\n  backend-flags: |\n    setup-args=-Dx=1\n'
    )
    build = load_recipe(write(tmp_path, "a", text)).build
    assert build.cflags == "-Wno-implicit-function-declaration -DX='a b'"
    assert build.ldflags == "-lm -lz"
    assert build.cxxflags == "-O2 -g"
    assert build.backend_flags == "setup-args=-Dx=1"


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
        ("build: {cflgs: -O2}", "build.cflgs: unknown key (expected one of: type, cflags"),
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
    assert str(info.value) == f"{tmp_path / 'a' / 'meta.yaml'}: dependency cycle: a -> b -> C -> a"


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


# Every key of SPEC: (section, key) -> (YAML value, the parsed value, where to read it). A wheel url and a library
# type need a recipe of their own, so `base` differs per key; test_every_spec_key_is_covered keeps this complete.
_LIB = "build: {type: static_library}\n"
SPEC_CASES: dict[tuple[str, str], tuple[str, object, str]] = {
    ("package", "name"): ("Foo", "Foo", "package.name"),
    ("package", "version"): ("'2.0'", "2.0", "package.version"),
    ("package", "top-level"): ("[foo, _foo]", ("foo", "_foo"), "package.top_level"),
    ("package", "tag"): ("[core, always]", ("core", "always"), "package.tag"),
    ("package", "_disabled"): ("true", True, "package.disabled"),
    ("package", "pinned"): ("true", True, "package.pinned"),
    ("package", "profiles"): ("['0.29.5']", ("0.29.5",), "package.profiles"),
    ("package", "_tag"): ("pyodide.test", ("pyodide.test",), "package.tag"),
    ("package", "_cpython_dynlib"): ("true", "cpython_module", "build.type"),
    ("source", "url"): ("https://example.invalid/x-1.tar.gz", "https://example.invalid/x-1.tar.gz", "source.url"),
    ("source", "path"): ("src", "src", "source.path"),
    ("source", "extract_dir"): ("x-1", "x-1", "source.extract_dir"),
    ("source", "sha256"): (SHA, SHA, "source.sha256"),
    ("source", "md5"): ("cd" * 16, "cd" * 16, "source.md5"),
    ("source", "patches"): ("[p/1.patch]", ("p/1.patch",), "source.patches"),
    ("source", "extras"): ("[[e/a.cfg, a.cfg]]", (("e/a.cfg", "a.cfg"),), "source.extras"),
    ("build", "type"): ("shared_library", "shared_library", "build.type"),
    ("build", "cflags"): ("-O3", "-O3", "build.cflags"),
    ("build", "cxxflags"): ("-std=c++17", "-std=c++17", "build.cxxflags"),
    ("build", "ldflags"): ("-lm", "-lm", "build.ldflags"),
    ("build", "backend-flags"): ("setup-args=-Dx=1", "setup-args=-Dx=1", "build.backend_flags"),
    ("build", "script"): ("'make -j $PYODIDE_JOBS'", "make -j $PYODIDE_JOBS", "build.script"),
    ("build", "cross-script"): ("'export A=1'", "export A=1", "build.cross_script"),
    ("build", "post"): ("'rm -r $SITEPACKAGES/x'", "rm -r $SITEPACKAGES/x", "build.post"),
    ("build", "exports"): ("whole_archive", "whole_archive", "build.exports"),
    ("build", "unvendor-tests"): ("false", False, "build.unvendor_tests"),
    ("build", "_retain-test-patterns"): ("['*/conftest.py']", ("*/conftest.py",), "build.retain_test_patterns"),
    ("build", "vendor-sharedlib"): ("true", True, "build.vendor_sharedlib"),
    ("build", "cross-build-env"): ("true", True, "build.cross_build_env"),
    ("build", "_cross-build-env-skip-install"): ("true", True, "build.cross_build_env_skip_install"),
    ("build", "cross-build-files"): ("[x/core/include/a.h]", ("x/core/include/a.h",), "build.cross_build_files"),
    ("build", "library"): ("true", "static_library", "build.type"),
    ("build", "sharedlibrary"): ("true", "shared_library", "build.type"),
    ("build", "replace-libs"): ("[lapack=clapack]", ("lapack=clapack",), "build.replace_libs"),
    ("build", "skip_host"): ("false", False, "build.skip_host"),
    ("requirements", "run"): ("[numpy, Six]", ("numpy", "Six"), "requirements.run"),
    ("requirements", "host"): ("[libz]", ("libz",), "requirements.host"),
    ("requirements", "executable"): ("[rustc, cmake]", ("rustc", "cmake"), "requirements.executable"),
    ("requirements", "constraint"): (
        "['cython < 3.1.0', 'pybind11<3']",
        ("cython < 3.1.0", "pybind11<3"),
        "requirements.constraint",
    ),
    ("requirements", "build-extras"): (
        "['oldest-supported-numpy']",
        ("oldest-supported-numpy",),
        "requirements.build_extras",
    ),
    ("test", "imports"): ("[x, x.y]", ("x", "x.y"), "test.imports"),
    ("test", "script"): ("check_x.py", "check_x.py", "test.script"),
    ("test", "requires"): ("[pytest]", ("pytest",), "test.requires"),
    ("about", "home"): ("https://x.invalid", "https://x.invalid", "about.home"),
    ("about", "PyPI"): ("https://pypi.org/project/x", "https://pypi.org/project/x", "about.PyPI"),
    ("about", "summary"): ("X.", "X.", "about.summary"),
    ("about", "license"): ("MIT", "MIT", "about.license"),
}
_DEPRECATED = {
    ("package", "_tag"): "use package.tag",
    ("package", "_cpython_dynlib"): "use build.type: cpython_module",
    ("source", "md5"): "use source.sha256",
    ("build", "library"): "use build.type: static_library",
    ("build", "sharedlibrary"): "use build.type: shared_library",
    ("build", "replace-libs"): "use build.ldflags",
    ("build", "skip_host"): "ignored",
}


def test_every_spec_key_is_covered() -> None:
    assert set(SPEC_CASES) == {(section, key) for section, keys in SPEC.items() for key in keys}
    assert set(_DEPRECATED) == {(s, k) for s, keys in SPEC.items() for k, v in keys.items() if v.deprecated}
    for keys in SPEC.values():
        assert all(v.meaning and v.default for v in keys.values())


def _recipe_with(section: str, key: str, value: str) -> str:
    sections = {
        "package": {"name": "x", "version": "'1'"},
        "source": {"path": "src"},
    }
    if section == "source" and key in ("url", "sha256", "md5", "extract_dir"):
        sections["source"] = {"url": "https://example.invalid/x-1.tar.gz", "sha256": SHA}
        if key == "md5":
            del sections["source"]["sha256"]
    if (section, key) == ("package", "_cpython_dynlib"):
        sections["build"] = {"sharedlibrary": "true"}
    sections.setdefault(section, {})[key] = value
    return "".join(f"{name}:\n" + "".join(f"  {k}: {v}\n" for k, v in body.items()) for name, body in sections.items())


@pytest.mark.parametrize(("section", "key"), sorted(SPEC_CASES))
def test_spec_key(tmp_path: Path, section: str, key: str) -> None:
    value, expected, where = SPEC_CASES[(section, key)]
    path = write(tmp_path, "x", _recipe_with(section, key, value))
    recipe = load_recipe(path)
    obj: object = recipe
    for part in where.split("."):
        obj = getattr(obj, part)
    assert obj == expected
    deprecated = _DEPRECATED.get((section, key))
    if deprecated:
        mine = [w for w in recipe.warnings if w.startswith(f"{path}: {section}.{key}: deprecated, ")]
        assert len(mine) == 1 and deprecated in mine[0] and "\n" not in mine[0], recipe.warnings
    else:
        assert recipe.warnings == ()


def test_defaults_of_the_new_keys(tmp_path: Path) -> None:
    recipe = load_recipe(write(tmp_path, "a", simple("a")))
    assert (recipe.package.pinned, recipe.build.retain_test_patterns, recipe.build.vendor_sharedlib) == (
        False,
        (),
        None,
    )
    assert (recipe.build.cross_build_env_skip_install, recipe.requirements.constraint) == (False, ())
    assert (recipe.requirements.build_extras, recipe.extra) == ((), "{}")
    # pyodide-build's default changed in 0.34 (first used by Pyodide 314).
    assert [vendor_sharedlib_default(v) for v in ("0.21.3", "0.23.4", "0.29.5", "314.0.7")] == [False] * 3 + [True]


def test_extra_is_free_form_and_null_means_unset(tmp_path: Path) -> None:
    body = simple("a") + (
        "extra:\n  recipe-maintainers: [someone]\n  anything: {nested: [1, 2]}\n"
        "about:\n  home: null\n  summary: ~\nbuild:\n  script: null\n"
    )
    recipe = load_recipe(write(tmp_path, "a", body))
    assert json.loads(recipe.extra) == {"anything": {"nested": [1, 2]}, "recipe-maintainers": ["someone"]}
    assert (recipe.about.home, recipe.about.summary, recipe.build.script) == (None, None, "")
    assert json.loads(to_json(recipe))["extra"] == recipe.extra


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("extra: [a]", "extra: expected a mapping, got list"),
        ("extra: {recipe-maintainers: someone}", "extra.recipe-maintainers: expected a list of strings, got str"),
        ("requirements: {constraint: ['cython <<< 3']}", "requirements.constraint[0]: 'cython <<< 3' is not a PEP 508"),
        ("requirements: {build-extras: [1]}", "requirements.build-extras[0]: expected a string, got int"),
        ("package: {pinned: yes please}", "package.pinned: expected true or false"),
        ("build: {cflags: null}", "build.cflags: expected a string, got null"),
        ("build: {_retain-test-patterns: '*.py'}", "build._retain-test-patterns: expected a list of strings"),
        ("package: {_tagg: x}", "package._tagg: unknown key"),
    ],
)
def test_new_keys_are_checked(tmp_path: Path, body: str, expected: str) -> None:
    text = "package: {name: a, version: '1'}\nsource: {path: s}\n"
    if body.startswith("package:"):
        text = "source: {path: s}\n" + body.replace("{", "{name: a, version: '1', ", 1) + "\n"
    else:
        text += body + "\n"
    message = error_of(write(tmp_path, "a", text))
    assert expected in message and "\n" not in message, message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "source: {url: https://h/x-1-py3-none-any.whl, sha256: %s, patches: [a.patch]}",
            "source.patches: not allowed",
        ),
        (
            "source: {url: https://h/x-1-py3-none-any.whl, sha256: %s}\nrequirements: {host: [b]}",
            "requirements.host: not",
        ),
        (
            "source: {url: https://h/x-1-py3-none-any.whl, sha256: %s}\nbuild: {cflags: -O2}",
            "build.cflags: not allowed",
        ),
    ],
)
def test_wheel_sources_refuse_build_keys_as_pyodide_build(tmp_path: Path, body: str, expected: str) -> None:
    message = error_of(write(tmp_path, "a", "package: {name: a, version: '1'}\n" + body % SHA + "\n"))
    assert expected in message and "source.url is a wheel" in message, message
    ok = "package: {name: a, version: '1'}\nsource: {url: https://h/x-1-py3-none-any.whl, sha256: %s}\n"
    assert load_recipe(write(tmp_path, "b", (ok % SHA) + "build: {post: 'true', unvendor-tests: false}\n"))


def test_load_each_keeps_going_and_blames_each_recipe(tmp_path: Path) -> None:
    write(tmp_path, "good", simple("good"))
    write(tmp_path, "bad", "package: {name: bad, version: '1'}\nsource: {path: s}\nbuild: {colour: red}\n")
    write(tmp_path, "user", simple("user", run=("bad",)))  # needs a broken recipe
    write(tmp_path, "user-of-user", simple("user-of-user", host=("User",)))
    write(tmp_path, "lost", simple("lost", run=("nowhere",)))
    write(tmp_path, "x", simple("x", run=("y",)))
    write(tmp_path, "y", simple("y", run=("x",)))
    write(tmp_path, "z", simple("z", run=("x",)))  # not on the cycle, but needs it
    recipes, errors = load_each(tmp_path)
    assert list(recipes) == ["good"]
    meta = {name: tmp_path / name / "meta.yaml" for name in ("bad", "user", "user-of-user", "lost", "x", "y", "z")}
    assert errors["bad"].startswith(f"{meta['bad']}: build.colour: unknown key (expected one of: type, cflags")
    assert (
        errors["lost"] == f"{meta['lost']}: requirements.run: 'nowhere' is neither a recipe nor shipped by the runtime"
    )
    assert (
        errors["x"] == f"{meta['x']}: dependency cycle: x -> y -> x"
        and errors["y"] == f"{meta['y']}: dependency cycle: x -> y -> x"
    )
    assert errors["user"] == f"{meta['user']}: requirements.run: 'bad' cannot be built ({errors['bad']})"
    assert errors["user-of-user"].startswith(f"{meta['user-of-user']}: requirements.host: 'User' cannot be built (")
    assert errors["z"].startswith(f"{meta['z']}: requirements.run: 'x' cannot be built (")
    assert all("\n" not in e for e in errors.values())
    with pytest.raises(RecipeError, match="bad/meta.yaml: build.colour: unknown key"):
        load_recipes(tmp_path)  # the strict form raises the first error
