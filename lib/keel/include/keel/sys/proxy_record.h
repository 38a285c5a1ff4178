/* keel/sys/proxy_record.h — the records on an app's two proxy streams (docs/libkeel.md "Proxy",
 * docs/device-services.md "Link agent: shell and proxy"), shared by libkeel's keel_proxy_* and the
 * link agent's proxy mux (services/link/src/proxy.h). Valid C and C++, no OS calls.
 *
 * A record: type u8, length u16 little-endian, then `length` bytes.
 *   app -> link (stream <app>_proxy_tx): 1 OPEN (service name [a-z0-9._-]{1,64}), 2 DATA
 *     (1..4095 bytes), 3 CLOSE (empty).
 *   link -> app (stream <app>_proxy_rx): 1 OPENED (empty), 2 DATA (1..4095), 3 CLOSED (1 byte:
 *     the code, enum keel_proxy_code).
 * Anything else from an app is refused (CLOSED 3, logged by the link). */
#ifndef KEEL_SYS_PROXY_RECORD_H
#define KEEL_SYS_PROXY_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KEEL_PROXY_HEADER 3u        /* type + length */
#define KEEL_PROXY_MAX_DATA 4095u   /* bytes of one DATA record (= one PROXY_DATA message) */
#define KEEL_PROXY_MAX_SERVICE 64u  /* bytes of a service name */

enum keel_proxy_app_record { KEEL_PROXY_OPEN = 1, KEEL_PROXY_DATA = 2, KEEL_PROXY_CLOSE = 3 };
enum keel_proxy_link_record { KEEL_PROXY_OPENED = 1, KEEL_PROXY_LDATA = 2, KEEL_PROXY_CLOSED = 3 };
enum keel_proxy_code {
  KEEL_PROXY_NORMAL = 0,       /* closed by either side */
  KEEL_PROXY_REFUSED = 1,      /* not allowed (locally: proxy.<app>; or by Fleet: not configured) */
  KEEL_PROXY_UNREACHABLE = 2,  /* Fleet could not connect */
  KEEL_PROXY_ERROR = 3,        /* a protocol error (a bad record from the app, a bad message) */
  KEEL_PROXY_LINK_DOWN = 4     /* the link to Fleet went down */
};

static inline void keel_proxy_put_header(uint8_t out[KEEL_PROXY_HEADER], uint8_t type, uint16_t len) {
  out[0] = type;
  out[1] = (uint8_t)(len & 0xffu);
  out[2] = (uint8_t)(len >> 8);
}

static inline void keel_proxy_get_header(const uint8_t in[KEEL_PROXY_HEADER], uint8_t* type, uint16_t* len) {
  *type = in[0];
  *len = (uint16_t)(in[1] | ((uint16_t)in[2] << 8));
}

/* A service name: 1..64 bytes of [a-z0-9._-]. */
static inline bool keel_proxy_service_valid(const char* name, size_t n) {
  if (name == NULL || n == 0 || n > KEEL_PROXY_MAX_SERVICE) return false;
  for (size_t i = 0; i < n; ++i) {
    const char c = name[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')) return false;
  }
  return true;
}

/* Whether a header from an app is well-formed (type known, length in its range); the body of an
 * OPEN is checked with keel_proxy_service_valid once read. */
static inline bool keel_proxy_app_header_valid(uint8_t type, uint16_t len) {
  switch (type) {
    case KEEL_PROXY_OPEN: return len >= 1 && len <= KEEL_PROXY_MAX_SERVICE;
    case KEEL_PROXY_DATA: return len >= 1 && len <= KEEL_PROXY_MAX_DATA;
    case KEEL_PROXY_CLOSE: return len == 0;
    default: return false;
  }
}

/* Whether a header from the link is well-formed (libkeel checks what the link sends). */
static inline bool keel_proxy_link_header_valid(uint8_t type, uint16_t len) {
  switch (type) {
    case KEEL_PROXY_OPENED: return len == 0;
    case KEEL_PROXY_LDATA: return len >= 1 && len <= KEEL_PROXY_MAX_DATA;
    case KEEL_PROXY_CLOSED: return len == 1;
    default: return false;
  }
}

#endif /* KEEL_SYS_PROXY_RECORD_H */
