// The message server's policy and bookkeeping (see keel/msg/channels.h for the contract).
#include "keel/msg/channels.h"

namespace keel::msg {

using bootspec::ChannelKind;
using bootspec::Table;

const char* build_error_name(BuildError e) {
  switch (e) {
    case BuildError::kTooManyComponents: return "more components than KEEL_MAX_COMPONENTS";
    case BuildError::kTooManyEnds: return "a component has more than KEEL_MAX_CHANNEL_ENDS channel ends";
    case BuildError::kTooManyNotify: return "a component has more than KEEL_MAX_EVENT_ENDS event/stream ends";
    case BuildError::kTooManyChannels: return "too many channels";
  }
  return "unknown";
}

bool valid_name(const char* bytes, std::uint64_t len) {
  if (len == 0 || len > kMaxNameLen) return false;
  const std::uint64_t padded = (len + 7) / 8 * 8;
  for (std::uint64_t i = 0; i < padded; ++i) {
    const auto b = static_cast<std::uint8_t>(bytes[i]);
    if (i < len ? (b < 0x20 || b > 0x7e) : b != 0) return false;
  }
  return true;
}

namespace {
struct Appender {
  char* buf;
  std::size_t cap, n;
  void put(char c) {
    if (n + 1 < cap) buf[n++] = c;
  }
  void put(const char* s) {
    while (*s) put(*s++);
  }
  void put(const char* s, std::size_t len) {
    for (std::size_t i = 0; i < len; ++i) put(s[i]);
  }
};
}  // namespace

std::size_t format_denial(char* buf, std::size_t cap, bootspec::StrView component, const char* name,
                          std::uint32_t len, bool prefix) {
  if (cap == 0) return 0;
  Appender a{buf, cap, 0};
  if (prefix) a.put("msg: ");
  a.put("denied: ");
  a.put(component.data, component.len);
  a.put(" asked for channel '");
  a.put(name, len);
  a.put('\'');
  buf[a.n] = '\0';
  return a.n;
}

Result<void, BuildFailure> Channels::init(const bootspec::Spec& spec, const ComponentState* now, bool restarted) {
  spec_ = &spec;
  const std::uint32_t ncomp = spec.count(Table::kComponents);
  const std::uint32_t nch = spec.count(Table::kChannels);
  if (ncomp > KEEL_MAX_COMPONENTS) return Err{BuildFailure{BuildError::kTooManyComponents, ncomp}};
  if (nch > kMaxChannels) return Err{BuildFailure{BuildError::kTooManyChannels, nch}};
  components_ = ncomp;
  channels_ = nch;
  std::uint32_t notify_count[KEEL_MAX_COMPONENTS] = {};
  for (std::uint32_t c = 0; c < KEEL_MAX_COMPONENTS; ++c) end_count_[c] = 0;
  // One pass over the channels table in order: each channel appends an end to its client and to
  // its server, which is exactly "the table filtered to this component" for both.
  for (std::uint32_t i = 0; i < nch; ++i) {
    const bootspec::ChannelRec& ch = spec.channel(i);
    const std::uint32_t side[2] = {ch.client, ch.server};
    std::uint32_t k[2] = {};
    for (std::uint32_t r = 0; r < 2; ++r) {
      const std::uint32_t c = side[r];
      if (end_count_[c] >= KEEL_MAX_CHANNEL_ENDS) return Err{BuildFailure{BuildError::kTooManyEnds, c}};
      k[r] = end_count_[c]++;
      End& e = ends_[c][k[r]];
      e.channel = i;
      e.peer = side[1 - r];
      e.kind = static_cast<std::uint8_t>(ch.kind);
      e.role = static_cast<std::uint8_t>(r);
      const bool has_bit = ch.kind == ChannelKind::kStream || (ch.kind == ChannelKind::kEvent && r == KEEL_ROLE_TO);
      if (has_bit) {
        if (notify_count[c] >= KEEL_MAX_EVENT_ENDS) return Err{BuildFailure{BuildError::kTooManyNotify, c}};
        e.notify = static_cast<std::uint8_t>(notify_count[c]++);
      } else {
        e.notify = kNoNotify;
      }
    }
    ends_[side[0]][k[0]].peer_end = static_cast<std::uint8_t>(k[1]);
    ends_[side[1]][k[1]].peer_end = static_cast<std::uint8_t>(k[0]);
    ChannelState& s = state_[i];
    s.serving = restarted && ch.kind == ChannelKind::kRpc && now[ch.server].state == KEEL_STATE_RUNNING;
    s.cap[0] = restarted;
    s.cap[1] = restarted && ch.kind == ChannelKind::kStream;
  }
  for (std::uint32_t c = 0; c < ncomp; ++c) {
    last_[c] = now[c];
    denials_[c] = 0;
  }
  return {};
}

std::int32_t Channels::find(std::uint32_t c, const char* name, std::uint32_t len) const {
  if (c >= components_) return -1;
  for (std::uint32_t k = 0; k < end_count_[c]; ++k) {
    const bootspec::StrView n = spec_->str(spec_->channel(ends_[c][k].channel).name);
    if (n.len != len) continue;
    std::uint32_t i = 0;
    while (i < len && n.data[i] == name[i]) ++i;
    if (i == len) return static_cast<std::int32_t>(k);
  }
  return -1;
}

OpenResult Channels::open(std::uint32_t c, const char* name, std::uint32_t len, const ComponentState* now) const {
  OpenResult r{};
  if (c >= components_ || len == 0 || len > kMaxNameLen) {
    r.status = KEEL_INVALID_ARGUMENT;
    return r;
  }
  const std::int32_t found = find(c, name, len);
  if (found < 0) {
    r.status = KEEL_DENIED;
    return r;
  }
  const auto k = static_cast<std::uint32_t>(found);
  const End& e = ends_[c][k];
  const End& pe = ends_[e.peer][e.peer_end];
  r.end = k;
  r.kind = e.kind;
  const bool peer_up = now[e.peer].state == KEEL_STATE_RUNNING;

  // The ends that receive nothing new: they listen on objects they already hold.
  if (e.kind == KEEL_CHANNEL_RPC && e.role == KEEL_ROLE_TO) {
    r.status = KEEL_OK;
    r.mr2 = rpc_badge(k);
    return r;
  }
  if (e.kind == KEEL_CHANNEL_EVENT && e.role == KEEL_ROLE_TO) {
    r.status = KEEL_OK;
    r.mr2 = notify_mask(e.notify);
    return r;
  }
  if (!peer_up || (e.kind == KEEL_CHANNEL_RPC && !state_[e.channel].serving)) {
    r.status = KEEL_CHANNEL_DOWN;
    return r;
  }
  r.status = KEEL_OK;
  r.slot = end_slot(k);
  r.mr2 = e.kind == KEEL_CHANNEL_STREAM ? notify_mask(e.notify) : 0;
  // Replace whatever is in the slot (an earlier open, or anything the component put there).
  r.ops[0] = CapOp{CapOp::kDelete, Source::kEndpoint, c, r.slot, 0, 0, 0};
  if (e.kind == KEEL_CHANNEL_RPC) {
    r.ops[1] = CapOp{CapOp::kMint, Source::kEndpoint, c, r.slot, e.peer, KEEL_RIGHT_WRITE | KEEL_RIGHT_GRANT_REPLY,
                     rpc_badge(e.peer_end)};
  } else {
    // event signaller / stream side: signal the peer's notification on the peer end's bit.
    r.ops[1] = CapOp{CapOp::kMint, Source::kNotification, c, r.slot, e.peer, KEEL_RIGHT_WRITE, notify_mask(pe.notify)};
  }
  r.op_count = 2;
  return r;
}

void Channels::commit_open(std::uint32_t c, const OpenResult& r, bool ops_ok) {
  if (c >= components_ || r.status != KEEL_OK || r.end >= end_count_[c]) return;
  const End& e = ends_[c][r.end];
  ChannelState& s = state_[e.channel];
  if (e.kind == KEEL_CHANNEL_RPC && e.role == KEEL_ROLE_TO) {
    s.serving = true;
    return;
  }
  if (r.op_count == 0) return;
  // After a failed mint the slot was still emptied by the delete (or never touched): either way
  // nothing of ours is left in it.
  s.cap[e.role] = ops_ok;
}

std::uint64_t Channels::changed(const ComponentState* now) {
  std::uint64_t mask = 0;
  for (std::uint32_t c = 0; c < components_; ++c) {
    if (now[c].generation != last_[c].generation || now[c].state != last_[c].state) {
      mask |= 1ull << c;
      if (now[c].generation != last_[c].generation) denials_[c] = 0;
      last_[c] = now[c];
    }
  }
  return mask;
}

std::uint32_t Channels::teardown(std::uint32_t x, const ComponentState* now, CapOp* ops, std::uint32_t cap) {
  if (x >= components_) return 0;
  std::uint32_t n = 0;
  auto emit = [&](CapOp op) {
    if (n < cap && now[op.cnode].state == KEEL_STATE_RUNNING) ops[n++] = op;
  };
  for (std::uint32_t k = 0; k < end_count_[x]; ++k) {
    const End& e = ends_[x][k];
    ChannelState& s = state_[e.channel];
    if (e.kind == KEEL_CHANNEL_RPC && e.role == KEEL_ROLE_TO) s.serving = false;
    for (std::uint32_t role = 0; role < 2; ++role) {
      if (!s.cap[role]) continue;
      const bool mine = role == e.role;
      const std::uint32_t holder = mine ? x : e.peer;
      const std::uint32_t slot = end_slot(mine ? k : e.peer_end);
      // An rpc client may be queued on the server's endpoint with this badge: make it re-execute
      // its call (it then finds the slot empty and gets KEEL_CHANNEL_DOWN) rather than wait.
      if (e.kind == KEEL_CHANNEL_RPC) emit(CapOp{CapOp::kCancelBadgedSends, Source::kEndpoint, holder, slot, 0, 0, 0});
      emit(CapOp{CapOp::kDelete, Source::kEndpoint, holder, slot, 0, 0, 0});
      s.cap[role] = false;
    }
  }
  return n;
}

DenialLog Channels::note_denial(std::uint32_t c) {
  if (c >= components_) return DenialLog::kSilent;
  const std::uint32_t n = denials_[c] < 0xffffffffu ? ++denials_[c] : denials_[c];
  if (n <= kDenialLogLimit) return DenialLog::kLog;
  if (n == kDenialLogLimit + 1) return DenialLog::kLogSuppressed;
  return DenialLog::kSilent;
}

}  // namespace keel::msg
