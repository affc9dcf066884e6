"""A wheel's identity and its fit to an interpreter: tags from the filename and the WHEEL file, parsed with
``packaging`` (never by substring), the exact ABI, installability asked inside the target interpreter, and
the ABI suffix of every extension module inside. Every problem is bad input: a one-line ``UsageError``.
"""

from __future__ import annotations

import email.parser
import hashlib
import re
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import packaging
from packaging.tags import Tag, parse_tag
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from harness import UsageError
from harness.interpreter.children import TIMEOUT_S, ask
from harness.wheel.extensions import is_python_extension, module_name_of

_MARKER = "FT-HARNESS-TAGS:"
# Extension-module ABI markers: "mod.cpython-314t-x86_64-linux-gnu.so", "mod.cp314t-win_amd64.pyd", "mod.abi3.so",
# and PEP 803's free-threaded stable ABI "mod.abi3t.so" (CPython 3.15+).
_EXTENSION_ABI_RE = re.compile(
    r"\.(?:cpython-(?P<cpython>\d+t?)-[^.]+|cp(?P<windows>\d+t?)-[^.]+|(?P<stable>abi3t?))\.(?:so|pyd)$"
)
STABLE_FT_ABI = "abi3t"
STABLE_FT_FIRST_MINOR = 15  # PEP 803: abi3t exists from CPython 3.15 on

# Runs inside the target interpreter with our ``packaging`` appended to its path (stdlib still wins) and the
# wheel's tags as arguments; answers with the interpreter's own ABI (that of its most specific tag) and its
# platform (the first that names a family: manylinux/musllinux rather than the bare linux_<arch> tag).
_ASK_SOURCE = f"""
import json, sys
sys.path.append(sys.argv[1])
from packaging.tags import sys_tags
tags = list(sys_tags())
wanted = set(sys.argv[2:])
print({_MARKER!r} + json.dumps({{
    "abi": tags[0].abi if tags else None,
    "platform": next((t.platform for t in tags if not t.platform.startswith("linux_")),
                     tags[0].platform if tags else None),
    "supported": sorted(str(t) for t in tags if str(t) in wanted),
}}))
"""


