/* keel/keel.h — libkeel, the C API of Keel components (C11 and C++20).
 *
 * A component is an EL0 program started by the root server with its info page (keel/sys/protocol.h,
 * docs/os-services.md). It defines `int keel_main(void* info)`; returning from it exits with its
 * value (keel_exit). Build one with `keel_add_component(name SOURCES ... [LIBS ...])`.
 * Reference: docs/libkeel.md. The C++ layer is keel/keel.hh.
 *
 * Names: lib/rt already owns the raw syscall stubs keel_call / keel_recv / keel_wait / keel_send
 * (capability-level IPC); libkeel's channel-level calls are therefore keel_rpc_call,
 * keel_rpc_recv, keel_rpc_reply and keel_notify_wait. keel_exit and keel_printf are lib/rt's:
 * in a component they exit through the root server and print through the serial service. */
#ifndef KEEL_KEEL_H
#define KEEL_KEEL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keel/info.h"
#include "keel/rt.h"
#include "keel/sys/protocol.h"
#include "keel/sys/store_service.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the component ---------------------------------------------------------------------------
 * keel_info(): this component's info page (checked at start: magic, version, every offset); NULL
 * in a program that is not a component (then every other keel_* call answers KEEL_INVALID_ARGUMENT). */
#if defined(__cplusplus) && defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow" /* keel_info() next to struct keel_info, as stat() */
#endif
const keel_info_t* keel_info(void);
#if defined(__cplusplus) && defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
const char* keel_name(void);        /* "" when not a component */
const char* keel_system_name(void); /* the manifest's system name */
uint32_t keel_index(void);          /* index in the boot spec */
uint64_t keel_generation(void);     /* 0 at first start, +1 per restart */
bool keel_has_service(uint32_t service_bit); /* keel_service_bit */
/* keel_error_name(e) (keel/rt/invocations.h): "ok", "denied", "InvalidArgument", ... */

/* keel_exit(status) (keel/rt/rt.h): flushes pending output, KEEL_ROOT_EXIT to the root server;
 * never returns (falls back to DebugHalt only if the root server does not take the exit). */

/* ---- output -----------------------------------------------------------------------------------
 * With the 'serial' service, output is line-buffered here and each line sent with
 * KEEL_SERIAL_WRITE (the serial server prints "[name] line"); without it, or if the serial server
 * does not answer, lines go to the kernel debug console as "[name] line". keel_printf, keel_puts,
 * keel_putc (lib/rt) and picolibc's stdout/stderr all take this path. */
void keel_log(const char* line);                                         /* adds '\n' if missing */
int keel_logf(const char* fmt, ...) __attribute__((format(printf, 1, 2))); /* ditto */
void keel_flush(void);                                                     /* send a partial line */

/* ---- notifications ----------------------------------------------------------------------------
 * The bits of the component's notification (keel_notify_bit). Bits that arrive while waiting for
 * others are kept and returned by a later wait: none is lost. */
uint64_t keel_notify_wait(uint64_t mask); /* blocks until a bit of mask is set; returns and clears those */
uint64_t keel_notify_poll(uint64_t mask); /* the same without blocking (0 if none) */

/* ---- channels (docs/os-services.md "Channels") ------------------------------------------------
 * A channel end is named by the manifest's channel name (or this side's end name). Opening asks
 * the message server for its capability (KEEL_MSG_OPEN). If the peer restarts, the next use
 * answers KEEL_CHANNEL_DOWN, libkeel forgets the capability and re-opens it on the following
 * use — which succeeds once the peer is back (an rpc server must have opened its end again). */
typedef int keel_channel_t; /* index of the end in keel_info()'s channel array; -1 = none */
keel_error_t keel_channel_open(const char* name, keel_channel_t* ch); /* *ch is set whenever the
                                        name is found, even if the open answers CHANNEL_DOWN */
const keel_info_channel_t* keel_channel_info(keel_channel_t ch); /* NULL if ch is not valid */
bool keel_channel_is_open(keel_channel_t ch);
/* Blocks until the peer signals this end (event waiter; stream consumer: data; stream producer:
 * space) — its bit of the notification word. */
keel_error_t keel_channel_wait(keel_channel_t ch);

