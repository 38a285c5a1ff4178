// Host tests of libkeel's pure part: info page checks and lookups on a synthetic page, name
// packing, stream ring arithmetic.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "keel/info.h"

namespace {

// Builds an info page the way the root server lays it out: header, arrays, then strings.
class PageBuilder {
 public:
  PageBuilder() : page_(KEEL_INFO_MAX_BYTES, 0) {
    info().magic = KEEL_INFO_MAGIC;
    info().version = KEEL_INFO_VERSION;
    info().index = 2;
    info().component_count = 5;
  }
  keel_info_t& info() { return *reinterpret_cast<keel_info_t*>(page_.data()); }

  void build(const std::vector<std::pair<std::string, std::string>>& channels,  // name, end
             const std::vector<std::pair<std::string, int64_t>>& ints, const std::string& str_key,
             const std::string& str_value) {
    uint32_t off = (sizeof(keel_info_t) + 7u) & ~7u;
    info().channels_off = off;
    info().channel_count = uint32_t(channels.size());
    off += uint32_t(channels.size() * sizeof(keel_info_channel_t));
    info().config_off = off;
    info().config_count = uint32_t(ints.size() + 1);
    off += uint32_t((ints.size() + 1) * sizeof(keel_info_config_t));
    info().devices_off = off;
    info().device_count = 1;
    off += sizeof(keel_info_device_t);
    info().strings_off = off;
    strings_ = off;
    info().name = str("sensor");
    info().system = str("demo");
    for (size_t i = 0; i < channels.size(); ++i) {
      auto& c = chan(i);
      c.name = str(channels[i].first);
      c.end = str(channels[i].second);
      c.peer = str("peer");
      c.kind = KEEL_CHANNEL_RPC;
      c.role = KEEL_ROLE_FROM;
      c.slot = KEEL_SLOT_CHANNEL_BASE + 2 * uint32_t(i);
      c.peer_index = 1;
    }
    for (size_t i = 0; i < ints.size(); ++i) {
      cfg(i).key = str(ints[i].first);
      cfg(i).type = KEEL_CONFIG_INT;
      cfg(i).int_value = ints[i].second;
    }
    cfg(ints.size()).key = str(str_key);
    cfg(ints.size()).type = KEEL_CONFIG_STRING;
    cfg(ints.size()).str_value = str(str_value);
    dev().name = str("uart0");
    dev().vaddr = 0x20000000;
    info().size = strings_;
  }
  keel_info_channel_t& chan(size_t i) {
    return reinterpret_cast<keel_info_channel_t*>(page_.data() + info().channels_off)[i];
  }
  keel_info_config_t& cfg(size_t i) {
    return reinterpret_cast<keel_info_config_t*>(page_.data() + info().config_off)[i];
  }
  keel_info_device_t& dev() { return *reinterpret_cast<keel_info_device_t*>(page_.data() + info().devices_off); }
  char* bytes() { return page_.data(); }
  const keel_info_t* page() { return &info(); }

