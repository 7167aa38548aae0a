"""Unit tests for rules_pyodide.wheel_source (a recipe's prebuilt wheel, checked against the profile and shipped)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from rules_pyodide import wheel_source
from rules_pyodide.runtimes import load_table
from rules_pyodide.wheel_source import WheelSourceError, check_fits

TABLE = load_table()
PROFILES = sorted(TABLE.profiles)


def make_wheel(
    directory: Path,
    filename: str,
    *,
    requires_python: str = "",
    files: dict[str, bytes] | None = None,
    metadata_version: str | None = None,
) -> Path:
    """A small wheel whose WHEEL has the file name's tags; METADATA names the file name's package and version."""
    name, version = filename.split("-")[:2]
    tags = filename[: -len(".whl")].split("-")[-3:]
    info = f"{name}-{version}.dist-info"
    wheel_lines = ["Wheel-Version: 1.0", "Generator: test", f"Root-Is-Purelib: {str(tags[2] == 'any').lower()}"]
    wheel_lines += [
        f"Tag: {i}-{a}-{p}" for i in tags[0].split(".") for a in tags[1].split(".") for p in tags[2].split(".")
    ]
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {metadata_version or version}\n"
    metadata += f"Requires-Python: {requires_python}\n" if requires_python else ""
    members = {f"{name}/__init__.py": b"VALUE = 42\n", f"{name}/tests/test_it.py": b"def test(): pass\n"}
    members.update(files or {})
    members.update({f"{info}/WHEEL": ("\n".join(wheel_lines) + "\n").encode(), f"{info}/METADATA": metadata.encode()})
    members[f"{info}/RECORD"] = b""
    path = directory / filename
    directory.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        for member, data in members.items():
            zf.writestr(member, data)
    return path


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("tag", ["py3-none-any", "py2.py3-none-any", "py310-none-any"])
def test_a_pure_wheel_fits_every_profile(profile: str, tag: str) -> None:
    check_fits(f"pkg-1.0-{tag}.whl", "pkg", profile, TABLE)


@pytest.mark.parametrize("built_for", PROFILES)
def test_a_wasm_wheel_fits_only_the_profile_of_its_tag(built_for: str) -> None:
    filename = f"pkg-1.0-{TABLE.wheel_tag(built_for)}.whl"
    for profile in PROFILES:
        if profile == built_for:
            check_fits(filename, "pkg", profile, TABLE)
            continue
        with pytest.raises(WheelSourceError) as err:
            check_fits(filename, "pkg", profile, TABLE)
        message = str(err.value)
        assert "\n" not in message
        assert message.startswith(f"pkg: {filename} has the tags {TABLE.wheel_tag(built_for)}, which do not fit")
        assert f"the Pyodide profile {profile} (" in message and f"wheel tag {TABLE.wheel_tag(profile)})" in message


def test_profile_tags_follow_the_table() -> None:
    assert TABLE.wheel_tag("0.21.3") == "cp310-cp310-emscripten_3_1_14_wasm32"
    assert TABLE.wheel_tag("0.29.5") == "cp313-cp313-pyemscripten_2025_0_wasm32"
    # 0.29.5 serves the 0.28.3 runtime too, whose wheels carry the older name of the same platform.
    assert TABLE.wheel_platforms("0.29.5") == ("pyemscripten_2025_0_wasm32", "pyodide_2025_0_wasm32")
    check_fits("pkg-1.0-cp313-cp313-pyodide_2025_0_wasm32.whl", "pkg", "0.29.5", TABLE)


@pytest.mark.parametrize(
    ("filename", "profile", "fits"),
    [
        ("pkg-1.0-cp38-abi3-emscripten_3_1_14_wasm32.whl", "0.21.3", True),  # abi3 of an older CPython
        ("pkg-1.0-cp311-abi3-emscripten_3_1_14_wasm32.whl", "0.21.3", False),  # abi3 of a newer one
        ("pkg-1.0-cp310-cp310-manylinux_2_17_x86_64.whl", "0.21.3", False),  # a host wheel
        ("pkg-1.0-cp310-cp310-emscripten_3_1_32_wasm32.whl", "0.21.3", False),  # another emscripten
        ("pkg-1.0-py2-none-any.whl", "0.21.3", False),  # Python 2 only
        ("pkg-1.0-cp313-none-any.whl", "0.21.3", False),  # a newer CPython only
        ("pkg-1.0-cp313-none-any.whl", "0.29.5", True),
    ],
)
def test_other_tags(filename: str, profile: str, fits: bool) -> None:
    if fits:
        check_fits(filename, "pkg", profile, TABLE)
    else:
        with pytest.raises(WheelSourceError, match="which do not fit the Pyodide profile"):
            check_fits(filename, "pkg", profile, TABLE)


def test_not_a_wheel_name_or_profile() -> None:
    with pytest.raises(WheelSourceError, match="not a wheel file name"):
        check_fits("pkg-1.0.whl", "pkg", "0.21.3", TABLE)
    with pytest.raises(WheelSourceError, match="--profile 9.9.9: not a profile"):
        check_fits("pkg-1.0-py3-none-any.whl", "pkg", "9.9.9", TABLE)


def _args(source: Path, out: Path, profile: str, *extra: str) -> list[str]:
    return [
        "--source-wheel",
        str(source),
        "--profile",
        profile,
        "--name",
        "pkg",
        "--version",
        "1.0",
        "--wheel",
        str(out / source.name),
        "--site",
        str(out / "site"),
        "--fragments",
        str(out / "fragments"),
        "--tests",
        str(out / "tests"),
        "--meta",
        "packages/pkg/meta.yaml",
        "--imports",
        "pkg",
        *extra,
    ]


def test_ships_the_wheel_like_a_build(tmp_path: Path) -> None:
    source = make_wheel(tmp_path / "src", "pkg-1.0-py2.py3-none-any.whl")
    outs = []
    for profile in ("0.21.3", "0.29.5"):
        out = tmp_path / profile
        assert wheel_source.main(_args(source, out, profile, "--unvendor-tests", "--depends", "six")) == 0
        outs.append(out)
        assert (out / "site" / "pkg" / "__init__.py").read_bytes() == b"VALUE = 42\n"
        assert not (out / "site" / "pkg" / "tests").exists() and (out / "tests" / "pkg-tests.tar").is_file()
        fragment = (out / "fragments" / "pkg.json").read_text()
        assert '"file_name": "pkg-1.0-py2.py3-none-any.whl"' in fragment and '"depends": ["six"]' in fragment
        with zipfile.ZipFile(out / source.name) as zf:
            wheel = zf.read("pkg-1.0.dist-info/WHEEL").decode()
            assert "Tag: py2-none-any\nTag: py3-none-any\n" in wheel  # its own tags, kept
            assert zf.namelist()[-1] == "pkg-1.0.dist-info/RECORD" and "pkg/tests/test_it.py" not in zf.namelist()
    # Deterministic, and the same for every profile.
    assert (outs[0] / source.name).read_bytes() == (outs[1] / source.name).read_bytes()


def test_a_wheel_of_another_profile_fails_with_one_line_and_no_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = make_wheel(tmp_path / "src", f"pkg-1.0-{TABLE.wheel_tag('0.29.5')}.whl")
    out = tmp_path / "out"
    assert wheel_source.main(_args(source, out, "0.21.3")) == 1
    err = capsys.readouterr().err
    assert err == (
        "rules-pyodide wheel-source: error: packages/pkg/meta.yaml: pkg: pkg-1.0-cp313-cp313-pyemscripten_2025_0_"
        "wasm32.whl has the tags cp313-cp313-pyemscripten_2025_0_wasm32, which do not fit the Pyodide profile 0.21.3 "
        "(Python 3.10, wheel tag cp310-cp310-emscripten_3_1_14_wasm32): give the recipe package.profiles, or a wheel "
        "of this profile\n"
    )
    assert not out.exists() or not any(out.rglob("*"))
    assert wheel_source.main(_args(source, tmp_path / "ok", "0.29.5")) == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"metadata_version": "2.0"}, "the wheel's METADATA has version '2.0', the recipe '1.0'"),
        ({"requires_python": ">=3.11"}, "pkg-1.0-py3-none-any.whl requires Python >=3.11, the Pyodide profile 0.21.3"),
        ({"files": {"pkg/_speedups.so": b"\0asm"}}, "holds pkg/_speedups.so, a compiled module"),
    ],
)
def test_a_wheel_unlike_its_recipe_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kwargs: dict[str, object], message: str
) -> None:
    source = make_wheel(tmp_path / "src", "pkg-1.0-py3-none-any.whl", **kwargs)  # type: ignore[arg-type]
    out = tmp_path / "out"
    assert wheel_source.main(_args(source, out, "0.21.3")) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not out.exists() or not any(out.rglob("*"))


@pytest.mark.parametrize(
    "post",
    [
        # pyodide-build 0.21's layout: the unpacked wheel under the recipe directory's build/NAME-VERSION/dist/.
        "find build/pkg-1.0/dist -name '*.exe' -delete\n",
        # later pyodide-build's variable for the same tree.
        'find $WHEELDIR -name \'*.exe\' -delete\ntest "$SITEPACKAGES" = "$WHEELDIR"\n',
    ],
)
def test_build_post_runs_on_the_unpacked_wheel(tmp_path: Path, post: str) -> None:
    source = make_wheel(tmp_path / "src", "pkg-1.0-py3-none-any.whl", files={"pkg/w64.exe": b"MZ launcher"})
    pkgdir = tmp_path / "recipe"
    pkgdir.mkdir()
    (pkgdir / "extra.txt").write_text("from the recipe\n")
    script = tmp_path / "build.post.sh"
    script.write_text(post + 'cp "$PKGDIR/extra.txt" "$WHEELDIR/pkg/"\n')
    out = tmp_path / "out"
    assert wheel_source.main(_args(source, out, "0.21.3", "--post-file", str(script), "--pkgdir", str(pkgdir))) == 0
    assert not (out / "site" / "pkg" / "w64.exe").exists()
    assert (out / "site" / "pkg" / "extra.txt").read_text() == "from the recipe\n"
    with zipfile.ZipFile(out / source.name) as zf:
        names = zf.namelist()
        record = zf.read("pkg-1.0.dist-info/RECORD").decode()
    assert "pkg/w64.exe" not in names and "pkg/extra.txt" in names
    assert "pkg/w64.exe" not in record and "pkg/extra.txt," in record  # RECORD is the tree's, after the script


def test_a_failing_build_post_is_one_error_with_its_output_and_no_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = make_wheel(tmp_path / "src", "pkg-1.0-py3-none-any.whl")
    script = tmp_path / "build.post.sh"
    script.write_text("echo 'looking for the dist' >&2\nfind build/pkg-9.9/dist -name '*.exe' -delete\n")
    out = tmp_path / "out"
    assert wheel_source.main(_args(source, out, "0.21.3", "--post-file", str(script))) == 1
    err = capsys.readouterr().err
    assert err.startswith("rules-pyodide wheel-source: error: packages/pkg/meta.yaml: build.post failed (exit 1)")
    assert "looking for the dist" in err and "build/pkg-9.9/dist" in err
    assert not out.exists() or not any(p.is_file() for p in out.rglob("*"))
