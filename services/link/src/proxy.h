// services/link/src/proxy.h — the link agent's proxy mux (docs/device-services.md, "Link agent:
// shell and proxy"): app components without a network grant reach a TCP service next to Fleet
// through the link. Each app has two streams to the link carrying records
// (keel/sys/proxy_record.h); the mux maps an app's one connection to one control-protocol stream
// carrying PROXY_OPEN / PROXY_DATA / PROXY_CLOSE (docs/control-protocol.md). Portable (no libkeel,
// no heap): the agent implements ProxyHost on libkeel and its Session; the host tests on fakes.
//
// Back-pressure both ways, no unbounded buffering: a record is taken from an app's stream only
// when its PROXY_DATA message fits in the control stream now (else it stays in the app's stream
// and the app's writes block); bytes are read from the control stream only while the mux holds no
// undelivered message for that app (at most one message, 4 KiB, per app), which waits until the
// app's stream has room (else the control stream's window fills and Fleet stops sending).
// Faults stay with their app: a bad record (unknown type, bad length, bad name, DATA before
// OPENED, a second OPEN) closes that app's connection with CLOSED(3), is logged, and empties what
// the app had queued; other apps are untouched.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "keel/sys/proxy_record.h"

namespace keel::link {

// What the mux needs from the agent. App streams are named by the index add_app returned;
// control streams by their Session stream id. Every call is non-blocking.
class ProxyHost {
 public:
  // --- the app's streams (link.proxy_rx_<app> in, link.proxy_tx_<app> out) ---
  // Copies the first n bytes of the app's stream without consuming them; false while fewer are there.
  virtual bool app_peek(size_t app, uint8_t* buf, size_t n) = 0;
  // Consumes exactly nh + nb bytes into two buffers (keel_stream_read_record); false (nothing
  // consumed) while fewer are there.
  virtual bool app_read(size_t app, uint8_t* hdr, size_t nh, uint8_t* body, size_t nb) = 0;
  // Drops everything the app's stream holds now (after a bad record).
  virtual void app_discard(size_t app) = 0;
  // Writes one record, all or nothing (keel_stream_send_record); false when it does not fit now.
  virtual bool app_send(size_t app, const uint8_t* hdr, size_t nh, const uint8_t* body, size_t nb) = 0;

  // --- configuration ---
  // Whether `service` is in the link's config key proxy.<app> ("svc1,svc2"; absent: none).
  virtual bool allowed(std::string_view app, std::string_view service) = 0;

  // --- control-protocol streams (the agent's Session) ---
  // Opens a device stream; false when none can be opened now (stream limit: the mux retries).
  virtual bool stream_open(uint64_t& id) = 0;
  virtual size_t stream_writable(uint64_t id) = 0;  // Session::writable
  // Writes all n bytes (the mux checks stream_writable first) and FIN if fin; false: nothing
  // written (Session::write's Blocked: no free block in the pool — the mux keeps the message and
  // tries again on a later poll; a stream that is gone shows up in stream_read as end).
  virtual bool stream_write(uint64_t id, const uint8_t* data, size_t n, bool fin) = 0;
  // Reads up to cap bytes; end = the peer finished (FIN read) or reset the stream, or it is gone.
  virtual size_t stream_read(uint64_t id, uint8_t* buf, size_t cap, bool& end) = 0;
  // Abandons a stream both ways (reset + stop sending); the mux forgets it.
  virtual void stream_abort(uint64_t id) = 0;

  // One log line ("[link] " is the agent's).
  virtual void log(std::string_view line) = 0;

 protected:
  ~ProxyHost() = default;
};

// Whether `service` is one of the comma-separated names of a proxy.<app> config value
// ("db,web"; spaces around names are allowed; an empty name never matches). For ProxyHost::allowed.
bool proxy_list_contains(std::string_view list, std::string_view service);

class ProxyMux {
 public:
  static constexpr size_t kMaxApps = 8;
  static constexpr size_t kMaxAppName = 32;
  static constexpr size_t kMaxMsg = 4098;     // a control message with its 2-byte length
  static constexpr size_t kMaxDraining = 4;   // closed by us, waiting for Fleet's FIN
  static constexpr int kRoundsPerPoll = 64;   // records / messages moved per app per poll, at most

