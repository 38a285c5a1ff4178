/* keel/rt/rt.h — process-level runtime services for Keel EL0 programs.
 *
 * A program defines `int keel_main(void* start_arg)`; crt0 calls it with the value the kernel put
 * in x0 (the boot-info page for the root task). Returning from keel_main calls keel_exit(rc). */
#pragma once

#ifdef __cplusplus
extern "C" {
#endif

/* Stop the system with a semihosting exit code (debug kernels); never returns. */
__attribute__((noreturn)) void keel_exit(int code);
/* Print "KEEL USER FATAL: msg" and exit with code 127. */
__attribute__((noreturn)) void keel_fatal(const char* msg);
__attribute__((noreturn)) void __keel_assert_fail(const char* expr, const char* file, int line);

#define KEEL_ASSERT(e) ((e) ? (void)0 : __keel_assert_fail(#e, __FILE__, __LINE__))

#ifdef __cplusplus
}
#endif
