"""Unit tests of rules/private/recipe.bzl: a recipe entry's defaults, and RECIPES as recipe_data() reads it."""

load("@bazel_skylib//lib:unittest.bzl", "asserts", "unittest")

# A unit test of a private module (nothing outside //rules loads it otherwise).
load("//rules/private:recipe.bzl", "RECIPE_FIELDS", "recipe", "recipe_data")  # buildifier: disable=bzl-visibility

_MINIMAL = {
    "canonical_name": "six",
    "meta": "packages/six/meta.yaml",
    "name": "six",
    "version": "1.17.0",
    "wheel": "six-1.17.0-py3-none-any.whl",
}

def _defaults_test_impl(ctx):
    env = unittest.begin(ctx)
    r = recipe("six", _MINIMAL)
    asserts.equals(env, "six", r.package_target)  # the directory, when the entry has none
    asserts.equals(env, "package", r.type)
    asserts.equals(env, ["pyinit"], r.exports)
    asserts.true(env, r.unvendor_tests)
    asserts.false(env, r.compiled)
    asserts.equals(env, [], r.run)
    asserts.equals(env, None, r.test_script)
    for key in RECIPE_FIELDS:
        asserts.true(env, hasattr(r, key), "field " + key)
    return unittest.end(env)

_defaults_test = unittest.make(_defaults_test_impl)

def _given_fields_test_impl(ctx):
    env = unittest.begin(ctx)
    entry = dict(_MINIMAL, package_target = "six_package", profiles = ["0.21.3"], run = ["a"], slow = True)
    r = recipe("six", entry)
    asserts.equals(env, "six_package", r.package_target)
    asserts.equals(env, ["0.21.3"], r.profiles)
    asserts.equals(env, ["a"], r.run)
    asserts.true(env, r.slow)
    return unittest.end(env)

_given_fields_test = unittest.make(_given_fields_test_impl)

def _recipe_data_test_impl(ctx):
    env = unittest.begin(ctx)
    data = recipe_data({
        "error": None,
        "recipes": {"six": _MINIMAL},
        "names": {"numpy": {"name": "numpy", "profiles": {"0.21.3": "numpy"}}},
        "disabled": ["old"],
        "broken": {},
        "warnings": [],
    })
    asserts.equals(env, ["six"], data.recipes.keys())
    asserts.equals(env, "six", data.recipes["six"].name)
    asserts.equals(env, {"0.21.3": "numpy"}, data.names["numpy"].profiles)
    asserts.equals(env, ["old"], data.disabled)
    asserts.equals(env, [], data.stdlib)  # absent from the error-path RECIPES: defaults to none
    return unittest.end(env)

_recipe_data_test = unittest.make(_recipe_data_test_impl)

def recipe_test_suite(name):
    """Declares the tests and a test_suite `name`.

    Args:
      name: name of the test_suite.
    """
    unittest.suite(
        name,
        _defaults_test,
        _given_fields_test,
        _recipe_data_test,
    )
