// keel/msg/channels.h — the message server's policy and bookkeeping, free of syscalls so that it
// runs unchanged in the msg component (aarch64 EL0) and in host unit tests.
//
// It answers three questions and never touches a capability itself:
//   open():     may component c open channel `name`, and which capability operations build its end?
//   changed():  which components restarted / stopped since the last look at the system page?
//   teardown(): which capability operations remove every channel capability handed out to or for
//               a component that changed?
// The msg component executes the returned CapOps with CNode invocations (services/msg/src/main.cc).
// Ordering rules (end index k, notify index j, slots, badges) are the contract's, written down in
// keel/sys/protocol.h next to keel_info_channel_t, so the root server's info pages agree.
//
// Freestanding: no heap, no exceptions, no libc beyond what the compiler emits.
#pragma once

#include <cstddef>
#include <cstdint>

#include "keel/abi/types.h"
#include "keel/bootspec/reader.h"
#include "keel/error.h"
#include "keel/sys/protocol.h"

namespace keel::msg {

inline constexpr std::uint32_t kMaxNameLen = 128;  // longest channel name a request may carry
inline constexpr std::uint64_t kRpcBadgeBase = 0x1000;
inline constexpr std::uint8_t kNoNotify = 0xff;
inline constexpr std::uint32_t kMaxChannels = KEEL_MAX_COMPONENTS * KEEL_MAX_CHANNEL_ENDS / 2;
inline constexpr std::uint32_t kDenialLogLimit = 8;  // logged denials per component generation
// Worst case of teardown() for one component: every end, cancel + delete on both sides.
inline constexpr std::uint32_t kMaxTeardownOps = KEEL_MAX_CHANNEL_ENDS * 3;

constexpr std::uint32_t end_slot(std::uint32_t k) { return KEEL_SLOT_CHANNEL_BASE + 2 * k; }
constexpr std::uint64_t rpc_badge(std::uint32_t server_end) { return kRpcBadgeBase + server_end; }
constexpr std::uint64_t notify_mask(std::uint32_t j) { return 1ull << (KEEL_NOTIFY_EVENT_SHIFT + j); }

// One channel end of a component (end index k = its position in Channels::end()).
struct End {
  std::uint32_t channel;  // index in the boot spec's channels table
  std::uint32_t peer;     // component index of the other end
  std::uint8_t kind;      // keel_channel_kind
  std::uint8_t role;      // keel_channel_role (FROM = client/signaller/producer)
  std::uint8_t notify;    // notify index j of this end, or kNoNotify
  std::uint8_t peer_end;  // the peer's end index of the same channel
};

// Where a minted capability comes from (resolved by the msg component).
enum class Source : std::uint8_t {
  kEndpoint,      // msg's own KEEL_SLOT_MSG_ENDPOINTS + source_component (all rights, unbadged)
  kNotification,  // KEEL_SLOT_NOTIFY in source_component's CNode (unbadged, Read|Write)
};

struct CapOp {
  enum Kind : std::uint8_t { kCancelBadgedSends, kDelete, kMint };
  Kind kind;
  Source source;                  // kMint only
  std::uint32_t cnode;            // component whose CNode holds `slot`
  std::uint32_t slot;
  std::uint32_t source_component; // kMint only
  std::uint64_t rights;           // kMint only (keel rights mask)
  std::uint64_t badge;            // kMint only
  bool operator==(const CapOp&) const = default;
};

// What the system page says about one component (keel_system_component_t, the fields msg uses).
struct ComponentState {
  std::uint64_t generation;
  std::uint32_t state;  // keel_component_state
};

struct OpenResult {
  keel_error_t status;  // KEEL_OK, KEEL_DENIED, KEEL_CHANNEL_DOWN, KEEL_INVALID_ARGUMENT
  std::uint32_t end;     // end index k (status OK / CHANNEL_DOWN)
  std::uint32_t slot;    // reply MR0: where the cap goes (0: nothing new)
  std::uint32_t kind;    // reply MR1
  std::uint64_t mr2;     // reply MR2: rpc server badge / own notification bit mask / 0
  std::uint32_t op_count;
  CapOp ops[2];          // delete the slot, then mint into it
};

enum class DenialLog : std::uint8_t { kLog, kLogSuppressed, kSilent };

enum class BuildError : std::uint8_t { kTooManyComponents, kTooManyEnds, kTooManyNotify, kTooManyChannels };
struct BuildFailure {
  BuildError code;
  std::uint32_t component;
};
const char* build_error_name(BuildError e);

// KEEL_MSG_OPEN's name (keel::rpc::msg::Open; the length word and the bytes, 8 per word): 1..
// kMaxNameLen printable ASCII characters (0x20..0x7e: the name reaches the log), and the unused
// bytes of its last word zero (no hidden bytes after the name). `bytes` holds len rounded up to
// a multiple of 8 bytes.
bool valid_name(const char* bytes, std::uint64_t len);

// "msg: denied: <component> asked for channel '<name>'" (no newline), truncated to fit; returns
// the length written (buf is NUL-terminated when cap > 0). `prefix` false drops the "msg: ".
std::size_t format_denial(char* buf, std::size_t cap, bootspec::StrView component, const char* name,
                          std::uint32_t len, bool prefix);

class Channels {
 public:
  // Builds every component's end list from a validated spec (whose memory must outlive this
  // object). `now` = the system page as msg first sees it (component_count entries). A msg that
  // is itself restarted (`restarted`) cannot know what its previous incarnation handed out: it
  // assumes every capability may exist (teardown deletes them all) and every running rpc server
  // is serving.
  Result<void, BuildFailure> init(const bootspec::Spec& spec, const ComponentState* now, bool restarted);

