/* keel/sys/blk_queue.h — the data path between a block driver (drivers/virtio_blk) and its one
 * client, the store service (docs/device-services.md, "Block devices and entropy"). As for the network
 * (keel/sys/net_queue.h, seL4 sDDF), data never travels through the driver's address space: a
 * request names an *offset* into the client's data region, which the driver knows only by physical
 * address (manifest access = "dma"), and the driver turns it into a device address only after
 * keel_blk_request_check has accepted it against the region's size and the disk's capacity.
 *
 * The [[shared]] region "blk_queues" (rw in both) holds the device block and two single-producer,
 * single-consumer queues:
 *   requests     client -> driver   read / write / flush (id, op, sector, count, offset)
 *   completions  driver -> client   one per request taken, in completion order (id, status)
 * After a batch each side signals the other through an event channel (driver -> client: the
 * driver's end "done"; client -> driver: the driver's end "req"). Neither trusts the other: indices
 * are bounded before use (a queue whose producer claims more than its capacity is corrupt) and
 * every request is checked by the driver. The driver takes a request only while the completion
 * queue has room for it and every request it holds, so a completion is never dropped by a correct
 * client. Requests complete in any order; ids are the client's, echoed, never interpreted.
 *
 * Units: sectors of KEEL_BLK_SECTOR_BYTES (512) on the disk; a request moves `count` sectors
 * between sector `sector` and bytes [offset, offset + count * 512) of the data region. The client
 * may use any multiple of the sector (the store uses 4 KiB blocks: count 8).
 * Pure C, freestanding; host-tested (keel_virtio_test, BlkQueue.*). */
#ifndef KEEL_SYS_BLK_QUEUE_H
#define KEEL_SYS_BLK_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

#define KEEL_BLK_QUEUE_CAPACITY 128u /* entries per queue (a power of two) */
#define KEEL_BLK_SECTOR_BYTES 512u
#define KEEL_BLK_MAX_SECTORS 2048u /* per request (1 MiB); keel_blk_device_t.max_sectors may be lower */

/* Operations. */
#define KEEL_BLK_READ 0u  /* disk -> data region */
#define KEEL_BLK_WRITE 1u /* data region -> disk */
#define KEEL_BLK_FLUSH 2u /* every write completed before it is durable when it completes (count,
                             sector and offset 0); on a device without a write cache: done at once */

/* Completion status. */
#define KEEL_BLK_OK 0u
#define KEEL_BLK_IO_ERROR 1u     /* the device reported an I/O error */
#define KEEL_BLK_UNSUPPORTED 2u  /* the device does not support the operation */
#define KEEL_BLK_BAD_REQUEST 3u  /* unknown op, count 0 or over max_sectors, flush with arguments */
#define KEEL_BLK_OUT_OF_RANGE 4u /* sectors past the end of the disk */
#define KEEL_BLK_BAD_BUFFER 5u   /* offset not sector-aligned, or bytes outside the data region */
#define KEEL_BLK_READ_ONLY 6u    /* a write to a read-only device */
#define KEEL_BLK_DEVICE_ERROR 7u /* the device answered nonsense (a status byte it may not use) */

typedef struct keel_blk_request {
  uint64_t id;     /* the client's, echoed in the completion */
  uint64_t sector; /* first sector on the disk */
  uint64_t offset; /* into the data region, a multiple of KEEL_BLK_SECTOR_BYTES */
  uint32_t count;  /* sectors, 1..max_sectors (flush: 0) */
  uint32_t op;     /* KEEL_BLK_READ / WRITE / FLUSH */
} keel_blk_request_t;

typedef struct keel_blk_completion {
  uint64_t id;
  uint32_t status; /* KEEL_BLK_OK or an error above */
  uint32_t reserved;
} keel_blk_completion_t;

typedef struct keel_blk_request_queue {
  volatile uint32_t head; /* written by the producer: entries produced (wraps at 2^32) */
  uint32_t pad0[15];      /* head and tail on their own cache lines */
  volatile uint32_t tail; /* written by the consumer: entries consumed */
  uint32_t pad1[15];
  keel_blk_request_t entries[KEEL_BLK_QUEUE_CAPACITY];
} keel_blk_request_queue_t;

typedef struct keel_blk_completion_queue {
  volatile uint32_t head;
  uint32_t pad0[15];
  volatile uint32_t tail;
  uint32_t pad1[15];
  keel_blk_completion_t entries[KEEL_BLK_QUEUE_CAPACITY];
} keel_blk_completion_queue_t;

