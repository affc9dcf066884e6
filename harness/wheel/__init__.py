"""The wheel stage: a wheel's tags and fit to an interpreter, release filesets, and a fresh venv to install it in."""
