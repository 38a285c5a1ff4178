/* Compiled as C11: the ABI headers must stay usable from C user code. */
#include "keel/abi.h"

keel_word_t keel_abi_c_check_msginfo(void);
keel_word_t keel_abi_c_check_msginfo(void) {
  keel_ipc_buffer_t* buf = 0;
  (void)buf;
  return keel_msginfo_new(KEEL_UNTYPED_RETYPE, 0, 1, 6) + sizeof(keel_boot_info_t);
}
