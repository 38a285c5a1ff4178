// http.h — the request/response vocabulary between the Beast server, the router and handlers.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace keel::fleet {

using json = nlohmann::json;

enum class Method { GET, POST, PUT, PATCH, DELETE_, OTHER };
const char* method_name(Method m);

struct Request {
  Method method = Method::GET;
  std::string path;                          // percent-decoded path, no query
  std::map<std::string, std::string> query;  // decoded query parameters (last one wins)
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string remote;  // peer address, for the audit log
  bool loopback = false;
  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  static Response json_body(const json& j, int status = 200) {
    Response r;
    r.status = status;
    r.body = j.dump(-1, ' ', false, json::error_handler_t::replace);
    return r;
  }
  static Response no_content() {
    Response r;
    r.status = 204;
    r.content_type.clear();
    return r;
  }
};

// Aborts a request with the one error shape {"error": {"code", "message", "field"}}.
class ApiError : public std::runtime_error {
 public:
  ApiError(int status_, std::string code_, std::string message, std::string field_ = {})
      : std::runtime_error(message), status(status_), code(std::move(code_)), field(std::move(field_)) {}
  int status;
  std::string code;
  std::string field;
};

inline ApiError bad_request(const std::string& msg, const std::string& field = {}) {
  return ApiError(400, "invalid_request", msg, field);
}
inline ApiError not_found(const std::string& what) { return ApiError(404, "not_found", what + " not found"); }
inline ApiError forbidden(const std::string& msg) { return ApiError(403, "forbidden", msg); }
inline ApiError conflict(const std::string& msg, const std::string& field = {}) {
  return ApiError(409, "conflict", msg, field);
}

Response error_response(int status, const std::string& code, const std::string& message,
                        const std::string& field = {});

// Percent-decoding that rejects malformed escapes and NUL bytes (returns false).
bool percent_decode(std::string_view in, std::string& out, bool plus_is_space);

}  // namespace keel::fleet
