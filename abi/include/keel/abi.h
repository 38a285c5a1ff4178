/* keel/abi.h — the whole Keel kernel ABI in one include. */
#ifndef KEEL_ABI_H
#define KEEL_ABI_H
#include "keel/abi/types.h"
#include "keel/abi/errors.h"
#include "keel/abi/syscall.h"
#include "keel/abi/objects.h"
#include "keel/abi/invocations.h"
#include "keel/abi/bootinfo.h"
#include "keel/abi/faults.h"
#endif
