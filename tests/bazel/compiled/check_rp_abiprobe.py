# time() and stat() called from C must agree with Python's own view in both profiles (0.23: 64-bit time_t).
import os
import sys
import sysconfig
import time

import rp_abiprobe

sizes = rp_abiprobe.sizes()
assert sizes["time_t"] == sysconfig.get_config_var("SIZEOF_TIME_T"), (sizes, sys.version)
now = time.time()
assert abs(rp_abiprobe.c_time() - now) < 5, (rp_abiprobe.c_time(), now)
path = "/tmp/abiprobe.bin"
with open(path, "wb") as f:
    f.write(b"\x01" * 123457)
os.utime(path, ns=(1_000_000_000_000_000_000, 1_700_000_123_000_000_000))
st = os.stat(path)
c = rp_abiprobe.c_stat(path)
assert c["size"] == 123457 == st.st_size, (c, st)
assert c["mtime"] == st.st_mtime_ns // 1_000_000_000 == 1_700_000_123, (c, st)
assert c["mode"] == st.st_mode and c["ino"] == st.st_ino, (c, st)
print("abiprobe ok:", sizes, c)
