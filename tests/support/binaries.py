"""Minimal shared-object images with a given export table, for formats this machine cannot build.

Each builder writes only what :mod:`harness.wheel.extensions` reads: ELF section headers with ``.dynsym`` and
``.dynstr`` (32/64-bit, either byte order), a Mach-O ``LC_SYMTAB`` (optionally in a universal wrapper) and a
PE32+ export directory. ``undefined`` names are imported, not exported (an extension would import ``Py*``).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence


def _strings(names: Sequence[str]) -> tuple[bytes, list[int]]:
    table, offsets = b"\0", []
    for name in names:
        offsets.append(len(table))
        table += name.encode() + b"\0"
    return table, offsets


def elf_image(exported: Sequence[str], undefined: Sequence[str] = (), *, is64: bool = True, big: bool = False) -> bytes:
    """An ELF shared object whose ``.dynsym`` defines ``exported`` and references ``undefined``."""
    order = ">" if big else "<"
    strtab, offsets = _strings([*exported, *undefined])
    symbol = order + ("IBBHQQ" if is64 else "IIIBBH")
    global_func = (1 << 4) | 2
    symbols = struct.pack(symbol, *([0] * 6))
    for index, offset in enumerate(offsets):
        shndx = 1 if index < len(exported) else 0
        fields = (offset, global_func, 0, shndx, 0, 0) if is64 else (offset, 0, 0, global_func, 0, shndx)
        symbols += struct.pack(symbol, *fields)
    header_size = 64 if is64 else 52
    section = order + ("IIQQQQIIQQ" if is64 else "IIIIIIIIII")
    strtab_at = header_size
    symbols_at = strtab_at + len(strtab)
    sections_at = symbols_at + len(symbols)
    sections = struct.pack(section, *([0] * 10))
    sections += struct.pack(section, 0, 11, 0, 0, symbols_at, len(symbols), 2, 1, 8, struct.calcsize(symbol))
    sections += struct.pack(section, 0, 3, 0, 0, strtab_at, len(strtab), 0, 0, 1, 0)
    ident = b"\x7fELF" + bytes([2 if is64 else 1, 2 if big else 1, 1]) + bytes(9)
    address = "Q" if is64 else "I"
    header = ident + struct.pack(
        order + f"HHI{address}{address}{address}IHHHHHH",
        3, 62, 1, 0, 0, sections_at, 0, header_size, 0, 0, struct.calcsize(section), 3, 0,
    )
    return header + strtab + symbols + sections


def macho_image(exported: Sequence[str], undefined: Sequence[str] = (), *, universal: bool = False) -> bytes:
    """A 64-bit little-endian Mach-O whose ``LC_SYMTAB`` defines ``_<exported>``; optionally wrapped fat."""
    strtab, offsets = _strings([f"_{name}" for name in (*exported, *undefined)])
    nlists = b"".join(
        struct.pack("<IBBHQ", offset, 0x0F if index < len(exported) else 0x01, 1 if index < len(exported) else 0, 0, 0)
        for index, offset in enumerate(offsets)
    )
    symoff = 32 + 24
    stroff = symoff + len(nlists)
    header = struct.pack("<IiiIIIII", 0xFEEDFACF, 0x01000007, 3, 6, 1, 24, 0, 0)
    symtab = struct.pack("<IIIIII", 2, 24, symoff, len(offsets), stroff, len(strtab))
    image = header + symtab + nlists + strtab
    if not universal:
        return image
    return struct.pack(">II", 0xCAFEBABE, 1) + struct.pack(">IIIII", 0x01000007, 3, 28, len(image), 0) + image


def pe_image(exported: Sequence[str]) -> bytes:
    """A PE32+ DLL with one section holding an export directory that names ``exported``."""
    section_rva, raw_at = 0x1000, 0x200
    strings_at = 40 + 4 * len(exported)
    names = b""
    pointers = []
    for name in exported:
        pointers.append(section_rva + strings_at + len(names))
        names += name.encode() + b"\0"
    export = struct.pack("<IIHHIIIIIII", 0, 0, 0, 0, 0, 1, len(exported), len(exported), 0, section_rva + 40, 0)
    raw = export + struct.pack(f"<{len(exported)}I", *pointers) + names
    optional = bytearray(240)
    struct.pack_into("<H", optional, 0, 0x20B)
    struct.pack_into("<I", optional, 108, 16)
    struct.pack_into("<II", optional, 112, section_rva, len(raw))
    coff = struct.pack("<HHIIIHH", 0x8664, 1, 0, 0, 0, len(optional), 0x2022)
    section = struct.pack("<8sIIIIIIHHI", b".edata", len(raw), section_rva, len(raw), raw_at, 0, 0, 0, 0, 0)
    head = b"MZ" + bytes(0x3A) + struct.pack("<I", 0x40) + b"PE\0\0" + coff + bytes(optional) + section
    return head + bytes(raw_at - len(head)) + raw