 private:
  keel_info_str_t str(const std::string& s) {
    keel_info_str_t r{strings_, uint32_t(s.size())};
    std::memcpy(page_.data() + strings_, s.c_str(), s.size() + 1);
    strings_ += uint32_t(s.size() + 1);
    if (strings_ > info().size) info().size = strings_;
    return r;
  }
  std::vector<char> page_;
  uint32_t strings_ = 0;
};

PageBuilder standard() {
  PageBuilder b;
  b.build({{"readings", "out"}, {"commands", "cmd"}}, {{"period_ms", 250}, {"verbose", 1}}, "unit", "celsius");
  return b;
}

TEST(KeelInfo, ValidPageChecksAndLooksUp) {
  auto b = standard();
  const char* why = nullptr;
  ASSERT_EQ(keel_info_check(b.page(), KEEL_INFO_MAX_BYTES, &why), KEEL_OK) << why;
  EXPECT_STREQ(keel_info_string(b.page(), b.page()->name), "sensor");
  EXPECT_STREQ(keel_info_string(b.page(), b.page()->system), "demo");
  EXPECT_EQ(keel_info_find_channel(b.page(), "readings"), 0);
  EXPECT_EQ(keel_info_find_channel(b.page(), "commands"), 1);
  EXPECT_EQ(keel_info_find_channel(b.page(), "cmd"), 1) << "the end name finds the channel too";
  EXPECT_EQ(keel_info_find_channel(b.page(), "reading"), -1) << "no prefix matches";
  EXPECT_EQ(keel_info_find_channel(b.page(), "readingsX"), -1);
  EXPECT_EQ(keel_info_find_channel(b.page(), nullptr), -1);
  EXPECT_EQ(keel_info_find_config(b.page(), "verbose"), 1);
  EXPECT_EQ(keel_info_configs(b.page())[0].int_value, 250);
  int u = keel_info_find_config(b.page(), "unit");
  ASSERT_EQ(u, 2);
  EXPECT_STREQ(keel_info_string(b.page(), keel_info_configs(b.page())[u].str_value), "celsius");
  EXPECT_EQ(keel_info_find_config(b.page(), "missing"), -1);
  EXPECT_EQ(keel_info_find_device(b.page(), "uart0"), 0);
  EXPECT_EQ(keel_info_find_device(b.page(), "rtc"), -1);
  EXPECT_EQ(keel_info_find_region(b.page(), "uart0"), -1);
  EXPECT_EQ(keel_info_find_irq(b.page(), "uart0"), -1);
}

TEST(KeelInfo, RejectsBadHeader) {
  const char* why = nullptr;
  EXPECT_EQ(keel_info_check(nullptr, KEEL_INFO_MAX_BYTES, &why), KEEL_INVALID_ARGUMENT);
  {
    auto b = standard();
    b.info().magic ^= 1;
    EXPECT_EQ(keel_info_check(b.page(), KEEL_INFO_MAX_BYTES, &why), KEEL_INVALID_ARGUMENT);
    EXPECT_STREQ(why, "bad magic");
  }
  {
    auto b = standard();
    b.info().version = KEEL_INFO_VERSION + 1;
    EXPECT_EQ(keel_info_check(b.page(), KEEL_INFO_MAX_BYTES, &why), KEEL_INVALID_ARGUMENT);
  }
  {
    auto b = standard();
    EXPECT_EQ(keel_info_check(b.page(), b.info().size - 1, &why), KEEL_INVALID_ARGUMENT) << "size beyond the mapping";
    b.info().size = KEEL_INFO_MAX_BYTES + 8;
    EXPECT_EQ(keel_info_check(b.page(), 1u << 20, &why), KEEL_INVALID_ARGUMENT);
  }
  {
    auto b = standard();
    b.info().index = 5;
    EXPECT_EQ(keel_info_check(b.page(), KEEL_INFO_MAX_BYTES, &why), KEEL_INVALID_ARGUMENT);
    EXPECT_STREQ(why, "component index out of range");
  }
}

TEST(KeelInfo, RejectsOutOfBoundsArraysAndStrings) {
  const char* why = nullptr;
  {
    auto b = standard();
    b.info().channel_count = KEEL_MAX_CHANNEL_ENDS + 1;
    EXPECT_EQ(keel_info_check(b.page(), KEEL_INFO_MAX_BYTES, &why), KEEL_INVALID_ARGUMENT);
  }
  {
    auto b = standard();
    b.info().config_count = 1000;  // runs past size
    EXPECT_EQ(keel_info_check(b.page(), KEEL_INFO_MAX_BYTES, &why), KEEL_INVALID_ARGUMENT);
    EXPECT_STREQ(why, "config array out of bounds");
  }
  {
    auto b = standard();
    b.info().devices_off += 4;  // misaligned
    EXPECT_EQ(keel_info_check(b.page(), KEEL_INFO_MAX_BYTES, &why), KEEL_INVALID_ARGUMENT);
  }
  {
    auto b = standard();
    b.info().channels_off = 8;  // overlaps the header
    EXPECT_EQ(keel_info_check(b.page(), KEEL_INFO_MAX_BYTES, &why), KEEL_INVALID_ARGUMENT);
  }
  {
    auto b = standard();
    b.chan(1).name.len += 1;  // the byte at off + len is then not the NUL
    EXPECT_EQ(keel_info_check(b.page(), KEEL_INFO_MAX_BYTES, &why), KEEL_INVALID_ARGUMENT);
    EXPECT_STREQ(why, "bad channel string");
  }
  {
    auto b = standard();
    b.cfg(2).str_value.off = 0xffffffffu;  // overflow must not wrap
    EXPECT_EQ(keel_info_check(b.page(), KEEL_INFO_MAX_BYTES, &why), KEEL_INVALID_ARGUMENT);
  }
  {
    auto b = standard();
    b.chan(0).kind = 7;
    EXPECT_EQ(keel_info_check(b.page(), KEEL_INFO_MAX_BYTES, &why), KEEL_INVALID_ARGUMENT);
  }
  {
    auto b = standard();
    b.chan(0).kind = KEEL_CHANNEL_STREAM;
    b.chan(0).vaddr = KEEL_STREAM_BASE;
    b.chan(0).size = 3000;  // not a power of two
    EXPECT_EQ(keel_info_check(b.page(), KEEL_INFO_MAX_BYTES, &why), KEEL_INVALID_ARGUMENT);
    b.chan(0).size = 4096;
    EXPECT_EQ(keel_info_check(b.page(), KEEL_INFO_MAX_BYTES, &why), KEEL_OK) << why;
  }
  {
    auto b = standard();
    b.chan(0).slot = 256;
    EXPECT_EQ(keel_info_check(b.page(), KEEL_INFO_MAX_BYTES, &why), KEEL_INVALID_ARGUMENT);
  }
  {
    auto b = standard();
    b.bytes()[b.page()->name.off + 1] = '\0';  // NUL inside the name
    EXPECT_EQ(keel_info_check(b.page(), KEEL_INFO_MAX_BYTES, &why), KEEL_INVALID_ARGUMENT);
  }
}

TEST(KeelName, PackUnpackRoundTrip) {
  const std::string name = "sensor.readings";  // 15 bytes: 2 MRs
  uint64_t mrs[4] = {~0ull, ~0ull, ~0ull, ~0ull};
  ASSERT_EQ(keel_name_pack(name.data(), name.size(), mrs, 4), 2u);
  EXPECT_EQ(mrs[0], 0x722e726f736e6573ull) << "'sensor.r'";
  EXPECT_EQ(mrs[0] & 0xff, uint64_t('s')) << "little-endian: the first byte is the low byte";
  EXPECT_EQ(mrs[1] >> 56, 0u) << "the last MR is zero-padded";
  EXPECT_EQ(mrs[2], ~0ull) << "nothing written beyond";
  char buf[32];
  ASSERT_TRUE(keel_name_unpack(mrs, 2, name.size(), buf, sizeof buf));
  EXPECT_EQ(std::string(buf), name);
}

TEST(KeelName, Limits) {
  uint64_t mrs[2];
  EXPECT_EQ(keel_name_pack("abcdefghijklmnopq", 17, mrs, 2), 0u) << "17 bytes need 3 MRs";
  EXPECT_EQ(keel_name_pack("abcdefghijklmnop", 16, mrs, 2), 2u);
  EXPECT_EQ(keel_name_pack("", 0, mrs, 2), 0u) << "empty names are not packed";
  char buf[8];
  EXPECT_FALSE(keel_name_unpack(mrs, 2, 17, buf, 64 > 8 ? 8 : 64)) << "length beyond the MRs";
  EXPECT_FALSE(keel_name_unpack(mrs, 2, 8, buf, sizeof buf)) << "no room for the NUL";
  EXPECT_STREQ(buf, "");
  EXPECT_TRUE(keel_name_unpack(mrs, 2, 7, buf, sizeof buf));
  EXPECT_STREQ(buf, "abcdefg");
}

TEST(KeelRing, Arithmetic) {
  EXPECT_TRUE(keel_ring_sane(0, 0, 4096));
  EXPECT_TRUE(keel_ring_sane(4096, 0, 4096));
  EXPECT_FALSE(keel_ring_sane(4097, 0, 4096)) << "more used than the ring holds";
  EXPECT_FALSE(keel_ring_sane(5, 6, 4096)) << "tail ahead of head";
  EXPECT_FALSE(keel_ring_sane(0, 0, 3000));
  EXPECT_FALSE(keel_ring_sane(0, 0, 0));
  // Counters wrap at 2^64 without breaking the arithmetic.
  uint64_t tail = ~0ull - 10, head = tail + 100;
  EXPECT_TRUE(keel_ring_sane(head, tail, 4096));
  EXPECT_EQ(keel_ring_used(head, tail), 100u);
  EXPECT_EQ(keel_ring_free(head, tail, 4096), 3996u);
}

TEST(KeelRing, CopyWraps) {
  uint8_t data[16] = {};
  const char* msg = "0123456789";
  keel_ring_copy_in(data, 16, 12, msg, 10);  // 4 at the end, 6 at the start
  EXPECT_EQ(std::memcmp(data + 12, "0123", 4), 0);
  EXPECT_EQ(std::memcmp(data, "456789", 6), 0);
  char out[11] = {};
  keel_ring_copy_out(data, 16, 12 + 16 * 3, out, 10);  // the same position three laps later
  EXPECT_STREQ(out, msg);
  char part[4] = {};
  keel_ring_copy_out(data, 16, 14, part, 3);
  EXPECT_EQ(std::string(part, 3), "234");
}

}  // namespace
