// The freestanding shim under Debian's libsodium (lib/sodium/README.md): exactly the symbols
// libsodium.a (built for glibc) leaves undefined in a Keel component that picolibc does not
// provide (memcpy, memmove, memset, malloc, free come from picolibc). Three kinds:
//
//   - what the allowed functions really use: the stack protector's guard and failure, errno,
//     __explicit_bzero_chk (sodium_memzero), abort/raise/__assert_fail (sodium_misuse, asserts);
//   - pthread mutexes, used only by sodium_init's critical section: no-ops (one thread per
//     component, docs/os-services.md);
//   - what libsodium reaches only through sodium_init, randombytes_* and sodium_malloc (mmap, open,
//     getrandom, ...): those paths are not allowed in a component, so each ends the component
//     through keel_fatal with its name. They are here only because libsodium is built without
//     -ffunction-sections: an allowed function's object file also holds such a path, and
//     --gc-sections cannot drop it.
//
// Everything is in this one object, pulled in whole by -u __keel_sodium_shim (lib/sodium's
// CMakeLists.txt), so that none of picolibc's own abort/raise is linked beside these.
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "keel/keel.h"

extern "C" {

// The -u anchor (never read).
extern const char __keel_sodium_shim[];
const char __keel_sodium_shim[] = "keel_sodium";

// ---- failure: one message, then libkeel's fatal path (KEEL USER FATAL, exit 127 through the
// root server, which logs and supervises it like any failed component).
[[noreturn]] static void fatal(const char* what) {
  char line[160];
  keel_snprintf(line, sizeof line, "libsodium: %s", what);
  keel_fatal(line);
}

[[noreturn]] static void refused(const char* function) {
  char line[160];
  // Short enough for one serial line (120 bytes) with "[name] KEEL USER FATAL: libsodium: ".
  keel_snprintf(line, sizeof line, "%s() called: not allowed in a component (lib/sodium/README.md)", function);
  fatal(line);
}

// ---- the stack protector. Debian builds libsodium with -fstack-protector-strong; aarch64 glibc
// code reads the guard from the global __stack_chk_guard. It is set by the first constructor of
// the component (priority 101, before any C++ static constructor could call libsodium), from the
// virtual counter at start, the stack address and the component's identity (index, generation,
// name), mixed by the SplitMix64 finaliser, low byte zero (a string overflow cannot write the
// guard back). That is not a secret against an attacker who can predict the start time (under
// QEMU -icount it is the same at every boot); libkeel's start-up will take a per-start word from
// the rng service instead when that exists (docs/libkeel.md, "Cryptography on the device"). It
// can only be set before the first stack-protected frame: never change it later.
uintptr_t __stack_chk_guard = 0x000aff0000000000u;  // a terminator canary until the constructor ran

__attribute__((constructor(101))) static void keel_sodium_guard_init() {
  uint64_t t;
  __asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(t));
  uint64_t x = t ^ (reinterpret_cast<uintptr_t>(&t) << 20);
  if (const keel_info_t* info = keel_info(); info != nullptr) {
    x ^= (static_cast<uint64_t>(info->index) << 48) ^ (info->generation << 32);
    for (const char* s = keel_name(); *s != '\0'; ++s) x = (x ^ static_cast<unsigned char>(*s)) * 0x100000001b3u;
  }
  x += 0x9e3779b97f4a7c15u;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
  x ^= x >> 31;
  __stack_chk_guard = static_cast<uintptr_t>(x & ~uint64_t{0xff});
}

[[noreturn]] void __stack_chk_fail() { fatal("stack smashing detected (__stack_chk_fail)"); }

// ---- what the allowed functions use.
[[noreturn]] void abort() { fatal("abort() called (sodium_misuse: a function was given out-of-range sizes?)"); }

int raise(int sig) {
  char line[64];
  keel_snprintf(line, sizeof line, "raise(%d) called", sig);
  fatal(line);
}

[[noreturn]] void __assert_fail(const char* expr, const char* file, unsigned line, const char* function) {
  char msg[192];
  keel_snprintf(msg, sizeof msg, "assertion failed: %s (%s:%u, %s)", expr, file, line, function);
  fatal(msg);
}

// glibc's errno accessor; picolibc's errno is a thread-local of the main thread (lib/rt sets up
// its TLS block), the same errno a component reads after a libsodium call (EINVAL from
// crypto_kdf_derive_from_key with a bad length, for instance).
int* __errno_location() { return &errno; }

// sodium_memzero calls explicit_bzero, which _FORTIFY_SOURCE made __explicit_bzero_chk. The
// empty asm that takes the pointer and clobbers memory keeps the compiler from dropping the
// memset as a dead store (even if this were inlined into a caller whose buffer dies next).
void __explicit_bzero_chk(void* dst, size_t len, size_t dstlen) {
  if (len > dstlen) fatal("buffer overflow detected (__explicit_bzero_chk)");
  memset(dst, 0, len);
  __asm__ volatile("" : : "r"(dst) : "memory");
}

// ---- sodium_init's critical section (sodium_crit_enter/leave). A component is single-threaded.
int pthread_mutex_lock(void*) { return 0; }
int pthread_mutex_unlock(void*) { return 0; }

// ---- reached only through sodium_init, randombytes_* (randombytes_sysrandom, the internal
// random) and sodium_malloc / sodium_mlock / sodium_mprotect_*: refused, by name.
void* mmap(void*, size_t, int, int, int, long) { refused("mmap"); }
int munmap(void*, size_t) { refused("munmap"); }
int mprotect(void*, size_t, int) { refused("mprotect"); }
int madvise(void*, size_t, int) { refused("madvise"); }
int mlock(const void*, size_t) { refused("mlock"); }
int munlock(const void*, size_t) { refused("munlock"); }
long sysconf(int) { refused("sysconf"); }
int open(const char*, int, ...) { refused("open"); }
int close(int) { refused("close"); }
long read(int, void*, size_t) { refused("read"); }
int fcntl(int, int, ...) { refused("fcntl"); }
int fstat(int, void*) { refused("fstat"); }
int poll(void*, unsigned long, int) { refused("poll"); }
long getrandom(void*, size_t, unsigned) { refused("getrandom"); }

}  // extern "C"
