"""ThreadSanitizer reports: read the per-child log files of a TSan run and turn them into findings.

Each scenario's child writes its reports to its own log files (``TSAN_OPTIONS=log_path=...``, see
:func:`harness.interpreter.children.tsan_env`), so a finding belongs to the scenario whose folder holds it.
A report is one data race, heap-use-after-free or lock-order inversion with its stacks; reports with the same
kind and the same pair of stack tops are one finding with a count. A finding with a frame in the package's own
code (any binary that is not the interpreter, its standard-library modules, cffi's backend or a system
library) is the package's; one whose every frame is elsewhere goes to the "interpreter" list, which does not
decide the verdict. Frames are kept up to the package's last frame, then a short tail.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SUPPRESSIONS = Path(__file__).with_name("tsan_suppressions.txt")
# Frames kept after the package's last frame (or from the top of a report with no package frame).
TAIL_FRAMES = 3
KINDS = ("data race", "heap-use-after-free", "lock-order-inversion")

_WARNING_RE = re.compile(r"WARNING: ThreadSanitizer: (?P<kind>[a-z-]+(?: [a-z-]+)*)")
_FRAME_RE = re.compile(
    r"^\s+#(?P<index>\d+) (?P<function>\S+) (?P<location>\S+)(?: \((?P<binary>[^()]+?)\+0x[0-9a-f]+\))?$"
)
_STACK_HEADER_RE = re.compile(r"^  (?P<header>\S.*):$")
# Binaries that are not the package under test: the interpreter, its standard-library modules, cffi's backend,
# the sanitizer runtime and the C library.
_NOT_PACKAGE_RE = re.compile(
    r"(^|/)(python\d[\w.]*|libpython[\w.]*|_cffi_backend[\w.-]*\.so|libtsan[\w.]*|libc[.-][\w.]*|libm[.-][\w.]*"
    r"|libpthread[\w.]*|ld-linux[\w.-]*|libstdc\+\+[\w.]*|libgcc_s[\w.]*|libdl[\w.]*)$|/lib-dynload/"
)
_RUNTIME_RE = re.compile(r"(^|/)libtsan[\w.]*$")


@dataclass(frozen=True)
class Frame:
    """One stack frame: function, ``file:line[:column]`` (or ``<null>``) and the binary it is in."""

    function: str
    location: str
    binary: str

    @property
    def in_package(self) -> bool:
        return bool(self.binary) and not _NOT_PACKAGE_RE.search(self.binary)

    @property
    def in_runtime(self) -> bool:
        return bool(_RUNTIME_RE.search(self.binary))

    def __str__(self) -> str:
        where = "" if self.location == "<null>" else f" {self.location}"
        return f"{self.function}{where} ({Path(self.binary).name or '?'})"


@dataclass(frozen=True)
class Stack:
    """One stack of a report, under the line that says what it is ("Write of size 8 at ... by thread T2")."""

    header: str
    frames: tuple[Frame, ...]

    @property
    def top(self) -> str:
        """The first frame outside the sanitizer's own interceptors (``pthread_mutex_lock`` says nothing)."""
        for frame in self.frames:
            if not frame.in_runtime:
                return f"{frame.function} {frame.location}"
        return f"{self.frames[0].function} {self.frames[0].location}" if self.frames else "?"

    def shown(self) -> list[str]:
        """The header and the frames worth reading: the package's, then a short tail of the rest."""
        frames = list(self.frames)
        last = max((i for i, f in enumerate(frames) if f.in_package), default=-1)
        keep = frames[: last + 1 + TAIL_FRAMES]
        lines = [self.header + ":", *(f"  #{i} {frame}" for i, frame in enumerate(keep))]
        if len(frames) > len(keep):
            lines.append(f"  ... {len(frames) - len(keep)} more frames in the interpreter and libraries")
        return lines


