# python-lz4 linked against the liblz4 recipe's static library: the library is inside each extension (nothing imports
# LZ4_* at load time, no liblz4 shared library exists), and block and frame compression round-trip and read a frame
# that the reference implementation (the host's lz4) wrote.
import os
import sys
from pathlib import Path

import lz4
import lz4.block
import lz4.frame
from lz4.block import _block
from lz4.frame import _frame

assert lz4.library_version_number() == 10904 and lz4.library_version_string() == "1.9.4", lz4.library_version_string()
for module in (_block, _frame):
    code = Path(module.__file__).read_bytes()
    assert code[:4] == b"\0asm" and b"LZ4_compress" not in code, module.__file__  # linked in, not imported
assert not [p for p in ["/usr/lib", *sys.path] if os.path.isdir(p) and any("liblz4" in f for f in os.listdir(p))]

data = b"rules_pyodide builds lz4 with a static liblz4. " * 40
block = lz4.block.compress(data)
assert len(block) < len(data) // 10 and lz4.block.decompress(block) == data
hc = lz4.block.compress(data, mode="high_compression", compression=12)
assert lz4.block.decompress(hc) == data
frame = lz4.frame.compress(data, content_checksum=True, block_linked=True)
assert frame[:4] == b"\x04\x22\x4d\x18" and lz4.frame.decompress(frame) == data
with lz4.frame.LZ4FrameCompressor() as compressor:
    chunks = compressor.begin() + compressor.compress(data[:1000]) + compressor.compress(data[1000:])
    chunks += compressor.flush()
assert lz4.frame.decompress(chunks) == data
reference = bytes.fromhex(
    "04224d186c4058070000000000004141000000ff2072756c65735f70796f64696465206275696c6473206c7a342077697468206120"
    "737461746963206c69626c7a342e202f00ffffffffffffff18506c7a342e20000000003426272a"
)
assert lz4.frame.decompress(reference) == data
corrupt = bytearray(frame)
corrupt[-6] ^= 0xFF
try:
    lz4.frame.decompress(bytes(corrupt))
except RuntimeError as err:
    print("corrupt frame refused:", err)
else:
    raise AssertionError("a corrupt frame was accepted")
print("lz4 ok:", lz4.library_version_string(), len(data), "->", len(block), "bytes (block),", len(frame), "(frame)")
