#include <gtest/gtest.h>

#include <cstddef>

#include "keel/abi.h"

extern "C" keel_word_t keel_abi_c_check_msginfo(void);

TEST(Abi, MessageInfoRoundTrip) {
  keel_word_t info = keel_msginfo_new(0xabcdef, 5, 3, 120);
  EXPECT_EQ(keel_msginfo_label(info), 0xabcdefu);
  EXPECT_EQ(keel_msginfo_caps_unwrapped(info), 5u);
  EXPECT_EQ(keel_msginfo_extra_caps(info), 3u);
  EXPECT_EQ(keel_msginfo_length(info), 120u);
  // Field overflow does not leak into neighbours.
  EXPECT_EQ(keel_msginfo_length(keel_msginfo_new(0, 0, 0, 0xff)), 0x7fu);
  EXPECT_EQ(keel_msginfo_extra_caps(keel_msginfo_new(0, 0, 7, 0)), 3u);
}

TEST(Abi, MessageInfoMatchesSeL4Layout) {
  // label[63:12] caps_unwrapped[11:9] extra_caps[8:7] length[6:0]
  EXPECT_EQ(keel_msginfo_new(1, 0, 0, 0), 0x1000u);
  EXPECT_EQ(keel_msginfo_new(0, 1, 0, 0), 0x200u);
  EXPECT_EQ(keel_msginfo_new(0, 0, 1, 0), 0x80u);
  EXPECT_EQ(keel_msginfo_new(0, 0, 0, 1), 0x1u);
}

TEST(Abi, IpcBufferLayoutIsSeL4s) {
  EXPECT_EQ(offsetof(keel_ipc_buffer_t, tag), 0u);
  EXPECT_EQ(offsetof(keel_ipc_buffer_t, msg), 8u);
  EXPECT_EQ(offsetof(keel_ipc_buffer_t, user_data), 8u * 121);
  EXPECT_EQ(offsetof(keel_ipc_buffer_t, caps_or_badges), 8u * 122);
  EXPECT_EQ(offsetof(keel_ipc_buffer_t, receive_cnode), 8u * 125);
  EXPECT_EQ(offsetof(keel_ipc_buffer_t, receive_depth), 8u * 127);
  EXPECT_EQ(sizeof(keel_ipc_buffer_t), 1024u);
}

TEST(Abi, ErrorCodesAreSeL4s) {
  EXPECT_EQ(KEEL_INVALID_ARGUMENT, 1);
  EXPECT_EQ(KEEL_FAILED_LOOKUP, 6);
  EXPECT_EQ(KEEL_NOT_ENOUGH_MEMORY, 10);
  EXPECT_EQ(KEEL_RIGHT_WRITE | KEEL_RIGHT_READ | KEEL_RIGHT_GRANT | KEEL_RIGHT_GRANT_REPLY, 15u);
}

TEST(Abi, UsableFromC) { EXPECT_NE(keel_abi_c_check_msginfo(), 0u); }

TEST(Abi, BootInfoFitsAPage) {
  EXPECT_LE(sizeof(keel_boot_info_t), 4096u);
  EXPECT_EQ(sizeof(keel_untyped_desc_t), 16u);
}
