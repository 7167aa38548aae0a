"""Generate a Pyodide ABI profile (toolchains/profiles/<version>/) from the real runtime's own sysconfig.

    python -m rules_pyodide.profile_gen --pyodide VERSION --out DIR --toolchain-emscripten V [--toolchain-emscripten V]
        (--pyconfig-template HOST_PYCONFIG.h | --pyconfig-check WASM_PYCONFIG.h) [--alltypes SYSROOT/bits/alltypes.h]

Runs Python in the npm runtime `js/node_modules/pyodide-VERSION` (Node, js/run_in_pyodide.js) to read
`sysconfig.get_config_vars()`, `sys.version_info`, the platform of its index and, where the runtime's ctypes can
reach libc (0.23+), the layout of `struct stat` and the width of `time()`. From those it writes into DIR:

- `sysconfig.json`: the runtime's config vars, as they are (the cross-build data);
- `pyconfig.h`: with `--pyconfig-template` (a host pyconfig.h of the same Python minor, e.g. Debian's), every
  `#define`/`#undef` of the template set to the runtime's value (sysconfig parsed the runtime's pyconfig.h: a
  defined macro has its value, an undefined one 0); with `--pyconfig-check`, a shipped wasm32 pyconfig.h (exodide's)
  is checked against the runtime instead, and any disagreement is an error;
- `sysroot_overlay/bits/alltypes.h`: when the runtime's `time_t` is 64-bit and the toolchain's musl header (given by
  `--alltypes`) declares it `long`, a copy with `time_t` and `suseconds_t` as `long long` (emscripten 3.1.2x made
  them 64-bit; `struct timespec`, `struct timeval` and `struct stat` follow from it);
- `profile.json`: the compile facts the Bazel rules read (toolchain versions that fit, flags, EXT_SUFFIX, SOABI,
  time_t width, and `checks`: what the runtime confirmed). The runtime's own facts (Python version, platform, ABI,
  index format, wheel tag) are in the table, rules_pyodide/runtimes.json, and are not repeated here.

Flags: `-O2 -fPIC -DNDEBUG` for every compile, `-O2 -sWASM_BIGINT` for every link, plus the runtime's own exception
and setjmp model read from its CONFIGURE_CFLAGS: wasm exceptions (`-fwasm-exceptions -sSUPPORT_LONGJMP=wasm`, on
compiles and links) where the runtime was built with them (0.26+), else emscripten's JS exceptions for C++
(`-fexceptions`); and `-DPY_CALL_TRAMPOLINE` where the runtime has it and uses wasm exceptions.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rules_pyodide.errors import RulesPyodideError, prog, run_command
from rules_pyodide.outputs import write_atomic

PROG = prog("profile-gen")
ROOT = Path(__file__).resolve().parent.parent
RUNNER_JS = ROOT / "js" / "run_in_pyodide.js"
RUNTIMES = ROOT / "js" / "node_modules"

# -DNDEBUG as in the runtime's own sysconfig CFLAGS (its extensions have no assert()): an assert in a CPython header
# inline function would also put that header's absolute path (__FILE__) into the module.
COMPILE_FLAGS = ("-O2", "-fPIC", "-DNDEBUG")
LINK_FLAGS = ("-O2", "-sWASM_BIGINT")
JS_EXCEPTIONS = ("-fexceptions",)
WASM_EXCEPTIONS = ("-fwasm-exceptions", "-sSUPPORT_LONGJMP=wasm")

# Runs in the runtime: everything the profile is derived from, as JSON.
PROBE = r"""
import json, struct, sys, sysconfig, os
out = {"vars": {k: v for k, v in sysconfig.get_config_vars().items() if isinstance(v, (str, int, float))},
       "version_info": list(sys.version_info[:3]), "platform": sys.platform}
