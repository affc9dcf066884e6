"""The release fileset check: does a folder of wheels fill every expected interpreter x platform cell with
exactly the right ABI? Cells are matched on the ABI tag (``cp314t`` is its own cell, never a ``cp314`` one)
and on platform family + architecture (any manylinux/musllinux/macOS version; universal2 fills both Macs).
A stable-ABI wheel fills the cells that can load it: ``abi3`` the GIL cells of its version and later,
PEP 803's ``abi3t`` the free-threaded cells of 3.15 and later; where it cannot load, the cell says why.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from packaging.tags import Tag
from packaging.utils import InvalidSdistFilename, parse_sdist_filename

from harness import UsageError
from harness.wheel.tags import STABLE_FT_ABI, WheelInfo, loads_stable_ft_abi, read_wheel

CellStatus = Literal["present", "missing", "wrong-abi"]

_CPYTHON_MINOR_RE = re.compile(r"cp3(\d+)t?")
_CELL_INTERPRETER_RE = re.compile(r"(?P<python>(?:cp|pp)\d{2,3})(?P<ft>t?)")
_PLATFORM_FAMILIES = ("manylinux", "musllinux", "macosx", "linux", "win")
_CELL_PLATFORM_RE = re.compile(rf"(?:{'|'.join(_PLATFORM_FAMILIES)})_[a-z0-9_]+|win32")
_LINUX_TAG_RE = re.compile(r"(?P<family>manylinux|musllinux)(?:1|2010|2014|_\d+_\d+)_(?P<arch>.+)")
_MACOS_TAG_RE = re.compile(r"macosx_\d+_\d+_(?P<arch>.+)")
_MACOS_MULTI_ARCH = {
    "universal2": ("arm64", "x86_64"),
    "intel": ("i386", "x86_64"),
    "fat": ("i386", "ppc"),
    "fat3": ("i386", "ppc", "x86_64"),
    "fat64": ("ppc64", "x86_64"),
    "universal": ("i386", "ppc", "ppc64", "x86_64"),
}
CELL_EXAMPLES = "cp311-manylinux_x86_64, cp314t-win_amd64, pp311-macosx_arm64"


@dataclass(frozen=True)
class Cell:
    """One expected release artefact: ``interpreter`` is the ABI it must carry (cp314, cp314t, pp311)."""

    interpreter: str
    platform: str

    @property
    def python_tag(self) -> str:
        return self.interpreter.rstrip("t")

    @property
    def free_threaded(self) -> bool:
        return self.interpreter.endswith("t")

    def __str__(self) -> str:
        return f"{self.interpreter}-{self.platform}"


@dataclass
class CellResult:
    """One expected cell's outcome; ``wheels`` fill it, or (wrong-abi) claim its slot with another ABI."""

    cell: Cell
    status: CellStatus
    wheels: list[str]
    reason: str = ""


@dataclass
class FilesetReport:
    """Every expected cell's outcome plus the folder's other contents (unmatched, invalid, sdists)."""

    directory: Path
    cells: list[CellResult]
    unmatched: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    sdists: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.invalid and all(result.status == "present" for result in self.cells)


def parse_cell(text: str) -> Cell:
    """``cp314t-manylinux_aarch64`` -> Cell; ``UsageError`` naming the bad part otherwise."""
    interpreter, _, platform = text.strip().lower().partition("-")
    match = _CELL_INTERPRETER_RE.fullmatch(interpreter)
    if match is None or (match["ft"] and interpreter.startswith("pp")):
        raise UsageError(f"cell {text!r}: interpreter {interpreter!r} should be like cp311, cp314t or pp311")
    if not _CELL_PLATFORM_RE.fullmatch(platform):
        raise UsageError(
            f"cell {text!r}: platform {platform!r} should be family_arch with family one of "
            f"{', '.join(_PLATFORM_FAMILIES)} ({CELL_EXAMPLES})"
        )
    return Cell(interpreter, platform)


def platform_keys(platform: str) -> set[str]:
    """The family_arch cells a platform tag fills: ``manylinux_2_28_x86_64`` -> {``manylinux_x86_64``}."""
    if match := _LINUX_TAG_RE.fullmatch(platform):
        return {f"{match['family']}_{match['arch']}"}
    if match := _MACOS_TAG_RE.fullmatch(platform):
        arch = match["arch"]
        return {f"macosx_{a}" for a in (arch, *_MACOS_MULTI_ARCH.get(arch, ()))}
    return {platform}


def tag_interpreter(tag: Tag) -> str | None:
    """The cell interpreter a tag fills exactly: its ABI for CPython (cp314/cp314t), its python tag for PyPy."""
    if tag.interpreter.startswith("cp") and tag.abi in (tag.interpreter, tag.interpreter + "t"):
        return tag.abi
    if tag.interpreter.startswith("pp") and tag.abi.startswith(f"pypy{tag.interpreter[2:]}_"):
        return tag.interpreter
    return None


