// Registry JSON parsing: accepted entries and every rejected one with its location.
#include <gtest/gtest.h>

#include <vector>

#include "keel/gateway/registry.h"
#include "keel/wg/posix.h"

namespace keel::gateway {
namespace {

std::string b64(uint8_t fill) {
  wg::Key k;
  k.fill(fill);
  char out[45];
  wg::key_to_base64(k, out);
  return out;
}

Result<void, std::string> parse(const std::string& text, std::vector<DeviceTunnel>* out = nullptr) {
  return parse_registry_json(text, "devices.json", [&](const DeviceTunnel& d) {
    if (out) out->push_back(d);
  });
}

TEST(GatewayRegistry, ParsesDevices) {
  std::vector<DeviceTunnel> v;
  const std::string j = R"({"devices": [
    {"id": "dev-1", "public_key": ")" + b64(1) + R"(", "address": "10.64.0.2"},
    {"id": "dev-2", "public_key": ")" + b64(2) + R"(", "address": "fd00::2", "preshared_key": ")" + b64(9) + R"("}]})";
  ASSERT_TRUE(parse(j, &v).ok());
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].device_id, "dev-1");
  EXPECT_EQ(v[0].public_key[0], 1);
  EXPECT_EQ(v[0].address.family, 4);
  EXPECT_FALSE(v[0].has_psk);
  EXPECT_EQ(v[1].address.family, 6);
  EXPECT_TRUE(v[1].has_psk);
  EXPECT_EQ(v[1].psk[5], 9);
}

TEST(GatewayRegistry, RejectsWithLocation) {
  const std::string k = b64(1);
  struct Case {
    std::string json, expect;
  } cases[] = {
      {"{", "devices.json: not valid JSON"},
      {"[]", "expected an object with a \"devices\" array"},
      {R"({"devices": [1]})", "devices[0]: expected an object"},
      {R"({"devices": [{"public_key": ")" + k + R"(", "address": "10.0.0.1"}]})", "devices[0]: \"id\""},
      {R"({"devices": [{"id": "a", "public_key": "abc", "address": "10.0.0.1"}]})",
       "devices[0] (a): \"public_key\" must be"},
      {R"({"devices": [{"id": "a", "public_key": ")" + k + R"(", "address": "10.0.0.300"}]})",
       "devices[0] (a): \"address\""},
      {R"({"devices": [{"id": "a", "public_key": ")" + k + R"(", "address": "10.0.0.1", "extra": 1}]})",
       "unknown key \"extra\""},
      {R"({"devices": [{"id": "a", "public_key": ")" + k + R"(", "address": "10.0.0.1", "preshared_key": 5}]})",
       "\"preshared_key\""},
  };
  for (const auto& c : cases) {
    auto r = parse(c.json);
    ASSERT_FALSE(r.ok()) << c.json;
    EXPECT_NE(r.error().find(c.expect), std::string::npos) << r.error() << " / wanted: " << c.expect;
  }
}

TEST(GatewayRegistry, MissingFileIsAnError) {
  JsonFileRegistry r("/nonexistent/devices.json");
  auto res = r.for_each([](const DeviceTunnel&) {});
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error(), "/nonexistent/devices.json: cannot open");
}

TEST(GatewayRegistry, InnerSourceCheck) {
  InnerAddr a;
  ASSERT_TRUE(parse_inner_addr("10.64.0.2", a));
  uint8_t p[20] = {0x45};
  p[12] = 10, p[13] = 64, p[14] = 0, p[15] = 2;
  EXPECT_TRUE(a.matches_source(p, 20));
  p[15] = 3;
  EXPECT_FALSE(a.matches_source(p, 20));
  EXPECT_FALSE(a.matches_source(p, 19));
  InnerAddr b;
  ASSERT_TRUE(parse_inner_addr("fd00::2", b));
  uint8_t q[40] = {0x60};
  q[8] = 0xfd, q[23] = 2;
  EXPECT_TRUE(b.matches_source(q, 40));
  EXPECT_FALSE(a.matches_source(q, 40));  // an IPv6 packet never matches an IPv4 device
  EXPECT_FALSE(parse_inner_addr("not-an-ip", b));
}

}  // namespace
}  // namespace keel::gateway
