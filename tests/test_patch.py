"""Unit tests for rules_pyodide.patch (runs the real GNU patch)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from rules_pyodide.cli import main as cli_main
from rules_pyodide.patch import PatchError, main, parse_extra, patch_tree

PATCH_1 = """\
--- a/hello.c
+++ b/hello.c
@@ -1,3 +1,3 @@
 int main(void) {
-    return 1;
+    return 2;
 }
"""

PATCH_2 = """\
--- a/hello.c
+++ b/hello.c
@@ -1,3 +1,3 @@
 int main(void) {
-    return 2;
+    return 3;
 }
"""

PATCH_BAD = """\
--- a/missing.c
+++ b/missing.c
@@ -1 +1 @@
-old
+new
"""


@pytest.fixture
def source(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "hello.c").write_text("int main(void) {\n    return 1;\n}\n")
    (src / "configure").write_text("#!/bin/sh\n")
    (src / "configure").chmod(0o555)
    (src / "sub" / "x.txt").write_text("x")
    for path in (src / "hello.c", src / "sub" / "x.txt", src / "sub", src):
        path.chmod(0o555 if path.is_dir() else 0o444)  # like Bazel's read-only inputs
    return src


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_patches_apply_in_order_and_source_is_untouched(tmp_path: Path, source: Path) -> None:
    p1, p2 = write(tmp_path / "p" / "1.patch", PATCH_1), write(tmp_path / "p" / "2.patch", PATCH_2)
    patch_tree(source, tmp_path / "out", [p1, p2])
    assert "return 3;" in (tmp_path / "out" / "hello.c").read_text()
    assert "return 1;" in (source / "hello.c").read_text()
    assert stat.S_IMODE((tmp_path / "out" / "configure").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "out" / "hello.c").stat().st_mode) == 0o644
    assert not list((tmp_path / "out").rglob("*.orig")) and not list((tmp_path / "out").rglob("*.rej"))


def test_wrong_order_fails_naming_patch_and_file(tmp_path: Path, source: Path) -> None:
    p1, p2 = write(tmp_path / "p" / "1.patch", PATCH_1), write(tmp_path / "p" / "2.patch", PATCH_2)
    with pytest.raises(PatchError) as info:
        patch_tree(source, tmp_path / "out", [p2, p1])
    message = str(info.value)
    assert message.startswith(f"{p2}: patch failed"), message
    assert "hello.c" in message and "FAILED" in message, message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p", "src"]


def test_patch_for_missing_file_names_it(tmp_path: Path, source: Path) -> None:
    bad = write(tmp_path / "bad.patch", PATCH_BAD)
    with pytest.raises(PatchError, match=r"bad.patch: patch failed") as info:
        patch_tree(source, tmp_path / "out", [bad])
    assert "missing.c" in str(info.value)
    assert not (tmp_path / "out").exists()


def test_missing_patch_file(tmp_path: Path, source: Path) -> None:
    with pytest.raises(PatchError, match="nope.patch: patch file not found"):
        patch_tree(source, tmp_path / "out", [tmp_path / "nope.patch"])


def test_extras_are_copied_after_patches(tmp_path: Path, source: Path) -> None:
    cfg = write(tmp_path / "extras" / "setup.cfg", "[metadata]\n")
    tool = write(tmp_path / "extras" / "tool.sh", "#!/bin/sh\n")
    tool.chmod(0o755)
    patch_tree(
        source,
        tmp_path / "out",
        [write(tmp_path / "1.patch", PATCH_1)],
        [f"{cfg}=setup.cfg", f"{tool}=new/dir/tool.sh", f"{cfg}=sub/x.txt"],
    )
    out = tmp_path / "out"
    assert (out / "setup.cfg").read_text() == "[metadata]\n"
    assert (out / "sub" / "x.txt").read_text() == "[metadata]\n"  # overwrites
    assert stat.S_IMODE((out / "new" / "dir" / "tool.sh").stat().st_mode) == 0o755
    assert "return 2;" in (out / "hello.c").read_text()


@pytest.mark.parametrize("dst", ["../escape", "/etc/passwd", "a/../../b"])
def test_extra_destination_outside_tree_is_refused(tmp_path: Path, source: Path, dst: str) -> None:
    cfg = write(tmp_path / "setup.cfg", "x")
    with pytest.raises(PatchError, match="must stay inside the tree"):
        patch_tree(source, tmp_path / "out", [], [f"{cfg}={dst}"])
    assert not (tmp_path / "out").exists() and not (tmp_path / "escape").exists()


def test_extra_through_symlink_escaping_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    os.symlink("..", src / "up")
    cfg = write(tmp_path / "setup.cfg", "x")
    with pytest.raises(PatchError, match="resolves outside the tree"):
        patch_tree(src, tmp_path / "out", [], [f"{cfg}=up/evil"])
    assert not (tmp_path / "evil").exists() and not (tmp_path / "out").exists()


def test_parse_extra() -> None:
    assert parse_extra("a/b=c/d") == (Path("a/b"), "c/d")
    with pytest.raises(PatchError, match="expected SRC=DST"):
        parse_extra("no-equals")


def test_cli(tmp_path: Path, source: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p1 = write(tmp_path / "1.patch", PATCH_1)
    cfg = write(tmp_path / "setup.cfg", "c")
    args = ["--source", str(source), "--output", str(tmp_path / "out"), "--patch", str(p1)]
    assert main([*args, "--extra", f"{cfg}=setup.cfg"]) == 0
    assert (tmp_path / "out" / "setup.cfg").read_text() == "c"
    bad = write(tmp_path / "bad.patch", PATCH_BAD)
    assert main(["--source", str(source), "--output", str(tmp_path / "o2"), "--patch", str(bad)]) == 1
    assert "bad.patch: patch failed" in capsys.readouterr().err


def test_cli_runs_with_param_file(tmp_path: Path, source: Path) -> None:
    """As the rules run it: `rules-pyodide @FILE`, the subcommand first in FILE."""
    p1 = write(tmp_path / "1.patch", PATCH_1)
    params = write(
        tmp_path / "args.params", f"patch\n--source\n{source}\n--output\n{tmp_path / 'out'}\n--patch\n{p1}\n"
    )
    subprocess.run([sys.executable, "-m", "rules_pyodide.cli", f"@{params}"], check=True)
    assert "return 2;" in (tmp_path / "out" / "hello.c").read_text()


def test_param_file_lines_are_not_expanded_again(tmp_path: Path, source: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`@` is expanded once, by rules_pyodide.cli: a line of the param file starting with `@` is a path."""
    shutil.copytree(source, tmp_path / "@src")
    params = write(tmp_path / "args.params", "patch\n--source\n@src\n--output\nout\n")
    monkeypatch.chdir(tmp_path)
    assert cli_main([f"@{params}"]) == 0
    assert (tmp_path / "out" / "hello.c").read_text() == (source / "hello.c").read_text()