/* rpc: a message is a label (user-defined, < 2^52, not KEEL_CHANNEL_DOWN) and up to
 * KEEL_RPC_MAX_WORDS words. */
#define KEEL_RPC_MAX_WORDS 32u
typedef struct keel_msg {
  uint64_t label;
  uint32_t len; /* words used in w[] */
  uint64_t w[KEEL_RPC_MAX_WORDS];
} keel_msg_t;
/* Client: sends *msg on channel ch and blocks for the reply, which replaces *msg. */
keel_error_t keel_rpc_call(keel_channel_t ch, keel_msg_t* msg);
/* Server: blocks until a call arrives on one of this component's open rpc server ends (*ch = that
 * end, *msg = the request) or a notification bit of `mask` is set (*ch = -1, *bits = those bits).
 * A reply given with keel_rpc_reply is sent on the way in (ReplyRecv); a call left unanswered is
 * answered with label KEEL_INVALID_ARGUMENT, so that no client waits forever. */
keel_error_t keel_rpc_recv(uint64_t mask, keel_channel_t* ch, keel_msg_t* msg, uint64_t* bits);
/* Server: the reply to the call keel_rpc_recv returned last (sent by the next keel_rpc_recv). */
keel_error_t keel_rpc_reply(const keel_msg_t* reply);
/* Server loop: for each call, on_call(ch, msg, ctx) turns *msg into the reply (it is sent when
 * on_call returns); for notification bits of `mask`, on_bits(bits, ctx) (may be NULL if mask is 0).
 * Returns only on an error of keel_rpc_recv. */
typedef void (*keel_call_fn)(keel_channel_t ch, keel_msg_t* msg, void* ctx);
typedef void (*keel_bits_fn)(uint64_t bits, void* ctx);
keel_error_t keel_serve(uint64_t mask, keel_call_fn on_call, keel_bits_fn on_bits, void* ctx);

/* event: the signaller sets the waiter's bit; the waiter uses keel_channel_wait or its bit
 * (keel_channel_info(ch)->notify_bit) with keel_notify_wait. */
keel_error_t keel_event_signal(keel_channel_t ch);

/* stream: a shared ring (keel_stream_ring_t). Non-blocking: *done = bytes written / read (0 when
 * the ring is full / empty); the peer is signalled when something moved and it said it waits
 * (signal suppression): a consumer woken by its bit reads until a read finds nothing (or uses
 * keel_channel_wait, which does not sleep on data already there); a producer that got
 * KEEL_NO_SPACE (or a short write) waits with keel_channel_wait. A ring whose counters
 * the peer corrupted answers KEEL_INVALID_ARGUMENT. */
keel_error_t keel_stream_write(keel_channel_t ch, const void* data, size_t n, size_t* done);
/* All or nothing (for records): KEEL_NO_SPACE, and nothing written, unless n bytes fit. */
keel_error_t keel_stream_send(keel_channel_t ch, const void* data, size_t n);
keel_error_t keel_stream_read(keel_channel_t ch, void* buf, size_t cap, size_t* done);
/* Records of two pieces (a header and a body), for protocols over a stream: written whole or not
 * at all (KEEL_NO_SPACE), read whole or not at all (*done = 0 while fewer bytes are there), with
 * one signal each. keel_stream_peek copies the first n bytes without consuming them (*done = n,
 * or 0 while fewer are there): a reader learns the body's length from the header first. */
keel_error_t keel_stream_send_record(keel_channel_t ch, const void* header, size_t header_len, const void* body,
                                     size_t body_len);
keel_error_t keel_stream_peek(keel_channel_t ch, void* buf, size_t n, size_t* done);
keel_error_t keel_stream_read_record(keel_channel_t ch, void* header, size_t header_len, void* body, size_t body_len,
                                     size_t* done);

/* ---- UDP sockets (docs/libkeel.md "UDP sockets") -----------------------------------------------
 * Through the net service: the component needs a [component.network] grant in the manifest and
 * its three channels to `net` (an rpc channel and one stream each way; keel/sys/net_socket.h).
 * Addresses are IPv4 in host order (10.0.2.2 = 0x0a000202). The net service enforces the grant
 * per datagram: a bind outside it answers KEEL_DENIED; a send to a destination outside it is
 * refused asynchronously (it is queued first): the next keel_udp_recv on that socket returns
 * KEEL_DENIED with the refused destination in *src / *src_port. A restarted net service forgets
 * every socket: clients should depends_on net (they restart with it); libkeel binds again on the
 * next call that meets CHANNEL_DOWN, but a receive blocked across the restart is not woken. */
