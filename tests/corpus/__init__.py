"""The detection corpus: deliberately broken targets, each paired with a correct twin the harness must pass.

``CASES`` lists them; :mod:`tests.corpus.runner` runs one side of a case once, for ``tests/test_corpus.py``
(the fast CI form) and ``python -m tests.corpus.benchmark`` (the benchmark, this corpus beside the held-out
one, ``tests/corpus_heldout``). Stress scenarios are named by ``module:attribute`` refs under ``tests.corpus``
so the engine's child processes can load them: the repository root must be on ``sys.path`` (pytest's rootdir
handling puts it there for the tests; the benchmark adds it itself) and the engine hands ``sys.path`` on to
its children. C pieces are compiled at first use into a cache shared by all processes
(:mod:`tests.corpus.native`); nothing binary is committed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Detector = Literal["stress", "import-audit"]


@dataclass(frozen=True)
class Case:
    """One seeded bug and its correct twin.

    For the ``stress`` detector, ``bug`` and ``twin`` are scenario refs and ``expect`` is the scenario status
    the bug must produce. For ``import-audit`` they name the two builds of a plain C-API module (see
    :func:`tests.corpus.native.plain_module`) and ``expect`` is the import status the bug must produce.
    ``ft_only`` is the reason the bug cannot show on a build with the GIL (None: it shows on both).
    """

    name: str
    description: str
    detector: Detector
    bug: str
    twin: str
    expect: str
    ft_only: str | None = None


CASES: tuple[Case, ...] = (
    Case(
        "gil-undeclared",
        "plain C-API module without the free-threading declaration; the import audit must name it",
        "import-audit",
        "undeclared",
        "declared",
        "gil-enabled",
        ft_only="only a free-threaded build turns the GIL back on at import",
    ),
    Case(
        "static-scratch",
        "CFFI encoder staging every call in one static C buffer: wrong results under load",
        "stress",
        "tests.corpus.scratch:SharedScratch",
        "tests.corpus.scratch:LocalScratch",
        "failed",
    ),
    Case(
        "multi-call-wrapper",
        "CFFI wrapper needing reset/update/read-back calls on one shared context: inconsistent results",
        "stress",
        "tests.corpus.digest:SharedDigest",
        "tests.corpus.digest:LockedSharedDigest",
        "failed",
    ),
    Case(
        "id-counter",
        "pure-Python ID generator with a read-modify-write counter: duplicate IDs, lost updates",
        "stress",
        "tests.corpus.counter:DuplicateIds",
        "tests.corpus.counter:UniqueIds",
        "failed",
    ),
    Case(
        "lazy-registry",
        "lazily initialised registry (check, create, then register): lost registrations on first use",
        "stress",
        "tests.corpus.registry:LostRegistrations",
        "tests.corpus.registry:AllRegistrations",
        "failed",
    ),
    Case(
        "mutate-while-iterating",
        "dict of subscribers mutated while another thread publishes over it: exceptions, missed events",
        "stress",
        "tests.corpus.iteration:MutatedWhilePublishing",
        "tests.corpus.iteration:SnapshotPublishing",
        "failed",
    ),
    Case(
        "lock-order-deadlock",
        "opposite transfers taking two locks in opposite orders: a hang, reported with both stacks",
        "stress",
        "tests.corpus.deadlock:OppositeTransfers",
        "tests.corpus.deadlock:OrderedTransfers",
        "timeout",
    ),
    Case(
        "racy-pointer-crash",
        "C refill publishing a NULL pointer that a concurrent reader dereferences: a crash, attributed",
        "stress",
        "tests.corpus.crash:RacyRefill",
        "tests.corpus.crash:LockedRefill",
        "crashed",
    ),
)
