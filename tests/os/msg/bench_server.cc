// bench server — serves the "bench" rpc channel: replies to every call at once (the cheapest
// server loop: ReplyRecv on its service endpoint).
#include "chan.h"

extern "C" int keel_main(void*) {
  const chantest::Open c = chantest::open_retry("bench");
  if (c.label != KEEL_OK) {
    keel_logf("FAIL: open bench: %lu", c.label);
    keel_debug_halt(1);
  }
  keel_word_t badge = 0, mr0 = 0, mr1 = 0, mr2 = 0, mr3 = 0;
  keel_word_t info = keel_recv_mrs(KEEL_SLOT_SERVICE_EP, &badge, KEEL_SLOT_REPLY, &mr0, &mr1, &mr2, &mr3);
  for (;;) {
    const keel_word_t reply = badge == c.mr2 ? keel_msginfo_new(0, 0, 0, 1) : keel_msginfo_new(KEEL_E_INVALID, 0, 0, 0);
    (void)info;
    mr0 += 1;
    info = keel_reply_recv_mrs(KEEL_SLOT_SERVICE_EP, reply, &badge, KEEL_SLOT_REPLY, &mr0, &mr1, &mr2, &mr3);
  }
}
