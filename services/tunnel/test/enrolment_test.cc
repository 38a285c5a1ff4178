// The enrolment record parser and writer (keel/tunnel/enrolment.h): a valid record in any order,
// the round trip with format_enrolment, and every error with its line.
#include <gtest/gtest.h>

#include <string>

#include "keel/tunnel/enrolment.h"

namespace keel::tunnel {
namespace {

const char* kKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";  // bytes 0..31

std::string good() {
  return std::string("fleet_endpoint=10.0.2.2:51820\nfleet_key=") + kKey + "\naddress=10.64.0.2\nfleet_address=10.64.0.1\n";
}

std::string error_of(const std::string& text) {
  Enrolment e;
  EnrolmentError err;
  if (parse_enrolment(text.data(), text.size(), e, err)) return "ok";
  return err.message;
}

TEST(TunnelEnrolment, ParsesAValidRecord) {
  Enrolment e;
  EnrolmentError err;
  const std::string t = good();
  ASSERT_TRUE(parse_enrolment(t.data(), t.size(), e, err)) << err.message;
  EXPECT_EQ(e.fleet_ip, 0x0a000202u);
  EXPECT_EQ(e.fleet_port, 51820);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(e.fleet_key[i], i);
  EXPECT_EQ(e.address, 0x0a400002u);
  EXPECT_EQ(e.fleet_address, 0x0a400001u);
}

TEST(TunnelEnrolment, AnyOrderAndRoundTrip) {
  const std::string t = std::string("address=10.64.0.2\nfleet_address=10.64.0.1\nfleet_key=") + kKey +
                        "\nfleet_endpoint=192.168.1.200:1\n";
  Enrolment e;
  EnrolmentError err;
  ASSERT_TRUE(parse_enrolment(t.data(), t.size(), e, err)) << err.message;
  EXPECT_EQ(e.fleet_port, 1);
  char out[kEnrolmentMaxBytes];
  const size_t n = format_enrolment(e, out, sizeof out);
  ASSERT_GT(n, 0u);
  Enrolment e2;
  ASSERT_TRUE(parse_enrolment(out, n, e2, err)) << err.message;
  EXPECT_EQ(std::memcmp(&e, &e2, sizeof e), 0);
  EXPECT_EQ(std::string(out, n), std::string("fleet_endpoint=192.168.1.200:1\nfleet_key=") + kKey +
                                      "\naddress=10.64.0.2\nfleet_address=10.64.0.1\n");
  EXPECT_EQ(format_enrolment(e, out, 10), 0u);
}

TEST(TunnelEnrolment, EveryErrorNamesItsLine) {
  const std::string k = kKey;
  const std::string ep = "fleet_endpoint=10.0.2.2:51820\n", fk = "fleet_key=" + k + "\n", ad = "address=10.64.0.2\n",
                    fa = "fleet_address=10.64.0.1\n";
  EXPECT_EQ(error_of(ep + fk + ad + "fleet_address=10.64.0.1"), "enrolment line 4: no newline at the end of the line");
  EXPECT_EQ(error_of(ep + "\n" + fk + ad + fa), "enrolment line 2: empty line");
  EXPECT_EQ(error_of(ep + fk + "address\n" + fa), "enrolment line 3: expected key=value");
  EXPECT_EQ(error_of(ep + fk + "address= 10.64.0.2\n" + fa), "enrolment line 3: spaces or control characters are not allowed");
  EXPECT_EQ(error_of(ep + fk + "address=10.64.0.2\r\n" + fa), "enrolment line 3: spaces or control characters are not allowed");
  EXPECT_EQ(error_of(ep + fk + ad + fa + "mtu=1420\n"), "enrolment line 5: unknown key 'mtu'");
  EXPECT_EQ(error_of(ep + fk + ad + fa + ad), "enrolment line 5: address given twice (first on line 3)");
  EXPECT_EQ(error_of(ep + fk + ad), "enrolment line 4: missing key 'fleet_address'");
  EXPECT_EQ(error_of(""), "enrolment line 1: missing key 'fleet_endpoint'");
  EXPECT_EQ(error_of(std::string(600, 'a')), "enrolment line 1: record longer than 512 bytes");
  const std::string bad_ep = "enrolment line 1: fleet_endpoint: expected IPv4:port (e.g. 10.0.2.2:51820)";
  for (const char* v : {"10.0.2.2", "10.0.2.2:", "10.0.2.2:0", "10.0.2.2:65536", "10.0.2.2:051820", "10.0.2:1",
                        "10.0.2.256:1", "10.0.02.2:1", "host:1", "10.0.2.2:1x", "10.0.2.2.1:5"})
    EXPECT_EQ(error_of(std::string("fleet_endpoint=") + v + "\n" + fk + ad + fa), bad_ep) << v;
  const std::string bad_key = "enrolment line 2: fleet_key: expected the base64 of 32 bytes (44 characters)";
  for (const std::string& v : {k.substr(0, 43), k + "=", k.substr(0, 43) + "A", "!" + k.substr(1),
                               k.substr(0, 42) + "B="})  // non-canonical: unused low bits set
    EXPECT_EQ(error_of(ep + "fleet_key=" + v + "\n" + ad + fa), bad_key) << v;
  EXPECT_EQ(error_of(ep + fk + "address=10.64.0\n" + fa),
            "enrolment line 3: address: expected an IPv4 address (e.g. 10.64.0.2)");
  EXPECT_EQ(error_of(ep + fk + "address=0.0.0.0\n" + fa),
            "enrolment line 3: address: expected an IPv4 address (e.g. 10.64.0.2)");
  EXPECT_EQ(error_of(ep + fk + ad + "fleet_address=x\n"),
            "enrolment line 4: fleet_address: expected an IPv4 address (e.g. 10.64.0.1)");
}

TEST(TunnelEnrolment, Base64MatchesTheStandardSpelling) {
  uint8_t key[32];
  for (int i = 0; i < 32; ++i) key[i] = uint8_t(i);
  char out[45];
  format_key_base64(key, out);
  EXPECT_STREQ(out, kKey);
  uint8_t back[32];
  ASSERT_TRUE(parse_key_base64(out, 44, back));
  EXPECT_EQ(std::memcmp(key, back, 32), 0);
  for (int i = 0; i < 32; ++i) key[i] = uint8_t(0xff - i * 7);
  format_key_base64(key, out);
  ASSERT_TRUE(parse_key_base64(out, 44, back));
  EXPECT_EQ(std::memcmp(key, back, 32), 0);
}

}  // namespace
}  // namespace keel::tunnel
