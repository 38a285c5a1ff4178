/* tests/os/proxy: the app — libkeel's keel_proxy_* against the proxy mux in the stand-in link
 * (link.cc) over real streams: refusals, an echo round trip, 64 KiB both ways read in pieces,
 * Fleet's refusal after OPENED, and a second connection. The judge: DebugHalt with the verdict. */
#include <string.h>

#include "keel/keel.h"

static int g_failures;

static void check(int ok, const char* what, long a) {
  if (!ok) {
    ++g_failures;
    keel_logf("FAIL: %s (%ld)", what, a);
  }
}

static char g_big[65536];
static char g_back[65536];

int keel_main(void* info) {
  (void)info;
  keel_error_t st = keel_proxy_open("secret");
  check(st == KEEL_DENIED, "secret refused by the link", st);
  st = keel_proxy_open("Bad Name");
  check(st == KEEL_INVALID_ARGUMENT, "a bad name refused here", st);

  st = keel_proxy_open("echo");
  check(st == KEEL_OK, "echo opened", st);
  st = keel_proxy_send("hello proxy", 11);
  check(st == KEEL_OK, "sent", st);
  char buf[64];
  size_t n = 0, got = 0;
  while (got < 11) {
    st = keel_proxy_recv(buf + got, sizeof buf - got, &n, 2000000000ull);
    if (st != KEEL_OK) break;
    got += n;
  }
  check(st == KEEL_OK && got == 11 && memcmp(buf, "HELLO PROXY", 11) == 0, "echo answered", (long)got);
  keel_logf("echo: %.*s", (int)got, buf);

  /* 64 KiB in 4 KiB sends, each echo read back in 1000-byte reads before the next send (a
   * single-threaded client that sent all first would stall itself, as with any blocking socket:
   * docs/libkeel.md "Proxy"). */
  for (size_t i = 0; i < sizeof g_big; ++i) g_big[i] = (char)('a' + i % 26);
  got = 0;
  st = KEEL_OK;
  for (size_t off = 0; st == KEEL_OK && off < sizeof g_big; off += 4096) {
    st = keel_proxy_send(g_big + off, 4096);
    check(st == KEEL_OK, "4 KiB sent", st);
    while (st == KEEL_OK && got < off + 4096) {
      size_t want = off + 4096 - got < 1000 ? off + 4096 - got : 1000;
      st = keel_proxy_recv(g_back + got, want, &n, 5000000000ull);
      if (st == KEEL_OK) got += n;
    }
  }
  int same = got == sizeof g_back;
  for (size_t i = 0; same && i < got; ++i) same = g_back[i] == (char)('A' + i % 26);
  check(st == KEEL_OK && same, "64 KiB echoed in order", (long)got);
  st = keel_proxy_close();
  check(st == KEEL_OK, "closed", st);

  st = keel_proxy_open("nosuch");
  check(st == KEEL_OK, "nosuch opened by the link", st);
  st = keel_proxy_recv(buf, sizeof buf, &n, 2000000000ull);
  check(st == KEEL_DENIED, "nosuch refused by Fleet", st);
  keel_proxy_close();

  st = keel_proxy_open("echo");
  check(st == KEEL_OK, "echo opened again", st);
  st = keel_proxy_send("again", 5);
  got = 0;
  while (st == KEEL_OK && got < 5) {
    st = keel_proxy_recv(buf + got, sizeof buf - got, &n, 2000000000ull);
    got += n;
  }
  check(st == KEEL_OK && got == 5 && memcmp(buf, "AGAIN", 5) == 0, "second connection", (long)got);
  keel_proxy_close();

  if (g_failures == 0) keel_log("PASS");
  keel_flush();
  keel_debug_halt(g_failures == 0 ? 0 : 1);
  return 0;
}
