#!/usr/bin/env python3
"""What Debian's libsodium and its shim (lib/sodium) add to a component, from its GNU ld link map.

  sodium_size.py MAP

Sums the allocated input sections the link kept (the memory map after --gc-sections, not the
discarded list) by where they came from: members of libsodium.a, and the shim archive
(libkeel_sodium_shim.a). Prints BENCH lines:

  crypto.sodium.code_bytes   libsodium's .text + .rodata in the image
  crypto.sodium.data_bytes   libsodium's .data + .bss (every restart reloads/zeroes them)
  crypto.sodium.shim_bytes   the shim's sections (all kinds)

The component measured is tests/os/crypto's judge, which calls every primitive the device's
services use (Ed25519, X25519, ChaCha20(-Poly1305), XChaCha20-Poly1305, BLAKE2b, crypto_kdf).
"""
import re
import sys

ALLOC = re.compile(r"^\.(text|rodata|data|bss|tbss|tdata|init_array|sdata|sbss)\b")


def sizes(path):
    code = data = shim = 0
    in_map = False
    pending = None  # a section name alone on its line; its address/size/file follow on the next
    with open(path) as f:
        for line in f:
            if line.startswith("Linker script and memory map"):
                in_map = True
                continue
            if not in_map:
                continue
            m = re.match(r"^ (\.\S+)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(\S.*)$", line)
            if m:
                name, size, origin = m.group(1), int(m.group(2), 16), m.group(3)
            else:
                m = re.match(r"^ (\.\S+)\s*$", line)
                if m:
                    pending = m.group(1)
                    continue
                m = re.match(r"^\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(\S.*)$", line)
                if not (m and pending):
                    pending = None
                    continue
                name, size, origin = pending, int(m.group(1), 16), m.group(2)
            pending = None
            if not ALLOC.match(name):
                continue
            if "libsodium.a(" in origin:
                if re.match(r"^\.(text|rodata)", name):
                    code += size
                else:
                    data += size
            elif "libkeel_sodium_shim.a(" in origin:
                shim += size
    return code, data, shim


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    code, data, shim = sizes(sys.argv[1])
    if code == 0:
        print(f"sodium_size: no libsodium.a section in {sys.argv[1]}", file=sys.stderr)
        return 1
    print(f"BENCH crypto.sodium.code_bytes {code} bytes")
    print(f"BENCH crypto.sodium.data_bytes {data} bytes")
    print(f"BENCH crypto.sodium.shim_bytes {shim} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
