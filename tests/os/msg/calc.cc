// calc — the server side of every channel kind: rpc server ("calc"), event waiter ("poke") and
// stream consumer ("data"). It answers on its service endpoint and handles its notification bits
// in the same loop; op kCrash makes it fault while it holds the caller's call.
#include "chan.h"

extern "C" int keel_main(void*) {
  using namespace chantest;
  const Open c = open_retry("calc");
  const Open p = open_retry("poke");
  const Open d = open_retry("data");
  const Open f = open_retry("flaky");  // a second rpc channel (client: the flaky component)
  if (c.label != KEEL_OK || p.label != KEEL_OK || d.label != KEEL_OK || f.label != KEEL_OK) {
    keel_logf("FAIL: open: calc %lu poke %lu data %lu", c.label, p.label, d.label);
    crash();
  }
  const keel_info_channel_t* dch = info_channel("data");
  if (dch == nullptr) {
    keel_logf("FAIL: no channel 'data' in the info page");
    crash();
  }
  auto* ring = reinterpret_cast<keel_stream_ring_t*>(dch->vaddr);
  auto* data = reinterpret_cast<std::uint8_t*>(dch->vaddr + 64);
  keel_logf("serving (generation %lu): calc badge 0x%lx, poke bit 0x%lx, data bit 0x%lx, space cap slot %lu",
            static_cast<unsigned long>(keel_generation()), c.mr2, p.mr2, d.mr2, d.slot);

  std::uint64_t seen = 0, consumed = 0, sum = 0;
  keel_word_t badge = 0;
  keel_word_t info = keel_recv(KEEL_SLOT_SERVICE_EP, &badge, KEEL_SLOT_REPLY);
  for (;;) {
    keel_word_t reply = keel_msginfo_new(KEEL_INVALID_ARGUMENT, 0, 0, 0);
    if (info == 0) {
      seen |= badge & (p.mr2 | d.mr2);
      if ((badge & d.mr2) != 0) {
        const std::uint64_t head = ring->head, tail = ring->tail;
        if (keel_ring_sane(head, tail, ring->size)) {
          for (std::uint64_t i = tail; i != head; ++i) sum += data[i & (ring->size - 1)];
          consumed += head - tail;
          ring->tail = head;
          keel_signal(d.slot);  // space
        }
      }
    } else if (badge == f.mr2 && keel_msginfo_label(info) == kDouble) {
      keel_set_mr(0, keel_get_mr(0) * 2 + 1);
      keel_set_mr(1, badge);
      reply = keel_msginfo_new(KEEL_OK, 0, 0, 2);
    } else if (badge == c.mr2) {
      switch (keel_msginfo_label(info)) {
        case kDouble:
          keel_set_mr(0, keel_get_mr(0) * 2 + 1);
          keel_set_mr(1, badge);
          keel_set_mr(2, keel_generation());
          reply = keel_msginfo_new(KEEL_OK, 0, 0, 3);
          break;
        case kCrash:
          keel_logf("crashing as asked");
          crash();
        case kBits:
          keel_set_mr(0, seen);
          reply = keel_msginfo_new(KEEL_OK, 0, 0, 1);
          break;
        case kStream:
          keel_set_mr(0, consumed);
          keel_set_mr(1, sum);
          reply = keel_msginfo_new(KEEL_OK, 0, 0, 2);
          break;
        default: break;
      }
    }
    info = keel_reply_recv(KEEL_SLOT_SERVICE_EP, reply, &badge, KEEL_SLOT_REPLY);
  }
}
