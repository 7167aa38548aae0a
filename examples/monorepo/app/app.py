"""A small app: escapes a greeting with MarkupSafe's C speedups and six's text type."""

import markupsafe
import six
from markupsafe import _speedups  # the compiled extension, not the pure-Python fallback

name = six.text_type("<Pyodide & Bazel>")
print(markupsafe.escape(name))
print(_speedups.__name__)
