// router.h — the route table. It is the single source for dispatch, for request-body validation
// and for the OpenAPI document (/api/v1/openapi.json), so the three cannot drift apart.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "http.h"

namespace keel::fleet {

struct Ctx;

// Who may call a route, as documented; handlers enforce organisation scope on the objects they
// touch (the router cannot know which organisation an id belongs to).
enum class Access {
  public_,     // no authentication
  user,        // any authenticated principal
  admin,       // administrators only (fleet mode) / the local developer (studio mode)
  org_read,    // members of the owning organisation (and administrators, read-only)
  org_write,   // organisation owners of the owning organisation
  device,      // device-side reports (for now authenticated as an organisation owner)
};
const char* access_name(Access a);

enum class FieldType { string, integer, boolean, object, array_string, array_integer, array_object };

// A field of a JSON request body; routes list them with designated initializers, e.g.
// {.name = "name", .type = FieldType::string, .required = true, .min = 1, .max = 100}.
struct Field {
  std::string name{};
  FieldType type = FieldType::string;
  bool required = false;
  std::string description{};
  int64_t min = 0;        // string: min length; integer: min value
  int64_t max = 0;        // string: max length; integer: max value (0 = none)
  std::vector<std::string> one_of{};  // allowed string values
};

// Whether a JSON integer fits int64 (nlohmann::json parses 2^63 and above as unsigned).
inline bool fits_int64(const json& v) {
  return v.is_number_integer() && !(v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX));
}

struct QueryParam {
  std::string name{};
  FieldType type = FieldType::string;
  std::string description{};
  std::vector<std::string> one_of{};  // allowed values (checked before the handler runs)
};

using Handler = std::function<Response(Ctx&)>;

// One API operation. Routes are written with designated initializers, so every entry names what
// it sets: {.method = Method::GET, .path = "/api/v1/releases", …, .response_schema = "Release"}.
struct Route {
  Method method = Method::GET;
  std::string path{};  // "/api/v1/devices/{device_id}"; {…_id} segments match decimal ids
  std::string operation_id{};
  std::string tag{};
  std::string summary{};
  Access access = Access::public_;
  std::vector<Field> body{};  // JSON object body (validated before the handler runs)
  std::vector<QueryParam> query{};
  bool paginated = false;
  bool raw_body = false;        // the handler reads req.body itself (release upload, device import)
  // Raw bodies: the media types accepted (empty: application/octet-stream only). For
  // application/json the `body` fields describe the document for OpenAPI (not validated: the
  // handler does that), and the body's depth is checked as for every JSON body.
  std::vector<std::string> raw_types{};
  bool import_body = false;     // raw body limited by Config::max_import instead of max_upload
  std::string response_schema{};  // OpenAPI component name of the success response ("": none)
  int success_status = 200;
  Handler handler{};
};

struct Match {
  const Route* route = nullptr;
  std::map<std::string, std::string> params;
  std::vector<std::string> allowed;  // when the path matched but the method did not
};

class Router {
 public:
  void add(Route r);
  Match match(Method m, const std::string& path) const;
  const std::vector<Route>& routes() const { return routes_; }
  json openapi(const std::string& version) const;
  // Validates `body` against the route's fields: required, types, ranges, unknown keys.
  static void validate_body(const Route& r, const json& body);
  // The same checks against a field list (e.g. one row of a device import).
  static void validate_fields(const std::vector<Field>& fields, const json& body);

 private:
  std::vector<Route> routes_;
};

}  // namespace keel::fleet
