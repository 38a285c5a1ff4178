#include "system_counts.h"

#include <string>

namespace keel::fleet {

ObjectCounts object_counts(Db& db) {
  auto count = [&](const char* table) { return db.one(std::string("SELECT count(*) FROM ") + table)->i(0); };
  ObjectCounts c;
  c.organizations = count("organizations");
  c.users = count("users");
  c.projects = count("projects");
  c.deployments = count("deployments");
  c.devices = count("devices");
  c.releases = count("releases");
  return c;
}

}  // namespace keel::fleet
