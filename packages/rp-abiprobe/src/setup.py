from setuptools import Extension, setup

setup(
    name="rp-abiprobe",
    version="1.0",
    packages=["rp_abiprobe"],
    ext_modules=[Extension("rp_abiprobe._probe", ["rp_abiprobe/_probe.c"])],
)
