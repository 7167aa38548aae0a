# MarkupSafe with its C speedups, in Pyodide: escape() must be the compiled one and escape correctly.
import markupsafe
from markupsafe import _speedups

assert markupsafe.escape is _speedups.escape, "markupsafe fell back to its pure-Python escape()"
assert _speedups.__file__.endswith(".so"), _speedups.__file__
text = '<a href="x">Tom & "Jerry" \u00e9\u2603</a>' * 100
escaped = markupsafe.escape(text)
expected = (
    text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&#34;").replace("'", "&#39;")
)
assert str(escaped) == expected
assert markupsafe.Markup("<b>%s</b>") % "<i>" == "<b>&lt;i&gt;</b>"
print("markupsafe ok:", _speedups.__file__)
