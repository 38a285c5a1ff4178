/* keel/abi/errors.h — the one error enum of Keel: kernel invocation errors (exactly seL4's values,
 * with their detail registers) and the user-level errors of the services and libkeel.
 *
 * An invocation or a service request that fails returns a reply whose message-info label is the
 * error code; a kernel error's details are in the message registers as listed here. Success is
 * label 0 (KEEL_OK). C name keel_error_t; C++ keel::Result<T> (keel/result.h) carries it. */
#ifndef KEEL_ABI_ERRORS_H
#define KEEL_ABI_ERRORS_H

#include "keel/abi/types.h"

typedef enum keel_error {
  KEEL_OK = 0,
  KEEL_INVALID_ARGUMENT = 1,    /* MR0 = index of the offending argument (message register) */
  KEEL_INVALID_CAPABILITY = 2,  /* MR0 = index of the offending capability (0 = invoked cap,
                                   1.. = extra caps 0..) */
  KEEL_ILLEGAL_OPERATION = 3,   /* no details */
  KEEL_RANGE_ERROR = 4,         /* MR0 = minimum allowed, MR1 = maximum allowed */
  KEEL_ALIGNMENT_ERROR = 5,     /* no details */
  KEEL_FAILED_LOOKUP = 6,       /* MR0 = 1 if the source lookup failed (else 0), MR1.. =
                                   lookup failure (keel_lookup_failure below) */
  KEEL_TRUNCATED_MESSAGE = 7,   /* too few message registers / extra caps for the invocation */
  KEEL_DELETE_FIRST = 8,        /* destination slot is not empty */
  KEEL_REVOKE_FIRST = 9,        /* object/capability still has derived children or is in use */
  KEEL_NOT_ENOUGH_MEMORY = 10,  /* MR0 = bytes available in the untyped */
  KEEL_NUM_ERRORS = 11,          /* kernel errors are below this */

  /* User level: answered by the root server, the core services and libkeel, never by the kernel.
   * Malformed requests answer KEEL_INVALID_ARGUMENT, values outside the manifest's limits
   * KEEL_RANGE_ERROR, as the kernel does. */
  KEEL_DENIED = 16,       /* the manifest does not grant it (logged by the server that refused) */
  KEEL_NOT_FOUND = 17,    /* no such channel / component / key / device */
  KEEL_NO_SPACE = 18,     /* buffer / ring / timer slots full */
  KEEL_PROTOCOL_ERROR = 19, /* a reply whose label is no error code (a server broke its protocol) */
  KEEL_TIMEOUT = 20,      /* a wait with a deadline ended with nothing (e.g. keel_udp_recv) */
  KEEL_NOT_READY = 21,    /* the service cannot answer yet (the rng before its first seeding): try
                             again later; nothing was done */
  /* Stored data failed its integrity check: an
   * encrypted block that does not authenticate (tampered, moved, replayed, torn) or a record with
   * no valid copy left. Never "try again": the data is not handed out (the store logs partition
   * and block). Its own code because no other error says "the bytes are there but are not yours to
   * trust" — KEEL_PROTOCOL_ERROR means a peer broke its protocol, which a client must not confuse
   * with a tampered disk. */
  KEEL_CORRUPT = 22,
  /* The peer is gone: the channel was torn down under a Call (the root server answers the
   * CapFault of a channel slot, or aborts a call held by a restarting server, with this label),
   * or the peer is not up yet. Try again: the channel is re-opened. Outside every label a
   * service or an rpc channel may use otherwise. */
  KEEL_CHANNEL_DOWN = 0xdead0
} keel_error_t;

/* The former name of KEEL_OK, kept only for tests/kernel and bench/kernel until they say KEEL_OK. */
#define KEEL_NO_ERROR KEEL_OK

/* Lookup failure description (seL4_LookupFailureType), in the registers after the leading word:
 *   MR[k+0] = type, then for DepthMismatch: bits_left, bits_found;
 *   for GuardMismatch: bits_left, guard_found, guard_size; for MissingCapability: bits_left. */
typedef enum keel_lookup_failure {
  KEEL_LOOKUP_NO_FAILURE = 0,
  KEEL_LOOKUP_INVALID_ROOT = 1,
  KEEL_LOOKUP_MISSING_CAPABILITY = 2,
  KEEL_LOOKUP_DEPTH_MISMATCH = 3,
  KEEL_LOOKUP_GUARD_MISMATCH = 4
} keel_lookup_failure_t;

#endif /* KEEL_ABI_ERRORS_H */
