/* keel/tunnel/ctl.h — the tunnel's control rpc (`tunnel_ctl`, from link.tunnel_ctl to tunnel.ctl)
 * and the pipe records between the link agent and the tunnel (docs/device-services.md "Tunnel").
 * C and C++.
 *
 * Pipe: streams `link_up` (link.tunnel_tx -> tunnel.link_rx) and `link_down` (tunnel.link_tx ->
 * link.tunnel_rx). Each record: u16 little-endian length (1..KEEL_TUNNEL_MAX_DATAGRAM), then that
 * many bytes = one control-protocol datagram (the inner UDP payload).
 *
 * rpc: label = op. KEEL_TUNNEL_STATUS (no arguments) -> label KEEL_OK (0), words:
 *   w[0] state (KEEL_TUNNEL_STATE_*), w[1] rx bytes, w[2] tx bytes (inner UDP payload bytes),
 *   w[3] handshakes completed, w[4] seconds since the last handshake (~0 = never),
 *   w[5] dropped inner packets (malformed, wrong address/port, pipe full, too long),
 *   w[6] outer endpoint IPv4 (host order), w[7] outer endpoint port.  len = 8.
 * Any other op -> KEEL_INVALID_ARGUMENT. */
#pragma once

#include <stdint.h>

#define KEEL_TUNNEL_STATUS 1u

#define KEEL_TUNNEL_STATE_NOT_ENROLLED 0u
#define KEEL_TUNNEL_STATE_HANDSHAKING 1u
#define KEEL_TUNNEL_STATE_UP 2u

#define KEEL_TUNNEL_STATUS_WORDS 8u
#define KEEL_TUNNEL_NEVER UINT64_MAX

/* Largest pipe record body: 1420 (tunnel MTU) - 20 (IPv4) - 8 (UDP). */
#define KEEL_TUNNEL_MAX_DATAGRAM 1392u
/* The inner UDP port on both sides. */
#define KEEL_TUNNEL_INNER_PORT 7400u

#ifdef __cplusplus
namespace keel::tunnel {
struct Status {
  uint64_t state = KEEL_TUNNEL_STATE_NOT_ENROLLED;
  uint64_t rx_bytes = 0, tx_bytes = 0, handshakes = 0;
  uint64_t since_handshake_s = KEEL_TUNNEL_NEVER;
  uint64_t dropped = 0;
  uint64_t endpoint_ip = 0, endpoint_port = 0;
};
}  // namespace keel::tunnel
#endif
