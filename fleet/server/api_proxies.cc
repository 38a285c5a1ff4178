#include "api_proxies.h"

#include "../store/proxies.h"
#include "owner.h"
#include "row_json.h"

namespace keel::fleet {
namespace {

void check_proxy_name(const std::string& n) {
  bool ok = !n.empty() && n.size() <= 63;
  for (char ch : n)
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_')) ok = false;
  if (!ok) throw bad_request("a proxy name is 1-63 characters of a-z, 0-9, '-' and '_'", "name");
}

void check_host(const std::string& h) {
  // A DNS name (labels of letters, digits, '-') or an IPv4 / bracket-less IPv6 literal.
  bool ok = !h.empty() && h.size() <= 253;
  for (char ch : h)
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '.' || ch == ':')) ok = false;
  if (ok && (h.front() == '-' || h.front() == '.' || h.find("..") != std::string::npos)) ok = false;
  if (!ok) throw bad_request("field 'host' must be a host name or an IP address", "host");
}

Response list(Ctx& c) {
  int64_t id = c.id("deployment_id");
  deployment_owner(c, id, Need::read);
  json items = json::array();
  for (const auto& p : list_proxies(c.db, id)) items.push_back(row_json<ProxyRow>(p));
  return Response::json_body({{"items", items}, {"next_cursor", nullptr}});
}

Response put(Ctx& c) {
  int64_t id = c.id("deployment_id");
  Owner o = deployment_owner(c, id, Need::write);
  std::string name = c.params.at("name");
  check_proxy_name(name);
  std::string host = c.body.at("host").get<std::string>();
  check_host(host);
  int64_t port = c.body.at("port").get<int64_t>();
  Tx tx(c.db);
  set_proxy(c.db, id, name, host, port, now_ms());
  c.audit(o.org_id, "proxy.set", "deployment", std::to_string(id), {{"name", name}, {"host", host}, {"port", port}});
  tx.commit();
  return Response::json_body(row_json<ProxyRow>(*find_proxy(c.db, id, name)));
}

Response remove(Ctx& c) {
  int64_t id = c.id("deployment_id");
  Owner o = deployment_owner(c, id, Need::write);
  std::string name = c.params.at("name");
  c.audited_change(o.org_id, "proxy.delete", "deployment", std::to_string(id), {{"name", name}}, [&] {
    if (!find_proxy(c.db, id, name)) throw not_found("proxy");
    delete_proxy(c.db, id, name);
  });
  return Response::no_content();
}

}  // namespace

void register_proxy_routes(Router& r) {
  using F = FieldType;
  r.add({.method = Method::GET, .path = "/api/v1/deployments/{deployment_id}/proxies", .operation_id = "listProxies",
         .tag = "proxies", .summary = "External services the deployment's devices may reach",
         .access = Access::org_read, .response_schema = "Proxy", .handler = list});
  r.add({.method = Method::PUT, .path = "/api/v1/deployments/{deployment_id}/proxies/{name}",
         .operation_id = "setProxy", .tag = "proxies",
         .summary = "Allow devices to reach host:port under this service name", .access = Access::org_write,
         .body = {{.name = "host", .type = F::string, .required = true, .description = "host name or IP address",
                   .min = 1, .max = 253},
                  {.name = "port", .type = F::integer, .required = true, .min = 1, .max = 65535}},
         .response_schema = "Proxy", .handler = put});
  r.add({.method = Method::DELETE_, .path = "/api/v1/deployments/{deployment_id}/proxies/{name}",
         .operation_id = "deleteProxy", .tag = "proxies", .summary = "Remove a service from the allowlist",
         .access = Access::org_write, .success_status = 204, .handler = remove});
}

}  // namespace keel::fleet
