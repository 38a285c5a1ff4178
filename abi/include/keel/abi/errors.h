/* keel/abi/errors.h — invocation error codes (exactly seL4's) and their detail registers.
 *
 * An invocation that fails returns a reply whose message-info label is the error code; details
 * are in the message registers as listed here. A successful invocation returns label 0. */
#ifndef KEEL_ABI_ERRORS_H
#define KEEL_ABI_ERRORS_H

#include "keel/abi/types.h"

typedef enum keel_error {
  KEEL_NO_ERROR = 0,
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
  KEEL_NUM_ERRORS = 11
} keel_error_t;

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
