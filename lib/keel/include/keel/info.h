/* keel/info.h — the pure (syscall-free, host-testable) part of libkeel: validating and reading a
 * component info page, packing names into message registers, and the arithmetic of a stream ring.
 * C11 and C++20; no allocation, no global state. keel/keel.h includes it. */
#ifndef KEEL_INFO_H
#define KEEL_INFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keel/sys/protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- info page ------------------------------------------------------------------------------ */
/* Checks an info page of `mapped` readable bytes: magic, version, size <= mapped and <=
 * KEEL_INFO_MAX_BYTES, every array (offset 8-aligned, count within the protocol limits) and every
 * string ({off, len} inside the page, NUL at off + len) in bounds. KEEL_OK or KEEL_INVALID_ARGUMENT;
 * *why (if non-NULL) names the first problem. Every other function here assumes a checked page. */
keel_error_t keel_info_check(const keel_info_t* info, size_t mapped, const char** why);

/* The string s of the page (NUL-terminated). */
const char* keel_info_string(const keel_info_t* info, keel_info_str_t s);
/* true when s equals the len bytes at name. */
bool keel_info_str_eq(const keel_info_t* info, keel_info_str_t s, const char* name, size_t len);

const keel_info_channel_t* keel_info_channels(const keel_info_t* info);
const keel_info_device_t* keel_info_devices(const keel_info_t* info);
const keel_info_irq_t* keel_info_irqs(const keel_info_t* info);
const keel_info_region_t* keel_info_regions(const keel_info_t* info);
const keel_info_config_t* keel_info_configs(const keel_info_t* info);

/* Index of the entry named `name` (a channel by its name, or else by its end name; a device, a
 * region, a config key, an IRQ by its device name), or -1. */
int keel_info_find_channel(const keel_info_t* info, const char* name);
int keel_info_find_device(const keel_info_t* info, const char* name);
int keel_info_find_region(const keel_info_t* info, const char* name);
int keel_info_find_config(const keel_info_t* info, const char* key);
int keel_info_find_irq(const keel_info_t* info, const char* name);

/* ---- replies ---------------------------------------------------------------------------------
 * The error a service's reply label carries: the label itself when it is a keel_error_t value,
 * else KEEL_PROTOCOL_ERROR. */
keel_error_t keel_error_from_label(uint64_t label);

/* ---- names in message registers (protocol.h: MR0 = length, MR1.. bytes, 8 per MR, little-endian)
 * keel_name_pack writes len bytes of name into mrs[0..] (the MRs after the length MR), zero-padding
 * the last one, and returns the number of MRs used, or 0 if that needs more than max_mrs.
 * keel_name_unpack reads `len` bytes from mrs[0..n_mrs) into buf[cap] and NUL-terminates; returns
 * false if len needs more than n_mrs MRs or more than cap - 1 bytes. */
size_t keel_name_pack(const char* name, size_t len, uint64_t* mrs, size_t max_mrs);
bool keel_name_unpack(const uint64_t* mrs, size_t n_mrs, uint64_t len, char* buf, size_t cap);

/* ---- stream ring arithmetic (keel_stream_ring_t: monotonic head/tail, size a power of two) -----
 * head and tail are the byte counters of the producer and the consumer. A ring is sane when size
 * is a non-zero power of two and 0 <= head - tail <= size (a peer that breaks this is treated as
 * corrupt: reads and writes refuse it rather than copying out of bounds). */
bool keel_ring_sane(uint64_t head, uint64_t tail, uint64_t size);
uint64_t keel_ring_used(uint64_t head, uint64_t tail);
uint64_t keel_ring_free(uint64_t head, uint64_t tail, uint64_t size);
/* Copy up to n bytes into / out of data[size] at the position of the counter `pos`, wrapping;
 * returns the number copied (min(n, free) / min(n, used) is the caller's business). */
void keel_ring_copy_in(uint8_t* data, uint64_t size, uint64_t pos, const void* src, size_t n);
void keel_ring_copy_out(const uint8_t* data, uint64_t size, uint64_t pos, void* dst, size_t n);

#ifdef __cplusplus
}
#endif
#endif /* KEEL_INFO_H */
