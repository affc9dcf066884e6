"""Tiny hand-made wheels for the wheel-tag, fileset and gate tests (a few bytes each, no build needed)."""

from __future__ import annotations

import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path


def make_wheel(
    directory: Path,
    filename: str,
    *,
    wheel_tags: Sequence[str] | None = None,
    files: Mapping[str, bytes] | None = None,
    metadata_name: str | None = None,
    requires: Sequence[str] = (),
    metadata_lines: Sequence[str] = (),
    omit: Sequence[str] = (),
) -> Path:
    """Write a wheel named ``filename``; its WHEEL ``Tag`` lines default to the tags the filename spells.

    ``requires`` become ``Requires-Dist`` lines, ``metadata_lines`` (``"Classifier: ..."``) more METADATA
    lines; ``omit`` leaves out dist-info files by name (``"RECORD"``).
    """
    stem = filename[: -len(".whl")]
    name, version, *_, python, abi, platform = stem.split("-")
    if wheel_tags is None:
        wheel_tags = [f"{p}-{a}-{pl}" for p in python.split(".") for a in abi.split(".") for pl in platform.split(".")]
    dist_info = f"{name}-{version}.dist-info"
    wheel_file = "Wheel-Version: 1.0\nGenerator: ft-harness-tests\nRoot-Is-Purelib: false\n"
    wheel_file += "".join(f"Tag: {tag}\n" for tag in wheel_tags)
    content = dict(files or {f"{name}/__init__.py": b""})
    content[f"{dist_info}/WHEEL"] = wheel_file.encode()
    metadata = f"Metadata-Version: 2.1\nName: {metadata_name or name}\nVersion: {version}\n"
    metadata += "".join(f"Requires-Dist: {requirement}\n" for requirement in requires)
    metadata += "".join(f"{line}\n" for line in metadata_lines)
    content[f"{dist_info}/METADATA"] = metadata.encode()
    content[f"{dist_info}/RECORD"] = "".join(f"{member},,\n" for member in content).encode()
    content = {member: data for member, data in content.items() if member.rsplit("/", 1)[-1] not in omit}
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / filename
    with zipfile.ZipFile(path, "w") as archive:
        for member, data in content.items():
            archive.writestr(member, data)
    return path
