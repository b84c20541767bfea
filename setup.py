"""The optional C kernel of the normaliser (loader/_native.c); everything else is in pyproject.toml.

Why a setup.py: pyproject.toml cannot declare a C extension. ``optional=True`` lets the
install succeed without a compiler (or without Python's headers): the loader then runs its
pure path, which gives the same results (loader/native.py picks one; tests/test_native.py).
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("cdrnet.loader._native", sources=["loader/_native.c"], optional=True)])
