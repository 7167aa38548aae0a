# fast-histogram (a C extension compiled against numpy's C API, `requirements.host: numpy`) in Pyodide: its
# histograms must be computed by the compiled module and agree with numpy's own.
import numpy as np
from fast_histogram import _histogram_core, histogram1d, histogram2d

assert _histogram_core.__file__.endswith(".so"), _histogram_core.__file__
rng = np.random.default_rng(0)
x = rng.normal(size=100_000)
y = rng.normal(size=100_000)
w = rng.random(100_000)

expected, _ = np.histogram(x, bins=30, range=(-3, 3))
assert np.array_equal(histogram1d(x, bins=30, range=(-3, 3)), expected)
expected, _ = np.histogram(x, bins=30, range=(-3, 3), weights=w)
assert np.allclose(histogram1d(x, bins=30, range=(-3, 3), weights=w), expected)
expected2, _, _ = np.histogram2d(x, y, bins=(20, 25), range=((-3, 3), (-2, 2)))
assert np.array_equal(histogram2d(x, y, bins=(20, 25), range=((-3, 3), (-2, 2))), expected2)
# float32 and non-contiguous input go through other paths of the C code.
assert np.array_equal(
    histogram1d(x[::2].astype(np.float32), bins=10, range=(-1, 1)).sum(),
    np.count_nonzero((x[::2].astype(np.float32) >= -1) & (x[::2].astype(np.float32) < 1)),
)
print("fast-histogram ok:", _histogram_core.__file__, int(expected.sum()))
