# tomlkit in Pyodide: `bazel test //packages:tomlkit_test` runs this file (recipe key `test.script`). tomlkit is built
# with poetry-core, which the rules-pyodide tool does not carry: its build-requirements.lock pins it, and the build
# installs it into an isolated environment (rules_pyodide.build_lock). The checks are tomlkit's point: a document
# edited and written back keeps its comments, order and formatting.
import sys

import tomlkit

SOURCE = """\
# The project's settings.
[tool.example]  # inline comment
name = "demo"
numbers = [1, 2, 3]

[tool.example.nested]
when = 1979-05-27T07:32:00Z
"""

doc = tomlkit.parse(SOURCE)
assert doc["tool"]["example"]["name"] == "demo", doc
assert list(doc["tool"]["example"]["numbers"]) == [1, 2, 3]
assert doc["tool"]["example"]["nested"]["when"].year == 1979
doc["tool"]["example"]["name"] = "changed"
doc["tool"]["example"]["numbers"].append(4)
out = tomlkit.dumps(doc)
assert out == SOURCE.replace('"demo"', '"changed"').replace("[1, 2, 3]", "[1, 2, 3, 4]"), out
table = tomlkit.table()
table.add("answer", 42)
table.add(tomlkit.comment("added by the test"))
doc.add("extra", table)
assert "[extra]\nanswer = 42\n# added by the test\n" in tomlkit.dumps(doc), tomlkit.dumps(doc)
assert "poetry" not in sys.modules
print(f"tomlkit {tomlkit.__version__} in Python {sys.version.split()[0]}: round trip kept comments and layout")
