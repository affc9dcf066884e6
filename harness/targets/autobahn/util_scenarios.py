"""Scenarios for autobahn's ID generation and module-level utilities (``autobahn.util``).

``IdGenerator`` makes the request ids of one session ("sequential per WAMP session"); sharing one is
"shared use unsafe". The module functions (``id``, ``rid``, ``newid``, ``generate_activation_code``,
``parse_activation_code``, ``utcnow``, ``encode_truncate``, ``xor``) keep no state of their own and are
meant to be called from anywhere: "unsafe" if they misbehave under threads.
"""

from __future__ import annotations

from harness.engine.scenario import Scenario
from harness.targets._oracles import random_text

_WAMP_ID_MAX = 2**53


class IdGeneratorShared(Scenario):
    """Threads draw ids from one ``IdGenerator``: together they must get 1..n, each id once."""

    def setup(self) -> None:
        from autobahn.util import IdGenerator

        self.generator = IdGenerator()
        self.drawn: list[list[int]] = [[] for _ in range(self.threads)]

    def step(self, thread_index: int, iteration: int) -> None:
        self.drawn[thread_index].append(self.generator.next())

    def verify(self) -> None:
        ids = [i for per_thread in self.drawn for i in per_thread]
        duplicates = len(ids) - len(set(ids))
        if duplicates or sorted(ids) != list(range(1, len(ids) + 1)):
            raise AssertionError(f"{len(ids)} ids drawn, {duplicates} duplicates, highest {max(ids)} "
                                 f"(expected 1..{len(ids)} once each)")


class UtilFunctionsShared(Scenario):
    """Threads call autobahn.util's id, token and text helpers; every result well formed, random ids unique."""

    def setup(self) -> None:
        self.ids: list[list[int]] = [[] for _ in range(self.threads)]

    def step(self, thread_index: int, iteration: int) -> None:
        from autobahn import util

        rng = self.rng(thread_index, iteration)
        for make in (util.id, util.rid):
            value = make()
            if not 1 <= value <= _WAMP_ID_MAX:
                raise AssertionError(f"{make.__name__}() returned {value}, outside [1, 2**53]")
            self.ids[thread_index].append(value)
        if len(util.newid(20)) != 20:
            raise AssertionError("newid(20) is not 20 characters long")
        code = util.generate_activation_code()
        if util.parse_activation_code(code) is None:
            raise AssertionError(f"generate_activation_code() made {code!r}, which does not parse")
        if not util.utcnow().endswith("Z"):
            raise AssertionError("utcnow() is not an ISO 8601 UTC time")
        text = random_text(rng, 30)
        limit = rng.randint(0, 60)
        cut = util.encode_truncate(text, limit)
        if len(cut) > limit or not text.encode("utf-8").startswith(cut):
            raise AssertionError(f"encode_truncate({text!r}, {limit}) returned {cut!r}")
        a, b = rng.randbytes(32), rng.randbytes(32)
        if util.xor(a, b) != bytes(x ^ y for x, y in zip(a, b)):
            raise AssertionError("xor() result wrong")

    def verify(self) -> None:
        ids = [i for per_thread in self.ids for i in per_thread]
        if len(set(ids)) != len(ids):
            raise AssertionError(f"{len(ids) - len(set(ids))} random ids repeated among {len(ids)}")
