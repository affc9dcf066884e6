"""Interpreter requests (`--python SPEC`): parse and normalise them, and resolve them to an executable.

A request is a path or a version such as ``3.14t``, ``3.14.7t``, ``3.14.0rc2t``/``3.14.0rc2_t`` (free-threaded)
or ``3.14`` (GIL build). A version request resolves to an interpreter whose build is confirmed by asking the
interpreter itself, never by trusting its file name or PATH order: with a free-threaded install first on
PATH, ``uv python find 3.14`` hands back the free-threaded build, and that mistake must not repeat here.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

from harness import UnfitError, UsageError
from harness.interpreter.children import run_uv
from harness.interpreter.facts import InterpreterFacts, probe

OPT_GLOB = "/opt/cpython-*/bin/python*"
TSAN_ENV = "HARNESS_TSAN_PYTHON"
TSAN_DEFAULT = "/opt/cpython-3.14t-tsan/bin/python3.14t"
TSAN_HOW = (
    "build one with /path/to/cpython/configure --disable-gil --with-thread-sanitizer --prefix=/opt/cpython-3.14t-tsan "
    "&& make && make install (README: ThreadSanitizer mode), or set $HARNESS_TSAN_PYTHON"
)

_VERSION_RE = re.compile(
    r"(?P<major>\d+)\.(?P<minor>\d+)(?:\.(?P<micro>\d+))?(?:(?P<level>a|b|rc)(?P<serial>\d+))?(?P<ft>_?t)?"
)
_REPORTED_VERSION_RE = re.compile(
    r"(?P<major>\d+)\.(?P<minor>\d+)\.(?P<micro>\d+)(?:(?P<level>a|b|rc)(?P<serial>\d+))?"
)
EXPECTED = "a version like 3.14t, 3.14.7t, 3.14.0rc2t or 3.14, or a path to a python executable"


@dataclass(frozen=True)
class VersionRequest:
    """A requested CPython version and build; unspecified parts (micro, pre-release) match anything."""

    major: int
    minor: int
    micro: int | None
    pre: tuple[str, int] | None  # ("rc", 2)
    free_threaded: bool

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}"
        if self.micro is not None:
            text += f".{self.micro}"
        if self.pre is not None:
            # A bare "t" after a pre-release serial reads as part of it, hence the underscore.
            return f"{text}{self.pre[0]}{self.pre[1]}" + ("_t" if self.free_threaded else "")
        return text + ("t" if self.free_threaded else "")

    def matches(self, build: Build) -> bool:
        """Whether an interpreter's build satisfies this request (version parts given, and the build kind)."""
        if build.implementation != "cpython" or build.free_threaded != self.free_threaded or build.thread_sanitizer:
            return False  # a TSan build is chosen only by path or --tsan: it is many times slower
        if (build.major, build.minor) != (self.major, self.minor):
            return False
        return self.micro is None or (build.micro == self.micro and build.pre == self.pre)


@dataclass(frozen=True)
class Build:
    """An interpreter's version and build, as the interpreter itself reported them."""

    major: int
    minor: int
    micro: int
    pre: tuple[str, int] | None
    free_threaded: bool
    implementation: str
    thread_sanitizer: bool = False

    @classmethod
    def from_facts(cls, facts: InterpreterFacts) -> Build:
        match = _REPORTED_VERSION_RE.match(facts.version)
        if match is None:
            raise ValueError(f"unexpected version {facts.version!r}")
        pre = (match["level"], int(match["serial"])) if match["level"] else None
        major, minor, micro = int(match["major"]), int(match["minor"]), int(match["micro"])
        return cls(major, minor, micro, pre, facts.free_threaded, facts.implementation, facts.thread_sanitizer)

    def __str__(self) -> str:
        name = str(VersionRequest(self.major, self.minor, self.micro, self.pre, self.free_threaded))
        kind = "free-threaded build" if self.free_threaded else "GIL build"
        prefix = "" if self.implementation == "cpython" else f"{self.implementation} "
        return f"{prefix}{name} ({kind})"


def parse(spec: str) -> VersionRequest | str:
    """A version request, or the absolute path of the executable a path-like spec names.

    Raises ``UsageError`` for an empty spec or one that is neither a version nor an existing executable.
    """
    text = spec.strip()
    match = _VERSION_RE.fullmatch(text.lower())
    if match:
        level = match["level"]
        micro = match["micro"]
        if level and micro is None:
            micro = "0"  # pre-releases exist only for x.y.0: 3.14rc2 is 3.14.0rc2
        return VersionRequest(
            major=int(match["major"]),
            minor=int(match["minor"]),
            micro=int(micro) if micro is not None else None,
            pre=(level, int(match["serial"])) if level else None,
            free_threaded=bool(match["ft"]),
        )
    if not text:
        raise UsageError(f"empty interpreter request: expected {EXPECTED}")
    path = text if os.sep in text or (os.altsep and os.altsep in text) else shutil.which(text)
    if path is None or not os.path.isfile(path):
        raise UsageError(f"interpreter request {spec!r} is neither a version nor an existing file; expected {EXPECTED}")
    return os.path.abspath(os.path.expanduser(path))


