// console.h — a device console between the HTTP server (the websocket of
// GET /api/v1/devices/{id}/console) and the device link's shard that owns the device's session
// (fleet/link). Thread-safe: each side calls only its own half; neither blocks on the other.
//
// Back-pressure both ways with bounded queues: typed bytes wait here (at most kInputCap) until the
// console stream's credit lets the shard send them, and the websocket stops reading while the
// queue is full; device output waits here (at most kOutputCap) until the websocket has sent it,
// and the shard stops reading the console stream meanwhile (the stream's window then stops the
// device). Each side's wake function is called (outside the lock) when the other side made room,
// added data or ended.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace keel::fleet {

class ConsoleBridge {
 public:
  static constexpr size_t kInputCap = 16 * 1024;   // typed bytes not yet taken by the link
  static constexpr size_t kOutputCap = 64 * 1024;  // device output not yet taken by the websocket
  using Wake = std::function<void()>;

  // ---- the websocket side ----
  void set_client_wake(Wake w);
  // Typed bytes: how many were queued (fewer than given when the queue is full: wait for a wake).
  size_t send_input(std::string_view bytes);
  // Appends the device's output so far to `out`.
  void take_output(std::string& out);
  // Why the device side ended (nullopt while the console is open): "device offline", ...
  std::optional<std::string> ended() const;
  bool failed() const;  // ended by a failure of Fleet's side (end(..., true))
  bool output_pending() const;
  // The user closed the console (the link closes the stream). Drops the wake function.
  void close_by_client();

  // ---- the link side ----
  void set_link_wake(Wake w);
  // Up to `max` typed bytes.
  std::string take_input(size_t max);
  bool input_pending() const;
  size_t input_queued() const;  // typed bytes not yet taken
  size_t output_room() const;
  // Device output (the caller checked output_room; anything beyond kOutputCap is dropped).
  void push_output(const uint8_t* p, size_t n);
  // The device side ended (session gone, stream closed); the websocket closes after the output.
  // `failed`: Fleet's side broke (the relay to the process holding the device's session went
  // silent or sent garbage), not the device or the user: the websocket closes with 1011.
  void end(const std::string& reason, bool failed = false);
  bool client_closed() const;

 private:
  mutable std::mutex mu_;
  std::string in_, out_;
  bool client_closed_ = false;
  std::optional<std::string> ended_;
  bool failed_ = false;
  Wake client_wake_, link_wake_;
};

// The device link's answer to a console request.
enum class ConsoleOpen { ok, offline, limit };
// Opens a console on the device's live session (the link in this process); empty when the link
// runs in another process (the API answers 501).
using ConsoleOpener = std::function<ConsoleOpen(int64_t device_id, std::shared_ptr<ConsoleBridge> bridge)>;

}  // namespace keel::fleet
