/* picolibc glue for components: the heap (sbrk over the component's heap from its info page),
 * _exit, and stdin/stdout/stderr. picolibc leaves these to the application; libkeel is that
 * application layer for every component. There is no file system: fopen and friends fail. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "keel/keel.h"

/* ---- heap: [heap_base, heap_base + heap_size), mapped and zeroed by the root server ---------- */
static uintptr_t g_brk; /* 0 until the first sbrk */

void* sbrk(ptrdiff_t incr) {
  const keel_info_t* info = keel_info();
  if (info == NULL || info->heap_size == 0) {
    errno = ENOMEM; /* no heap declared in the manifest: malloc returns NULL */
    return (void*)-1;
  }
  uintptr_t base = (uintptr_t)info->heap_base, end = base + (uintptr_t)info->heap_size;
  if (g_brk == 0) g_brk = base;
  if (incr >= 0 ? (uintptr_t)incr > end - g_brk : (uintptr_t)0 - (uintptr_t)incr > g_brk - base) {
    errno = ENOMEM;
    return (void*)-1;
  }
  uintptr_t old = g_brk;
  g_brk += (uintptr_t)incr;
  return (void*)old;
}

void _exit(int status) { keel_exit(status); }

/* ---- stdio: stdout and stderr are the component's log (keel_putc: serial service or the kernel
 * console); stdin is console input for the manifest's console_input component, else EOF. ------- */
static int out_put(char c, FILE* f) {
  (void)f;
  keel_putc(c);
  return (unsigned char)c;
}

static int out_flush(FILE* f) {
  (void)f;
  keel_flush();
  return 0;
}

static uint8_t g_in[KEEL_SERIAL_MAX_WRITE];
static size_t g_in_len, g_in_pos;

static int in_get(FILE* f) {
  (void)f;
  while (g_in_pos == g_in_len) {
    if (!keel_has_service(KEEL_SERVICE_SERIAL)) return EOF;
    keel_word_t info = keel_call(KEEL_SLOT_SERIAL_EP, keel_msginfo_new(KEEL_SERIAL_READ, 0, 0, 0));
    if (keel_msginfo_label(info) != KEEL_OK) return EOF; /* not the console_input component */
    uint64_t n = keel_get_mr(0);
    if (n > sizeof g_in || (n + 7u) / 8u + 1u > keel_msginfo_length(info)) return EOF; /* malformed reply */
    for (uint64_t i = 0; i < n; ++i) g_in[i] = (uint8_t)(keel_get_mr(1u + (unsigned)(i / 8u)) >> (8u * (i % 8u)));
    g_in_len = (size_t)n;
    g_in_pos = 0;
    if (n == 0) keel_notify_wait(KEEL_NOTIFY_CONSOLE);
  }
  return g_in[g_in_pos++];
}

static FILE g_stdout = FDEV_SETUP_STREAM(out_put, NULL, out_flush, _FDEV_SETUP_WRITE);
static FILE g_stdin = FDEV_SETUP_STREAM(NULL, in_get, NULL, _FDEV_SETUP_READ);
FILE* const stdout = &g_stdout;
FILE* const stderr = &g_stdout;
FILE* const stdin = &g_stdin;
