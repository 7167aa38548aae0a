# msgpack with its Cython-generated C++ extension: Packer/Unpacker must be the compiled ones (msgpack silently falls
# back to pure Python), and packing/unpacking gives the MessagePack bytes the spec defines.
import datetime

import msgpack
from msgpack import _cmsgpack

assert msgpack.Packer is _cmsgpack.Packer and msgpack.Unpacker is _cmsgpack.Unpacker, msgpack.Packer
assert _cmsgpack.__file__.endswith(".so"), _cmsgpack.__file__
assert msgpack.version == (1, 0, 8), msgpack.version

assert msgpack.packb({"a": 1}) == b"\x81\xa1a\x01"
assert msgpack.packb([1, -1, 2**32, 1.5, None, True]) == bytes.fromhex("9601ffcf0000000100000000cb3ff8000000000000c0c3")
value = {"name": "rules_pyodide", "list": list(range(300)), "nested": {"bytes": b"\x00\xff" * 40, "f": -0.25}}
packed = msgpack.packb(value)
assert msgpack.unpackb(packed) == value
assert msgpack.unpackb(msgpack.packb((1, 2)), use_list=False) == (1, 2)

unpacker = msgpack.Unpacker()
stream = b"".join(msgpack.packb(i) for i in range(1000))
for i in range(0, len(stream), 97):
    unpacker.feed(stream[i : i + 97])
assert list(unpacker) == list(range(1000))

ext = msgpack.ExtType(42, b"payload")
assert msgpack.unpackb(msgpack.packb(ext)) == ext
when = datetime.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=datetime.timezone.utc)
assert msgpack.unpackb(msgpack.packb(when, datetime=True), timestamp=3) == when

try:
    msgpack.unpackb(b"\x93\x01\x02")  # an array of 3 with 2 items
except ValueError as err:
    print("truncated input refused:", type(err).__name__, err)
else:
    raise AssertionError("truncated input was accepted")
print("msgpack ok:", _cmsgpack.__file__, len(packed), "bytes")
