/* libkeel bench, server: a keel_serve loop answering rpc 'bench' (label 1: w[0] + 1; label 2: bytes
 * consumed from stream 'pipe' so far) and draining 'pipe' whenever its data bit is set. */
#include "keel/keel.h"

static keel_channel_t g_pipe;
static uint64_t g_consumed;

static void on_call(keel_channel_t ch, keel_msg_t* m, void* ctx) {
  (void)ch;
  (void)ctx;
  if (m->label == 1 && m->len == 1) {
    m->label = 0;
    m->w[0] += 1;
  } else if (m->label == 2) {
    *m = (keel_msg_t){0, 1, {g_consumed}};
  } else {
    *m = (keel_msg_t){KEEL_INVALID_ARGUMENT, 0, {0}};
  }
}

static void on_bits(uint64_t bits, void* ctx) {
  (void)bits;
  (void)ctx;
  uint8_t buf[512];
  size_t got;
  do {
    got = 0;
    if (keel_stream_read(g_pipe, buf, sizeof buf, &got) != KEEL_OK) return;
    g_consumed += got;
  } while (got != 0);
}

int keel_main(void* arg) {
  (void)arg;
  keel_channel_t bench;
  keel_error_t s;
  if ((s = keel_channel_open("bench", &bench)) != KEEL_OK || (s = keel_channel_open("pipe", &g_pipe)) != KEEL_OK) {
    keel_logf("open: %s", keel_error_name(s));
    return 1;
  }
  s = keel_serve(keel_channel_info(g_pipe)->notify_bit, on_call, on_bits, NULL);
  keel_logf("serve: %s", keel_error_name(s));
  return 1;
}
