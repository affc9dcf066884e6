"""Held-out race: a dict of balances grown by one thread while another formats it in a dict comprehension.

The teller deposits into existing accounts and, now and then, opens a new one; the auditor formats every
balance with ``{name: ... for name, balance in balances.items()}``. An account opened during the
comprehension raises ``RuntimeError: dictionary changed size during iteration``. ``GrownWhileReported`` is the
broken scenario; ``ReportedUnderLock`` is the correct twin (every change and every report under one lock).
"""

from __future__ import annotations

import threading

OPENING_ACCOUNTS = 8
NEW_ACCOUNT_EVERY = 16


class Ledger:
    """Balances by account name (in cents)."""

    def __init__(self) -> None:
        self._balances = {f"acct-{n}": 0 for n in range(OPENING_ACCOUNTS)}

    def open(self, name: str) -> None:
        self._balances[name] = 0

    def deposit(self, name: str, cents: int) -> None:
        self._balances[name] += cents

    def report(self) -> dict[str, str]:
        return {name: f"{balance / 100:,.2f}" for name, balance in self._balances.items()}

    def total(self) -> int:
        return sum(self._balances.values())


class LockedLedger(Ledger):
    """The same ledger with every change and every report under one lock."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def open(self, name: str) -> None:
        with self._lock:
            super().open(name)

    def deposit(self, name: str, cents: int) -> None:
        with self._lock:
            super().deposit(name, cents)

    def report(self) -> dict[str, str]:
        with self._lock:
            return super().report()


class _LedgerScenario:
    """The teller deposits every iteration and opens an account every few; the auditor reports every iteration."""

    ledger_type: type[Ledger]
    roles = ("auditor", "teller")
    threads: int
    iterations: int

    def setup(self) -> None:
        self.ledger = self.ledger_type()

    def auditor(self, thread_index: int, iteration: int) -> None:
        self.ledger.report()

    def teller(self, thread_index: int, iteration: int) -> None:
        if iteration % NEW_ACCOUNT_EVERY == 0:
            self.ledger.open(f"new-{thread_index}-{iteration}")
        self.ledger.deposit(f"acct-{iteration % OPENING_ACCOUNTS}", 1)

    def verify(self) -> None:
        tellers = len(range(1, self.threads, len(self.roles)))
        report = self.ledger.report()
        opened = OPENING_ACCOUNTS + tellers * len(range(0, self.iterations, NEW_ACCOUNT_EVERY))
        if len(report) != opened or self.ledger.total() != tellers * self.iterations:
            raise AssertionError(f"{len(report)} accounts holding {self.ledger.total()} cents; expected {opened} "
                                 f"accounts holding {tellers * self.iterations}")


class GrownWhileReported(_LedgerScenario):
    """Broken: the unlocked ledger."""

    ledger_type = Ledger


class ReportedUnderLock(_LedgerScenario):
    """Correct twin: the locked ledger."""

    ledger_type = LockedLedger