/* Device flags. */
#define KEEL_BLK_FLAG_READ_ONLY 1u /* writes and flushes answer KEEL_BLK_READ_ONLY */
#define KEEL_BLK_FLAG_FLUSH 2u     /* the device has a write cache: a write is durable after a flush */

/* The device as the driver found it, and the restart handshake (as keel_net_device_t). The queues
 * region outlives both components. A (re)started driver resets its device, fills in the fields
 * below, bumps driver_epoch and signals; the client, seeing driver_epoch != client_epoch, takes
 * the completions still queued (the previous driver wrote them: they are valid), empties both
 * queues, counts every request it has not seen completed as not done (the old driver's device was
 * reset before the new epoch: it no longer touches the data region), sets client_epoch =
 * driver_epoch and signals; only then does the driver use the queues, and the client submits the
 * outstanding requests again (reads and writes are idempotent). A write completed before the
 * restart is durable only once a flush has completed after it, as for a power cut: QEMU keeps
 * what was written across a device reset, a real device's volatile cache need not. */
typedef struct keel_blk_device {
  volatile uint32_t driver_epoch; /* written by the driver */
  volatile uint32_t client_epoch; /* written by the client */
  uint64_t capacity;              /* driver: the disk's size in sectors */
  uint32_t block_size;            /* driver: the device's preferred block size in bytes (512 if it says none) */
  uint32_t max_sectors;           /* driver: the largest count a request may have */
  uint32_t flags;                 /* driver: KEEL_BLK_FLAG_* */
  uint32_t pad[9];
} keel_blk_device_t;

typedef struct keel_blk_queues {
  keel_blk_device_t device;
  keel_blk_request_queue_t requests;
  keel_blk_completion_queue_t completions;
} keel_blk_queues_t;

/* ---- queues (the same discipline as keel_net_queue_*) ----------------------------------------- */

/* Empties both queues (the client, during the handshake, while the driver waits). */
static inline void keel_blk_queues_reset(keel_blk_queues_t* q) {
  __atomic_store_n(&q->requests.head, 0u, __ATOMIC_RELAXED);
  __atomic_store_n(&q->requests.tail, 0u, __ATOMIC_RELAXED);
  __atomic_store_n(&q->completions.head, 0u, __ATOMIC_RELAXED);
  __atomic_store_n(&q->completions.tail, 0u, __ATOMIC_RELEASE);
}

/* Entries waiting; KEEL_BLK_QUEUE_CAPACITY + 1 means "corrupt" (the other side is misbehaving). */
static inline uint32_t keel_blk_queue_length(const volatile uint32_t* head, const volatile uint32_t* tail) {
  const uint32_t n = __atomic_load_n(head, __ATOMIC_ACQUIRE) - __atomic_load_n(tail, __ATOMIC_ACQUIRE);
  return n > KEEL_BLK_QUEUE_CAPACITY ? KEEL_BLK_QUEUE_CAPACITY + 1 : n;
}
static inline uint32_t keel_blk_requests_waiting(const keel_blk_queues_t* q) {
  return keel_blk_queue_length(&q->requests.head, &q->requests.tail);
}
/* Free entries of the completion queue as its producer (the driver) sees them; 0 when corrupt. */
static inline uint32_t keel_blk_completions_free(const keel_blk_queues_t* q) {
  const uint32_t n = keel_blk_queue_length(&q->completions.head, &q->completions.tail);
  return n > KEEL_BLK_QUEUE_CAPACITY ? 0 : KEEL_BLK_QUEUE_CAPACITY - n;
}

/* Client: queues a request. False when full (or corrupt). */
static inline bool keel_blk_request_push(keel_blk_queues_t* q, keel_blk_request_t r) {
  keel_blk_request_queue_t* rq = &q->requests;
  const uint32_t head = rq->head; /* only we write it */
  if (head - __atomic_load_n(&rq->tail, __ATOMIC_ACQUIRE) >= KEEL_BLK_QUEUE_CAPACITY) return false;
  rq->entries[head % KEEL_BLK_QUEUE_CAPACITY] = r;
  __atomic_store_n(&rq->head, head + 1, __ATOMIC_RELEASE);
  return true;
}

/* Driver: takes a request. False when empty (or corrupt: *corrupt set). The entry is copied out
 * before the slot is released, so the client cannot change it under the driver's checks. */
