// websocket.h — what the server's websockets share (server.cc: /api/v1/events; console_ws.cc:
// /api/v1/devices/{id}/console): admission of an upgrade, re-validation of its credential while it
// lives, and the close codes (docs/fleet-api.md, "Event stream" and "Device console").
#pragma once

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <optional>

#include "app.h"

namespace keel::fleet {

// 4401 the credential ended, 4403 the user's role or organisation changed (both streams);
// console only: 4404 the device is offline (or went offline), 4409 the device has its 2 consoles.
inline constexpr auto kCloseCredentialEnded = static_cast<boost::beast::websocket::close_code>(4401);
inline constexpr auto kCloseAccessChanged = static_cast<boost::beast::websocket::close_code>(4403);
inline constexpr auto kCloseDeviceOffline = static_cast<boost::beast::websocket::close_code>(4404);
inline constexpr auto kCloseConsoleLimit = static_cast<boost::beast::websocket::close_code>(4409);
// A safety net for changes no notification reports (e.g. a row edited by hand): every live
// stream re-validates this often even when nothing happened. Changes made through the API are
// reported at once (CredentialWatch) and handled within milliseconds.
inline constexpr auto kRevalidateEvery = std::chrono::seconds(30);

// Authentication, token scope (device tokens: no websocket) and Origin of an upgrade request:
// the error to answer, or nullopt with `who` set.
std::optional<Response> admit_websocket(App& app, const Request& req, Principal& who);
// nullopt while the credential still stands for the same principal (user, role, organisation,
// token scope); else the close frame to send.
std::optional<boost::beast::websocket::close_reason> revalidate_websocket(App& app, const Request& req,
                                                                          const Principal& who);
boost::beast::http::response<boost::beast::http::string_body> beast_response(const Response& r, unsigned version,
                                                                             bool keep_alive);

// The device id of /api/v1/devices/{id}/console, else nullopt.
std::optional<int64_t> console_device(const std::string& path);
// Serves the console websocket of a device (console_ws.cc).
boost::asio::awaitable<void> console_websocket(App& app, boost::beast::tcp_stream stream,
                                               boost::beast::http::request<boost::beast::http::string_body> upgrade,
                                               Request req, int64_t device_id);

}  // namespace keel::fleet