try:
    import ctypes
    if tuple(int(x) for x in sys.version_info[:2]) >= (3, 11):
        libc = ctypes.CDLL(None)
        libc.time.restype = ctypes.c_int64
        os.makedirs("/tmp/profile_probe", exist_ok=True)
        with open("/tmp/profile_probe/f", "wb") as f:
            f.write(b"x" * 123457)
        os.utime("/tmp/profile_probe/f", (1234567890, 1234567890))
        buf = ctypes.create_string_buffer(512)
        assert libc.stat(b"/tmp/profile_probe/f", buf) == 0
        raw = buf.raw
        find = lambda v, fmt: [i for i in range(0, 256, 4) if raw[i:i + struct.calcsize(fmt)] == struct.pack(fmt, v)]
        import time
        out["libc"] = {"time": libc.time(None), "now": int(time.time()), "st_size": find(123457, "<q"),
                       "st_mode": find(os.stat("/tmp/profile_probe/f").st_mode, "<I"),
                       "timespec_sec64": find(1234567890, "<q")}
except Exception as e:  # noqa
    out["libc_error"] = repr(e)
print(json.dumps(out))
"""


class ProfileError(RulesPyodideError):
    """The runtime disagrees with what the profile would claim; the message says what."""


def run_probe(version: str, node: str = "node") -> dict[str, Any]:
    runtime = RUNTIMES / f"pyodide-{version}"
    if not (runtime / "package.json").is_file():
        raise ProfileError(f"{runtime}: Pyodide {version} is not installed; run `make setup`")
    proc = subprocess.run(
        [node, str(RUNNER_JS), "--pyodide", str(runtime), "--no-result", "--code", PROBE],
        capture_output=True,
        text=True,
        check=False,
    )
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    if not report.get("ok"):
        raise ProfileError(f"the probe failed in Pyodide {version}: {report.get('error')}")
    data: dict[str, Any] = json.loads(report["stdout"])
    data["index_format"] = "pyodide-lock.json" if (runtime / "pyodide-lock.json").is_file() else "repodata.json"
    index = json.loads((runtime / data["index_format"]).read_text(encoding="utf-8"))
    data["index_info"] = index["info"]
    return data


_DEFINE = re.compile(r"^#define ([A-Za-z_][A-Za-z0-9_]*)(?:[ \t]+(.*?))?\s*$")
_UNDEF = re.compile(r"^/\* #undef ([A-Za-z_][A-Za-z0-9_]*) \*/\s*$")


def pyconfig_from_template(template: str, config: Mapping[str, object]) -> tuple[str, int]:
    """The template with each macro set as the runtime has it; returns (text, number of macros changed)."""
    lines = []
    changed = 0
    for line in template.splitlines():
        m, u = _DEFINE.match(line), _UNDEF.match(line)
        match = m or u
        name = match.group(1) if match else None
        if name is None or name not in config or name.startswith("_"):
            lines.append(line)
            continue
        value = config[name]
        if value in (0, "0"):
            new = f"/* #undef {name} */"
        elif m and m.group(2) is None and value == 1:
            new = line  # a bare `#define X`, which sysconfig reads as 1
        else:
            new = f"#define {name} {value}"
        if new != line:
            changed += 1
        lines.append(new)
    header = "/* Generated by rules_pyodide.profile_gen from the runtime's sysconfig: a wasm32 pyconfig.h. */\n"
    return header + "\n".join(lines) + "\n", changed


ABI_MACROS = re.compile(r"^(SIZEOF_|ALIGNOF_|Py_|PY_|WITH_|WORDS_BIGENDIAN$|HAVE_LONG_DOUBLE$)")


def check_pyconfig(text: str, config: Mapping[str, object]) -> tuple[int, list[str]]:
    """Macros of a wasm32 pyconfig.h against the runtime: a difference in an ABI macro (sizes, alignments, Py_*)
    is an error; returns (how many were compared, the names of other macros that differ)."""
    compared = 0
    wrong = []
    for line in text.splitlines():
        m, u = _DEFINE.match(line), _UNDEF.match(line)
        match = m or u
        if match is None:
            continue
        name = match.group(1)
        if name not in config:
            continue
        want = config[name]
        have: object = 0 if u else (m.group(2) if m and m.group(2) is not None else 1)
        if isinstance(want, int) and isinstance(have, str) and re.fullmatch(r"-?[0-9]+", have):
            have = int(have)
        compared += 1
        if str(have) != str(want):
            wrong.append(f"{name}: header {have!r}, runtime {want!r}")
    abi = [w for w in wrong if ABI_MACROS.match(w)]
    if abi:
        raise ProfileError("pyconfig.h disagrees with the runtime's sysconfig:\n  " + "\n  ".join(abi))
    return compared, [w.split(":")[0] for w in wrong]


def alltypes_overlay(text: str) -> str:
    """musl's bits/alltypes.h with a 64-bit time_t and suseconds_t."""
    out, count = re.subn(r"typedef long (time_t|suseconds_t);", r"typedef long long \1;", text)
    if count != 2:
        raise ProfileError("bits/alltypes.h: expected `typedef long time_t;` and `typedef long suseconds_t;`")
    note = (
        "/* Generated by rules_pyodide.profile_gen: the toolchain's musl bits/alltypes.h with the runtime's 64-bit\n"
        " * time_t and suseconds_t (emscripten >= 3.1.2x); struct timespec/timeval/stat follow from them. */\n"
    )
    return note + out


