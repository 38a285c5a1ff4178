// app.h — the Fleet application: configuration, shared state, request context, and the helpers
// every handler uses (authorization, audit). Pagination: pagination.h; ownership: owner.h.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "../store/blob_store.h"
#include "../store/db.h"
#include "../store/device_log.h"
#include "../store/row.h"
#include "address_pool.h"
#include "console.h"
#include "pagination.h"
#include "router.h"

namespace keel::fleet {

inline constexpr const char* kVersion = "0.1.0";

enum class Mode { studio, fleet };

struct Config {
  Mode mode = Mode::studio;
  std::filesystem::path data_dir;  // studio: fleet.db + blobs/ ; fleet: blobs/ unless blob_dir set
  std::string database;            // fleet mode: PostgreSQL connection string
  std::filesystem::path blob_dir;
  std::string bind = "127.0.0.1";
  uint16_t port = 7780;
  bool allow_remote = false;
  bool print_port = false;
  unsigned threads = 4;
  std::string tunnel_prefix = "10.64.0.0/10";
  size_t max_body = 1 << 20;            // JSON bodies
  size_t max_upload = 256u << 20;       // release files
  size_t max_import = 32u << 20;        // device imports (CSV or JSON), --max-import-mb
  size_t max_import_rows = 100000;      // devices per import
  std::filesystem::path web_dir;        // built web UI (fleet/web/dist)
  bool secure_cookies = false;          // set when served behind TLS
  int session_hours = 12;
  // Argon2id cost; "interactive" is libsodium's recommendation for online logins. Tests may lower
  // it (never below libsodium's minimum) to keep the suite fast.
  unsigned long long pwhash_ops = 0;    // 0 = crypto_pwhash_OPSLIMIT_INTERACTIVE
  size_t pwhash_mem = 0;                // 0 = crypto_pwhash_MEMLIMIT_INTERACTIVE
  int login_attempts = 5;               // failed logins per (address, email) per window
  int login_window_s = 300;
  // What a device says (serial console, trace), kept per device: the newest entries up to these
  // bounds, enforced on every append (fleet/store/device_log.h).
  LogRetention serial_retention;
  LogRetention trace_retention;
};

enum class Role { administrator, org_owner, org_user };
const char* role_name(Role r);
std::optional<Role> parse_role(const std::string& s);

struct Principal {
  enum class Kind { anonymous, studio, user } kind = Kind::anonymous;
  int64_t user_id = 0;
  std::string label;  // email, "studio", for the audit log
  Role role = Role::org_user;
  std::optional<int64_t> org_id;
  bool via_session = false;
  std::string session_csrf;
  std::string session_hash;  // sessions: SHA-256 of the session id (the row's key)
  std::string token_scope;   // "read" / "write" / "device" for API tokens, empty for sessions
  int64_t token_id = 0;      // API tokens: the token's row
  // When the credential (session or token) stops working; nullopt: a token that never expires.
  std::optional<int64_t> expires_at;
};

// In-memory sliding window of failed logins per key; the lock is held only for bookkeeping.
class RateLimiter {
 public:
  RateLimiter(int max, int window_s) : max_(max), window_(window_s) {}
  // Seconds to wait before another attempt is allowed (0 = allowed now).
  int retry_after(const std::string& key);
  void fail(const std::string& key);
  void reset(const std::string& key);

 private:
  int max_;
  int window_;
  std::mutex mu_;
  std::map<std::string, std::vector<int64_t>> fails_;
};

// Notifications that a user's credentials or authority changed (token revoked, session ended,
// password changed, account disabled, role changed). Live event streams (/api/v1/events) watch
// the user they were opened for and re-validate their credential when notified, so a stream
// never outlives what a plain request with the same credential would be allowed (issue 17, item 2).
// Sent after the change is committed; watchers run on the notifying thread and must only flag
// and wake their stream (no database work, no call back into the watch).
class CredentialWatch {
 public:
  using Watcher = std::function<void()>;
  int watch(int64_t user_id, Watcher w);
  void unwatch(int id);
  void changed(int64_t user_id);
  // Every change is also handed to `forward` (keel/bus: the other Fleet processes, whose streams
  // may belong to the same user); changes from there arrive through changed_local, which does not
  // forward them again. Set before serving.
  void set_forward(std::function<void(int64_t user_id)> f) { forward_ = std::move(f); }
  void changed_local(int64_t user_id);
  // Counts every changed() call: a stream compares it across its own authentication to see
  // whether a change slipped in before it was watching.
  uint64_t generation() const { return generation_.load(); }

 private:
  std::mutex mu_;
  int next_ = 1;
  std::map<int64_t, std::map<int, Watcher>> by_user_;
  std::map<int, int64_t> user_of_;
  std::atomic<uint64_t> generation_{0};
  std::function<void(int64_t)> forward_;
};

// Change notifications for websocket subscribers (/api/v1/events).
class EventHub {
 public:
  using Sink = std::function<void(const std::string& json_text, std::optional<int64_t> org)>;
  int subscribe(Sink s);
  void unsubscribe(int id);
  void publish(const json& event, std::optional<int64_t> org);
  // Every event published here is also handed to `forward` (keel/bus: the other Fleet processes'
  // streams); events from there arrive through publish_local, which does not forward them again.
  // Set before serving.
  void set_forward(Sink f) { forward_ = std::move(f); }
  void publish_local(const std::string& json_text, std::optional<int64_t> org);

