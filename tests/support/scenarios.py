"""Small broken and correct scenarios for the engine's own tests (importable by isolated child processes).

Racy ones yield the CPU (``time.sleep(0)``) inside their critical section, so the race fires on GIL and
free-threaded builds alike, within a round or two.
"""

from __future__ import annotations

import ctypes
import inspect
import os
import shutil
import threading
import time
from pathlib import Path

from harness.engine import Race, stateful


class LostUpdate:
    """A read-modify-write counter without a lock: ``verify`` sees lost increments."""

    def setup(self) -> None:
        self.count = 0

    def step(self, thread_index: int, iteration: int) -> None:
        seen = self.count
        time.sleep(0)
        self.count = seen + 1

    def verify(self) -> None:
        expected = self.threads * self.iterations
        assert self.count == expected, f"lost updates: counted {self.count}, expected {expected}"


# LostUpdate as a module's text, for tests that write it into a wheel or a pytester folder of their own.
LOST_UPDATE_SOURCE = "import time\n\n\n" + inspect.getsource(LostUpdate)


class LockedCounter(LostUpdate):
    """The correct twin of :class:`LostUpdate`."""

    def setup(self) -> None:
        super().setup()
        self.lock = threading.Lock()

    def step(self, thread_index: int, iteration: int) -> None:
        with self.lock:
            super().step(thread_index, iteration)


def raises_in_one_thread(thread_index: int, iteration: int) -> None:
    """Fails once, in thread 1 only."""
    if thread_index == 1 and iteration == 3:
        raise KeyError("only thread 1 fails")


def quiet() -> None:
    """Does nothing, correctly."""


def hangs(thread_index: int, iteration: int) -> None:
    """Thread 0 blocks forever on its first call; the others finish."""
    if thread_index == 0:
        threading.Event().wait()


class HangsInSetup:
    """Blocks the engine's own thread in ``setup()``: only the child's watchdog can end it."""

    def setup(self) -> None:
        threading.Event().wait()

    def step(self, thread_index: int, iteration: int) -> None:
        pass


def segfault(thread_index: int, iteration: int) -> None:
    """Thread 0 dereferences NULL (one crashing thread, so the faulthandler dump is not cut short)."""
    if thread_index == 0:
        ctypes.string_at(0)


class ReaderWriter:
    """Roles: writers append, readers take snapshots; records which thread played which role."""

    roles = ("read", "write")

    def setup(self) -> None:
        self.items: list[int] = []
        self.readers: set[int] = set()
        self.writers: set[int] = set()

    def read(self, thread_index: int, iteration: int) -> None:
        self.readers.add(thread_index)
        list(self.items)

    def write(self, thread_index: int, iteration: int) -> None:
        self.writers.add(thread_index)
        self.items.append(iteration)

    def verify(self) -> None:
        assert len(self.items) == len(self.writers) * self.iterations


class UnsafeTally:
    """Counts its calls with a read-modify-write: not thread-safe, fine when each thread has its own."""

    def __init__(self) -> None:
        self.calls = 0

    def add(self) -> None:
        seen = self.calls
        time.sleep(0)
        self.calls = seen + 1


def _add(tally: UnsafeTally, thread_index: int, iteration: int) -> None:
    tally.add()


def _all_calls_counted(tallies: list[UnsafeTally], threads: int, iterations: int) -> None:
    counted = sum(t.calls for t in tallies)
    assert counted == threads * iterations, f"{counted} calls counted, expected {threads * iterations}"


SharedTally = stateful(UnsafeTally, _add, shared=True, check=_all_calls_counted)
PerThreadTally = stateful(UnsafeTally, _add, shared=False, check=_all_calls_counted)

RaceQuietAndRaise = Race(quiet, raises_in_one_thread)


class LostUpdateLosingItsReportDir(LostUpdate):
    """:class:`LostUpdate` that, while it runs, replaces the working directory's ``reports`` folder with a file:
    the report can no longer be written when the run ends."""

    def setup(self) -> None:
        super().setup()
        reports = Path("reports")
        if reports.is_dir():
            shutil.rmtree(reports)
            reports.write_text("not a folder any more\n")


class RecordsItsPidAndHangs:
    """Writes its process id to ``child.pid`` in the working directory, then every step blocks forever."""

    def setup(self) -> None:
        Path("child.pid").write_text(str(os.getpid()))

    def step(self, thread_index: int, iteration: int) -> None:
        threading.Event().wait()


def exits_quietly(thread_index: int, iteration: int) -> None:
    """Thread 0 ends the whole process with ``os._exit(0)``: no result, no crash, no faulthandler dump."""
    if thread_index == 0:
        os._exit(0)


def sleeps_2_s_once(thread_index: int, iteration: int) -> None:
    """Thread 0's first step blocks 2 s without CPU (a slow I/O call, say), then every step is instant."""
    if thread_index == 0 and iteration == 0:
        time.sleep(2.0)


def steps_of_10_ms(thread_index: int, iteration: int) -> None:
    """A correct scenario whose every step takes 10 ms (a slow call, not a hang)."""
    time.sleep(0.01)


class RacyOnlyAfterEarlierRounds:
    """A lost update that only rounds after the third of the process can have: the scenario keeps state across
    rounds at class level (as a module-level cache would), so a failing round's schedule alone, replayed in a
    fresh process, passes."""

    rounds_seen = 0

    def setup(self) -> None:
        RacyOnlyAfterEarlierRounds.rounds_seen += 1
        self.hits = 0
        self.lock = threading.Lock()

    def step(self, thread_index: int, iteration: int) -> None:
        if RacyOnlyAfterEarlierRounds.rounds_seen <= 3:
            with self.lock:
                self.hits += 1
            return
        seen = self.hits
        self.hits = seen + 1

    def verify(self) -> None:
        assert self.hits == self.threads * self.iterations, f"lost updates: {self.hits}"


def reports_its_parent(thread_index: int, iteration: int) -> None:
    """Fails with its process's parent pid, working directory and ``FT_HARNESS_TEST_MARKER`` in the message."""
    marker = os.environ.get("FT_HARNESS_TEST_MARKER", "")
    raise AssertionError(f"parent pid {os.getppid()} in {os.getcwd()} marked {marker}")