static inline bool keel_blk_request_pop(keel_blk_queues_t* q, keel_blk_request_t* out, bool* corrupt) {
  keel_blk_request_queue_t* rq = &q->requests;
  const uint32_t tail = rq->tail; /* only we write it */
  const uint32_t avail = __atomic_load_n(&rq->head, __ATOMIC_ACQUIRE) - tail;
  if (avail == 0) return false;
  if (avail > KEEL_BLK_QUEUE_CAPACITY) {
    if (corrupt != 0) *corrupt = true;
    return false;
  }
  const volatile keel_blk_request_t* e = &rq->entries[tail % KEEL_BLK_QUEUE_CAPACITY];
  out->id = e->id;
  out->sector = e->sector;
  out->offset = e->offset;
  out->count = e->count;
  out->op = e->op;
  __atomic_store_n(&rq->tail, tail + 1, __ATOMIC_RELEASE);
  return true;
}

/* Driver: queues a completion. False when full (or corrupt). */
static inline bool keel_blk_completion_push(keel_blk_queues_t* q, keel_blk_completion_t c) {
  keel_blk_completion_queue_t* cq = &q->completions;
  const uint32_t head = cq->head;
  if (head - __atomic_load_n(&cq->tail, __ATOMIC_ACQUIRE) >= KEEL_BLK_QUEUE_CAPACITY) return false;
  cq->entries[head % KEEL_BLK_QUEUE_CAPACITY] = c;
  __atomic_store_n(&cq->head, head + 1, __ATOMIC_RELEASE);
  return true;
}

/* Client: takes a completion. False when empty (or corrupt: *corrupt set). */
static inline bool keel_blk_completion_pop(keel_blk_queues_t* q, keel_blk_completion_t* out, bool* corrupt) {
  keel_blk_completion_queue_t* cq = &q->completions;
  const uint32_t tail = cq->tail;
  const uint32_t avail = __atomic_load_n(&cq->head, __ATOMIC_ACQUIRE) - tail;
  if (avail == 0) return false;
  if (avail > KEEL_BLK_QUEUE_CAPACITY) {
    if (corrupt != 0) *corrupt = true;
    return false;
  }
  const volatile keel_blk_completion_t* e = &cq->entries[tail % KEEL_BLK_QUEUE_CAPACITY];
  out->id = e->id;
  out->status = e->status;
  out->reserved = 0;
  __atomic_store_n(&cq->tail, tail + 1, __ATOMIC_RELEASE);
  return true;
}

/* ---- the driver's check ------------------------------------------------------------------------
 * KEEL_BLK_OK iff the request may reach the device: a known op; for a read or write 1..max_sectors
 * sectors wholly on a disk of `capacity` sectors, from a sector-aligned offset whose bytes lie
 * wholly inside a data region of `region_bytes`; a flush with no arguments; no write to a read-only
 * device. Written without a sum that could overflow. */
static inline uint32_t keel_blk_request_check(const keel_blk_request_t* r, uint64_t region_bytes, uint64_t capacity,
                                              uint32_t max_sectors, uint32_t flags) {
  if (r->op == KEEL_BLK_FLUSH) {
    if (r->count != 0 || r->sector != 0 || r->offset != 0) return KEEL_BLK_BAD_REQUEST;
    return KEEL_BLK_OK; /* on a read-only device there is nothing to make durable: done at once */
  }
  if (r->op != KEEL_BLK_READ && r->op != KEEL_BLK_WRITE) return KEEL_BLK_BAD_REQUEST;
  if (r->count == 0 || r->count > max_sectors || r->count > KEEL_BLK_MAX_SECTORS) return KEEL_BLK_BAD_REQUEST;
  if (r->sector >= capacity || capacity - r->sector < r->count) return KEEL_BLK_OUT_OF_RANGE;
  const uint64_t bytes = (uint64_t)r->count * KEEL_BLK_SECTOR_BYTES;
  if (r->offset % KEEL_BLK_SECTOR_BYTES != 0 || r->offset >= region_bytes || region_bytes - r->offset < bytes)
    return KEEL_BLK_BAD_BUFFER;
  if (r->op == KEEL_BLK_WRITE && (flags & KEEL_BLK_FLAG_READ_ONLY) != 0) return KEEL_BLK_READ_ONLY;
  return KEEL_BLK_OK;
}

/* A name for a status, for log lines. */
static inline const char* keel_blk_status_name(uint32_t status) {
  switch (status) {
    case KEEL_BLK_OK: return "ok";
    case KEEL_BLK_IO_ERROR: return "I/O error";
    case KEEL_BLK_UNSUPPORTED: return "unsupported";
    case KEEL_BLK_BAD_REQUEST: return "bad request";
    case KEEL_BLK_OUT_OF_RANGE: return "out of range";
    case KEEL_BLK_BAD_BUFFER: return "bad buffer";
    case KEEL_BLK_READ_ONLY: return "read-only";
    case KEEL_BLK_DEVICE_ERROR: return "device error";
    default: return "?";
  }
}

#endif