def exception_flags(configure_cflags: str) -> tuple[list[str], list[str], list[str]]:
    """(extra C and C++ compile flags, extra C++-only flags, extra link flags) for the runtime's exception model."""
    flags = configure_cflags.split()
    if "-fwasm-exceptions" not in flags:
        return [], list(JS_EXCEPTIONS), list(JS_EXCEPTIONS)
    trampoline = ["-DPY_CALL_TRAMPOLINE"] if "-DPY_CALL_TRAMPOLINE" in flags else []
    return [*WASM_EXCEPTIONS, *trampoline], [], list(WASM_EXCEPTIONS)


def build_profile(version: str, data: Mapping[str, Any], toolchain_versions: Sequence[str]) -> dict[str, Any]:
    v = data["vars"]
    major, minor, micro = data["version_info"]
    platform = str(data["index_info"]["platform"])
    checks = [
        f"sys.version_info {major}.{minor}.{micro}, sys.platform {data['platform']}",
        f"sysconfig: SIZEOF_LONG={v.get('SIZEOF_LONG')} SIZEOF_VOID_P={v.get('SIZEOF_VOID_P')} "
        f"SIZEOF_SIZE_T={v.get('SIZEOF_SIZE_T')} SIZEOF_TIME_T={v.get('SIZEOF_TIME_T')} "
        f"SIZEOF_OFF_T={v.get('SIZEOF_OFF_T')}",
        f"sysconfig: EXT_SUFFIX {v.get('EXT_SUFFIX')}, SOABI {v.get('SOABI')}",
        f"index {data['index_format']}: platform {platform}",
    ]
    if v.get("SIZEOF_LONG") != 4 or v.get("SIZEOF_VOID_P") != 4:
        raise ProfileError("not a wasm32 runtime (SIZEOF_LONG/SIZEOF_VOID_P are not 4)")
    libc = data.get("libc")
    if libc:
        if abs(int(libc["time"]) - int(libc["now"])) > 5:
            raise ProfileError(f"libc time() via ctypes as int64 is {libc['time']}, time.time() {libc['now']}")
        checks.append(
            f"libc via ctypes: time() returns a 64-bit time_t; struct stat: st_mode at {libc['st_mode']}, "
            f"st_size at {libc['st_size']}, 64-bit tv_sec at {libc['timespec_sec64']}"
        )
    else:
        checks.append(f"libc layout not probed: {data.get('libc_error', 'ctypes cannot open libc in this runtime')}")
    compile_extra, cxx_extra, link_extra = exception_flags(str(v.get("CONFIGURE_CFLAGS", "")))
    if compile_extra:
        checks.append(f"exceptions and setjmp: the runtime's own model, {' '.join(compile_extra)}")
    return {
        "emscripten_versions": list(toolchain_versions),
        "ext_suffix": str(v["EXT_SUFFIX"]),
        "soabi": str(v.get("SOABI", "")),
        "time_t_bits": 8 * int(v.get("SIZEOF_TIME_T", 4)),
        "cflags": [*COMPILE_FLAGS, *compile_extra],
        "cxxflags": cxx_extra,
        "ldflags": [*LINK_FLAGS, *link_extra],
        "checks": checks,
    }


# What must be equal in every runtime one profile serves: the ABI (sizes, EXT_SUFFIX, the runtime's compile flags).
SAME_ABI_VARS = re.compile(r"^(SIZEOF_|ALIGNOF_|EXT_SUFFIX$|SOABI$|CONFIGURE_CFLAGS$|HOST_GNU_TYPE$|MULTIARCH$)")


