"""libc's time() and stat() as C sees them (rules_pyodide ABI test)."""

from rp_abiprobe._probe import c_stat, c_time, sizes

__all__ = ["c_stat", "c_time", "sizes"]