typedef int keel_udp_t; /* -1: none */
#define KEEL_UDP_MAX_PAYLOAD 1472u /* one unfragmented datagram (MTU 1500) */
typedef uint32_t keel_ipv4_t;
#define KEEL_IPV4(a, b, c, d) ((keel_ipv4_t)(((a) << 24) | ((b) << 16) | ((c) << 8) | (d)))
#define KEEL_UDP_FOREVER UINT64_MAX /* keel_udp_recv timeout: wait as long as it takes */
/* Binds local port `port` (0: an ephemeral port of the grant). KEEL_NOT_FOUND: no channels to net;
 * KEEL_DENIED: outside the grant; KEEL_ILLEGAL_OPERATION: the port is taken; KEEL_NO_SPACE: 8
 * sockets already open here, or the net service's socket table is full. */
keel_error_t keel_udp_open(uint16_t port, keel_udp_t* s);
uint16_t keel_udp_port(keel_udp_t s); /* the bound port (0 if s is not open) */
/* Queues one datagram (n <= KEEL_UDP_MAX_PAYLOAD: else KEEL_RANGE_ERROR). KEEL_NO_SPACE: the stream to net is full (the
 * net service is behind; try again). */
keel_error_t keel_udp_send(keel_udp_t s, keel_ipv4_t dst, uint16_t port, const void* data, size_t n);
/* Receives one datagram into buf (*n its length; KEEL_RANGE_ERROR with *n = its length if cap is
 * too small: it stays, call again). timeout_ms 0: do not wait; KEEL_UDP_FOREVER: wait. KEEL_TIMEOUT
 * when nothing came in time; an asynchronous send error of this socket is returned here too. */
keel_error_t keel_udp_recv(keel_udp_t s, void* buf, size_t cap, size_t* n, keel_ipv4_t* src, uint16_t* src_port,
                           uint64_t timeout_ms);
keel_error_t keel_udp_close(keel_udp_t s);
typedef struct keel_net_config_info {
  keel_ipv4_t address, netmask, gateway; /* 0 while the device has no address (DHCP pending) */
  uint32_t generation;                   /* changes when the address configuration changes */
  uint32_t mtu;
} keel_net_config_t;
keel_error_t keel_net_config(keel_net_config_t* cfg); /* the device's address configuration */

/* ---- storage (docs/libkeel.md "Storage"; the store service, docs/device-services.md "Store") -------
 * The manifest's partitions, through the store: the component needs a [component.storage] grant,
 * an rpc channel to `store` and a [[shared]] region "store_<its name>" mapped by both (the data
 * buffer: 4 KiB or more; the store moves up to 16 blocks of it per request, libkeel splits larger
 * calls). Blocks are 4 KiB (KEEL_STORE_BLOCK_BYTES). Errors: KEEL_NOT_FOUND (no such partition, no
 * channel to the store, a record never written), KEEL_DENIED (outside the grant: the store logs
 * it with the partition's name), KEEL_RANGE_ERROR (blocks outside the partition, a record id or
 * length out of range, or cap too small: *len then says the record's length), KEEL_CORRUPT (data
 * that failed authentication: never handed out), KEEL_ILLEGAL_OPERATION (a partition the store
 * holds back: its layout changed, or no key), KEEL_INVALID_ARGUMENT (no data region).
 * A store restart is survived: a call that meets KEEL_CHANNEL_DOWN is retried (10 ms apart, for
 * up to 10 s: then KEEL_CHANNEL_DOWN); partition handles stay valid. A write is durable once a
 * later keel_store_flush (or a record write, which flushes) returned KEEL_OK. */
