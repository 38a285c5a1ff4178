// keel/sys/proxy_record.h: the records on an app's proxy streams, shared by libkeel and the mux.
#include "keel/sys/proxy_record.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

namespace {

TEST(ProxyRecord, HeaderRoundTrip) {
  uint8_t h[KEEL_PROXY_HEADER];
  keel_proxy_put_header(h, KEEL_PROXY_DATA, 4095);
  EXPECT_EQ(h[0], 2);
  EXPECT_EQ(h[1], 0xff);  // little-endian
  EXPECT_EQ(h[2], 0x0f);
  uint8_t t = 0;
  uint16_t n = 0;
  keel_proxy_get_header(h, &t, &n);
  EXPECT_EQ(t, 2);
  EXPECT_EQ(n, 4095);
}

TEST(ProxyRecord, AppHeaders) {
  EXPECT_TRUE(keel_proxy_app_header_valid(KEEL_PROXY_OPEN, 1));
  EXPECT_TRUE(keel_proxy_app_header_valid(KEEL_PROXY_OPEN, 64));
  EXPECT_FALSE(keel_proxy_app_header_valid(KEEL_PROXY_OPEN, 0));
  EXPECT_FALSE(keel_proxy_app_header_valid(KEEL_PROXY_OPEN, 65));
  EXPECT_TRUE(keel_proxy_app_header_valid(KEEL_PROXY_DATA, 1));
  EXPECT_TRUE(keel_proxy_app_header_valid(KEEL_PROXY_DATA, 4095));
  EXPECT_FALSE(keel_proxy_app_header_valid(KEEL_PROXY_DATA, 0));
  EXPECT_FALSE(keel_proxy_app_header_valid(KEEL_PROXY_DATA, 4096));
  EXPECT_FALSE(keel_proxy_app_header_valid(KEEL_PROXY_DATA, 65535));
  EXPECT_TRUE(keel_proxy_app_header_valid(KEEL_PROXY_CLOSE, 0));
  EXPECT_FALSE(keel_proxy_app_header_valid(KEEL_PROXY_CLOSE, 1));
  for (int t : {0, 4, 5, 0x7f, 0xff}) EXPECT_FALSE(keel_proxy_app_header_valid(uint8_t(t), 1)) << t;
}

TEST(ProxyRecord, LinkHeaders) {
  EXPECT_TRUE(keel_proxy_link_header_valid(KEEL_PROXY_OPENED, 0));
  EXPECT_FALSE(keel_proxy_link_header_valid(KEEL_PROXY_OPENED, 1));
  EXPECT_TRUE(keel_proxy_link_header_valid(KEEL_PROXY_LDATA, 4095));
  EXPECT_FALSE(keel_proxy_link_header_valid(KEEL_PROXY_LDATA, 0));
  EXPECT_FALSE(keel_proxy_link_header_valid(KEEL_PROXY_LDATA, 4096));
  EXPECT_TRUE(keel_proxy_link_header_valid(KEEL_PROXY_CLOSED, 1));
  EXPECT_FALSE(keel_proxy_link_header_valid(KEEL_PROXY_CLOSED, 0));
  EXPECT_FALSE(keel_proxy_link_header_valid(KEEL_PROXY_CLOSED, 2));
  EXPECT_FALSE(keel_proxy_link_header_valid(9, 0));
}

TEST(ProxyRecord, ServiceNames) {
  for (const char* ok : {"db", "my-service", "a.b_c-d", "0", "x2"})
    EXPECT_TRUE(keel_proxy_service_valid(ok, std::strlen(ok))) << ok;
  const std::string max(64, 'a');
  EXPECT_TRUE(keel_proxy_service_valid(max.data(), max.size()));
  const std::string over(65, 'a');
  EXPECT_FALSE(keel_proxy_service_valid(over.data(), over.size()));
  for (const char* bad : {"", "DB", "a b", "a/b", "a:1", "ü", "a\n"})
    EXPECT_FALSE(keel_proxy_service_valid(bad, std::strlen(bad))) << bad;
  EXPECT_FALSE(keel_proxy_service_valid("a\0b", 3));
  EXPECT_FALSE(keel_proxy_service_valid(nullptr, 0));
}

}  // namespace
