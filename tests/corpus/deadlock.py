"""Seeded bug: transfers that lock the source account first, so opposite transfers deadlock (lock-order inversion).

``OppositeTransfers`` is the broken scenario (it hangs: the engine must time out with both stacks in the
report); ``OrderedTransfers`` is its correct twin (locks always taken in account-number order).
"""

from __future__ import annotations

import threading


class Account:
    """A balance guarded by its own lock."""

    def __init__(self, number: int, balance: int) -> None:
        self.number = number
        self.balance = balance
        self.lock = threading.Lock()

    def withdraw(self, amount: int) -> None:
        self.balance -= amount

    def deposit(self, amount: int) -> None:
        self.balance += amount


def transfer_source_first(src: Account, dst: Account, amount: int) -> None:
    """Lock the source, then the destination: two opposite transfers can each hold the lock the other needs."""
    with src.lock:
        src.withdraw(amount)
        with dst.lock:
            dst.deposit(amount)


def transfer_ordered(src: Account, dst: Account, amount: int) -> None:
    """Lock both accounts in account-number order, whichever way the money goes."""
    first, second = sorted((src, dst), key=lambda account: account.number)
    with first.lock, second.lock:
        src.withdraw(amount)
        dst.deposit(amount)


class _TransferScenario:
    """Half the threads pay from A to B, half from B to A; verify wants the money conserved."""

    roles = ("pay_a_to_b", "pay_b_to_a")
    opening_balance = 1_000_000

    def setup(self) -> None:
        self.a = Account(1, self.opening_balance)
        self.b = Account(2, self.opening_balance)

    def pay_a_to_b(self, thread_index: int, iteration: int) -> None:
        self.transfer(self.a, self.b, 1)

    def pay_b_to_a(self, thread_index: int, iteration: int) -> None:
        self.transfer(self.b, self.a, 1)

    def transfer(self, src: Account, dst: Account, amount: int) -> None:
        raise NotImplementedError

    def verify(self) -> None:
        total = self.a.balance + self.b.balance
        if total != 2 * self.opening_balance:
            raise AssertionError(f"money not conserved: {total} != {2 * self.opening_balance}")


class OppositeTransfers(_TransferScenario):
    """Broken: source-first locking."""

    def transfer(self, src: Account, dst: Account, amount: int) -> None:
        transfer_source_first(src, dst, amount)


class OrderedTransfers(_TransferScenario):
    """Correct twin: ordered locking."""

    def transfer(self, src: Account, dst: Account, amount: int) -> None:
        transfer_ordered(src, dst, amount)
