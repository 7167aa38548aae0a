"""`pyodide_broken_recipe` / `pyodide_broken_recipe_test`: the targets of a recipe that cannot be built.

`pyodide_packages()` declares them, under the recipe's usual target names, for each entry of `RECIPES["broken"]`
(a recipe that does not parse, or needs one that does not): analysing one fails with the recipe's one-line error
(file and key), so that building it, or anything that needs it, says why, while the other recipes build.
"""

def _broken_impl(ctx):
    fail(ctx.attr.message)

_ATTRS = {
    "message": attr.string(mandatory = True, doc = "The recipe's error: file, key, what was expected."),
}

pyodide_broken_recipe = rule(
    implementation = _broken_impl,
    doc = "Fails with `message` when analysed: a recipe that cannot be built.",
    attrs = _ATTRS,
)

pyodide_broken_recipe_test = rule(
    implementation = _broken_impl,
    doc = "The `<name>_test` of a recipe that cannot be built: fails with `message` when analysed.",
    attrs = _ATTRS,
    test = True,
)
