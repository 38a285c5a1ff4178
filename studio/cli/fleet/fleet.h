// What every `keel fleet ...` command shares: the connection options and how they resolve
// (flags, environment, stored login), API error reporting, and the table/JSON printing helpers.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "fleet_client.h"
#include "keel/release/keys.h"

namespace keel::studio {

// --url / --token / --ca-file (and --json) of one command.
struct Conn {
  std::string url;
  std::string token;
  std::string ca_file;
  bool json_out = false;
};

// Adds the connection options (and --json unless with_json is false) to a command.
std::shared_ptr<Conn> add_conn_options(CLI::App& cmd, bool with_json = true);

// Flags, then environment, then the stored login.
Result<FleetClient> connect(const Conn& c);

// A token over plain http:// to a host that is not loopback.
void warn_if_cleartext(const Endpoint& ep, const std::string& token);
// The CA file is stored as an absolute path so the login works from any directory.
std::string absolute_path(const std::string& p);

// Prints an API error (with a hint for 401 and 403) and returns exit status 1.
int api_error(const Error& e);

template <class F>
int with_client(const Conn& c, F&& f) {
  auto client = connect(c);
  if (!client) return error(client.error());
  return f(client.value());
}

// A field of an API object as text ("-" when absent or null).
std::string text_of(const nlohmann::json& j, const char* key);
// A millisecond timestamp field as "YYYY-MM-DD HH:MM:SSZ" ("-" when absent).
std::string fmt_time_ms(const nlohmann::json& j, const char* key);
void print_table(const std::vector<std::string>& head, const std::vector<std::vector<std::string>>& rows);

// GET every page of a list and print the given columns (or the JSON).
int list_simple(const Conn& c, const std::string& path, const std::vector<std::string>& head,
                const std::vector<const char*>& cols);
// POST a new object and print "created <what> <id> '<name>'" (or the JSON).
int create_simple(const Conn& c, const std::string& path, const nlohmann::json& body, const std::string& what);
int create_with(FleetClient& f, const Conn& c, const std::string& path, const nlohmann::json& body, const std::string& what);
// What the create verb of a named object reads: --name (required) and --description.
struct CreateOpts {
  std::string name, description;
};
// Adds --name (required, `name_help`) and --description.
void add_name_options(CLI::App& cmd, CreateOpts& o, const char* name_help);
// The request body they give: the name, and the description when one was given.
nlohmann::json name_body(const CreateOpts& o);
// ---- ids and names (resolve.cc) ------------------------------------------------------------
// An option (or argument) that names a Fleet object by id or by name: a value of digits only is
// the id; anything else is a name looked up through the API's list endpoint of that kind (every
// page), within the command's scope (RefScope). A release is named `NAME@VERSION` or by its
// version (or its name, when only one release has it). No match, or several, is an error naming
// the option and the value (several: the candidates with their ids and `narrow_with`, the option
// that narrows the search on this command, e.g. "--project").
enum class Ref { organization, project, deployment, release, device };
struct RefOpt {
  Ref kind;
  const char* option;        // "--project", or "id" for an argument
  std::string narrow_with;   // the option that narrows a name search on this command, or empty
  std::string value;         // as given; empty when not given
};
struct RefScope {
  int64_t organization = 0, project = 0, deployment = 0;  // 0: not given (every one you can see)
};
bool is_id(const std::string& v);
Result<int64_t> resolve(FleetClient& f, const RefOpt& ref, const RefScope& scope = {});
// 0 when the option was not given.
Result<int64_t> resolve_optional(FleetClient& f, const RefOpt& ref, const RefScope& scope = {});
CLI::Option* add_ref_option(CLI::App& cmd, RefOpt& ref, const std::string& help);
// Where a release named by name must be: the project of a deployment / of a device.
Result<int64_t> project_of_deployment(FleetClient& f, int64_t deployment);
Result<int64_t> project_of_device(FleetClient& f, int64_t device);

// Print an already fetched list (or the JSON).
int print_list(const Conn& c, const nlohmann::json& items, const std::vector<std::string>& head,
               const std::vector<const char*>& cols);

// A list verb: GET every page of `path` and print `cols` under `head`; with `filter`, an option
// (e.g. --project, id or name of a `filter_kind`) that, when given, adds ?<filter_key>=<id> to
// the query; with `narrow`, a --project option that scopes a --deployment name.
struct ListVerb {
  const char* path;
  std::vector<std::string> head;
  std::vector<const char*> cols;
  const char* filter = nullptr;
  const char* filter_key = nullptr;
  const char* filter_help = nullptr;
  Ref filter_kind = Ref::project;
  bool narrow_by_project = false;
};
Run list_verb(CLI::App& cmd, ListVerb spec);
// A verb on one object named by a required id option (`option`, e.g. "id" or "--project"):
// the connection options, that option, then run(conn, id).
Run id_verb(CLI::App& cmd, const char* option, const char* help, std::function<int(const Conn&, int64_t)> run);

// A value that may be a key file path or the key itself (base64): files are read and their kind
// checked here, so a wrong key is caught before it reaches the server.
Result<std::string> key_argument(const std::string& arg, keel::release::KeyKind want, const char* what);

}  // namespace keel::studio
