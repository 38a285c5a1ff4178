/* Must not compile (the CTest test sodium.poison): keel/sodium.h poisons sodium_init. */
#include "keel/sodium.h"

int refused(void) { return sodium_init(); }