typedef int keel_partition_t; /* the partition's index in the store's layout; -1: none */
typedef struct keel_store_info_s {
  uint64_t blocks;        /* 4 KiB blocks the partition offers */
  uint32_t flags;         /* KEEL_STORE_INFO_ENCRYPTED | _READ | _WRITE | _SERVED (store_service.h) */
  uint32_t region_blocks; /* blocks per request (the data region's size, at most 16) */
} keel_store_info_t;
#define KEEL_RECORD_MAX_BYTES KEEL_STORE_MAX_RECORD
keel_error_t keel_store_open(const char* partition, keel_partition_t* p);
keel_error_t keel_store_info(keel_partition_t p, keel_store_info_t* info);
/* n blocks from block `block` into / from buf (n * 4096 bytes). */
keel_error_t keel_store_read(keel_partition_t p, uint64_t block, void* buf, size_t n);
keel_error_t keel_store_write(keel_partition_t p, uint64_t block, const void* buf, size_t n);
keel_error_t keel_store_flush(keel_partition_t p);
/* Crash-safe records (two copies: blocks 2 id and 2 id + 1 of the partition); a write is durable
 * when it returns KEEL_OK, and a power cut leaves the old or the new value, never a mix. */
keel_error_t keel_record_read(keel_partition_t p, uint32_t id, void* buf, size_t cap, size_t* len);
keel_error_t keel_record_write(keel_partition_t p, uint32_t id, const void* data, size_t len);
/* ---- random numbers (docs/libkeel.md "Random numbers"; the rng service) ----------------------
 * Through the rng service (services/rng): the component needs an rpc channel to the component
 * `rng` in the manifest — that channel is its grant. Bytes from a ChaCha20 DRBG seeded from the
 * virtio-rng device and timer jitter (docs/device-services.md "Random numbers"); suitable for keys.
 * n up to KEEL_RANDOM_MAX per call (KEEL_RANGE_ERROR above; n = 0 is KEEL_OK), sent in requests
 * of 256 bytes. Errors: KEEL_DENIED — no channel to rng (logged once by this component);
 * KEEL_NOT_READY — the service is not seeded yet; KEEL_CHANNEL_DOWN — it is restarting.
 * keel_random waits through NOT_READY and CHANNEL_DOWN for up to 2 s (1 ms sleeps: the clock
 * service if granted, else yields), then returns them; keel_random_try returns them at once.
 * After DENIED, NOT_READY, CHANNEL_DOWN or PROTOCOL_ERROR buf is zeroed (never half-filled);
 * after RANGE_ERROR / INVALID_ARGUMENT it is untouched. */
#define KEEL_RANDOM_MAX 4096u
keel_error_t keel_random(void* buf, size_t n);
keel_error_t keel_random_try(void* buf, size_t n);

/* ---- keys (docs/libkeel.md "Keys"; the keystore) ---------------------------------------------
 * The device's long-term keys, used through the keystore (services/keystore), never read: the
 * component needs an rpc channel to the component `keystore` and a grant, [component.keys] ops =
 * ["dh" | "sign" | "public" | "partition_key"] (docs/manifest.md "Keystore grants"). Errors:
 * KEEL_DENIED — not granted (no channel: logged once here; an op outside the grant: logged by the
 * keystore); KEEL_NOT_READY — the keystore has not loaded its keys yet; KEEL_RANGE_ERROR /
 * KEEL_INVALID_ARGUMENT — bad sizes or pointers. A keystore that is starting or restarting
 * (CHANNEL_DOWN) or waiting for the store to read its keys from (NOT_READY) is waited for, up to
 * 15 s (1 ms sleeps), then that error is returned. */
typedef struct keel_public_keys {
  uint8_t tunnel_x25519[32];    /* the device's tunnel key (WireGuard static key) */
  uint8_t identity_ed25519[32]; /* the device's identity key */
  uint32_t trust_keys;          /* release trust keys in the system image (keel_keys_trust) */
} keel_public_keys_t;
#define KEEL_KEYS_SIGN_MAX 240u /* message bytes per keel_keys_sign */
keel_error_t keel_keys_public(keel_public_keys_t* out);                         /* any grant */
keel_error_t keel_keys_dh(const uint8_t peer_public[32], uint8_t shared[32]);    /* "dh" */
keel_error_t keel_keys_sign(const void* message, size_t n, uint8_t signature[64]); /* "sign" */
/* Release trust key `index` (< keel_public_keys_t.trust_keys; else KEEL_NOT_FOUND) and its name
 * (NUL-terminated, cut to name_cap). Any grant. */
