/* Proves that the runtime headers are valid C (C11 with GNU asm), warning-free: C components
 * include them too. Compiled into the keel_rt_c_check object library only; never linked. */
#include "keel/rt.h"

int keel_rt_c_check(keel_cptr_t ep);
int keel_rt_c_check(keel_cptr_t ep) {
  keel_set_mr(0, 1);
  keel_word_t info = keel_call(ep, keel_msginfo_new(1, 0, 0, 1));
  keel_printf("%lu %s\n", (unsigned long)keel_msginfo_label(info), keel_error_name(keel_msginfo_label(info)));
  return keel_tcb_suspend(ep) == KEEL_OK;
}
