// The freestanding shim under Debian's libb2 (lib/b2/README.md): the one symbol of libb2.a's
// BLAKE2s object (built for glibc with _FORTIFY_SOURCE) that a Keel component lacks in a usable
// form: __memcpy_chk (picolibc's would pull in its __chk_fail, which writes to a file descriptor
// the device does not have). The stack protector's guard and failure come from lib/sodium's shim
// (keel_b2 is always linked with keel_sodium: proto/wireguard). The OpenMP symbols of libb2's
// parallel variants (blake2sp, blake2bp) are never linked: nothing calls them.
// Pulled in whole by -u __keel_b2_shim (lib/b2/CMakeLists.txt) so that this one is linked.
#include <stddef.h>
#include <string.h>

#include "keel/keel.h"

extern "C" {

extern const char __keel_b2_shim[];
const char __keel_b2_shim[] = "keel_b2";

void* __memcpy_chk(void* dst, const void* src, size_t len, size_t dstlen) {
  if (len > dstlen) keel_fatal("libb2: buffer overflow detected (__memcpy_chk)");
  return memcpy(dst, src, len);
}

}  // extern "C"