@dataclass(frozen=True)
class Report:
    """One TSan report: its kind, the two stacks that say what raced (or which locks), and its summary line."""

    kind: str
    stacks: tuple[Stack, ...]
    summary: str

    @property
    def in_package(self) -> bool:
        return any(frame.in_package for stack in self.stacks for frame in stack.frames)

    @property
    def key(self) -> tuple[str, tuple[str, ...]]:
        """Kind and the (ordered) pair of stack tops: the same race seen from either side is one finding."""
        return self.kind, tuple(sorted(stack.top for stack in self.stacks))


@dataclass
class Finding:
    """One distinct report and how often it appeared, with the scenario (or test) during which it did."""

    kind: str
    scenario: str
    target: str
    summary: str
    stacks: list[list[str]]
    count: int = 1
    on_failure: str = "unsafe"  # the scenario's: a finding in a scenario documented as unshareable is not unsafe

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Findings:
    """A run's findings: ``package`` (decide the verdict) and ``interpreter`` (every frame outside the package)."""

    package: list[Finding] = field(default_factory=list)
    interpreter: list[Finding] = field(default_factory=list)
    log_dir: str | None = None

    def add(self, reports: Iterable[Report], *, scenario: str, target: str, on_failure: str = "unsafe") -> None:
        """Add one scenario's reports, counting repeats of a finding (the same key in the same scenario)."""
        seen: dict[tuple[str, tuple[str, ...]], Finding] = {}
        for report in reports:
            found = seen.get(report.key)
            if found is not None:
                found.count += 1
                continue
            stacks = [stack.shown() for stack in report.stacks]
            finding = seen[report.key] = Finding(report.kind, scenario, target, report.summary, stacks,
                                                 on_failure=on_failure)
            (self.package if report.in_package else self.interpreter).append(finding)

    def to_json(self) -> dict[str, Any]:
        return {"log_dir": self.log_dir, "package": [f.to_json() for f in self.package],
                "interpreter": [f.to_json() for f in self.interpreter]}


def parse(text: str) -> list[Report]:
    """Every data race, heap-use-after-free and lock-order inversion in a TSan log (other kinds are skipped)."""
    return [report for block in _blocks(text) if (report := _report(block)) is not None]


def read_logs(folder: Path) -> list[Report]:
    """The reports in every log file under ``folder`` (one file per child process: ``<prefix>.<pid>``)."""
    if not folder.is_dir():
        return []
    return [r for path in sorted(folder.rglob("*")) if path.is_file()
            for r in parse(path.read_text(encoding="utf-8", errors="replace"))]


def _blocks(text: str) -> Iterator[list[str]]:
    block: list[str] | None = None
    for line in text.splitlines():
        if _WARNING_RE.search(line):
            block = [line]
        elif block is not None:
            if line.startswith("SUMMARY: ThreadSanitizer:"):
                yield [*block, line]
                block = None
            else:
                block.append(line)


def _report(block: list[str]) -> Report | None:
    match = _WARNING_RE.search(block[0])
    assert match is not None  # _blocks starts a block only on a warning line
    kind = next((k for k in KINDS if match["kind"].startswith(k)), None)
    if kind is None:
        return None
    stacks: list[Stack] = []
    header: str | None = None
    frames: list[Frame] = []
    for line in block[1:]:
        frame = _FRAME_RE.match(line)
        if frame:
            frames.append(Frame(frame["function"], frame["location"], frame["binary"] or ""))
            continue
        if header is not None and frames:
            stacks.append(Stack(header, tuple(frames)))
        header_match = _STACK_HEADER_RE.match(line)
        header, frames = (header_match["header"] if header_match else None), []
    return Report(kind, tuple(_relevant(stacks)), block[-1].removeprefix("SUMMARY: ThreadSanitizer: "))


def _relevant(stacks: list[Stack]) -> list[Stack]:
    """The two stacks that say what happened: the accesses, or where each lock was taken while holding the other
    (not where a thread was created, a mutex made or a block allocated)."""
    wanted = [s for s in stacks if " of size " in s.header or "acquired here while holding" in s.header]
    return (wanted or stacks)[:2]
