// The control-message codec (docs/control-protocol.md, "Messages").
#include "keel/control/messages.h"

namespace keel::control {
namespace {

// Starts a message: header with a placeholder length; finish() fills it in.
struct Msg {
  Writer w;
  uint8_t* len_at;
  Msg(MutBytes out, MsgType t) : w(out), len_at(w.skip(2)) { w.u8(uint8_t(t)); }
  Result<size_t, Error> finish() {
    if (!w.ok()) return Err{Error::BufferTooSmall};
    const size_t n = w.size() - 2;
    if (n > kMaxMessage) return Err{Error::MessageTooLarge};
    len_at[0] = uint8_t(n >> 8);
    len_at[1] = uint8_t(n);
    return w.size();
  }
};

Result<void, Error> done(const Reader& r) {
  if (!r.empty()) return Err{Error::BadMessage};
  return {};
}
// Maps a reader's Truncated (inside a body whose length was known) to BadMessage.
template <class T>
Result<T, Error> field(Result<T, Error> v) {
  if (!v.ok()) return Err{Error::BadMessage};
  return v;
}
void copy(uint8_t* dst, Bytes src) {
  for (size_t i = 0; i < src.size(); ++i) dst[i] = src[i];
}
bool service_char(uint8_t c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

}  // namespace

Result<MessageView, Error> next_message(Bytes in) {
  MessageView v;
  if (in.size() < kMessageHeader) return v;  // size 0: need more
  const size_t len = size_t(in[0]) << 8 | in[1];
  if (len == 0) return Err{Error::BadMessage};
  if (len > kMaxMessage) return Err{Error::MessageTooLarge};
  const uint8_t type = in[2];
  if (type == 0 || type > kLastMsgType) return Err{Error::UnknownMessage};
  if (in.size() < 2 + len) return v;
  v.type = MsgType(type);
  v.body = in.subspan(3, len - 1);
  v.size = 2 + len;
  return v;
}

Result<size_t, Error> encode(const Hello& m, MutBytes out) {
  Msg g(out, MsgType::Hello);
  g.w.u8(m.version);
  g.w.bytes({m.identity_key, kKeyLen});
  g.w.u32(m.capabilities);
  return g.finish();
}
Result<void, Error> decode(Bytes body, Hello& m) {
  Reader r(body);
  m.version = TRY(field(r.u8()));
  if (m.version == 0) return Err{Error::BadMessage};
  copy(m.identity_key, TRY(field(r.bytes(kKeyLen))));
  m.capabilities = TRY(field(r.u32()));
  return done(r);
}

Result<size_t, Error> encode(const Challenge& m, MutBytes out) {
  Msg g(out, MsgType::Challenge);
  g.w.bytes({m.nonce, kNonceLen});
  g.w.u64(m.session_id);
  return g.finish();
}
Result<void, Error> decode(Bytes body, Challenge& m) {
  Reader r(body);
  copy(m.nonce, TRY(field(r.bytes(kNonceLen))));
  m.session_id = TRY(field(r.u64()));
  return done(r);
}

Result<size_t, Error> encode(const AuthMsg& m, MutBytes out) {
  Msg g(out, MsgType::Auth);
  g.w.bytes({m.signature, kSigLen});
  return g.finish();
}
Result<void, Error> decode(Bytes body, AuthMsg& m) {
  Reader r(body);
  copy(m.signature, TRY(field(r.bytes(kSigLen))));
  return done(r);
}

Result<size_t, Error> encode_auth_ok(MutBytes out) {
  Msg g(out, MsgType::AuthOk);
  return g.finish();
}
Result<void, Error> decode_empty(Bytes body) {
  if (!body.empty()) return Err{Error::BadMessage};
  return {};
}

Result<size_t, Error> encode(const AuthFail& m, MutBytes out) {
  Msg g(out, MsgType::AuthFail);
  g.w.u8(uint8_t(m.code));
  return g.finish();
}
Result<void, Error> decode(Bytes body, AuthFail& m) {
  Reader r(body);
  const uint8_t c = TRY(field(r.u8()));
  if (c < uint8_t(Error::AuthFailed) || c > uint8_t(Error::AuthState)) return Err{Error::BadMessage};
  m.code = Error(c);
  return done(r);
}

Result<size_t, Error> encode(const Status& m, MutBytes out) {
  if (m.release.size() > kMaxRelease || m.count > kMaxComponents) return Err{Error::BadMessage};
  Msg g(out, MsgType::Status);
  g.w.u64(m.uptime_ms);
  g.w.u8(uint8_t(m.release.size()));
  g.w.bytes(m.release);
  g.w.bytes({m.manifest_hash, kHashLen});
  g.w.u8(m.count);
  for (size_t i = 0; i < m.count; ++i) {
    const ComponentStatus& c = m.components[i];
    if (c.name.empty() || c.name.size() > kMaxName || c.state > 3 || c.cpu_permille > 1000) return Err{Error::BadMessage};
    g.w.u8(uint8_t(c.name.size()));
    g.w.bytes(c.name);
    g.w.u8(c.state);
    g.w.u32(c.restarts);
    g.w.u32(c.memory_kib);
    g.w.u16(c.cpu_permille);
  }
  return g.finish();
}
Result<void, Error> decode(Bytes body, Status& m) {
  Reader r(body);
  m.uptime_ms = TRY(field(r.u64()));
  const uint8_t rl = TRY(field(r.u8()));
  if (rl > kMaxRelease) return Err{Error::BadMessage};
  m.release = TRY(field(r.bytes(rl)));
  copy(m.manifest_hash, TRY(field(r.bytes(kHashLen))));
  m.count = TRY(field(r.u8()));
  if (m.count > kMaxComponents) return Err{Error::BadMessage};
  for (size_t i = 0; i < m.count; ++i) {
    ComponentStatus& c = m.components[i];
    const uint8_t nl = TRY(field(r.u8()));
    if (nl == 0 || nl > kMaxName) return Err{Error::BadMessage};
    c.name = TRY(field(r.bytes(nl)));
    c.state = TRY(field(r.u8()));
    c.restarts = TRY(field(r.u32()));
    c.memory_kib = TRY(field(r.u32()));
    c.cpu_permille = TRY(field(r.u16()));
    if (c.state > 3 || c.cpu_permille > 1000) return Err{Error::BadMessage};
  }
  return done(r);
}

Result<size_t, Error> encode(const Serial& m, MutBytes out) {
  if (m.count > kMaxSerialLines) return Err{Error::BadMessage};
  Msg g(out, MsgType::Serial);
  g.w.u64(m.first_seq);
  g.w.u32(m.dropped);
  g.w.u8(m.count);
  for (size_t i = 0; i < m.count; ++i) {
    if (m.lines[i].size() > kMaxLine) return Err{Error::BadMessage};
    g.w.u16(uint16_t(m.lines[i].size()));
    g.w.bytes(m.lines[i]);
  }
  return g.finish();
}
Result<void, Error> decode(Bytes body, Serial& m) {
  Reader r(body);
  m.first_seq = TRY(field(r.u64()));
  m.dropped = TRY(field(r.u32()));
  m.count = TRY(field(r.u8()));
  if (m.count > kMaxSerialLines) return Err{Error::BadMessage};
  if (m.first_seq > ~uint64_t{0} - m.count) return Err{Error::BadMessage};
  for (size_t i = 0; i < m.count; ++i) {
    const uint16_t n = TRY(field(r.u16()));
    if (n > kMaxLine) return Err{Error::BadMessage};
    m.lines[i] = TRY(field(r.bytes(n)));
  }
  return done(r);
}

Result<size_t, Error> encode(const Trace& m, MutBytes out) {
  if (m.count > kMaxTraceEvents) return Err{Error::BadMessage};
  Msg g(out, MsgType::Trace);
  g.w.u8(m.count);
  for (size_t i = 0; i < m.count; ++i) {
    g.w.u64(m.events[i].time_ns);
    g.w.u16(m.events[i].component);
    g.w.u16(m.events[i].event);
    g.w.u32(m.events[i].arg);
  }
  return g.finish();
}
Result<void, Error> decode(Bytes body, Trace& m) {
  Reader r(body);
  m.count = TRY(field(r.u8()));
  if (m.count > kMaxTraceEvents) return Err{Error::BadMessage};
  for (size_t i = 0; i < m.count; ++i) {
    m.events[i].time_ns = TRY(field(r.u64()));
    m.events[i].component = TRY(field(r.u16()));
    m.events[i].event = TRY(field(r.u16()));
    m.events[i].arg = TRY(field(r.u32()));
  }
  return done(r);
}

Result<size_t, Error> encode(const Command& m, MutBytes out) {
  if (m.args.size() > kMaxCommandArgs || m.id == 0 || m.kind == 0) return Err{Error::BadMessage};
  Msg g(out, MsgType::Command);
  g.w.u64(m.id);
  g.w.u16(m.kind);
  g.w.u16(uint16_t(m.args.size()));
  g.w.bytes(m.args);
  return g.finish();
}
Result<void, Error> decode(Bytes body, Command& m) {
  Reader r(body);
  m.id = TRY(field(r.u64()));
  m.kind = TRY(field(r.u16()));
  const uint16_t n = TRY(field(r.u16()));
  if (m.id == 0 || m.kind == 0 || n > kMaxCommandArgs) return Err{Error::BadMessage};
  m.args = TRY(field(r.bytes(n)));
  return done(r);
}

Result<size_t, Error> encode(const CommandResult& m, MutBytes out) {
  if (m.detail.size() > kMaxDetail || m.id == 0 || uint8_t(m.outcome) > 3) return Err{Error::BadMessage};
  Msg g(out, MsgType::CommandResult);
  g.w.u64(m.id);
  g.w.u8(uint8_t(m.outcome));
  g.w.u16(uint16_t(m.detail.size()));
  g.w.bytes(m.detail);
  return g.finish();
}
Result<void, Error> decode(Bytes body, CommandResult& m) {
  Reader r(body);
  m.id = TRY(field(r.u64()));
  const uint8_t o = TRY(field(r.u8()));
  const uint16_t n = TRY(field(r.u16()));
  if (m.id == 0 || o > 3 || n > kMaxDetail) return Err{Error::BadMessage};
  m.outcome = Outcome(o);
  m.detail = TRY(field(r.bytes(n)));
  return done(r);
}

namespace {
Result<size_t, Error> encode_data(MsgType t, Bytes data, MutBytes out) {
  if (data.empty() || data.size() > kMaxMessage - 1) return Err{Error::BadMessage};
  Msg g(out, t);
  g.w.bytes(data);
  return g.finish();
}
}  // namespace
Result<size_t, Error> encode_console(Bytes data, MutBytes out) { return encode_data(MsgType::Console, data, out); }
Result<size_t, Error> encode_proxy_data(Bytes data, MutBytes out) { return encode_data(MsgType::ProxyData, data, out); }
Result<Bytes, Error> decode_data(Bytes body) {
  if (body.empty()) return Err{Error::BadMessage};
  return body;
}

Result<size_t, Error> encode(const ProxyOpen& m, MutBytes out) {
  if (m.service.empty() || m.service.size() > kMaxService) return Err{Error::BadMessage};
  for (uint8_t c : m.service)
    if (!service_char(c)) return Err{Error::BadMessage};
  Msg g(out, MsgType::ProxyOpen);
  g.w.u8(uint8_t(m.service.size()));
  g.w.bytes(m.service);
  return g.finish();
}
Result<void, Error> decode(Bytes body, ProxyOpen& m) {
  Reader r(body);
  const uint8_t n = TRY(field(r.u8()));
  if (n == 0 || n > kMaxService) return Err{Error::BadMessage};
  m.service = TRY(field(r.bytes(n)));
  for (uint8_t c : m.service)
    if (!service_char(c)) return Err{Error::BadMessage};
  return done(r);
}

Result<size_t, Error> encode(const ProxyClose& m, MutBytes out) {
  if (m.code > 3) return Err{Error::BadMessage};
  Msg g(out, MsgType::ProxyClose);
  g.w.u8(m.code);
  return g.finish();
}
Result<void, Error> decode(Bytes body, ProxyClose& m) {
  Reader r(body);
  m.code = TRY(field(r.u8()));
  if (m.code > 3) return Err{Error::BadMessage};
  return done(r);
}

}  // namespace keel::control
