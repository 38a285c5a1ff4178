/* keel/keel.h — libkeel, the C API of Keel components (C11 and C++20).
 *
 * A component is an EL0 program started by the root server with its info page (keel/sys/protocol.h,
 * docs/os-services.md). It defines `int keel_main(void* info)`; returning from it exits with its
 * value (keel_exit). Build one with `keel_add_component(name SOURCES ... [LIBS ...])`.
 * Reference: docs/libkeel.md. The C++ layer is keel/keel.hh.
 *
 * Names: lib/rt already owns the raw syscall stubs keel_call / keel_recv / keel_wait / keel_send
 * (capability-level IPC); libkeel's channel-level calls are therefore keel_rpc_call,
 * keel_rpc_recv, keel_rpc_reply and keel_notify_wait. keel_exit and keel_printf are lib/rt's:
 * in a component they exit through the root server and print through the serial service. */
#ifndef KEEL_KEEL_H
#define KEEL_KEEL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keel/info.h"
#include "keel/rt.h"
#include "keel/sys/protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the component ---------------------------------------------------------------------------
 * keel_info(): this component's info page (checked at start: magic, version, every offset); NULL
 * in a program that is not a component (then every other keel_* call answers KEEL_E_INVALID). */
#if defined(__cplusplus) && defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow" /* keel_info() next to struct keel_info, as stat() */
#endif
const keel_info_t* keel_info(void);
#if defined(__cplusplus) && defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
const char* keel_name(void);        /* "" when not a component */
const char* keel_system_name(void); /* the manifest's system name */
uint32_t keel_index(void);          /* index in the boot spec */
uint64_t keel_generation(void);     /* 0 at first start, +1 per restart */
bool keel_has_service(uint32_t service_bit); /* keel_service_bit */
const char* keel_status_name(keel_status_t s); /* "ok", "denied", ... */

/* keel_exit(status) (keel/rt/rt.h): flushes pending output, KEEL_ROOT_EXIT to the root server;
 * never returns (falls back to DebugHalt only if the root server does not take the exit). */

/* ---- output -----------------------------------------------------------------------------------
 * With the 'serial' service, output is line-buffered here and each line sent with
 * KEEL_SERIAL_WRITE (the serial server prints "[name] line"); without it, or if the serial server
 * does not answer, lines go to the kernel debug console as "[name] line". keel_printf, keel_puts,
 * keel_putc (lib/rt) and picolibc's stdout/stderr all take this path. */
void keel_log(const char* line);                                         /* adds '\n' if missing */
int keel_logf(const char* fmt, ...) __attribute__((format(printf, 1, 2))); /* ditto */
void keel_flush(void);                                                     /* send a partial line */

/* ---- notifications ----------------------------------------------------------------------------
 * The bits of the component's notification (keel_notify_bit). Bits that arrive while waiting for
 * others are kept and returned by a later wait: none is lost. */
uint64_t keel_notify_wait(uint64_t mask); /* blocks until a bit of mask is set; returns and clears those */
uint64_t keel_notify_poll(uint64_t mask); /* the same without blocking (0 if none) */

#ifdef __cplusplus
}
#endif
#endif /* KEEL_KEEL_H */