keel_error_t keel_keys_trust(uint32_t index, uint8_t key[32], char* name, size_t name_cap);
/* The key of disk partition `partition` ("partition_key": the store only). */
keel_error_t keel_keys_partition_key(const char* partition, uint8_t key[32]);

/* ---- time -------------------------------------------------------------------------------------
 * Monotonic time is the generic timer's counter (CNTVCT_EL0, read directly; no IPC). Timers are
 * the clock service's (up to KEEL_CLOCK_TIMERS per component; id 15 is keel_sleep_ms's). */
uint64_t keel_now_ticks(void);
uint64_t keel_ticks_per_second(void);
uint64_t keel_now_ns(void);
uint64_t keel_ms_to_ticks(uint64_t ms);
/* One-shot (period 0) or periodic timer `id` at the absolute deadline (ticks); deadline 0 cancels. */
keel_error_t keel_timer_set(uint32_t id, uint64_t deadline_ticks, uint64_t period_ticks);
/* The mask of this component's timers that fired since the last call (asks the clock service
 * after a KEEL_NOTIFY_TIMER; keel_notify_wait(KEEL_NOTIFY_TIMER) then keel_timer_expired()). */
uint64_t keel_timer_expired(void);
/* Sleeps ms milliseconds (clock timer 15; without the clock service: yields until the counter
 * passes the deadline). Other timers' expiries seen meanwhile are kept for keel_timer_expired. */
keel_error_t keel_sleep_ms(uint64_t ms);
keel_error_t keel_wall_ns(uint64_t* ns); /* nanoseconds since 1970 (clock service) */

/* ---- configuration (the manifest's [component.config]) -----------------------------------------
 * The value of key, or `fallback` if the key is absent or of another type. */
int64_t keel_config_int(const char* key, int64_t fallback);
bool keel_config_bool(const char* key, bool fallback);
const char* keel_config_str(const char* key, const char* fallback);

/* ---- devices, regions, IRQs (by the manifest's names) ----------------------------------------- */
volatile void* keel_device(const char* name, size_t* size); /* NULL if not given to this component */
/* A private or shared memory region mapped into this component: its address (and *size), or NULL
 * if there is none by that name or it is address only (access = "dma": not mapped here). */
void* keel_region(const char* name, size_t* size);
/* DMA regions (manifest dma = true; docs/libkeel.md): the physical address of the region's first
 * byte (page aligned; the region is physically contiguous) and *size, for programming a device;
 * mapped or address only. 0 (and *size untouched) if there is no such region or it is not DMA. */
uint64_t keel_region_paddr(const char* name, size_t* size);
/* The notification bit of the IRQ of device `name` (0 if none); acknowledge it with keel_irq_ack. */
uint64_t keel_irq_bit(const char* name);
keel_error_t keel_irq_ack(const char* name);

/* ---- status (the 'status' service: the root server) and CPU use ('sched') --------------------- */
typedef struct keel_component_status_s {
  uint32_t state; /* keel_component_state */
  uint32_t restarts;
  uint64_t memory_bytes, generation, last_fault;
  char name[64];
} keel_component_status_t;
uint32_t keel_component_count(void);
keel_error_t keel_component_status(uint32_t index, keel_component_status_t* st);
int keel_component_find(const char* name); /* index by name (asks the root server), or -1 */
const char* keel_state_name(uint32_t state);

typedef struct keel_cpu_usage_s {
  uint64_t used_us;           /* total CPU time consumed */
  uint32_t budget_us, period_us;
  uint32_t manifest_budget_us; /* the upper limit */
} keel_cpu_usage_t;
keel_error_t keel_cpu_usage(uint32_t index, keel_cpu_usage_t* u);
keel_error_t keel_set_budget(uint32_t index, uint32_t budget_us);

/* ---- console mirror, trace and restart (docs/libkeel.md "Mirror, trace and restart") ----------
 * keel_trace: any component with 'serial'; records (event, argument) with the time (ns, generic
 * timer) and this component's index while tracing is on; KEEL_OK and dropped (counted) while it is
 * off. The other three serial calls are the manifest's `console_mirror` component's only
 * (everyone else: KEEL_DENIED, logged by serial); keel_component_restart needs `control = true`. */