@dataclass(frozen=True)
class WheelInfo:
    """What a wheel claims about itself, already checked for internal consistency."""

    path: Path
    distribution: str
    version: str
    tags: frozenset[Tag]
    extension_modules: tuple[str, ...]
    libraries: tuple[str, ...] = ()  # shared objects without an init symbol: ctypes/cffi libraries, not judged

    @property
    def abis(self) -> frozenset[str]:
        return frozenset(tag.abi for tag in self.tags)

    @property
    def tag_text(self) -> str:
        return ", ".join(sorted(str(tag) for tag in self.tags))

    def sha256(self) -> str:
        """The hex sha256 of the wheel file: what ties a gate report to the very file a release ships."""
        digest = hashlib.sha256()
        with open(self.path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
        return digest.hexdigest()

    def to_json(self) -> dict[str, object]:
        return {
            "path": str(self.path),
            "file": self.path.name,
            "distribution": self.distribution,
            "version": self.version,
            "tags": sorted(str(tag) for tag in self.tags),
            "extension_modules": list(self.extension_modules),
            "libraries": list(self.libraries),
        }


@dataclass(frozen=True)
class InterpreterTags:
    """The target interpreter's answer: its own ABI tag and which of the wheel's tags it would install."""

    abi: str
    supported: frozenset[str]
    platform: str | None = None


def read_wheel(path: Path) -> WheelInfo:
    """Read and cross-check a wheel: filename tags must equal the WHEEL file's ``Tag`` lines, and the
    ``.dist-info`` must hold WHEEL, METADATA and RECORD for the distribution the filename names."""
    name = path.name
    if not path.is_file():
        raise UsageError(f"wheel {path} does not exist or is not a file")
    try:
        distribution, version, _build, filename_tags = parse_wheel_filename(name)
    except InvalidWheelFilename as exc:
        raise UsageError(f"{name} is not a valid wheel filename ({exc})") from None
    try:
        with zipfile.ZipFile(path) as archive:
            broken = archive.testzip()
            if broken is not None:
                raise UsageError(f"{name} is corrupt: member {broken} fails its CRC check")
            members = archive.namelist()
            dist_info = _dist_info_dir(name, members, distribution)
            wheel_text = archive.read(f"{dist_info}/WHEEL").decode("utf-8")
            metadata_text = archive.read(f"{dist_info}/METADATA").decode("utf-8")
            shared = [m for m in members if is_extension_module(m)]
            libraries = {m for m in shared if is_python_extension(archive.read(m), module_name_of(m)) is False}
    except (zipfile.BadZipFile, EOFError, OSError, UnicodeDecodeError, KeyError) as exc:
        raise UsageError(f"{name} is not a readable wheel: {_one_line(exc)}") from None
    metadata_name = email.parser.Parser().parsestr(metadata_text, headersonly=True).get("Name")
    if metadata_name is None or canonicalize_name(metadata_name) != distribution:
        raise UsageError(f"{name}: METADATA names distribution {metadata_name!r}, the filename names {distribution!r}")
    wheel_tags = _wheel_file_tags(name, wheel_text)
    if wheel_tags != filename_tags:
        raise UsageError(
            f"{name}: filename tags {_tags_text(filename_tags)} disagree with the WHEEL file's Tag lines "
            f"{_tags_text(wheel_tags)} (renamed wheel?)"
        )
    return WheelInfo(
        path=path.resolve(),
        distribution=str(distribution),
        version=str(version),
        tags=frozenset(filename_tags),
        extension_modules=tuple(sorted(m for m in shared if m not in libraries)),
        libraries=tuple(sorted(libraries)),
    )


def is_extension_module(member: str) -> bool:
    """Whether an archive or RECORD path may be an importable extension module: a shared object outside the
    vendored ``*.libs`` folders (whether it exports an init symbol is :mod:`harness.extensions`' question)."""
    pure = PurePosixPath(member)
    if pure.suffix not in (".so", ".pyd"):
        return False
    return not any(part.endswith((".libs", ".dist-info", ".data")) for part in pure.parts[:-1])


def check_abi(info: WheelInfo, expected_abi: str) -> None:
    """The wheel must carry exactly ``expected_abi`` and no other ABI tag (``abi3t`` may come with ``abi3``,
    PEP 803's ``abi3.abi3t`` wheel that loads on both builds)."""
    if info.abis == {expected_abi} or (expected_abi == STABLE_FT_ABI and info.abis == {"abi3", STABLE_FT_ABI}):
        return
    carried = ", ".join(sorted(info.abis))
    hint = ""
    if expected_abi.endswith("t") and info.abis == {expected_abi[:-1]}:
        hint = " (a GIL wheel offered to the free-threaded gate)"
    elif info.abis == {expected_abi + "t"}:
        hint = " (a free-threaded wheel offered to a GIL gate)"
    elif STABLE_FT_ABI in info.abis:
        first = f"3.{STABLE_FT_FIRST_MINOR}"
        hint = f" (abi3t is the free-threaded stable ABI of CPython {first}+: it cannot load on {expected_abi})"
    elif expected_abi.endswith("t") and "abi3" in info.abis:
        hint = " (a free-threaded build cannot load abi3 extensions; PEP 803's abi3t is their stable ABI)"
    raise UsageError(f"{info.path.name} carries ABI tag {carried}, expected exactly {expected_abi}{hint}")


def check_installable(info: WheelInfo, answer: InterpreterTags, python: str) -> None:
    """At least one of the wheel's tags must be among the target interpreter's ``sys_tags()``."""
    if not answer.supported:
        raise UsageError(
            f"{info.path.name} is not installable on {python}: none of its tags ({info.tag_text}) "
            f"is among that interpreter's sys_tags() (its ABI is {answer.abi})"
        )


def check_extension_suffixes(info: WheelInfo, expected_abi: str) -> None:
    """Every extension module that names an ABI in its suffix must name ``expected_abi``."""
    for member in info.extension_modules:
        built_for = extension_abi(member)
        if built_for is not None and built_for != expected_abi:
            raise UsageError(
                f"{info.path.name}: extension module {member} is built for {built_for}, expected {expected_abi}"
            )


def extension_abi(member: str) -> str | None:
    """The ABI an extension module's file name declares (``cp314t``, ``cp314``, ``abi3``), or None if untagged."""
    match = _EXTENSION_ABI_RE.search(member)
    if match is None:
        return None
    if match["stable"]:
        return match["stable"]
    return "cp" + (match["cpython"] or match["windows"])


def ask_interpreter(python: str, tags: frozenset[Tag]) -> InterpreterTags:
    """Ask ``python`` itself for its ABI and which of ``tags`` its ``packaging.tags.sys_tags()`` accepts."""
    packaging_parent = str(Path(packaging.__file__).resolve().parent.parent)
    try:
        answer = ask(python, _ASK_SOURCE, packaging_parent, *sorted(str(tag) for tag in tags), marker=_MARKER,
                     timeout_s=TIMEOUT_S["wheel tags"], flags=["-I"])
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UsageError(f"cannot ask {python} for its tags: {_one_line(exc)}") from None
    if answer.data is None or not answer.data["abi"]:
        raise UsageError(f"cannot ask {python} for its tags: {answer.last_error_line()}")
    return InterpreterTags(abi=answer.data["abi"], supported=frozenset(answer.data["supported"]),
                           platform=answer.data.get("platform"))


def check_wheel(info: WheelInfo, *, python: str, expected_abi: str | None = None) -> str:
    """All checks of a wheel against a target interpreter; returns the ABI it was held to.

    ``expected_abi`` defaults to the interpreter's own ABI (``cp314t`` on 3.14t), or ``none`` for a pure-Python
    wheel (``py3-none-any``).
    """
    answer = ask_interpreter(python, info.tags)
    abi = expected_abi or gate_abi(info, answer.abi)
    if expected_abi is None and info.abis == {"none"}:
        abi = "none"  # a pure-Python wheel fits any ABI; its modules are still audited (and stressed)
    check_abi(info, abi)
    check_installable(info, answer, python)
    check_extension_suffixes(info, abi)
    return abi


def gate_abi(info: WheelInfo, interpreter_abi: str) -> str:
    """The ABI a wheel is held to on an interpreter: its own ABI, or ``abi3t`` for a stable-ABI wheel on a
    free-threaded CPython 3.15 or later (PEP 803)."""
    if STABLE_FT_ABI in info.abis and loads_stable_ft_abi(interpreter_abi):
        return STABLE_FT_ABI
    return interpreter_abi


def loads_stable_ft_abi(interpreter_abi: str) -> bool:
    """Whether an interpreter ABI (``cp315t``) is a free-threaded CPython recent enough for ``abi3t``."""
    match = re.fullmatch(r"cp3(\d+)t", interpreter_abi)
    return match is not None and int(match[1]) >= STABLE_FT_FIRST_MINOR


def _dist_info_dir(name: str, members: list[str], distribution: str) -> str:
    candidates = {
        member.split("/", 1)[0]
        for member in members
        if member.split("/", 1)[0].endswith(".dist-info") and member.count("/") == 1
    }
    matching = [d for d in candidates if canonicalize_name(d[: -len(".dist-info")].rsplit("-", 1)[0]) == distribution]
    if len(matching) != 1:
        found = ", ".join(sorted(candidates)) or "none"
        raise UsageError(f"{name} has no single .dist-info directory for {distribution!r} (found: {found})")
    for required in ("WHEEL", "METADATA", "RECORD"):
        if f"{matching[0]}/{required}" not in members:
            raise UsageError(f"{name} is missing {matching[0]}/{required}")
    return matching[0]


def _wheel_file_tags(name: str, wheel_text: str) -> frozenset[Tag]:
    lines = email.parser.Parser().parsestr(wheel_text, headersonly=True).get_all("Tag") or []
    if not lines:
        raise UsageError(f"{name}: the WHEEL file has no Tag lines")
    tags: set[Tag] = set()
    for line in lines:
        tags.update(parse_tag(line.strip()))
    return frozenset(tags)


def _tags_text(tags: frozenset[Tag]) -> str:
    return ",".join(sorted(str(tag) for tag in tags))


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
