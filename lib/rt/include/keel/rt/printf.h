/* keel/rt/printf.h — minimal formatted output over the DebugPutChar syscall.
 *
 * Supports %d %i %u %x %X %o %c %s %p %% with the l, ll, z, j, t length modifiers, a field width,
 * '-' (left justify), '0' (zero pad) and a precision for %s. No floating point (picolibc's
 * snprintf has it). Output goes through keel_putc: one DebugPutChar per character (in release
 * kernels without DebugPutChar the kernel drops them), or in a component libkeel's line buffer to
 * the serial service. */
#pragma once
#include <stdarg.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*keel_putc_fn)(char c, void* ctx);

void keel_putc(char c);
void keel_puts(const char* s); /* no newline appended */
int keel_printf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
int keel_vprintf(const char* fmt, va_list ap);
/* Format into buf (always NUL-terminated when size > 0); returns the length it wanted. */
int keel_snprintf(char* buf, size_t size, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
int keel_vsnprintf(char* buf, size_t size, const char* fmt, va_list ap);
/* The engine: calls out(c, ctx) for every character; returns the number of characters. */
int keel_vformat(keel_putc_fn out, void* ctx, const char* fmt, va_list ap);

#ifdef __cplusplus
}
#endif
