"""Is a shared object in a wheel a Python extension module, or a plain library (loaded with ctypes/cffi)?

An extension module ``name`` exports ``PyInit_<name>`` (or ``PyModExport_<name>``; ``PyInitU_``/``PyModExportU_``
with the punycode of a non-ASCII name). The export table is read in pure Python: ELF ``.dynsym`` (32/64-bit,
both byte orders), Mach-O ``LC_SYMTAB`` (thin or universal) and the PE export directory. A file in none of
these formats, or one whose table cannot be read (an ELF without section headers), cannot be told apart and
is taken for an extension module: the caller keeps judging it.
"""

from __future__ import annotations

import struct
from pathlib import Path, PurePath


class _Malformed(Exception):
    """The file claims a known format but its tables point outside it."""


def init_symbols(module_name: str) -> frozenset[str]:
    """The entry points CPython looks for when importing an extension module named ``module_name``."""
    short = module_name.rsplit(".", 1)[-1]
    if short.isascii():
        return frozenset({f"PyInit_{short}", f"PyModExport_{short}"})
    encoded = short.encode("punycode").decode("ascii").replace("-", "_")
    return frozenset({f"PyInitU_{encoded}", f"PyModExportU_{encoded}"})


def module_name_of(path: str | PurePath) -> str:
    """The import name a shared object's file name gives (``_speed.cpython-314t-x86_64-linux-gnu.so`` -> ``_speed``)."""
    return PurePath(path).name.split(".", 1)[0]


def exported_symbols(data: bytes) -> frozenset[str] | None:
    """Names a shared object exports, or None when its format is unknown or its table cannot be read."""
    try:
        if data[:4] == b"\x7fELF":
            return _elf_exports(data)
        if data[:2] == b"MZ":
            return _pe_exports(data)
        if data[:4] in _MACHO_MAGICS or data[:4] in _FAT_MAGICS:
            return _macho_exports(data)
    except (struct.error, _Malformed, IndexError, UnicodeDecodeError):
        return None
    return None


def is_python_extension(data: bytes, module_name: str) -> bool | None:
    """True if ``data`` exports the module's init symbol, False if its exports lack it, None if unreadable."""
    exports = exported_symbols(data)
    if exports is None:
        return None
    return not exports.isdisjoint(init_symbols(module_name))


def file_is_extension(path: Path) -> bool:
    """Whether the shared object at ``path`` must be judged as an extension module (True unless it is
    readable and clearly lacks the init symbol; a missing or unreadable file is judged)."""
    try:
        data = path.read_bytes()
    except OSError:
        return True
    return is_python_extension(data, module_name_of(path)) is not False


def _cstring(data: bytes, offset: int) -> str:
    if not 0 <= offset < len(data):
        raise _Malformed(f"string offset {offset} outside the file")
    end = data.find(b"\0", offset)
    return data[offset : end if end >= 0 else len(data)].decode("utf-8", "replace")


def _slice(data: bytes, offset: int, size: int) -> bytes:
    if offset < 0 or size < 0 or offset + size > len(data):
        raise _Malformed(f"table at {offset}+{size} outside the file")
    return data[offset : offset + size]


# ELF: section headers, then the SHT_DYNSYM section and the string table it links to.
_SHT_DYNSYM = 11
_STB_EXPORTED = {1, 2, 10}  # GLOBAL, WEAK, GNU_UNIQUE
_STV_EXPORTED = {0, 3}  # DEFAULT, PROTECTED


def _elf_exports(data: bytes) -> frozenset[str] | None:
    is64 = {1: False, 2: True}.get(data[4])
    order = {1: "<", 2: ">"}.get(data[5])
    if is64 is None or order is None:
        raise _Malformed("bad ELF class or byte order")
    if is64:
        shoff, = struct.unpack_from(order + "Q", data, 0x28)
        shentsize, shnum = struct.unpack_from(order + "HH", data, 0x3A)
        section_format, symbol_format = order + "IIQQQQIIQQ", order + "IBBHQQ"
    else:
        shoff, = struct.unpack_from(order + "I", data, 0x20)
        shentsize, shnum = struct.unpack_from(order + "HH", data, 0x2E)
        section_format, symbol_format = order + "IIIIIIIIII", order + "IIIBBH"
    if shoff == 0 or shnum == 0:
        return None  # section headers stripped: the dynamic segment alone is not read here
    sections = [struct.unpack_from(section_format, data, shoff + i * shentsize) for i in range(shnum)]
    names: set[str] = set()
    symbol_size = struct.calcsize(symbol_format)
    for section in sections:
        if section[1] != _SHT_DYNSYM:
            continue
        offset, size, link = section[4], section[5], section[6]
        table = _slice(data, offset, size)
        strtab_offset = sections[link][4]
        for start in range(0, size - symbol_size + 1, symbol_size):
            fields = struct.unpack_from(symbol_format, table, start)
            if is64:
                st_name, st_info, st_other, st_shndx = fields[:4]
            else:
                st_name, st_info, st_other, st_shndx = fields[0], fields[3], fields[4], fields[5]
            if st_shndx != 0 and st_info >> 4 in _STB_EXPORTED and st_other & 3 in _STV_EXPORTED:
                names.add(_cstring(data, strtab_offset + st_name))
    return frozenset(names)


