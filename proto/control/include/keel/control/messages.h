// keel/control/messages.h — the control messages the device agent and Fleet exchange on streams
// (docs/control-protocol.md, "Messages"): a 2-byte length, a 1-byte type, a body. A thin typed
// codec: encoders write into the caller's buffer, decoders check every length and bound and give
// views into the caller's bytes (no copies, no allocation). Unknown types are refused with
// Error::UnknownMessage, malformed bodies with Error::BadMessage.
#pragma once

#include "keel/control/wire.h"

namespace keel::control {

inline constexpr size_t kMaxMessage = 4096;        // type + body, bytes
inline constexpr size_t kMessageHeader = 3;        // length (2) + type (1)
inline constexpr size_t kKeyLen = 32, kSigLen = 64, kNonceLen = 32, kHashLen = 32;
inline constexpr size_t kMaxComponents = 32, kMaxName = 32, kMaxRelease = 64;
inline constexpr size_t kMaxSerialLines = 32, kMaxLine = 512;
inline constexpr size_t kMaxTraceEvents = 64;
inline constexpr size_t kMaxCommandArgs = 1024, kMaxDetail = 256, kMaxService = 64;

enum class MsgType : uint8_t {
  Hello = 0x01,
  Challenge = 0x02,
  Auth = 0x03,
  AuthOk = 0x04,
  AuthFail = 0x05,
  Status = 0x06,
  Serial = 0x07,
  Trace = 0x08,
  Command = 0x09,
  CommandResult = 0x0a,
  Console = 0x0b,
  ProxyOpen = 0x0c,
  ProxyData = 0x0d,
  ProxyClose = 0x0e,
};
inline constexpr uint8_t kLastMsgType = 0x0e;  // of protocol version 1

// Capability flags in HELLO.
inline constexpr uint32_t kCapConsole = 1u << 0, kCapProxy = 1u << 1, kCapTrace = 1u << 2, kCapSerial = 1u << 3;

struct Hello {
  uint8_t version = 0;
  uint8_t identity_key[kKeyLen] = {};  // the device's claimed Ed25519 identity public key
  uint32_t capabilities = 0;
};
struct Challenge {
  uint8_t nonce[kNonceLen] = {};
  uint64_t session_id = 0;             // binds the challenge to this session
};
struct AuthMsg {
  uint8_t signature[kSigLen] = {};
};
struct AuthFail {
  Error code = Error::AuthFailed;
};
struct ComponentStatus {
  Bytes name;                          // 1..kMaxName bytes
  uint8_t state = 0;                   // 0 stopped, 1 running, 2 restarting, 3 failed
  uint32_t restarts = 0;
  uint32_t memory_kib = 0;
  uint16_t cpu_permille = 0;           // <= 1000
};
struct Status {
  uint64_t uptime_ms = 0;
  Bytes release;                       // running release, <= kMaxRelease bytes
  uint8_t manifest_hash[kHashLen] = {};
  uint8_t count = 0;
  ComponentStatus components[kMaxComponents];
};
struct Serial {
  uint64_t first_seq = 0;              // sequence number of lines[0]; the next ones follow
  uint32_t dropped = 0;                // lines lost before first_seq ("N lines dropped")
  uint8_t count = 0;
  Bytes lines[kMaxSerialLines];        // each <= kMaxLine bytes, no newline
};
struct TraceEvent {
  uint64_t time_ns = 0;
  uint16_t component = 0;
  uint16_t event = 0;
  uint32_t arg = 0;
};
struct Trace {
  uint8_t count = 0;
  TraceEvent events[kMaxTraceEvents];
};
struct Command {
  uint64_t id = 0;                     // Fleet's id: the device records it once executed
  uint16_t kind = 0;                   // kCmd*
  Bytes args;                          // <= kMaxCommandArgs
};
inline constexpr uint16_t kCmdRestartSystem = 1, kCmdRestartComponent = 2, kCmdTraceOn = 3, kCmdTraceOff = 4,
                          kCmdIdentify = 5;
enum class Outcome : uint8_t { Done = 0, Failed = 1, Refused = 2, Unknown = 3 };
struct CommandResult {
  uint64_t id = 0;
  Outcome outcome = Outcome::Done;
  Bytes detail;                        // <= kMaxDetail
};
struct ProxyOpen {
  Bytes service;                       // 1..kMaxService bytes of [a-z0-9._-]
};
struct ProxyClose {
  uint8_t code = 0;                    // 0 normal, 1 refused (not configured), 2 unreachable, 3 error
};

// Encoders: the whole message (header included) into out; the size, or BufferTooSmall /
// BadMessage (a field out of its bounds).
Result<size_t, Error> encode(const Hello& m, MutBytes out);
Result<size_t, Error> encode(const Challenge& m, MutBytes out);
Result<size_t, Error> encode(const AuthMsg& m, MutBytes out);
Result<size_t, Error> encode_auth_ok(MutBytes out);
Result<size_t, Error> encode(const AuthFail& m, MutBytes out);
Result<size_t, Error> encode(const Status& m, MutBytes out);
Result<size_t, Error> encode(const Serial& m, MutBytes out);
Result<size_t, Error> encode(const Trace& m, MutBytes out);
Result<size_t, Error> encode(const Command& m, MutBytes out);
Result<size_t, Error> encode(const CommandResult& m, MutBytes out);
Result<size_t, Error> encode_console(Bytes data, MutBytes out);
Result<size_t, Error> encode(const ProxyOpen& m, MutBytes out);
Result<size_t, Error> encode_proxy_data(Bytes data, MutBytes out);
Result<size_t, Error> encode(const ProxyClose& m, MutBytes out);

// One message cut from the front of a stream's bytes.
struct MessageView {
  MsgType type = MsgType::Hello;
  Bytes body;
  size_t size = 0;  // bytes consumed (header + body)
};
// Cuts the first message from `in`: size 0 when more bytes are needed; UnknownMessage for a type
// the version does not define, MessageTooLarge / BadMessage for a bad length.
Result<MessageView, Error> next_message(Bytes in);

// Decoders of a body (strict: every byte accounted for, every bound checked).
Result<void, Error> decode(Bytes body, Hello& m);
Result<void, Error> decode(Bytes body, Challenge& m);
Result<void, Error> decode(Bytes body, AuthMsg& m);
Result<void, Error> decode(Bytes body, AuthFail& m);
Result<void, Error> decode(Bytes body, Status& m);
Result<void, Error> decode(Bytes body, Serial& m);
Result<void, Error> decode(Bytes body, Trace& m);
Result<void, Error> decode(Bytes body, Command& m);
Result<void, Error> decode(Bytes body, CommandResult& m);
Result<void, Error> decode(Bytes body, ProxyOpen& m);
Result<void, Error> decode(Bytes body, ProxyClose& m);
// AUTH_OK has an empty body; CONSOLE and PROXY_DATA bodies are the data itself (1..4095 bytes).
Result<void, Error> decode_empty(Bytes body);
Result<Bytes, Error> decode_data(Bytes body);

}  // namespace keel::control
