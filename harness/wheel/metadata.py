"""A wheel's metadata claims about free threading, checked against what was measured: the "Free Threading"
trove classifier (1 - Unstable ... 4 - Resilient) and ``Requires-Python``. Each finding names the METADATA
line that carries the claim and the exact ``pyproject.toml`` line that would make it true.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from harness import UsageError
from harness.wheel.tags import STABLE_FT_ABI, WheelInfo

FREE_THREADING_CLASSIFIER = "Programming Language :: Python :: Free Threading"
STABLE_LEVEL = 3  # "3 - Stable" and "4 - Resilient" promise production use without the GIL
LOWEST_CLAIM = f"{FREE_THREADING_CLASSIFIER} :: 1 - Unstable"
Level = Literal["error", "warning"]


@dataclass(frozen=True)
class MetadataLine:
    """One ``Key: value`` line of METADATA and its 1-based line number."""

    line: int
    value: str


@dataclass(frozen=True)
class WheelMetadata:
    """The METADATA lines the checks read: the wheel's file, its METADATA member, classifiers, Requires-Python."""

    file: str
    member: str
    free_threaded: bool
    classifiers: tuple[MetadataLine, ...]
    requires_python: MetadataLine | None

    @property
    def free_threading_claim(self) -> MetadataLine | None:
        """The ``Free Threading :: N - ...`` classifier line, if the wheel claims a level."""
        prefix = FREE_THREADING_CLASSIFIER + " :: "
        return next((c for c in self.classifiers if c.value.startswith(prefix)), None)

    @property
    def claim_level(self) -> int | None:
        claim = self.free_threading_claim
        if claim is None:
            return None
        digit = claim.value.rsplit(" :: ", 1)[-1][:1]
        return int(digit) if digit.isdigit() else None


@dataclass(frozen=True)
class Measured:
    """What a gate measured for one free-threaded wheel: its verdict, the modules that re-enabled the GIL and
    the version of the interpreter it ran on."""

    verdict: str
    gil_enabled_modules: tuple[str, ...]
    interpreter_version: str


@dataclass(frozen=True)
class Finding:
    """A metadata claim that disagrees with the wheels or the measurements; ``change`` is the exact edit."""

    rule: str
    level: Level
    message: str
    file: str
    member: str
    line: int | None
    change: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def read_metadata(info: WheelInfo) -> WheelMetadata:
    """The classifier and Requires-Python lines of a wheel already read by :func:`harness.wheel.tags.read_wheel`."""
    try:
        with zipfile.ZipFile(info.path) as archive:
            member = next(
                name for name in archive.namelist()
                if name.endswith(".dist-info/METADATA") and name.count("/") == 1
            )
            text = archive.read(member).decode("utf-8")
    except (OSError, zipfile.BadZipFile, StopIteration, UnicodeDecodeError) as exc:
        raise UsageError(f"{info.path.name}: cannot read its METADATA ({type(exc).__name__})") from None
    classifiers: list[MetadataLine] = []
    requires_python = None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            break  # the body (long description) starts after the first empty line
        key, _, value = line.partition(":")
        if key == "Classifier":
            classifiers.append(MetadataLine(number, value.strip()))
        elif key == "Requires-Python":
            requires_python = MetadataLine(number, value.strip())
    free_threaded = any((abi.startswith("cp") and abi.endswith("t")) or abi == STABLE_FT_ABI for abi in info.abis)
    return WheelMetadata(info.path.name, member, free_threaded, tuple(classifiers), requires_python)


def check_wheel(metadata: WheelMetadata, measured: Measured | None) -> list[Finding]:
    """Findings for one free-threaded wheel against its gate measurement (none for a GIL wheel)."""
    if not metadata.free_threaded:
        return []
    findings = []
    claim = metadata.free_threading_claim
    if claim is None:
        findings.append(_finding(
            metadata, "ft-classifier-missing", "warning", None,
            f"{metadata.file} is a free-threaded wheel but METADATA has no '{FREE_THREADING_CLASSIFIER} :: ...' "
            "classifier",
            f'add to pyproject.toml [project] classifiers: "{LOWEST_CLAIM}" (raise the level only as far as '
            "the gate's results back it)",
        ))
    if measured is None:
        return findings
    level = metadata.claim_level
    if claim is not None and level is not None and level >= STABLE_LEVEL:
        reasons = []
        if measured.gil_enabled_modules:
            reasons.append("re-enabled the GIL on import: " + ", ".join(measured.gil_enabled_modules))
        if measured.verdict != "safe":
            reasons.append(f"the gate's verdict is {measured.verdict}")
        if reasons:
            findings.append(_finding(
                metadata, "ft-classifier-overclaims", "error", claim.line,
                f"{metadata.file} claims '{claim.value}' but " + "; ".join(reasons),
                f'in pyproject.toml [project] classifiers replace "{claim.value}" with "{LOWEST_CLAIM}"',
            ))
    findings += _requires_python_findings(metadata, measured.interpreter_version)
    return findings


def check_release(metadata: Sequence[WheelMetadata]) -> list[Finding]:
    """Release-wide findings: a Free Threading claim with no free-threaded wheel in the release."""
    if any(m.free_threaded for m in metadata):
        return []
    claiming = [m for m in metadata if m.free_threading_claim is not None]
    if not claiming:
        return []
    first = claiming[0]
    claim = first.free_threading_claim
    assert claim is not None
    return [_finding(
        first, "ft-classifier-without-wheel", "error", claim.line,
        f"the release claims '{claim.value}' but holds no free-threaded (cp3XXt or abi3t) wheel",
        f'build cp3XXt wheels, or remove "{claim.value}" from pyproject.toml [project] classifiers',
    )]


def _requires_python_findings(metadata: WheelMetadata, version_text: str) -> list[Finding]:
    line = metadata.requires_python
    try:
        version = Version(version_text)
        specifiers = SpecifierSet(line.value) if line else SpecifierSet()
    except (InvalidVersion, InvalidSpecifier):
        return []
    if line is None or specifiers.contains(version, prereleases=True):
        return []
    kept = [str(s) for s in specifiers if s.contains(version, prereleases=True)]
    fixed = ",".join(sorted(kept)) or f">={version.major}.{version.minor}"
    return [_finding(
        metadata, "requires-python-excludes", "error", line.line,
        f"{metadata.file}: Requires-Python '{line.value}' excludes {version}, the interpreter it was gated on",
        f'in pyproject.toml [project] replace requires-python = "{line.value}" with requires-python = "{fixed}"',
    )]


def _finding(metadata: WheelMetadata, rule: str, level: Level, line: int | None, message: str, change: str) -> Finding:
    return Finding(rule, level, message, metadata.file, metadata.member, line, change)
