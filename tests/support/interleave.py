"""Force one interleaving of two threads: pause the first inside a race window, run the second, resume both.

A :class:`PausePoint` names a line of a function (by a piece of its text) and, optionally, the first
instruction on that line with a given opcode name (to stop between the read and the write of ``x += 1``).
A per-thread trace function (``sys.settrace``) stops a thread there; nothing in the code under test changes
and nothing sleeps inside its window. :func:`interleave` runs: the first thread up to its point, the second up
to its own point (or to the end, or until it blocks, as on a lock the first holds: then it is not paused
again), then the first to the end, then the second to the end, and returns every exception either raised.
"""

from __future__ import annotations

import dis
import inspect
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import CodeType, FrameType
from typing import Any

BLOCKED_AFTER_S = 0.2
TIMEOUT_S = 10.0


@dataclass(frozen=True)
class PausePoint:
    """The line of ``function`` containing ``text`` (exactly one must); with ``opname``, that instruction on it."""

    function: Callable[..., Any]
    text: str
    opname: str | None = None

    def code(self) -> CodeType:
        return getattr(self.function, "__func__", self.function).__code__

    def line(self) -> int:
        lines, first = inspect.getsourcelines(self.code())
        hits = [first + n for n, line in enumerate(lines) if self.text in line]
        if len(hits) != 1:
            raise ValueError(f"{self.text!r} is on {len(hits)} lines of {self.code().co_qualname}, expected one")
        return hits[0]


@dataclass
class _Pausing:
    """One thread's pause: reached once, released by the driver."""

    at: PausePoint | None
    arrived: threading.Event = field(default_factory=threading.Event)
    resume: threading.Event = field(default_factory=threading.Event)
    paused: bool = False

    def __post_init__(self) -> None:
        if self.at is not None:
            self._code, self._line = self.at.code(), self.at.line()
            self._opnames = {i.offset: i.opname for i in dis.get_instructions(self._code)}

    def trace(self, frame: FrameType, event: str, arg: object) -> Callable[..., Any] | None:
        if self.at is None or frame.f_code is not self._code or self.paused:
            return None
        return self._local

    def _local(self, frame: FrameType, event: str, arg: object) -> Callable[..., Any] | None:
        frame.f_trace_opcodes = self.at.opname is not None  # takes effect only when set by a local trace function
        if self.paused or frame.f_lineno != self._line:
            return self._local
        wanted = "line" if self.at.opname is None else "opcode"
        if event == wanted and (self.at.opname is None or self._opnames.get(frame.f_lasti) == self.at.opname):
            self.paused = True
            self.arrived.set()
            self.resume.wait(TIMEOUT_S)
        return self._local


@dataclass
class Interleaving:
    """What happened: whether each thread reached its point, whether the second blocked, every exception."""

    first_paused: bool
    second_paused: bool
    second_blocked: bool
    errors: list[BaseException]


def interleave(
    first: Callable[[], object],
    second: Callable[[], object],
    first_at: PausePoint,
    second_at: PausePoint | None = None,
) -> Interleaving:
    """Run ``first`` to ``first_at``, ``second`` to ``second_at`` (or its end), then ``first``, then ``second``."""
    errors: list[BaseException] = []
    pauses = (_Pausing(first_at), _Pausing(second_at))

    def run(body: Callable[[], object], pausing: _Pausing) -> None:
        sys.settrace(pausing.trace)
        try:
            body()
        except BaseException as exc:  # the race's own exception is the result
            errors.append(exc)
        finally:
            sys.settrace(None)
            pausing.arrived.set()

    threads = [threading.Thread(target=run, args=(body, p)) for body, p in zip((first, second), pauses)]
    threads[0].start()
    if not pauses[0].arrived.wait(TIMEOUT_S):
        raise AssertionError("the first thread neither reached its pause point nor finished")
    threads[1].start()
    blocked = not pauses[1].arrived.wait(BLOCKED_AFTER_S)
    if blocked:  # it runs on once unblocked: pausing it later could hold a lock the first thread still needs
        pauses[1].resume.set()
    for thread, pausing in zip(threads, pauses):
        pausing.resume.set()
        thread.join(TIMEOUT_S)
        if thread.is_alive():
            raise AssertionError(f"{thread.name} still running {TIMEOUT_S} s after it was resumed")
    return Interleaving(pauses[0].paused, pauses[1].paused, blocked, errors)
