"""Test helpers shared by the harness tests and the detection corpus (building C extensions at test time)."""
