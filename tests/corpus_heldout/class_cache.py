"""Held-out race: a lookup table built lazily into a class attribute, published before it is filled.

``Opcodes.code(name)`` builds ``cls._table`` on first use: it stores an empty dict on the class, then fills
it. A second thread arriving in between sees a table that is not ``None`` but not yet complete
(``KeyError``). ``PublishedHalfBuilt`` is the broken scenario; ``PublishedWhole`` is the correct twin (the table
is built in full, then stored by one assignment; two first callers may both build it, with equal results).
Each round uses a fresh subclass, so every round has a first use.
"""

from __future__ import annotations

NAMES = tuple(f"op-{n}" for n in range(32))


class Opcodes:
    """Opcode numbers by name, from a table built on first use."""

    _table: dict[str, int] | None = None

    @classmethod
    def code(cls, name: str) -> int:
        return cls._codes()[name]

    @classmethod
    def _codes(cls) -> dict[str, int]:
        if cls._table is None:
            cls._table = {}
            for number, name in enumerate(NAMES):
                cls._table[name] = number
        return cls._table


class WholeOpcodes(Opcodes):
    """The same table, stored on the class only once it is complete."""

    @classmethod
    def _codes(cls) -> dict[str, int]:
        table = cls._table
        if table is None:
            table = {name: number for number, name in enumerate(NAMES)}
            cls._table = table
        return table


class _FirstUse:
    """Every thread looks opcodes up in a fresh subclass (its table not built yet); every lookup must succeed."""

    base: type[Opcodes]

    def setup(self) -> None:
        self.opcodes = type(f"Round{self.base.__name__}", (self.base,), {})

    def step(self, thread_index: int, iteration: int) -> None:
        number = (iteration * 7 + thread_index) % len(NAMES)
        if self.opcodes.code(NAMES[number]) != number:
            raise AssertionError(f"{NAMES[number]} has the wrong code")

    def verify(self) -> None:
        if len(self.opcodes._codes()) != len(NAMES):
            raise AssertionError(f"table holds {len(self.opcodes._codes())} of {len(NAMES)} opcodes")


class PublishedHalfBuilt(_FirstUse):
    """Broken: store the empty table, then fill it."""

    base = Opcodes


class PublishedWhole(_FirstUse):
    """Correct twin: fill, then store."""

    base = WholeOpcodes
