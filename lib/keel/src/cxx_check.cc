// Compiles keel/keel.hh (header-only) with the project's warnings; never linked. The first
// function is the C++ example of docs/libkeel.md, verbatim.
#include "keel/keel.hh"

keel::Result<void> run();
keel::Result<void> run() {
  auto valve = TRY(keel::Channel::named("actuate"));  // opened on first use
  TRY(keel::timer_every_ms(0, 100));
  for (;;) {
    keel::wait(KEEL_NOTIFY_TIMER);
    if ((keel::timer_expired() & 1) == 0) continue;
    auto reply = valve.call(keel::Message(1).word(42));  // Result<Message>
    if (!reply.ok()) keel_logf("call: %s", keel_error_name(reply.error()));
  }
}

keel::Result<uint64_t> keel_cxx_check();
keel::Result<uint64_t> keel_cxx_check() {
  auto ch = TRY(keel::Channel::named("x"));
  auto reply = TRY(ch.call(keel::Message(1).word(2)));
  auto in = TRY(keel::receive(KEEL_NOTIFY_TIMER));
  if (in.is_call()) TRY(keel::reply(keel::Message(0)));
  auto buffers = TRY(keel::region("buffers"));
  TRY(keel::trace(1, 2));
  const bool was_on = TRY(keel::trace_enable(false));
  if (was_on) TRY(keel::restart(-1));
  return reply.at(0) + keel::now_ns() + buffers.paddr + keel_region_paddr("rx", nullptr);
}

// The storage example of docs/libkeel.md "Storage", verbatim.
keel::Result<void> save_counter(uint64_t n);
keel::Result<void> save_counter(uint64_t n) {
  auto config = TRY(keel::Partition::open("config"));  // granted "rw" in the manifest
  TRY(config.write_record(0, &n, sizeof n));           // durable (flushed) when it returns Ok
  uint64_t back = 0;
  const size_t len = TRY(config.read_record(0, &back, sizeof back));
  if (len != sizeof back || back != n) return keel::Err{KEEL_CORRUPT};
  return keel::Ok{};
}
