"""Which of a wheel's modules the gate judges: test-only modules apart, user exclusions out.

A test-only module (``pkg/tests/...``, ``pkg/testing/...``, ``*_test*``, ``test_*``) is audited separately:
what it does on import is a finding, not the verdict, unless ``include_tests``. ``exclude`` patterns
(``fnmatch`` on the dotted name, e.g. ``greenlet.tests.*``) drop modules from the audit altogether.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

# A pattern with "/" is matched against the module's path (``pkg/tests/_ext``), one without against its last name.
TEST_PATTERNS = ("*/tests/*", "*/testing/*", "tests/*", "testing/*", "*_test*", "test_*", "tests", "testing")


@dataclass(frozen=True)
class ModuleSplit:
    """The wheel's modules in three groups, each in the order given."""

    judged: tuple[str, ...]
    test_only: tuple[str, ...]
    excluded: tuple[str, ...]


def is_test_module(module: str) -> bool:
    """Whether a dotted module name looks test-only by :data:`TEST_PATTERNS`."""
    path = module.replace(".", "/")
    last = module.rsplit(".", 1)[-1]
    return any(fnmatchcase(path if "/" in pattern else last, pattern) for pattern in TEST_PATTERNS)


def split_modules(modules: Sequence[str], *, exclude: Sequence[str] = (), include_tests: bool = False) -> ModuleSplit:
    """Excluded first (any ``exclude`` pattern matches the dotted name), then test-only unless ``include_tests``."""
    judged: list[str] = []
    test_only: list[str] = []
    excluded: list[str] = []
    for module in dict.fromkeys(modules):
        if any(fnmatchcase(module, pattern) for pattern in exclude):
            excluded.append(module)
        elif not include_tests and is_test_module(module):
            test_only.append(module)
        else:
            judged.append(module)
    return ModuleSplit(tuple(judged), tuple(test_only), tuple(excluded))
