// The root server's state: the boot spec, the per-component bookkeeping, and the operations of
// builder.cc (make / destroy / wire a component) used by main.cc's supervision loop.
#pragma once

#include <cstdint>

#include "keel/bootspec/elf.h"
#include "layout.h"
#include "supervisor.h"
#include "keel/bootspec/archive.h"
#include "keel/bootspec/reader.h"
#include "keel/error.h"
#include "keel/rt/invocations.h"
#include "keel/sys/fair.hh"
#include "keel/sys/protocol.h"

namespace keel::root {

// Per-component block of root CNode slots.
enum CompSlot : std::uint32_t {
  kSlotUntyped = 0,   // instance untyped: revoked at every restart (everything below dies with it)
  kSlotImageUt,       // persistent: read-only image frames + the image CNode
  kSlotImageCNode,    // persistent: caps of the read-only image frames
  kSlotCNode, kSlotTcb, kSlotVSpace, kSlotSc, kSlotEp, kSlotNtfn, kSlotReply, kSlotBacking, kSlotIpc,
  kSlotFaultEp,       // root EP minted with the fault badge, given to the TCB
  kSlotSysNtfn,       // its notification minted with KEEL_NOTIFY_SYSTEM (msg, sched)
  kSlotsPerComp = 16
};

inline constexpr keel_word_t kFaultBadge = 1ull << 32;  // fault badges: kFaultBadge | index
inline constexpr keel_word_t kTickBadge = 1ull << 40;   // the ticker's signal (bound notification)

enum class Provider : std::uint8_t { kMsg = 0, kSerial, kClock, kSched, kCount };

struct Comp {
  bool valid = false;
  // Its instance exists (build began and no destroy since): destroy() of a component already
  // destroyed (stopped, or restarted with others while it had exited) does nothing; and its reply
  // object exists (a ReplyRecv on an empty slot would fault the root server itself).
  bool built = false, has_reply = false;
  Image img;
  Layout layout;
  std::uint32_t services = 0;
  bool uses_msg = false;
  std::uint32_t state = KEEL_STATE_NOT_STARTED;
  std::uint64_t generation = 0;
  std::uint32_t restarts = 0;
  // memory accounting (bytes)
  std::uint64_t object_bytes = 0;   // kernel objects + fresh frames per start (the instance untyped's use)
  std::uint64_t image_bytes = 0;    // read-only image frames + image CNode (once)
  std::uint64_t ring_bytes = 0;     // root-owned frames: stream rings it consumes, shared regions it
                                    // maps first, its private DMA regions
  std::uint8_t ut_bits = 0;         // instance untyped size
  std::uint8_t backing_radix = 0;
  std::uint8_t image_radix = 0;
  std::uint32_t backing_next = 0;
  std::uint64_t last_fault = 0, last_fault_addr = 0;
  std::uint32_t shared_first = 0;   // root slot of the first image frame cap (in the image CNode: index 0..)
};

struct Root;
extern Root g;

keel_cptr_t comp_slot(std::uint32_t c, CompSlot s);
std::uint64_t comp_memory(std::uint32_t c);

// builder.cc
Result<void> prepare(std::uint32_t c);   // once at boot: image pool, sizes, instance untyped
Result<void> build(std::uint32_t c);     // make every object, map, fill caps (not started)
Result<void> wire(std::uint32_t c);      // service caps and privileged slots involving c
Result<void> start(std::uint32_t c);     // resume its thread
Result<void> destroy(std::uint32_t c);   // abort held calls, revoke everything it owns
Result<void> set_budget(std::uint32_t c, std::uint32_t budget_us, std::uint32_t period_us);
Result<void> make_passive(std::uint32_t c);  // SC off the thread, onto its notification; signal
Result<void> global_setup(const keel_boot_info_t* bi);
std::uint32_t provider(Provider p);             // component index or kNone
bool is_provider(std::uint32_t c);              // c is a core service
keel_cptr_t spare_replies(std::uint32_t c);     // a core service's spare reply objects (root slots), or 0
void publish(std::uint32_t c);                  // write c's entry of the system page
void notify_system();                           // KEEL_NOTIFY_SYSTEM to msg and sched
// Replies through `reply` now (a held call or fault) and returns at once.
void reply_via(keel_cptr_t reply, keel_word_t info);
// Signals component c's notification with `bits`.
void signal_bits(std::uint32_t c, keel_word_t bits);
// The ticker thread (a window of period_us): arm_ticker() makes kTickBadge arrive within a window.
Result<void> start_ticker(std::uint32_t period_us, std::uint32_t budget_us);
void arm_ticker();

// log.cc: the root server's output: the kernel console (debug kernels) or the log ring.
void log_init(const keel_boot_info_t* bi);  // first thing at boot
void log_attach(void* ring);                // the ring is mapped (global_setup)
void log_set_signal(keel_cptr_t cap);       // serial's badged notification cap, or 0
bool log_has_console();                     // a debug kernel: the root prints on its console
// Ends the run: DebugHalt(code) on a debug kernel; a release kernel cannot stop the machine, so
// the root server logs the code and suspends itself (serial, if running, still prints the log).
[[noreturn]] void halt(int code);

// debug.cc: debug permissions (manifest `debug = [...]`).
void debug_drop_own(const keel_boot_info_t* bi);  // the root keeps console + halt only
bool debug_grants_ok();                           // false (reported) if the kernel lacks a grant
Result<void> grant_debug(std::uint32_t c);        // c's new thread: what its manifest grants

// supervision.cc: carrying out supervision decisions, and the fairness rule for the root's time.
void print_name(std::uint32_t c);
std::uint64_t now();                                    // generic timer ticks
void report(std::uint32_t c, keel_error_t e);          // "root: <c>: <step> failed: <error>"
bool say(std::uint32_t c, const char* prefix = "");    // "root: <prefix><c>" unless c's log lines are used up
void want_tick();                                       // the ticker wakes the root within a window
void handle_event(std::uint32_t c, Event e);            // apply the Supervisor's decision
// KEEL_ROOT_RESTART from `by` (already answered): restart `target` (Supervisor::kSystem: the
// system) as the Supervisor decides (on_request: no failure counted).
void restart_on_request(std::uint32_t by, std::uint32_t target);
void init_fairness();                                   // after the Supervisor's init (back-off, shares, logs)
Result<void> start_fairness();                          // after global_setup (held replies, ticker)
void on_tick(std::uint64_t t);                          // the ticker woke the root server
void note_held(std::uint32_t c);                        // an answer to c was held (counted, reported once a second)
// After a fault or request of c received at t0: charges c; returns the reply to send now, or 0
// if it is held for the next window.
keel_word_t charge(std::uint32_t c, std::uint64_t t0, keel_word_t reply);

struct Root {
  const keel_boot_info_t* bi = nullptr;
  bootspec::Spec spec;
  bootspec::Archive archive;
  std::uint32_t count = 0;
  Comp comp[KEEL_MAX_COMPONENTS];
  Supervisor sup;
  std::uint32_t providers[static_cast<int>(Provider::kCount)] = {};
  keel_system_page_t* sys = nullptr;  // mapped in the root server
  std::uint64_t freq = 1;
  std::uint32_t system_restarts = 0;
  keel_cptr_t ep = 0, reply = 0;  // the root endpoint (faults + requests) and the loop's reply object
  keel_cptr_t spare_base = 0;     // reply objects for held replies: one per component
  // Fairness (keel/sys/fair.hh): the root's time per component per window, replies held for
  // components over their share, per-component log lines.
  sys::Shares shares;
  sys::HeldReplies held;
  sys::LogLimit log;
  Set held_resume = 0;    // threads whose CHANNEL_DOWN return waits for the next window
  Set tick_wanted = 0;    // core services that asked for KEEL_NOTIFY_TICK
  // Back-off: the components whose restart waits until restart_at.
  Set pending_restart = 0;
  std::uint64_t restart_at = 0;
  bool safe_state = false;
  const char* failed_step = "";   // what the last failed step attempted (set by step() and fail())
};

// TRY(step(keel_x(...), "what")): an invocation as a Result; on failure it also records what was
// attempted, which report() prints with the error and the component.
inline Result<void> step(keel_error_t e, const char* what) {
  if (e == KEEL_OK) return Ok{};
  g.failed_step = what;
  return Err{e};
}
// return fail("what", error): a failure that is no invocation's.
inline Err<keel_error_t> fail(const char* what, keel_error_t e) {
  g.failed_step = what;
  return Err{e};
}

}  // namespace keel::root
