/* systems/demo: telemetry — publishes the demo's counters to an MQTT broker next to Fleet, through
 * the link agent's proxy (docs/libkeel.md "Proxy"). It has no network grant: the only way out is
 * the service "mqtt" that its deployment may configure in Fleet (PUT /deployments/{id}/proxies/mqtt
 * {host, port}); without it Fleet refuses the stream and nothing reaches any broker.
 *
 * MQTT 3.1.1 (OASIS), the least of it: CONNECT (clean session, keep-alive 60 s), CONNACK, then one
 * PUBLISH (QoS 0) to `topic` every `interval_ms`, PINGREQ when idle. Any failure closes the
 * proxy and retries after a back-off (2 s doubling to 60 s), logged once per state change. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "demo.h"

enum { MQTT_CONNECT = 0x10, MQTT_CONNACK = 0x20, MQTT_PUBLISH = 0x30, MQTT_PINGREQ = 0xc0 };

/* Remaining-length field (MQTT 3.1.1 §2.2.3): 7 bits per byte, at most 4 bytes. */
static size_t put_remaining(uint8_t* out, size_t n) {
  size_t i = 0;
  do {
    uint8_t b = (uint8_t)(n % 128u);
    n /= 128u;
    if (n > 0) b |= 0x80u;
    out[i++] = b;
  } while (n > 0 && i < 4);
  return i;
}

static size_t put_string(uint8_t* out, const char* s, size_t n) {
  out[0] = (uint8_t)(n >> 8);
  out[1] = (uint8_t)n;
  memcpy(out + 2, s, n);
  return n + 2;
}

/* Builds one packet of type `type` around a body; returns its size (0 if it does not fit). */
static size_t packet(uint8_t* out, size_t cap, uint8_t type, const uint8_t* body, size_t n) {
  if (n + 5 > cap) return 0;
  out[0] = type;
  size_t h = 1 + put_remaining(out + 1, n);
  memcpy(out + h, body, n);
  return h + n;
}

static keel_error_t mqtt_connect(const char* client_id) {
  uint8_t body[128], pkt[160];
  size_t n = put_string(body, "MQTT", 4);
  body[n++] = 4;    /* protocol level 3.1.1 */
  body[n++] = 0x02; /* clean session */
  body[n++] = 0;
  body[n++] = 60; /* keep-alive, seconds */
  size_t id_len = strlen(client_id);
  if (id_len > 64) id_len = 64;
  n += put_string(body + n, client_id, id_len);
  size_t len = packet(pkt, sizeof pkt, MQTT_CONNECT, body, n);
  keel_error_t st = keel_proxy_send(pkt, len);
  if (st != KEEL_OK) return st;
  /* CONNACK: 0x20 0x02 flags return-code. */
  uint8_t ack[4];
  size_t got = 0;
  while (got < sizeof ack) {
    size_t k = 0;
    st = keel_proxy_recv(ack + got, sizeof ack - got, &k, 10ull * 1000 * 1000 * 1000);
    if (st != KEEL_OK) return st;
    got += k;
  }
  if (ack[0] != MQTT_CONNACK || ack[1] != 2 || ack[3] != 0) {
    keel_logf("broker refused the connection (CONNACK %02x %02x %02x %02x)", ack[0], ack[1], ack[2], ack[3]);
    return KEEL_DENIED;
  }
  return KEEL_OK;
}

static keel_error_t mqtt_publish(const char* topic, const char* text) {
  uint8_t body[256], pkt[288];
  size_t tl = strlen(topic), pl = strlen(text);
  if (tl + pl + 2 > sizeof body) return KEEL_INVALID_ARGUMENT;
  size_t n = put_string(body, topic, tl);
  memcpy(body + n, text, pl);
  n += pl;
  size_t len = packet(pkt, sizeof pkt, MQTT_PUBLISH, body, n);
  return keel_proxy_send(pkt, len);
}

int keel_main(void* arg) {
  (void)arg;
  demo_stats_t* stats = demo_stats();
  const char* topic = keel_config_str("topic", "keel/demo/telemetry");
  const char* client = keel_config_str("client_id", "keel-demo");
  const uint64_t interval_ms = (uint64_t)keel_config_int("interval_ms", 2000);
  uint64_t backoff_ms = 2000;
  keel_error_t last = KEEL_OK;
  unsigned published = 0;
  for (;;) {
    keel_error_t st = keel_proxy_open("mqtt");
    if (st == KEEL_OK) st = mqtt_connect(client);
    if (st == KEEL_OK) {
      keel_log("connected to the broker through the proxy 'mqtt'");
      backoff_ms = 2000;
      last = KEEL_OK;
      for (;;) {
        char text[160];
        snprintf(text, sizeof text, "{\"readings\":%llu,\"commands\":%llu,\"published\":%u}",
                 (unsigned long long)stats->sensor_readings, (unsigned long long)stats->controller_commands,
                 published + 1);
        st = mqtt_publish(topic, text);
        if (st != KEEL_OK) break;
        if (++published == 1 || published % 30 == 0) keel_logf("published %u messages to %s", published, topic);
        /* Wait for the next period; anything the broker sends (nothing, at QoS 0) is read and
         * dropped; a closed connection ends the session. */
        uint8_t junk[64];
        size_t k = 0;
        st = keel_proxy_recv(junk, sizeof junk, &k, interval_ms * 1000000ull);
        if (st != KEEL_OK && st != KEEL_TIMEOUT) break;
        if (st == KEEL_TIMEOUT && published % 20 == 0) {
          const uint8_t ping[2] = {MQTT_PINGREQ, 0};
          if (keel_proxy_send(ping, sizeof ping) != KEEL_OK) break;
        }
      }
    }
    keel_proxy_close();
    if (st != last) {
      keel_logf("proxy 'mqtt': %s; retrying in %llu ms", st == KEEL_DENIED ? "refused (not configured for this deployment?)"
                                                                         : keel_error_name(st),
               (unsigned long long)backoff_ms);
      last = st;
    }
    keel_sleep_ms(backoff_ms);
    backoff_ms = backoff_ms * 2 > 60000 ? 60000 : backoff_ms * 2;
  }
}
