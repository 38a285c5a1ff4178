/* keel/rt.h — the Keel user runtime in one include (C and C++). */
#pragma once
#include "keel/abi.h"
#include "keel/rt/invocations.h"
#include "keel/rt/printf.h"
#include "keel/rt/rt.h"
#include "keel/rt/syscall.h"
