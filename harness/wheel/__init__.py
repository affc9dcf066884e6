"""The wheel stage: a wheel's tags and fit to an interpreter, release filesets, a fresh venv to install it in,
its metadata claims about free threading, and fix hints for the modules that re-enabled the GIL."""
