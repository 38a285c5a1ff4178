// system_counts.h — how many objects of each kind the instance holds (GET /system).
#pragma once

#include <cstdint>

#include "db.h"

namespace keel::fleet {

struct ObjectCounts {
  int64_t organizations = 0;
  int64_t users = 0;
  int64_t projects = 0;
  int64_t deployments = 0;
  int64_t devices = 0;
  int64_t releases = 0;
};
ObjectCounts object_counts(Db& db);

}  // namespace keel::fleet
