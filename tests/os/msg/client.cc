// client — drives the message server's system test and ends the run: denial of an undeclared
// channel, rpc / event / stream end to end, agreement of msg's answers with the root server's info
// page, and recovery of the rpc channel after the server crashes while serving a call.
#include "chan.h"

namespace {
int failures = 0;
void expect(bool ok, const char* what) {
  if (!ok) ++failures;
  keel_logf("%s: %s", ok ? "ok" : "FAIL", what);
}
keel_word_t call(keel_word_t slot, keel_word_t op, keel_word_t arg) {
  keel_set_mr(0, arg);
  return keel_call(slot, keel_msginfo_new(op, 0, 0, 1));
}
}  // namespace

extern "C" int keel_main(void*) {
  using namespace chantest;
  const keel_info_channel_t* ic = info_channel("calc");
  const keel_info_channel_t* ip = info_channel("poke");
  const keel_info_channel_t* id = info_channel("data");
  expect(ic && ip && id, "the info page lists calc, poke and data");
  if (!ic || !ip || !id) keel_debug_halt(1);

  // 1. Least privilege: a channel the manifest does not declare.
  expect(open("nope").label == KEEL_DENIED, "open of an undeclared channel is denied");

  // 2. rpc: msg's answer matches the info page; a call goes through with the server end's badge.
  Open c = open_retry("calc");
  expect(c.label == KEEL_OK && c.kind == KEEL_CHANNEL_RPC && c.slot == ic->slot, "rpc open: slot as in the info page");
  keel_word_t r = call(c.slot, kDouble, 20);
  expect(keel_msginfo_label(r) == KEEL_OK && keel_get_mr(0) == 41 && keel_get_mr(1) == 0x1000 && keel_get_mr(2) == 0,
         "rpc call answered (41, badge 0x1000, generation 0)");

  // 3. event: the signal arrives on the waiter's bit.
  Open p = open("poke");
  expect(p.label == KEEL_OK && p.kind == KEEL_CHANNEL_EVENT && p.slot == ip->slot, "event open: slot as in the info page");
  keel_signal(p.slot);
  r = call(c.slot, kBits, 0);
  expect(keel_msginfo_label(r) == KEEL_OK && keel_get_mr(0) == (1ull << 32), "event delivered on the waiter's bit 32");

  // 4. stream: 300 bytes through the ring, "data" signal to the consumer, "space" signal back.
  Open d = open_retry("data");
  expect(d.label == KEEL_OK && d.kind == KEEL_CHANNEL_STREAM && d.slot == id->slot && d.mr2 == id->notify_bit,
         "stream open: slot and notify bit as in the info page");
  auto* ring = reinterpret_cast<keel_stream_ring_t*>(id->vaddr);
  auto* data = reinterpret_cast<std::uint8_t*>(id->vaddr + 64);
  std::uint64_t sum = 0;
  for (std::uint64_t i = 0; i < 300; ++i) {
    const auto b = static_cast<std::uint8_t>(i * 7 + 3);
    data[(ring->head + i) & (ring->size - 1)] = b;
    sum += b;
  }
  ring->head = ring->head + 300;
  keel_signal(d.slot);
  keel_word_t word = 0;
  while ((word & d.mr2) == 0) keel_wait(KEEL_SLOT_NOTIFY, &word);
  r = call(c.slot, kStream, 0);
  expect(keel_msginfo_label(r) == KEEL_OK && keel_get_mr(0) == 300 && keel_get_mr(1) == sum,
         "stream: the consumer got 300 bytes with the right sum and signalled space back");

  // 5. The server crashes while it holds our call: the call returns CHANNEL_DOWN, so does the next
  //    use of the (now deleted) channel capability; a re-open after the restart works again.
  r = call(c.slot, kCrash, 0);
  keel_logf("call held by the crashing server: label 0x%lx", static_cast<unsigned long>(keel_msginfo_label(r)));
  expect(keel_msginfo_label(r) == KEEL_CHANNEL_DOWN, "call held by the crashing server: CHANNEL_DOWN");
  r = call(c.slot, kDouble, 1);
  keel_logf("next call on the torn-down channel: info 0x%lx, MR0 %lu", static_cast<unsigned long>(r),
            static_cast<unsigned long>(keel_get_mr(0)));
  expect(keel_msginfo_label(r) == KEEL_CHANNEL_DOWN, "next call on the torn-down channel: CHANNEL_DOWN");
  c = open_retry("calc");
  expect(c.label == KEEL_OK && c.slot == ic->slot, "re-open after the restart");
  r = call(c.slot, kDouble, 5);
  expect(keel_msginfo_label(r) == KEEL_OK && keel_get_mr(0) == 11 && keel_get_mr(2) == 1,
         "rpc works again, answered by generation 1");
  p = open("poke");
  keel_signal(p.slot);
  r = call(c.slot, kBits, 0);
  expect(p.label == KEEL_OK && keel_get_mr(0) == (1ull << 32), "event re-opened to the restarted waiter");

  d = open_retry("data");
  for (std::uint64_t i = 0; i < 100; ++i) data[(ring->head + i) & (ring->size - 1)] = 1;
  ring->head = ring->head + 100;
  keel_signal(d.slot);
  word = 0;
  while ((word & d.mr2) == 0) keel_wait(KEEL_SLOT_NOTIFY, &word);
  r = call(c.slot, kStream, 0);
  expect(d.label == KEEL_OK && keel_get_mr(0) == 100 && keel_get_mr(1) == 100,
         "stream re-opened: the restarted consumer got the next 100 bytes");

  // spy's denials and its exit are checked in the console output (tests/os/msg/CMakeLists.txt).
  keel_logf("%s (%d failures)", failures == 0 ? "PASS" : "FAIL", failures);
  keel_debug_halt(failures == 0 ? 0 : 1);
  return 0;
}
