// Compiles keel/keel.hh (header-only) with the project's warnings; never linked.
#include "keel/keel.hh"

keel::Res<uint64_t> keel_cxx_check();
keel::Res<uint64_t> keel_cxx_check() {
  auto ch = TRY(keel::Channel::named("x"));
  auto reply = TRY(ch.call(keel::Message(1).word(2)));
  auto in = TRY(keel::receive(KEEL_NOTIFY_TIMER));
  if (in.is_call()) TRY(keel::reply(keel::Message(0)));
  return reply.at(0) + keel::now_ns();
}
