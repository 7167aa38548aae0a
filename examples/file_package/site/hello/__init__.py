"""A tiny package that examples/file_package installs into site-packages."""

from hello.greet import greet

__all__ = ["greet"]
