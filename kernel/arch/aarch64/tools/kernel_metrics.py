#!/usr/bin/env python3
"""Kernel size figures for `make bench` (BENCH lines, see scripts/bench.sh).

  kernel_metrics.py lines KERNEL_DIR   -> BENCH kernel.lines <n> lines
      Every line (comments and blank lines included: the strict count) of the kernel's C++ and
      assembly sources under KERNEL_DIR: *.cc *.h *.S *.s, excluding tests (any `test/` folder,
      *_test.cc, fake_arch.cc). Also prints kernel.sloc: lines that are neither blank nor only a
      comment, for comparison with SLOCCount-style figures.
  kernel_metrics.py image KERNEL_ELF [--exclude-section .keel_root_elf]
      -> BENCH kernel.image.bytes <n> bytes
      The bytes QEMU loads: the sum of the PT_LOAD segments' file sizes, minus any embedded
      root-task ELF (section .keel_root_elf), i.e. the kernel alone. .bss is not counted.
"""
import os
import struct
import sys

SOURCE_EXT = (".cc", ".h", ".S", ".s")


def is_test(path):
    parts = path.split(os.sep)
    name = parts[-1]
    return "test" in parts[:-1] or name.endswith("_test.cc") or name == "fake_arch.cc"


def count_lines(kernel_dir):
    total = sloc = 0
    for root, _, files in os.walk(kernel_dir):
        for f in sorted(files):
            path = os.path.join(root, f)
            rel = os.path.relpath(path, kernel_dir)
            if not f.endswith(SOURCE_EXT) or is_test(rel):
                continue
            in_block = False
            with open(path, encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    total += 1
                    s = line.strip()
                    if in_block:
                        if "*/" in s:
                            in_block = False
                            s = s.split("*/", 1)[1].strip()
                        else:
                            continue
                    if s.startswith("/*"):
                        if "*/" not in s:
                            in_block = True
                        continue
                    if s == "" or s.startswith("//"):
                        continue
                    sloc += 1
    return total, sloc


def elf_loaded_bytes(path, exclude):
    with open(path, "rb") as fh:
        data = fh.read()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise SystemExit(f"kernel_metrics: {path}: not a little-endian ELF64 file")
    (e_phoff, e_shoff) = struct.unpack_from("<QQ", data, 0x20)
    (e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx) = struct.unpack_from("<HHHHH", data, 0x36)
    loaded = 0
    for i in range(e_phnum):
        p_type, _flags, _off, _va, _pa, p_filesz = struct.unpack_from("<IIQQQQ", data, e_phoff + i * e_phentsize)
        if p_type == 1:
            loaded += p_filesz
    sections = []
    for i in range(e_shnum):
        sh = struct.unpack_from("<IIQQQQIIQQ", data, e_shoff + i * e_shentsize)
        sections.append(sh)
    strtab = sections[e_shstrndx]
    excluded = 0
    for sh in sections:
        name_off = strtab[4] + sh[0]
        name = data[name_off:data.index(b"\0", name_off)].decode()
        if name in exclude:
            excluded += sh[5]
    return loaded - excluded


def main(argv):
    if len(argv) >= 2 and argv[0] == "lines":
        total, sloc = count_lines(argv[1])
        print(f"BENCH kernel.lines {total} lines")
        print(f"BENCH kernel.sloc {sloc} lines")
        return 0
    if len(argv) >= 2 and argv[0] == "image":
        if not os.path.exists(argv[1]):
            print(f"kernel_metrics: image not found: {argv[1]}", file=sys.stderr)
            return 2
        print(f"BENCH kernel.image.bytes {elf_loaded_bytes(argv[1], {'.keel_root_elf'})} bytes")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