def test_symlinked_inputs_are_copied_not_linked(tmp_path: Path) -> None:
    """In a Bazel sandbox each input file is a symlink into the execroot: the output must hold the content."""
    real = tmp_path / "execroot"
    write(real / "hello.c", "int main(void) {\n    return 1;\n}\n")
    write(real / "extra.cfg", "[x]\n")
    src = tmp_path / "sandbox" / "src"
    (src / "sub").mkdir(parents=True)
    os.symlink(real / "hello.c", src / "hello.c")
    os.symlink(real / "extra.cfg", src / "sub" / "linked.cfg")
    os.symlink("sub", src / "dirlink")  # a directory link inside the tree stays a link
    extra_dir = tmp_path / "sandbox" / "extras"
    extra_dir.mkdir()
    os.symlink(real / "extra.cfg", extra_dir / "e.cfg")
    patch_tree(src, tmp_path / "out", [write(tmp_path / "1.patch", PATCH_1)], [f"{extra_dir}=more"])
    out = tmp_path / "out"
    for path in (out / "hello.c", out / "sub" / "linked.cfg", out / "more" / "e.cfg"):
        assert not path.is_symlink() and path.is_file(), path
    assert "return 2;" in (out / "hello.c").read_text()
    assert (real / "hello.c").read_text().count("return 1;") == 1  # the input is untouched
    assert os.readlink(out / "dirlink") == "sub"
