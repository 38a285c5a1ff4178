/* keel/sys/store_service.h — the contract between a component's keel_store_* / keel_record_* calls
 * (libkeel, src/store.cc) and the store service (services/store/src/main.cc; docs/os-services.md
 * "Store", docs/libkeel.md "Storage").
 *
 * Control: an rpc channel from the client to the component `store` (any end names). Data: a
 * [[shared]] region named "store_<client component>" mapped by both (at least 4 KiB; the store
 * uses at most KEEL_STORE_MAX_BLOCKS blocks of it per request). Why a region and not the rpc
 * message or a stream: a block is 4 KiB and an rpc message 32 words; a stream would copy each
 * block twice (into the ring, out of it) and need framing, while a region is one copy on each side
 * and bounded by its size per client — the manifest decides each client's buffer. The store copies
 * a write's bytes out of the region before it looks at them (the client cannot change them under
 * the store), and writes a read's bytes there only after they authenticated.
 *
 * A partition is named by its index in the store's layout (KEEL_STORE_OPEN: name -> index; the
 * index is stable as long as the manifest is, so it survives store restarts). Every request is
 * checked against the client's grant ([component.storage]); a refusal answers KEEL_DENIED and the
 * store logs it (at most 8 lines per client per second) with the partition's name.
 *
 *   KEEL_STORE_OPEN    w0 = n (1..32), w1.. the name (bytes packed little-endian into words)
 *                      -> w0 index, w1 blocks, w2 flags (KEEL_STORE_INFO_*), w3 region blocks
 *   KEEL_STORE_INFO    w0 index -> as OPEN
 *   KEEL_STORE_READ    w0 index, w1 first block, w2 count (1..min(region, KEEL_STORE_MAX_BLOCKS))
 *                      -> the blocks at region offset 0
 *   KEEL_STORE_WRITE   w0 index, w1 first block, w2 count; the blocks at region offset 0
 *   KEEL_STORE_FLUSH   w0 index (needs w): every write before it is durable
 *   KEEL_RECORD_READ   w0 index, w1 record id -> w0 length, w1 sequence; the payload at offset 0
 *   KEEL_RECORD_WRITE  w0 index, w1 record id, w2 length (0..4032); the payload at offset 0
 *                      -> w0 sequence (the write is durable when this answers KEEL_OK)
 *
 * Record id r occupies blocks 2r and 2r+1 of the partition (its two copies): ids 0 .. blocks/2 - 1.
 * A client that uses records and blocks on one partition keeps them apart itself.
 * Errors: KEEL_NOT_FOUND (no such partition, or a record never written), KEEL_DENIED (grant),
 * KEEL_RANGE_ERROR (blocks outside the partition, count 0 or too large, record id or length),
 * KEEL_CORRUPT (an encrypted block failed authentication: tampered, moved, replayed or torn —
 * logged by the store with the partition and block), KEEL_NOT_READY (a partition the store does
 * not serve: its layout changed, or no key), KEEL_INVALID_ARGUMENT (malformed request, no region),
 * KEEL_PROTOCOL_ERROR (the disk failed: the store logs the device status).
 * Pure C, freestanding. */
#ifndef KEEL_SYS_STORE_SERVICE_H
#define KEEL_SYS_STORE_SERVICE_H

#include <stdint.h>

#define KEEL_STORE_BLOCK_BYTES 4096u
#define KEEL_STORE_MAX_BLOCKS 16u /* per request (64 KiB): bounds the store's work per call */
#define KEEL_STORE_MAX_NAME 32u
#define KEEL_STORE_MAX_RECORD 4032u
#define KEEL_STORE_REGION_PREFIX "store_"

#define KEEL_STORE_INFO_ENCRYPTED 1u
#define KEEL_STORE_INFO_READ 2u   /* granted r */
#define KEEL_STORE_INFO_WRITE 4u  /* granted w */
#define KEEL_STORE_INFO_SERVED 8u /* the store serves it (else its requests answer KEEL_NOT_READY) */

enum keel_store_request {
  KEEL_STORE_OPEN = 1,
  KEEL_STORE_INFO = 2,
  KEEL_STORE_READ = 3,
  KEEL_STORE_WRITE = 4,
  KEEL_STORE_FLUSH = 5,
  KEEL_RECORD_READ = 6,
  KEEL_RECORD_WRITE = 7,
};

#endif
