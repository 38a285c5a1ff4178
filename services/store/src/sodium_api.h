// libsodium for the store logic: on the device the aarch64 tree's keel_sodium (lib/sodium), whose
// keel/sodium.h poisons what a component must not call — sodium_init among them (every primitive
// is statically the portable code there) and libsodium's own randomness (this logic draws none: the
// nonces come in through RandomFill); on the host the machine's libsodium, which wants sodium_init.
#pragma once

#if __has_include("keel/sodium.h")
#include "keel/sodium.h"
#define KEEL_STORE_SODIUM_INIT 0
#else
#include <sodium.h>
#define KEEL_STORE_SODIUM_INIT 1
#endif