  enum class State : uint8_t {
    Idle,      // no connection
    Opening,   // OPEN allowed locally, waiting for a control stream (stream limit)
    Open,      // PROXY_OPEN sent, OPENED told to the app: data both ways
    Closing,   // a CLOSED(code) for the app waits for room in its stream
  };

  explicit ProxyMux(ProxyHost& host) : host_(host) {}

  // Registers an app (at start, for each link.proxy_rx_<app> / link.proxy_tx_<app> pair; `name`
  // is the channels' peer component, the <app> of its config key proxy.<app>); its index, or -1
  // (table full, bad or duplicate name).
  int add_app(std::string_view name);
  size_t app_count() const { return count_; }

  // The control session is authenticated (opens go to Fleet) / lost (every connection gets
  // CLOSED(4), stream ids are forgotten; OPENs meanwhile get CLOSED(4) at once).
  void link_up();
  void link_down();
  bool is_up() const { return up_; }

  // Whether a control stream belongs to the mux (the agent leaves its bytes to poll()).
  bool owns(uint64_t stream_id) const;
  // Does what is possible now: app records → Fleet, Fleet messages → apps, pending OPENs and
  // CLOSEDs. Call it on every app-stream notification bit, after every Session::receive / tick
  // (data and credit arrive there) and after a link change. Never blocks; returns true when it
  // stopped at its bound (kRoundsPerPoll steps per app) with work left: call it again before
  // waiting (the streams' signal suppression would not wake the agent for that work).
  bool poll();

  State state(size_t app) const { return app < count_ ? apps_[app].state : State::Idle; }
  struct Stats {
    uint64_t opened = 0, refused_local = 0, closed_by_fleet = 0, bad_records = 0, bad_messages = 0;
    uint64_t late_records = 0;  // DATA/CLOSE of a connection the link had closed, dropped
    uint64_t to_fleet_bytes = 0, to_app_bytes = 0;
  };
  const Stats& stats() const { return stats_; }

 private:
  struct App {
    char name[kMaxAppName + 1] = {};
    size_t name_len = 0;
    State state = State::Idle;
    bool has_stream = false;     // `stream` is ours (Opening with a stream, Open)
    bool sent_open = false;      // PROXY_OPEN is written on it
    bool stale = false;          // the link closed the connection: the app's late DATA/CLOSE are dropped
    uint8_t close_code = 0;      // for Closing
    uint8_t bad_logged = 0;
    uint64_t stream = 0;
    char service[KEEL_PROXY_MAX_SERVICE] = {};
    size_t service_len = 0;
    uint8_t rx[kMaxMsg] = {};    // control stream bytes not yet delivered (at most one message)
    size_t rx_len = 0;
  };
  bool poll_app(size_t i);                                  // true if anything moved
  bool from_app(App& a, size_t i);                          // one app record
  bool from_fleet(App& a, size_t i);                        // one message from Fleet
  bool try_open(App& a, size_t i);
  bool send_closed(App& a, size_t i);
  void fail_app(App& a, size_t i, std::string_view why);    // CLOSED(3), logged, the app's stream emptied
  void to_closing(App& a, uint8_t code, bool by_link);
  void end_stream(App& a, uint8_t code);                    // PROXY_CLOSE(code) + FIN, then drain
  void finish_stream(App& a, bool clean);                   // FIN after Fleet's PROXY_CLOSE, then drain
  void drain();
  bool flush_pending();
  void logf(const App& a, std::string_view what, std::string_view detail = {});

  ProxyHost& host_;
  App apps_[kMaxApps];
  size_t count_ = 0;
  bool up_ = false;
  uint64_t draining_[kMaxDraining] = {};
  size_t n_draining_ = 0;
  Stats stats_;
  uint8_t scratch_[kMaxMsg] = {};  // one PROXY_DATA message on its way to Fleet
  bool pending_ = false;           // scratch_ holds a message whose write found no block
  size_t pending_app_ = 0, pending_len_ = 0;
  uint64_t pending_stream_ = 0;
};

}  // namespace keel::link