def check_same_abi(version: str, data: Mapping[str, Any], other: str, other_data: Mapping[str, Any]) -> str:
    """Raises ProfileError unless `other` has the ABI of `version`; returns the check's line."""
    mine, theirs = data["vars"], other_data["vars"]
    names = sorted(k for k in set(mine) | set(theirs) if SAME_ABI_VARS.match(k))
    differ = [f"{k}: {mine.get(k)!r} vs {theirs.get(k)!r}" for k in names if mine.get(k) != theirs.get(k)]
    info_keys = ("platform", "abi_version", "python")
    differ += [
        f"index info.{k}: {data['index_info'].get(k)!r} vs {other_data['index_info'].get(k)!r}"
        for k in info_keys
        if data["index_info"].get(k) != other_data["index_info"].get(k)
    ]
    if list(data["version_info"]) != list(other_data["version_info"]):
        differ.append(f"sys.version_info: {data['version_info']} vs {other_data['version_info']}")
    if differ:
        raise ProfileError(f"Pyodide {other} does not have the ABI of {version}:\n  " + "\n  ".join(differ))
    return f"Pyodide {other}: same ABI ({len(names)} sysconfig vars, index platform/abi_version/python, Python version)"


def generate(args: argparse.Namespace) -> None:
    data = run_probe(args.pyodide, args.node)
    out: Path = args.out
    profile = build_profile(args.pyodide, data, args.toolchain_emscripten)
    for other in args.same_abi:
        profile["checks"].append(check_same_abi(args.pyodide, data, other, run_probe(other, args.node)))
    config = data["vars"]
    if args.pyconfig_template:
        text, changed = pyconfig_from_template(args.pyconfig_template.read_text(encoding="utf-8"), config)
        compared, _ = check_pyconfig(text, config)
        write_atomic(out / "pyconfig.h", text)
        profile["checks"].append(
            f"pyconfig.h generated from {args.pyconfig_template.name}: {changed} macros set from the runtime, "
            f"{compared} agree with its sysconfig"
        )
    if args.pyconfig_check:
        compared, other = check_pyconfig(args.pyconfig_check.read_text(encoding="utf-8"), config)
        profile["checks"].append(
            f"shipped pyconfig.h ({args.pyconfig_check.parent.parent.name}): {compared} macros compared, every ABI "
            f"macro agrees" + (f"; differs in non-ABI {', '.join(other)}" if other else "")
        )
    if profile["time_t_bits"] == 64 and args.alltypes:
        write_atomic(out / "sysroot_overlay" / "bits" / "alltypes.h", alltypes_overlay(args.alltypes.read_text()))
        profile["sysroot_overlay"] = True
        profile["checks"].append("time_t: runtime 64-bit, toolchain 32-bit: bits/alltypes.h overlay")
    else:
        profile["sysroot_overlay"] = False
    write_atomic(out / "sysconfig.json", json.dumps(config, indent=1, sort_keys=True) + "\n")
    write_atomic(out / "profile.json", json.dumps(profile, indent=2) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    parser.add_argument("--pyodide", required=True, help="npm runtime version, e.g. 0.21.3")
    parser.add_argument("--out", required=True, type=Path, help="profile directory to write")
    parser.add_argument(
        "--toolchain-emscripten", action="append", required=True, help="emscripten version that fits (repeat)"
    )
    parser.add_argument("--pyconfig-template", type=Path, help="host pyconfig.h to turn into the wasm32 one")
    parser.add_argument("--pyconfig-check", type=Path, help="a shipped wasm32 pyconfig.h to check")
    parser.add_argument("--alltypes", type=Path, help="the toolchain's sysroot bits/alltypes.h")
    parser.add_argument("--node", default="node", help="node binary")
    parser.add_argument(
        "--same-abi", action="append", default=[], help="another runtime the profile serves: its ABI must be equal"
    )
    args = parser.parse_args(argv)
    # ValueError, KeyError: a runtime's sysconfig or headers that do not have the expected shape.
    return run_command(PROG, lambda: generate(args), reported=(ValueError, KeyError))


if __name__ == "__main__":
    sys.exit(main())
