#!/usr/bin/env python3
"""Corrupts the boot archive inside a packed root server ELF (tests/os/root: the root server must
report a clear boot error, not crash). Modes:
  archive   flip one byte of the boot spec without repairing anything (archive checksum fails)
  priority  set component 0's priority to 0 and repair both checksums (the spec's own validation
            must catch the value)"""
import struct
import sys


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def main() -> None:
    mode, src, dst = sys.argv[1:4]
    elf = bytearray(open(src, "rb").read())
    # The archive is appended last; the magic also occurs in the root server's code and debug info.
    arc = elf.rfind(b"KEELARC1")
    if arc < 0:
        sys.exit("corrupt.py: no boot archive in " + src)
    total = struct.unpack_from("<Q", elf, arc + 24)[0]
    spec_off = struct.unpack_from("<Q", elf, arc + 64 + 56)[0]
    spec = arc + spec_off
    assert elf[spec:spec + 8] == b"KEELSPEC"
    spec_total = struct.unpack_from("<I", elf, spec + 12)[0]
    if mode == "archive":
        elf[spec + 200] ^= 0xFF
    elif mode == "priority":
        comp_table = struct.unpack_from("<I", elf, spec + 64 + 12 * 1)[0]
        elf[spec + comp_table + 20] = 0
        struct.pack_into("<I", elf, spec + 16, crc32c(bytes(elf[spec + 20:spec + spec_total])))
        struct.pack_into("<I", elf, arc + 32, crc32c(bytes(elf[arc + 36:arc + total])))
    else:
        sys.exit("corrupt.py: unknown mode " + mode)
    open(dst, "wb").write(elf)


if __name__ == "__main__":
    main()
