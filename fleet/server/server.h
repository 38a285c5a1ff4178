// server.h — HTTP/1.1 + websocket front end (Boost.Beast on Asio, C++20 coroutines).
// One port serves the JSON API, the websocket event stream and the web UI.
#pragma once

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "app.h"

namespace keel::fleet {

class HttpServer {
 public:
  explicit HttpServer(App& app);
  ~HttpServer();
  // Binds and listens; returns the bound port (useful with port 0). Throws on failure.
  uint16_t listen(const std::string& address, uint16_t port);
  // Serves on `threads` threads until stop(); blocks.
  void run(unsigned threads);
  // Starts serving on background threads and returns immediately (tests).
  void start(unsigned threads);
  void stop();
  // SIGINT / SIGTERM stop the server gracefully (registered on the server's own io_context).
  void stop_on_signals();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace keel::fleet