 private:
  std::mutex mu_;
  int next_ = 1;
  std::map<int, Sink> sinks_;
  Sink forward_;
};

// The event of a change (what /api/v1/events sends): {type: "change", action, target_type,
// target_id, organization_id, at}.
json change_event(const std::string& action, const std::string& target_type, const std::string& target_id,
                  std::optional<int64_t> org_id, int64_t at_ms);

class App {
 public:
  explicit App(Config cfg);
  ~App();
  Config cfg;
  std::unique_ptr<DbPool> pool;
  std::unique_ptr<BlobStore> blobs;
  AddressPool addresses;
  Router router;
  RateLimiter login_limiter;     // per (address, e-mail)
  RateLimiter login_ip_limiter;  // per address, against spraying many e-mails from one place
  EventHub events;
  CredentialWatch credentials;
  int64_t studio_org_id = 0;  // studio mode: the single implicit organisation
  // Called after a command for the device is queued through the API: the device link (in this
  // process, or through the bus in another) sends it at once instead of at its next store poll.
  // device_id 0: commands for many devices (a deployment's batch). Set before serving; may be empty.
  std::function<void(int64_t device_id)> command_queued;
  // The device link's WireGuard gateway in this process (studio mode), for GET /system: its UDP
  // port and public key (base64), which a device's enrolment needs. Empty when none runs here.
  struct GatewayInfo {
    uint16_t port = 0;
    std::string public_key;
  } gateway;
  // Opens a device console (GET /api/v1/devices/{id}/console) through the device link in this
  // process (studio mode) or through the bus (fleet mode with --nats; keel/bus/console_relay.h).
  // Empty: the API answers 501. Set before serving.
  ConsoleOpener console_open;

  Response handle(Request& req);
  // The largest request body `route` takes (JSON bodies, release files, device imports).
  size_t body_limit(const Route* route) const;
  // Who is calling: session cookie, bearer token, studio loopback, or anonymous. Throws ApiError
  // for a presented but invalid credential.
  Principal authenticate(const Request& req);
  // Startup recovery: orphan blobs, running rollouts.
  void recover();

 private:
  Response serve_static(const Request& req);
};

struct Ctx {
  App& app;
  Request& req;
  Db& db;
  Principal who;
  json body;
  std::map<std::string, std::string> params;
  std::vector<json> pending_events;  // published after the handler returns (i.e. after commit)
  std::vector<std::optional<int64_t>> pending_orgs;
  std::vector<int64_t> pending_credential_users;  // notified after the handler returns (after commit)

  int64_t id(const std::string& name) const;
  std::optional<std::string> q(const std::string& name) const;
  std::optional<int64_t> q_id(const std::string& name) const;
  // Whether the body sets `field` (absent or JSON null: left unchanged).
  bool sets(const std::string& field) const {
    auto it = body.find(field);
    return it != body.end() && !it->is_null();
  }
  // The new name when the body sets `field`, checked with check_name.
  std::optional<std::string> new_name(const std::string& field = "name") const;
  // The name and description the body sets (the name checked with new_name).
  NameDescription name_description() const;

  bool studio() const { return app.cfg.mode == Mode::studio; }
  // Authorization on an organisation's objects. Outsiders get 404 for existence not to leak.
  void require_read(int64_t org_id, const std::string& what) const;
  void require_write(int64_t org_id, const std::string& what) const;
  void require_admin() const;
  void require_user_mode() const;  // endpoints that only exist in fleet mode
  // Organisations this principal may read; nullopt = all.
  std::optional<int64_t> read_scope() const;
  // The organisation a list shows: ?organization_id, which must lie within read_scope() (404
  // otherwise), else read_scope(); nullopt = all.
  std::optional<int64_t> list_scope() const;

  // After this request, live streams of `user_id` re-validate their credential (call it for every
  // change that ends a credential or reduces what a user may read: revocation, logout, password
  // change, disabling, role change). Sent after the handler returns, before its change events.
  void credentials_changed(int64_t user_id) { pending_credential_users.push_back(user_id); }

  // Appends an audit record (inside the caller's transaction) and publishes a change event.
  void audit(std::optional<int64_t> org_id, const std::string& action, const std::string& target_type,
             const std::string& target_id, const json& details = json::object());
  // Runs `change` and appends its audit record in one transaction (a throw rolls both back): the
  // shape of every update, delete and revoke whose target is known before the change.
  void audited_change(std::optional<int64_t> org_id, const std::string& action, const std::string& target_type,
                      const std::string& target_id, const std::function<void()>& change);
  void audited_change(std::optional<int64_t> org_id, const std::string& action, const std::string& target_type,
                      const std::string& target_id, const json& details, const std::function<void()>& change);
};

int64_t now_ms();
std::string random_token(size_t bytes);  // url-safe base64 of random bytes
std::string sha256_hex(const std::string& s);

// Shared validators.
void check_name(const json& body, const std::string& field, bool required = true);
std::string hex_lower(const uint8_t* p, size_t n);

}  // namespace keel::fleet