def normalise(spec: str) -> str:
    """The canonical spelling of a request: ``3.14t``, ``3.14.7t``, ``3.14.0rc2_t``, ``3.14``, or an absolute path."""
    return str(parse(spec))


def probe_build(python: str) -> Build:
    """Ask ``python`` what it is; ``UsageError`` if it cannot be run or does not answer like a Python."""
    answer = _ask(os.path.abspath(python))
    if isinstance(answer, str):
        raise UsageError(f"{answer} (expected a runnable python interpreter)")
    return answer


def resolve(spec: str | None) -> str:
    """The absolute path of an interpreter whose build matches ``spec`` (``None``: the current interpreter).

    Candidates come from the current interpreter, PATH, ``/opt/cpython-*`` and uv's interpreter list, in
    that order, and each is asked for its version and build. A path spec must name a runnable Python.
    Raises ``UsageError`` naming the request and the interpreters found when nothing matches.
    """
    if spec is None:
        return sys.executable
    request = parse(spec)
    if isinstance(request, str):
        probe_build(request)
        return request
    seen: list[tuple[str, Build]] = []
    for path in _candidates(request):
        build = _ask(path)
        if isinstance(build, str):
            continue
        if request.matches(build):
            return path
        seen.append((path, build))
    found = "; ".join(
        f"{path} is {build}" for path, build in seen if (build.major, build.minor) == (request.major, request.minor)
    )
    kind = "free-threaded build" if request.free_threaded else "GIL build"
    raise UsageError(
        f"no interpreter matches {request} ({kind}): "
        + (f"found only {found}" if found else "none of that version on PATH, in /opt/cpython-* or in uv's list")
    )


def find_tsan() -> str:
    """A ThreadSanitizer build: ``$HARNESS_TSAN_PYTHON``, else :data:`TSAN_DEFAULT`; ``UnfitError`` (exit 3) when
    neither exists or the one named is not a TSan build."""
    configured = os.environ.get(TSAN_ENV, "").strip()
    path = os.path.abspath(os.path.expanduser(configured or TSAN_DEFAULT))
    where = f"${TSAN_ENV}={configured}" if configured else TSAN_DEFAULT
    if not os.path.isfile(path):
        raise UnfitError(f"no ThreadSanitizer interpreter at {where}: {TSAN_HOW}")
    build = _ask(path)
    if isinstance(build, str) or not build.thread_sanitizer:
        why = build if isinstance(build, str) else f"it is {build}, not built --with-thread-sanitizer"
        raise UnfitError(f"{where} is no ThreadSanitizer interpreter ({why}): {TSAN_HOW}")
    return path


def _candidates(request: VersionRequest) -> Iterator[str]:
    """Possible executables for a request in first-seen order, each interpreter once.

    Symlinks to one executable are one interpreter, except a venv's python, which is its own environment.
    """
    seen: set[str] = set()
    for path in _sources(request):
        path = os.path.abspath(path)
        in_venv = os.path.isfile(os.path.join(os.path.dirname(os.path.dirname(path)), "pyvenv.cfg"))
        key = path if in_venv else os.path.realpath(path)
        if key not in seen and os.path.isfile(path) and os.access(path, os.X_OK):
            seen.add(key)
            yield path


def _sources(request: VersionRequest) -> Iterator[str]:
    yield sys.executable
    minor = f"{request.major}.{request.minor}"
    names = (f"python{minor}t", f"python{minor}", f"python{request.major}", "python")
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        for name in names:
            yield os.path.join(directory or os.curdir, name)
    yield from sorted(glob.glob(OPT_GLOB))
    yield from _uv_interpreters(request)  # last: listing is slow (uv asks every interpreter it can see)


def _uv_interpreters(request: VersionRequest) -> list[str]:
    """Interpreters uv knows of with the request's major.minor (uv's labels only pre-filter; the probe decides)."""
    try:
        listing = run_uv(["python", "list", "--only-installed", "--output-format", "json"])
        entries = json.loads(listing.stdout) if listing.returncode == 0 else []
    except (UnfitError, OSError, subprocess.TimeoutExpired, json.JSONDecodeError):
        return []
    wanted = {"major": request.major, "minor": request.minor}
    return [
        entry["path"]
        for entry in entries
        if isinstance(entry, dict)
        and isinstance(entry.get("path"), str)
        and all(entry.get("version_parts", {}).get(key, value) == value for key, value in wanted.items())
    ]


@cache
def _ask(python: str) -> Build | str:
    """The interpreter's own answer about its build, or why it gave none (cached per path for this process)."""
    try:
        return Build.from_facts(probe(python))
    except (UnfitError, ValueError, TypeError) as exc:
        return str(exc)