def check(directory: Path, expected: Sequence[Cell]) -> FilesetReport:
    """Match every wheel in ``directory`` (not recursive) against the expected cells."""
    if not directory.is_dir():
        raise UsageError(f"fileset directory {directory} does not exist or is not a directory")
    wheels: list[WheelInfo] = []
    report = FilesetReport(directory=directory, cells=[])
    for path in sorted(directory.iterdir()):
        if path.name.endswith(".whl"):
            try:
                wheels.append(read_wheel(path))
            except UsageError as exc:
                report.invalid.append(str(exc))
        elif _is_sdist(path.name):
            report.sdists.append(path.name)
    filled: set[str] = set()
    for cell in expected:
        exact = [w.path.name for w in wheels if _fills(w, cell)]
        if exact:
            filled.update(exact)
            report.cells.append(CellResult(cell, "present", exact))
            continue
        claiming = [w for w in wheels if _claims(w, cell)]
        reason = "; ".join(dict.fromkeys(r for w in claiming if (r := _refusal(w, cell))))
        names = [w.path.name for w in claiming]
        report.cells.append(CellResult(cell, "wrong-abi" if claiming else "missing", names, reason))
    report.unmatched = [w.path.name for w in wheels if w.path.name not in filled]
    return report


def tag_fills(tag: Tag, cell: Cell) -> bool:
    """Whether one wheel tag loads on the cell's interpreter and platform (exact ABI, or a stable ABI it loads)."""
    if cell.platform not in platform_keys(tag.platform):
        return False
    if tag_interpreter(tag) == cell.interpreter:
        return True
    if not _stable_abi_in_reach(tag, cell):
        return False
    if tag.abi == STABLE_FT_ABI:
        return loads_stable_ft_abi(cell.interpreter)
    return tag.abi == "abi3" and not cell.free_threaded


def _stable_abi_in_reach(tag: Tag, cell: Cell) -> bool:
    """A stable-ABI tag for CPython 3.N reaches cells of CPython 3.N and later."""
    tag_minor, cell_minor = _cpython_minor(tag.interpreter), _cpython_minor(cell.interpreter)
    if tag.abi not in ("abi3", STABLE_FT_ABI) or tag_minor is None or cell_minor is None:
        return False
    return tag_minor <= cell_minor


def _cpython_minor(python_tag: str) -> int | None:
    match = _CPYTHON_MINOR_RE.fullmatch(python_tag)
    return int(match[1]) if match else None


def _fills(wheel: WheelInfo, cell: Cell) -> bool:
    return any(tag_fills(tag, cell) for tag in wheel.tags)


def _claims(wheel: WheelInfo, cell: Cell) -> bool:
    """Whether the wheel sits in the cell's slot by python tag (or a stable ABI in reach) and platform."""
    return any(
        (tag.interpreter == cell.python_tag or _stable_abi_in_reach(tag, cell))
        and cell.platform in platform_keys(tag.platform)
        for tag in wheel.tags
    )


def _refusal(wheel: WheelInfo, cell: Cell) -> str:
    """Why a stable-ABI wheel in the cell's slot cannot load there ("" for a plain wrong ABI)."""
    if STABLE_FT_ABI in wheel.abis and cell.free_threaded:
        return f"abi3t loads only on free-threaded CPython 3.15 or later, not {cell.interpreter}"
    if STABLE_FT_ABI in wheel.abis:
        return f"abi3t is the free-threaded stable ABI; tag the wheel abi3.abi3t if it also loads on {cell.interpreter}"
    if "abi3" in wheel.abis and cell.free_threaded:
        return f"a free-threaded build ({cell.interpreter}) cannot load abi3 extensions; abi3t (3.15+) is theirs"
    return ""


def _is_sdist(name: str) -> bool:
    try:
        parse_sdist_filename(name)
    except InvalidSdistFilename:
        return False
    return True


def render(report: FilesetReport) -> str:
    """The matrix (interpreters x platforms), each cell's detail, unmatched and invalid wheels, the sdist."""
    marks = {"present": "ok", "missing": "MISSING", "wrong-abi": "WRONG-ABI"}
    rows = list(dict.fromkeys(r.cell.interpreter for r in report.cells))
    columns = list(dict.fromkeys(r.cell.platform for r in report.cells))
    by_cell = {(r.cell.interpreter, r.cell.platform): marks[r.status] for r in report.cells}
    table = [["", *columns]] + [[row, *(by_cell.get((row, col), "-") for col in columns)] for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    lines = [f"fileset {report.directory}"]
    for line in table:
        lines.append("  " + "  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip())
    lines.append("")
    for result in report.cells:
        if result.status == "present":
            detail = ", ".join(result.wheels)
        elif result.status == "missing":
            detail = "no wheel"
        else:
            detail = f"no {result.cell.interpreter} wheel; the slot holds " + ", ".join(result.wheels)
            detail += f" ({result.reason})" if result.reason else ""
        lines.append(f"{result.cell!s:<32} {marks[result.status]:<9} {detail}")
    lines.append("wheels matching no expected cell: " + (", ".join(report.unmatched) or "none"))
    if report.invalid:
        lines += ["invalid wheels:"] + [f"  {reason}" for reason in report.invalid]
    lines.append("sdist: " + (", ".join(report.sdists) or "none"))
    counts = {status: sum(r.status == status for r in report.cells) for status in marks}
    summary = ", ".join(f"{counts[s]} {s}" for s in marks)
    if report.invalid:
        summary += f", {len(report.invalid)} invalid"
    lines.append(("PASS" if report.ok else "FAIL") + f": {summary}")
    return "\n".join(lines)