# Mach-O: LC_SYMTAB's nlist entries that are external and defined in a section (names carry a leading "_").
_MACHO_MAGICS = {b"\xfe\xed\xfa\xce", b"\xce\xfa\xed\xfe", b"\xfe\xed\xfa\xcf", b"\xcf\xfa\xed\xfe"}
_FAT_MAGICS = {b"\xca\xfe\xba\xbe", b"\xca\xfe\xba\xbf"}
_LC_SYMTAB = 0x2
_N_STAB, _N_TYPE, _N_EXT, _N_SECT = 0xE0, 0x0E, 0x01, 0x0E


def _macho_exports(data: bytes) -> frozenset[str]:
    if data[:4] in _FAT_MAGICS:
        count, = struct.unpack_from(">I", data, 4)
        fat64 = data[:4] == b"\xca\xfe\xba\xbf"
        entry_format = ">IIQQII" if fat64 else ">IIIII"
        entry_size = struct.calcsize(entry_format)
        names: set[str] = set()
        for index in range(count):
            _cpu, _sub, offset, size, *_ = struct.unpack_from(entry_format, data, 8 + index * entry_size)
            names |= _macho_exports(_slice(data, offset, size))
        return frozenset(names)
    order = ">" if data[:2] == b"\xfe\xed" else "<"
    is64 = data[:4] in (b"\xfe\xed\xfa\xcf", b"\xcf\xfa\xed\xfe")
    ncmds, = struct.unpack_from(order + "I", data, 16)
    offset = 32 if is64 else 28
    nlist_format = order + ("IBBHQ" if is64 else "IBBHI")
    nlist_size = struct.calcsize(nlist_format)
    names = set()
    for _ in range(ncmds):
        cmd, cmdsize = struct.unpack_from(order + "II", data, offset)
        if cmd == _LC_SYMTAB:
            symoff, nsyms, stroff, _strsize = struct.unpack_from(order + "IIII", data, offset + 8)
            table = _slice(data, symoff, nsyms * nlist_size)
            for index in range(nsyms):
                n_strx, n_type, *_ = struct.unpack_from(nlist_format, table, index * nlist_size)
                if not n_type & _N_STAB and n_type & _N_EXT and n_type & _N_TYPE == _N_SECT:
                    names.add(_cstring(data, stroff + n_strx).removeprefix("_"))
        if cmdsize < 8:
            raise _Malformed("Mach-O load command smaller than its header")
        offset += cmdsize
    return frozenset(names)


# PE: the export directory (data directory 0), its name pointer table, RVAs mapped through the section table.
_PE_DIRECTORIES_AT = {0x10B: 96, 0x20B: 112}


def _pe_exports(data: bytes) -> frozenset[str]:
    pe_offset, = struct.unpack_from("<I", data, 0x3C)
    if _slice(data, pe_offset, 4) != b"PE\0\0":
        raise _Malformed("MZ file without a PE header")
    coff = pe_offset + 4
    section_count, = struct.unpack_from("<H", data, coff + 2)
    optional_size, = struct.unpack_from("<H", data, coff + 16)
    optional = coff + 20
    magic, = struct.unpack_from("<H", data, optional)
    if magic not in _PE_DIRECTORIES_AT:
        raise _Malformed(f"unknown PE optional header magic {magic:#x}")
    directory_count, = struct.unpack_from("<I", data, optional + _PE_DIRECTORIES_AT[magic] - 4)
    if directory_count == 0:
        return frozenset()
    export_rva, export_size = struct.unpack_from("<II", data, optional + _PE_DIRECTORIES_AT[magic])
    if export_rva == 0 or export_size == 0:
        return frozenset()
    sections = [struct.unpack_from("<8sIIII", data, optional + optional_size + 40 * i) for i in range(section_count)]

    def at(rva: int) -> int:
        for _name, virtual_size, virtual_address, raw_size, raw_pointer in sections:
            if virtual_address <= rva < virtual_address + max(virtual_size, raw_size):
                return raw_pointer + rva - virtual_address
        raise _Malformed(f"RVA {rva:#x} in no section")

    export = at(export_rva)
    name_count, = struct.unpack_from("<I", data, export + 24)
    names_rva, = struct.unpack_from("<I", data, export + 32)
    pointers = struct.unpack_from(f"<{name_count}I", data, at(names_rva)) if name_count else ()
    return frozenset(_cstring(data, at(rva)) for rva in pointers)
