# xxhash linked against the libxxhash recipe's shared library: the extension imports the XXH* functions (it does not
# contain them), /usr/lib/libxxhash.so provides them, and the digests match the reference implementation's.
import os
from pathlib import Path

import xxhash
import xxhash._xxhash as _xxhash


def wasm_imports(path: str) -> set[str]:
    """Names of the functions a wasm module imports (its import section)."""
    data = Path(path).read_bytes()
    assert data[:4] == b"\0asm", path

    def uleb(pos: int) -> tuple[int, int]:
        value = shift = 0
        while True:
            byte = data[pos]
            value |= (byte & 0x7F) << shift
            pos += 1
            shift += 7
            if byte < 0x80:
                return value, pos

    def name(pos: int) -> tuple[str, int]:
        length, pos = uleb(pos)
        return data[pos : pos + length].decode(), pos + length

    pos = 8
    while pos < len(data):
        section, size, start = data[pos], *uleb(pos + 1)
        if section == 2:
            count, pos = uleb(start)
            functions = set()
            for _ in range(count):
                _module, pos = name(pos)
                field, pos = name(pos)
                kind = data[pos]
                pos += 1
                if kind == 0:  # function: type index
                    functions.add(field)
                    _, pos = uleb(pos)
                elif kind == 1:  # table: reftype, limits
                    flags, pos = uleb(pos + 1)
                    _, pos = uleb(pos)
                    if flags & 1:
                        _, pos = uleb(pos)
                elif kind == 2:  # memory: limits
                    flags, pos = uleb(pos)
                    _, pos = uleb(pos)
                    if flags & 1:
                        _, pos = uleb(pos)
                else:  # global: valtype, mutability
                    pos += 2
            return functions
        pos = start + size
    return set()


assert _xxhash.__file__.endswith(".so"), _xxhash.__file__
assert os.path.isfile("/usr/lib/libxxhash.so"), os.listdir("/usr/lib")
imported = wasm_imports(_xxhash.__file__)
assert {"XXH64_update", "XXH3_64bits_withSeed", "XXH32_digest"} <= imported, sorted(imported)
assert xxhash.XXHASH_VERSION == "0.8.2", xxhash.XXHASH_VERSION

data = b"rules_pyodide" * 1000
assert xxhash.xxh32_hexdigest(data) == "a33635ee"
assert xxhash.xxh64_hexdigest(data) == "4c2b3aef659ee99f"
assert xxhash.xxh3_64_hexdigest(data) == "32740a0801f1fd26"
assert xxhash.xxh3_128_hexdigest(data) == "1b9b8f461ca257cc32740a0801f1fd26"
assert xxhash.xxh64_intdigest(data, seed=42) == 6934847314549130398
h = xxhash.xxh64()
for i in range(0, len(data), 7):
    h.update(data[i : i + 7])
assert h.hexdigest() == "4c2b3aef659ee99f"
print("xxhash ok: libxxhash", xxhash.XXHASH_VERSION, "imports", len(imported), "functions")
