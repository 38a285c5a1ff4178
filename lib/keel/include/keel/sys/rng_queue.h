/* keel/sys/rng_queue.h — the data path between the entropy driver (drivers/virtio_rng) and its one
 * client, the rng service (docs/device-services.md, "Block devices and entropy"). The same shape as
 * keel/sys/blk_queue.h, smaller: the client names a byte range of its data region "rng_data" (which
 * the driver knows only by physical address, manifest access = "dma"), the device fills it, and the
 * driver reports how many bytes it filled. The bytes reach the client's memory and nobody else's:
 * the driver never maps them.
 *
 * The [[shared]] region "rng_queues" (rw in both) holds the device block and two single-producer,
 * single-consumer queues:
 *   requests     client -> driver   fill [offset, offset + len) of rng_data (id, offset, len)
 *   completions  driver -> client   (id, bytes filled, status); the device may fill fewer bytes
 *                                   than asked (even 0): the client asks again for the rest
 * Event channels as for blk: the driver's end "done" (it signals the client), "req" (the client
 * signals it). Every request is checked (keel_rng_request_check) before it becomes a device
 * address; a refused one completes at once with KEEL_RNG_BAD_BUFFER. Restart handshake: as
 * keel_blk_device_t (driver_epoch / client_epoch): the client drops what is queued and asks again.
 * Pure C, freestanding; host-tested (keel_virtio_test, RngQueue.*). */
#ifndef KEEL_SYS_RNG_QUEUE_H
#define KEEL_SYS_RNG_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

#define KEEL_RNG_QUEUE_CAPACITY 32u /* entries per queue (a power of two) */
#define KEEL_RNG_MAX_BYTES 65536u   /* per request */

#define KEEL_RNG_OK 0u
#define KEEL_RNG_BAD_BUFFER 1u   /* len 0 or over KEEL_RNG_MAX_BYTES, or bytes outside rng_data */
#define KEEL_RNG_DEVICE_ERROR 2u /* the device reported more bytes than it was given */

typedef struct keel_rng_request {
  uint64_t id;     /* the client's, echoed */
  uint64_t offset; /* into rng_data */
  uint32_t len;    /* bytes, 1..KEEL_RNG_MAX_BYTES */
  uint32_t reserved;
} keel_rng_request_t;

typedef struct keel_rng_completion {
  uint64_t id;
  uint32_t len; /* bytes filled from offset on (KEEL_RNG_OK); 0 otherwise */
  uint32_t status;
} keel_rng_completion_t;

typedef struct keel_rng_device {
  volatile uint32_t driver_epoch; /* written by the driver */
  volatile uint32_t client_epoch; /* written by the client */
  uint32_t pad[14];
} keel_rng_device_t;

typedef struct keel_rng_queues {
  keel_rng_device_t device;
  volatile uint32_t req_head; /* client */
  uint32_t pad0[15];
  volatile uint32_t req_tail; /* driver */
  uint32_t pad1[15];
  keel_rng_request_t requests[KEEL_RNG_QUEUE_CAPACITY];
  volatile uint32_t done_head; /* driver */
  uint32_t pad2[15];
  volatile uint32_t done_tail; /* client */
  uint32_t pad3[15];
  keel_rng_completion_t completions[KEEL_RNG_QUEUE_CAPACITY];
} keel_rng_queues_t;

/* Empties both queues (the client, during the handshake, while the driver waits). */
static inline void keel_rng_queues_reset(keel_rng_queues_t* q) {
  __atomic_store_n(&q->req_head, 0u, __ATOMIC_RELAXED);
  __atomic_store_n(&q->req_tail, 0u, __ATOMIC_RELAXED);
  __atomic_store_n(&q->done_head, 0u, __ATOMIC_RELAXED);
  __atomic_store_n(&q->done_tail, 0u, __ATOMIC_RELEASE);
}

/* Free completion entries as the driver sees them (0 when the client corrupted its tail). */
static inline uint32_t keel_rng_completions_free(const keel_rng_queues_t* q) {
  const uint32_t n = __atomic_load_n(&q->done_head, __ATOMIC_ACQUIRE) - __atomic_load_n(&q->done_tail, __ATOMIC_ACQUIRE);
  return n > KEEL_RNG_QUEUE_CAPACITY ? 0 : KEEL_RNG_QUEUE_CAPACITY - n;
}

static inline bool keel_rng_request_push(keel_rng_queues_t* q, keel_rng_request_t r) {
  const uint32_t head = q->req_head;
  if (head - __atomic_load_n(&q->req_tail, __ATOMIC_ACQUIRE) >= KEEL_RNG_QUEUE_CAPACITY) return false;
  q->requests[head % KEEL_RNG_QUEUE_CAPACITY] = r;
  __atomic_store_n(&q->req_head, head + 1, __ATOMIC_RELEASE);
  return true;
}

/* False when empty or corrupt (*corrupt set); the entry is copied out before the slot is released. */
static inline bool keel_rng_request_pop(keel_rng_queues_t* q, keel_rng_request_t* out, bool* corrupt) {
  const uint32_t tail = q->req_tail;
  const uint32_t avail = __atomic_load_n(&q->req_head, __ATOMIC_ACQUIRE) - tail;
  if (avail == 0) return false;
  if (avail > KEEL_RNG_QUEUE_CAPACITY) {
    if (corrupt != 0) *corrupt = true;
    return false;
  }
  const volatile keel_rng_request_t* e = &q->requests[tail % KEEL_RNG_QUEUE_CAPACITY];
  out->id = e->id;
  out->offset = e->offset;
  out->len = e->len;
  out->reserved = 0;
  __atomic_store_n(&q->req_tail, tail + 1, __ATOMIC_RELEASE);
  return true;
}

static inline bool keel_rng_completion_push(keel_rng_queues_t* q, keel_rng_completion_t c) {
  const uint32_t head = q->done_head;
  if (head - __atomic_load_n(&q->done_tail, __ATOMIC_ACQUIRE) >= KEEL_RNG_QUEUE_CAPACITY) return false;
  q->completions[head % KEEL_RNG_QUEUE_CAPACITY] = c;
  __atomic_store_n(&q->done_head, head + 1, __ATOMIC_RELEASE);
  return true;
}

static inline bool keel_rng_completion_pop(keel_rng_queues_t* q, keel_rng_completion_t* out, bool* corrupt) {
  const uint32_t tail = q->done_tail;
  const uint32_t avail = __atomic_load_n(&q->done_head, __ATOMIC_ACQUIRE) - tail;
  if (avail == 0) return false;
  if (avail > KEEL_RNG_QUEUE_CAPACITY) {
    if (corrupt != 0) *corrupt = true;
    return false;
  }
  const volatile keel_rng_completion_t* e = &q->completions[tail % KEEL_RNG_QUEUE_CAPACITY];
  out->id = e->id;
  out->len = e->len;
  out->status = e->status;
  __atomic_store_n(&q->done_tail, tail + 1, __ATOMIC_RELEASE);
  return true;
}

/* The driver's check: 1..KEEL_RNG_MAX_BYTES bytes wholly inside a region of `region_bytes`. */
static inline bool keel_rng_request_ok(const keel_rng_request_t* r, uint64_t region_bytes) {
  return r->len != 0 && r->len <= KEEL_RNG_MAX_BYTES && r->offset < region_bytes && region_bytes - r->offset >= r->len;
}

#endif
