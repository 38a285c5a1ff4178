/* keel/sys/net_socket.h — the contract between a component's UDP sockets (libkeel keel_udp_*)
 * and the net service (docs/device-services.md, "Network").
 *
 * A component granted the network ([component.network] in the manifest) has three channels to the
 * component `net`, found by their kind and peer (their names are the manifest's):
 *   rpc    component -> net   control: bind, close, status (labels below)
 *   stream component -> net   datagrams to send: records (header + payload)
 *   stream net -> component   datagrams received, and asynchronous send errors: records
 * The payload crosses each address-space boundary once: the component copies it into its stream,
 * the net service from that stream straight into the device's transmit buffer (and, receiving,
 * from the device's buffer into the component's stream). Records are written whole or not at all
 * (keel_stream_send); a record whose header does not make sense ends the stream's use by that
 * component (the net service logs it and drops the component's datagrams until it restarts).
 * Socket ids are the net service's; a restarted net service forgets them all (libkeel binds the
 * same ports again). Pure C, freestanding. */
#ifndef KEEL_SYS_NET_SOCKET_H
#define KEEL_SYS_NET_SOCKET_H

#include <stdint.h>

#define KEEL_NET_MAX_PAYLOAD 1472u /* UDP payload in one unfragmented 1500-byte IPv4 packet */

enum keel_net_request {
  KEEL_NET_BIND = 1,   /* w0 = local port (0: an ephemeral port of the grant) -> w0 = socket id, w1 = port */
  KEEL_NET_CLOSE = 2,  /* w0 = socket id -> (nothing) */
  KEEL_NET_STATUS = 3, /* -> w0 = address, w1 = netmask, w2 = gateway (IPv4, host order; 0: none yet),
                          w3 = configuration generation (changes with the lease), w4 = MTU */
};

typedef struct keel_net_record {
  uint32_t socket; /* the socket id KEEL_NET_BIND answered */
  uint32_t addr;   /* to send: the destination; received: the source (IPv4, host order) */
  uint16_t port;   /* to send: the destination port; received: the source port */
  uint16_t len;    /* payload bytes that follow (<= KEEL_NET_MAX_PAYLOAD); 0 for an error record */
  int32_t error;   /* received only: 0, or the keel_error_t of an earlier send on this socket that
                      the net service refused (addr/port: its destination); then len = 0 */
} keel_net_record_t;

#endif
