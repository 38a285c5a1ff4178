// owner.h — the ownership chain of an object, and the authorization check on it: every check is
// on the organisation at the chain's root. Unknown objects and those of other organisations both
// answer 404 (existence does not leak).
#pragma once

#include <cstdint>

#include "app.h"

namespace keel::fleet {

struct Owner {
  int64_t org_id = 0;
  int64_t project_id = 0;
  int64_t deployment_id = 0;
};
enum class Need { read, write };

Owner project_owner(Ctx& c, int64_t project_id, Need need);
Owner deployment_owner(Ctx& c, int64_t deployment_id, Need need);
Owner device_owner(Ctx& c, int64_t device_id, Need need);
Owner release_owner(Ctx& c, int64_t release_id, Need need);

}  // namespace keel::fleet
