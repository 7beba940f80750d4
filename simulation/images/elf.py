"""Just enough ELF to put a relocated interpreter in an image: a binary's search path for its
shared libraries (DT_RUNPATH / DT_RPATH), read and rewritten in place.

pyenv links `python3.13` with RUNPATH `<prefix>/lib`; the image keeps it under `/usr/local`,
where upstream's Dockerfile links it with `-rpath='$ORIGIN/../lib'`. The new path is written
over the old one in the dynamic string table (it must not be longer), so nothing else in the
file moves. The linker may share a string's tail with another name; then the patch refuses.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

PT_LOAD, PT_DYNAMIC = 1, 2
DT_NULL, DT_NEEDED, DT_STRTAB, DT_STRSZ, DT_SONAME, DT_RPATH, DT_RUNPATH = 0, 1, 5, 10, 14, 15, 29
SHT_DYNSYM = 11


class ElfError(ValueError):
    pass


@dataclass(frozen=True)
class _Dynamic:
    strtab: int  # file offset of the dynamic string table
    strsz: int
    entries: tuple[tuple[int, int], ...]  # (tag, value)


def _header(data: bytes) -> tuple[int, int, int, int, int, int]:
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ElfError("not a 64-bit little-endian ELF file")
    phoff, shoff = struct.unpack_from("<QQ", data, 0x20)
    phentsize, phnum, shentsize, shnum = struct.unpack_from("<HHHH", data, 0x36)
    return phoff, phentsize, phnum, shoff, shentsize, shnum


def _dynamic(data: bytes) -> _Dynamic:
    phoff, phentsize, phnum, *_ = _header(data)
    loads: list[tuple[int, int, int]] = []
    dynamic: tuple[int, int] | None = None
    for i in range(phnum):
        p_type, _flags, p_offset, p_vaddr, _paddr, p_filesz = struct.unpack_from(
            "<IIQQQQ", data, phoff + i * phentsize
        )
        if p_type == PT_LOAD:
            loads.append((p_vaddr, p_offset, p_filesz))
        elif p_type == PT_DYNAMIC:
            dynamic = (p_offset, p_filesz)
    if dynamic is None:
        raise ElfError("no dynamic section (a static binary has no library search path)")
    entries = []
    for offset in range(dynamic[0], dynamic[0] + dynamic[1], 16):
        tag, value = struct.unpack_from("<qQ", data, offset)
        if tag == DT_NULL:
            break
        entries.append((tag, value))
    tags = dict(entries)

    def file_offset(vaddr: int) -> int:
        for start, offset, size in loads:
            if start <= vaddr < start + size:
                return offset + vaddr - start
        raise ElfError(f"address {vaddr:#x} is in no loaded segment")

    return _Dynamic(file_offset(tags[DT_STRTAB]), tags[DT_STRSZ], tuple(entries))


def _string(data: bytes, dynamic: _Dynamic, offset: int) -> str:
    start = dynamic.strtab + offset
    return data[start : data.index(b"\0", start)].decode()


def runpath(data: bytes) -> str | None:
    """The binary's DT_RUNPATH (or DT_RPATH), or None."""
    dynamic = _dynamic(data)
    for tag, value in dynamic.entries:
        if tag in (DT_RUNPATH, DT_RPATH):
            return _string(data, dynamic, value)
    return None


def _dynsym_names(data: bytes) -> list[int]:
    """The string offsets of the dynamic symbols' names (they share the string table)."""
    *_, shoff, shentsize, shnum = _header(data)
    names = []
    for i in range(shnum):
        fields = struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize)
        sh_type, sh_offset, sh_size, sh_entsize = fields[1], fields[4], fields[5], fields[9]
        if sh_type == SHT_DYNSYM and sh_entsize:
            for offset in range(sh_offset, sh_offset + sh_size, sh_entsize):
                names.append(struct.unpack_from("<I", data, offset)[0])
    return names


def with_runpath(data: bytes, new: str) -> bytes:
    """`data` with its RUNPATH (or RPATH) replaced by `new`, which must not be longer."""
    dynamic = _dynamic(data)
    found = [(tag, value) for tag, value in dynamic.entries if tag in (DT_RUNPATH, DT_RPATH)]
    if len(found) != 1:
        raise ElfError(f"expected one RUNPATH or RPATH, found {len(found)}")
    start = found[0][1]
    old = _string(data, dynamic, start)
    encoded = new.encode()
    if len(encoded) > len(old):
        raise ElfError(f"{new!r} is longer than {old!r}: use patchelf instead")
    shared = [
        value
        for tag, value in dynamic.entries
        if tag in (DT_NEEDED, DT_SONAME, DT_RPATH, DT_RUNPATH) and start < value <= start + len(old)
    ] + [name for name in _dynsym_names(data) if start < name <= start + len(old)]
    if shared:
        raise ElfError(f"another name shares the tail of {old!r}: use patchelf instead")
    at = dynamic.strtab + start
    padded = encoded + b"\0" * (len(old) - len(encoded))
    return data[:at] + padded + data[at + len(old) :]
