// bench server — serves the "bench" rpc channel as a passive server (manifest passive = true):
// it hands its scheduling context to the root server first (KEEL_ROOT_PASSIVE), so every call
// runs on the caller's SC and takes the kernel's fastpath. Label 1: answer mr0 + 1 at once (the
// cheapest server loop: ReplyRecv on its service endpoint). Label 99: write the cycle counter
// into the shared "stamp" page and fault (os.restart.instructions starts there).
#include "chan.h"

namespace {

// NBSendRecv(root, PASSIVE, own endpoint): the root server takes the SC off this thread while it
// waits, binds it to the notification and signals KEEL_NOTIFY_PASSIVE. Any other wake-up (a
// notification that was pending): ask again.
void become_passive() {
  for (;;) {
    keel_word_t badge = 0;
    keel_nbsend_recv(KEEL_SLOT_ROOT_EP, keel_msginfo_new(KEEL_ROOT_PASSIVE, 0, 0, 0), KEEL_SLOT_SERVICE_EP, &badge,
                     KEEL_SLOT_REPLY);
    if (badge & KEEL_NOTIFY_PASSIVE) return;
  }
}

volatile std::uint64_t* stamp() {
  const keel_info_t* info = keel_info();
  const keel_info_region_t* r = keel_info_regions(info);
  for (std::uint32_t i = 0; i < info->region_count; ++i)
    if (std::strcmp(keel_info_string(info, r[i].name), "stamp") == 0) return reinterpret_cast<volatile std::uint64_t*>(r[i].vaddr);
  ostest::fail("no stamp region");
}

}  // namespace

extern "C" int keel_main(void*) {
  if (keel_info()->flags & KEEL_INFO_PASSIVE) become_passive();
  const chantest::Open c = chantest::open_retry("bench");
  if (c.label != KEEL_OK) {
    ostest::fail("open bench", c.label);
  }
  keel_word_t badge = 0, mr0 = 0, mr1 = 0, mr2 = 0, mr3 = 0;
  keel_word_t info = keel_recv_mrs(KEEL_SLOT_SERVICE_EP, &badge, KEEL_SLOT_REPLY, &mr0, &mr1, &mr2, &mr3);
  for (;;) {
    if (keel_msginfo_label(info) == 99) {
      if (volatile std::uint64_t* s = stamp(); s != nullptr) *s = keel::rt::cycle_counter();
      chantest::crash(0x99);
    }
    const keel_word_t reply = badge == c.mr2 ? keel_msginfo_new(0, 0, 0, 1) : keel_msginfo_new(KEEL_INVALID_ARGUMENT, 0, 0, 0);
    mr0 += 1;
    info = keel_reply_recv_mrs(KEEL_SLOT_SERVICE_EP, reply, &badge, KEEL_SLOT_REPLY, &mr0, &mr1, &mr2, &mr3);
  }
}
