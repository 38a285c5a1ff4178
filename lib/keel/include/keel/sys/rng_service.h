/* keel/sys/rng_service.h — the contract between a component's keel_random (libkeel) and the rng
 * service (services/rng; docs/device-services.md "Random numbers").
 *
 * A component may draw random bytes if the manifest gives it an rpc channel to the component
 * `rng` (from the component, to rng): the channel is the grant. One request:
 *   label KEEL_RNG_SERVICE_GET, w0 = n (1..KEEL_RNG_SERVICE_MAX_BYTES)
 *   -> KEEL_OK, len = ceil(n / 8) words: the bytes, little-endian within each word (byte i is bits
 *      8 (i % 8) .. of w[i / 8]; the unused high bytes of the last word are zero)
 *   -> KEEL_NOT_READY: the service is not seeded yet (no bytes)
 *   -> KEEL_RANGE_ERROR: n is 0 or over the limit; KEEL_INVALID_ARGUMENT: another label or length
 * Pure C, freestanding. */
#ifndef KEEL_SYS_RNG_SERVICE_H
#define KEEL_SYS_RNG_SERVICE_H

#include <stdint.h>

#define KEEL_RNG_SERVICE_MAX_BYTES 256u /* one rpc reply: 32 words */

enum keel_rng_service_request {
  KEEL_RNG_SERVICE_GET = 1,
};

#endif
