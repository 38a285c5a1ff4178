// A client of the device console websocket (GET /api/v1/devices/{id}/console) for the link's tests,
// pumped by the test thread like the simulated devices (link_harness.h): streams_test.cc (the link
// in the API's process) and fleet/bus's bus_link_test.cc (the link in another "process", over NATS).
#pragma once

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <boost/beast/websocket.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>

namespace keel::link {
namespace {  // each test file its own copy

namespace asio = boost::asio;
namespace websocket = boost::beast::websocket;

// A client of GET /api/v1/devices/{id}/console, pumped by the test thread (like the devices).
class ConsoleClient {
 public:
  ConsoleClient(uint16_t port, int64_t device) {
    ws_.next_layer().connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    websocket::response_type res;
    ws_.handshake(res, "127.0.0.1:" + std::to_string(port), "/api/v1/devices/" + std::to_string(device) + "/console",
                  error);
    status = int(res.result_int());
    if (error) {
      ended = true;
      return;
    }
    read_next();
  }
  void send(const std::string& s) {
    pending_.push_back(s);
    if (pending_.size() == 1) write_next();
  }
  void pump(std::chrono::milliseconds d) { ioc_.run_for(d); }
  void close() {
    if (ended) return;
    ws_.async_close(websocket::close_code::normal, [](boost::system::error_code) {});
    pump(std::chrono::milliseconds(100));
  }

  int status = 0;            // of the handshake's answer (101 when accepted)
  std::string data;          // what arrived
  bool ended = false;
  boost::system::error_code error;
  uint16_t close_code = 0;
  std::string close_reason;

 private:
  void read_next() {
    ws_.async_read(buf_, [this](boost::system::error_code ec, size_t) {
      if (ec) {
        ended = true;
        error = ec;
        close_code = ws_.reason().code;
        close_reason = std::string(ws_.reason().reason.data(), ws_.reason().reason.size());
        return;
      }
      data += boost::beast::buffers_to_string(buf_.data());
      buf_.consume(buf_.size());
      read_next();
    });
  }
  void write_next() {
    ws_.binary(true);
    ws_.async_write(asio::buffer(pending_.front()), [this](boost::system::error_code ec, size_t) {
      pending_.pop_front();
      if (!ec && !pending_.empty()) write_next();
    });
  }
  asio::io_context ioc_;
  websocket::stream<asio::ip::tcp::socket> ws_{ioc_};
  boost::beast::flat_buffer buf_;
  std::deque<std::string> pending_;
};

}  // namespace
}  // namespace keel::link
