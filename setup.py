"""Build hook: cffi compiles NVX (API mode) at install time; all metadata lives in pyproject.toml."""
from setuptools import setup

setup(cffi_modules=["nvx/_build.py:ffibuilder"])
