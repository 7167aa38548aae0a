"""Runs in real Pyodide (pyodide_run_test): the monorepo's packages load and work, the C extension is the one used."""

import markupsafe
import six
from markupsafe import _speedups

assert six.PY3
assert str(markupsafe.escape("<a & b>")) == "&lt;a &amp; b&gt;", markupsafe.escape("<a & b>")
assert markupsafe.escape is _speedups.escape, "markupsafe fell back to pure Python"
assert _speedups.__file__.endswith(".so"), _speedups.__file__
print("markupsafe", markupsafe.__version__, "with", _speedups.__file__, "and six", six.__version__)