typedef struct keel_trace_event_s {
  uint64_t time_ns;   /* when serial received it (generic timer, since boot) */
  uint16_t component; /* the caller's component index */
  uint16_t event;
  uint32_t argument;
} keel_trace_event_t;
keel_error_t keel_trace(uint16_t event, uint32_t argument);
/* Console lines since the last read, oldest first: whole lines "[name] text" without '\n',
 * separated by '\n', as many as fit in cap (at most KEEL_SERIAL_MIRROR_MAX bytes per call; what a
 * reply of the service held beyond cap is kept here for the next calls); no NUL is added; *n =
 * bytes, 0 if none. KEEL_RANGE_ERROR (nothing taken) if the next line does not fit in cap: a cap of
 * KEEL_SERIAL_MIRROR_LINE_MAX + 1 always suffices. *first = the sequence number of the first line
 * returned (of the next line when none), *dropped = lines lost (mirror ring full) before it since
 * the last read. A restarted serial starts again at 0. KEEL_NOTIFY_MIRROR is set when new lines
 * arrive after a read found none: read until *n is 0, then wait. */
keel_error_t keel_mirror_read(uint64_t* first, uint32_t* dropped, char* buf, size_t cap, size_t* n);
keel_error_t keel_trace_enable(bool on, bool* was_on); /* was_on may be NULL */
/* Up to cap events (at most KEEL_SERIAL_TRACE_READ_MAX per call; what a reply held beyond cap is
 * kept here for the next calls), oldest first; *n = 0: none. *dropped = events lost (ring full)
 * since the last read. */
keel_error_t keel_trace_read(keel_trace_event_t* ev, size_t cap, size_t* n, uint32_t* dropped);
/* Restarts component `index` (-1: the whole system) through the root server's supervisor (its
 * group's strategy and its dependents; not counted as a failure). KEEL_OK once started (the caller
 * may be part of it: then it is restarted soon after the reply); KEEL_DENIED without the manifest's
 * `control = true`; KEEL_INVALID_ARGUMENT for a bad index. */
keel_error_t keel_component_restart(int index);

/* ---- memory: malloc/free/calloc/realloc are picolibc's, over this component's heap (the manifest's
 * 'heap'); they return NULL when it is exhausted or the component has none. */
size_t keel_heap_size(void);

/* ---- proxy: a TCP service next to Fleet, through the link agent (docs/libkeel.md "Proxy") ------
 * Needs the stream channels <app>.proxy_tx -> link.proxy_rx_<app> and link.proxy_tx_<app> ->
 * <app>.proxy_rx, and the service named in the link's config key proxy.<app>. One connection at a
 * time. keel_proxy_open: service [a-z0-9._-]{1,64} (else KEEL_INVALID_ARGUMENT); KEEL_NOT_FOUND: no
 * such channels; KEEL_DENIED: refused by the link (not in proxy.<app>); KEEL_CHANNEL_DOWN: the link
 * to Fleet is down; KEEL_TIMEOUT: no answer in 10 s; KEEL_ILLEGAL_OPERATION: one is open already.
 * Fleet's own refusal (service not configured: KEEL_DENIED) or failure to connect
 * (KEEL_CHANNEL_DOWN) comes later, from keel_proxy_recv / keel_proxy_send.
 * keel_proxy_send: all n bytes, blocking while the stream to the link is full (Fleet's
 * back-pressure). keel_proxy_recv: up to cap bytes (*n), timeout_ns 0 = poll, KEEL_PROXY_FOREVER;
 * KEEL_TIMEOUT when nothing came; KEEL_CHANNEL_DOWN once the connection is closed (by Fleet, the
 * service or a link failure), KEEL_DENIED if Fleet refused it. keel_proxy_close: ends it (also
 * after one of those errors, before the next open). */
#define KEEL_PROXY_FOREVER UINT64_MAX
keel_error_t keel_proxy_open(const char* service);
keel_error_t keel_proxy_send(const void* data, size_t n);
keel_error_t keel_proxy_recv(void* buf, size_t cap, size_t* n, uint64_t timeout_ns);
keel_error_t keel_proxy_close(void);

#ifdef __cplusplus
}
#endif
#endif /* KEEL_KEEL_H */
