// Helpers shared by the root server's test components (tests/os/root).
#pragma once

#include "../common/ostest.h"

namespace roottest {

using ostest::crash;
using ostest::Status;
using ostest::status;
using ostest::system_page;
using ostest::wait_ms;

}  // namespace roottest
