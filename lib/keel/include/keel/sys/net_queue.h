/* keel/sys/net_queue.h — the data path between a network driver and the net service
 * (docs/device-services.md, "Network"). As in seL4's sDDF, packets never travel through the driver's
 * address space: the queues carry buffer *offsets* into data regions the net service maps and the
 * driver knows only by physical address (manifest access = "dma"), and the driver turns an offset
 * into a device address after checking it.
 *
 * Four single-producer, single-consumer queues in the [[shared]] region "net_queues" (rw in both):
 *   rx_free    net -> driver   empty receive buffers (offset into net_rx_data, len = capacity)
 *   rx_active  driver -> net   received frames (offset, len = frame bytes)
 *   tx_active  net -> driver   frames to send (offset into net_tx_data, len = frame bytes)
 *   tx_free    driver -> net   sent buffers handed back
 * After a batch each side signals the other through an event channel (driver -> net: the net
 * service's end "rx"; net -> driver: the driver's end "tx"). Neither trusts the other: indices are
 * bounded before use (a queue whose producer claims more than its capacity is corrupt) and every
 * entry is checked against its region's size and the buffer size by the side that uses it.
 * Pure C, freestanding; host-tested (keel_net_queue_test). */
#ifndef KEEL_SYS_NET_QUEUE_H
#define KEEL_SYS_NET_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

#define KEEL_NET_QUEUE_CAPACITY 512u /* entries per queue (a power of two) */
#define KEEL_NET_BUFFER_BYTES 2048u  /* one buffer in a data region: a 1514-byte frame fits */

typedef struct keel_net_buffer {
  uint64_t offset; /* into the data region, a multiple of KEEL_NET_BUFFER_BYTES */
  uint32_t len;    /* frame bytes (rx_free: 0, the buffer's capacity is implied) */
  uint32_t reserved;
} keel_net_buffer_t;

typedef struct keel_net_queue {
  volatile uint32_t head; /* written by the producer: entries produced (wraps at 2^32) */
  uint32_t pad0[15];      /* head and tail on their own cache lines */
  volatile uint32_t tail; /* written by the consumer: entries consumed */
  uint32_t pad1[15];
  keel_net_buffer_t entries[KEEL_NET_QUEUE_CAPACITY];
} keel_net_queue_t;

/* The device as the driver found it, and the restart handshake. The queues region outlives both
 * components. A (re)started driver resets its device, bumps driver_epoch and signals; the net
 * service, seeing driver_epoch != net_epoch, empties all four queues (every buffer is its own
 * again: what the old driver held is gone with its device), refills rx_free, sets net_epoch =
 * driver_epoch and signals back; only then does the driver use the queues. A restarted net service
 * restarts the driver with it (the driver depends_on net), so the same handshake covers both. */
typedef struct keel_net_device {
  volatile uint32_t driver_epoch; /* written by the driver */
  volatile uint32_t net_epoch;    /* written by the net service */
  volatile uint32_t link_up;      /* driver: 1 once the device runs */
  uint16_t mtu;                   /* driver: payload bytes per frame (1500) */
  uint8_t mac[6];                 /* driver: the device's MAC address */
  uint32_t pad[12];
} keel_net_device_t;

typedef struct keel_net_queues {
  keel_net_device_t device;
  keel_net_queue_t rx_free, rx_active, tx_active, tx_free;
} keel_net_queues_t;

/* Empties a queue (the net service, during the handshake, while the driver waits). */
static inline void keel_net_queue_reset(keel_net_queue_t* q) {
  __atomic_store_n(&q->head, 0u, __ATOMIC_RELAXED);
  __atomic_store_n(&q->tail, 0u, __ATOMIC_RELEASE);
}

/* Entries waiting; KEEL_NET_QUEUE_CAPACITY + 1 means "corrupt" (the other side is misbehaving). */
static inline uint32_t keel_net_queue_length(const keel_net_queue_t* q) {
  const uint32_t n = __atomic_load_n(&q->head, __ATOMIC_ACQUIRE) - __atomic_load_n(&q->tail, __ATOMIC_RELAXED);
  return n > KEEL_NET_QUEUE_CAPACITY ? KEEL_NET_QUEUE_CAPACITY + 1 : n;
}

/* Producer side. False when full (or corrupt). */
static inline bool keel_net_queue_push(keel_net_queue_t* q, keel_net_buffer_t b) {
  const uint32_t head = q->head; /* only we write it */
  const uint32_t used = head - __atomic_load_n(&q->tail, __ATOMIC_ACQUIRE);
  if (used >= KEEL_NET_QUEUE_CAPACITY) return false;
  q->entries[head % KEEL_NET_QUEUE_CAPACITY] = b;
  __atomic_store_n(&q->head, head + 1, __ATOMIC_RELEASE);
  return true;
}

/* Consumer side. False when empty (or corrupt: *corrupt set). The entry is copied out before the
 * slot is released, so the producer cannot change it under the consumer's checks. */
static inline bool keel_net_queue_pop(keel_net_queue_t* q, keel_net_buffer_t* out, bool* corrupt) {
  const uint32_t tail = q->tail; /* only we write it */
  const uint32_t avail = __atomic_load_n(&q->head, __ATOMIC_ACQUIRE) - tail;
  if (avail == 0) return false;
  if (avail > KEEL_NET_QUEUE_CAPACITY) {
    if (corrupt != 0) *corrupt = true;
    return false;
  }
  const volatile keel_net_buffer_t* e = &q->entries[tail % KEEL_NET_QUEUE_CAPACITY];
  out->offset = e->offset;
  out->len = e->len;
  out->reserved = 0;
  __atomic_store_n(&q->tail, tail + 1, __ATOMIC_RELEASE);
  return true;
}

/* A buffer of a data region of `region_bytes` is usable iff it lies wholly inside the region, is
 * aligned to KEEL_NET_BUFFER_BYTES and its length fits the buffer. */
static inline bool keel_net_buffer_ok(keel_net_buffer_t b, uint64_t region_bytes) {
  return b.offset % KEEL_NET_BUFFER_BYTES == 0 && b.offset < region_bytes &&
         region_bytes - b.offset >= KEEL_NET_BUFFER_BYTES && b.len <= KEEL_NET_BUFFER_BYTES;
}

#endif