  std::uint32_t component_count() const { return components_; }
  std::uint32_t end_count(std::uint32_t c) const { return c < components_ ? end_count_[c] : 0; }
  const End& end(std::uint32_t c, std::uint32_t k) const { return ends_[c][k]; }
  bool serving(std::uint32_t channel) const { return channel < channels_ && state_[channel].serving; }
  bool cap_out(std::uint32_t channel, std::uint32_t role) const {
    return channel < channels_ && role < 2 && state_[channel].cap[role];
  }

  // The end of component c called `name` (a channel name of the spec), or -1 when c is not at
  // either end of such a channel.
  std::int32_t find(std::uint32_t c, const char* name, std::uint32_t len) const;

  // Decides an open request of component c (already validated: c < component_count()).
  // `now` is the current system page. Does not change state: call commit_open() afterwards with
  // whether the ops succeeded.
  OpenResult open(std::uint32_t c, const char* name, std::uint32_t len, const ComponentState* now) const;
  void commit_open(std::uint32_t c, const OpenResult& r, bool ops_ok);

  // Compares `now` with the last snapshot and records it: bit i set = component i's generation
  // or state changed.
  std::uint64_t changed(const ComponentState* now);

  // Capability operations that remove everything handed out to or for component x, on CNodes of
  // RUNNING components only (others' objects are gone or going: the kernel removed the caps
  // derived from them, and their CNodes must not be invoked). Marks the caps gone and x's rpc
  // server ends not serving. Returns the number of ops written (at most kMaxTeardownOps).
  std::uint32_t teardown(std::uint32_t x, const ComponentState* now, CapOp* ops, std::uint32_t cap);

  // Rate limit for denial log lines: kLog for the first kDenialLogLimit denials of a component
  // generation, kLogSuppressed once after that, then kSilent.
  DenialLog note_denial(std::uint32_t c);

 private:
  struct ChannelState {
    bool serving;  // rpc: the server opened its end since its last start
    bool cap[2];   // a cap msg minted for the FROM / TO end may exist
  };
  const bootspec::Spec* spec_ = nullptr;
  std::uint32_t components_ = 0;
  std::uint32_t channels_ = 0;
  std::uint8_t end_count_[KEEL_MAX_COMPONENTS] = {};
  End ends_[KEEL_MAX_COMPONENTS][KEEL_MAX_CHANNEL_ENDS] = {};
  ChannelState state_[kMaxChannels] = {};
  ComponentState last_[KEEL_MAX_COMPONENTS] = {};
  std::uint32_t denials_[KEEL_MAX_COMPONENTS] = {};
};

}  // namespace keel::msg
