"""Public API of rules_pyodide. This file only re-exports; the rules live in rules/private/."""

load("//rules/private:file_package.bzl", _file_package = "file_package")
load("//rules/private:providers.bzl", _FilePackageInfo = "FilePackageInfo")

file_package = _file_package
FilePackageInfo = _FilePackageInfo
