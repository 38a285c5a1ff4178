// The packet and frame codec, variable-length integers, packet-number encoding, range sets.
#include "harness.h"

namespace keel::control::test {
namespace {

TEST(Varint, RoundTripsAndRefusesNonMinimal) {
  for (uint64_t v : std::initializer_list<uint64_t>{0, 63, 64, 16383, 16384, (1ull << 30) - 1, 1ull << 30, kVarintMax}) {
    uint8_t b[8];
    Writer w(b);
    w.varint(v);
    ASSERT_TRUE(w.ok());
    EXPECT_EQ(w.size(), varint_size(v));
    Reader r({b, w.size()});
    EXPECT_EQ(r.varint().value_or(~0ull), v);
  }
  const uint8_t two_byte_5[] = {0x40, 0x05};  // RFC 9000 allows it; we do not (one encoding per value)
  Reader r(two_byte_5);
  EXPECT_EQ(r.varint().error(), Error::BadVarint);
  // RFC 9000 §16 examples.
  const uint8_t ex[] = {0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c};
  Reader r8(ex);
  EXPECT_EQ(r8.varint().value_or(0), 151288809941952652ull);
  uint8_t big[8];
  Writer w(big);
  w.varint(kVarintMax + 1);
  EXPECT_FALSE(w.ok());
}

TEST(PacketNumber, TruncatedNumbersDecodeAsRfc9000AppendixA) {
  // RFC 9000 A.3: largest 0xa82f30ea, received 2 bytes 0x9b32 -> 0xa82f9b32.
  uint8_t b[64];
  Writer w(b);
  uint8_t* len = write_header(w, 9, false, 0, 0xa82f9b32, 2);
  w.u8(uint8_t(FrameType::Ping));
  finish_packet(w, len);
  auto h = parse_header({b, w.size()}, 0xa82f30ea);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h.value().pn, 0xa82f9b32u);
  EXPECT_EQ(h.value().pn_len, 2);
  // RFC 9000 A.2: largest acked 0xabe8b3, sending 0xac5c02 needs 2 bytes; 0xace8fe needs 3 (-> 4).
  EXPECT_EQ(pn_length(0xac5c02, 0xabe8b3), 2);
  EXPECT_EQ(pn_length(0xace8fe, 0xabe8b3), 4);
  EXPECT_EQ(pn_length(0, ~0ull), 1);
  // Every distance the sender may use decodes back, around wrap points of each length.
  for (uint64_t largest : std::initializer_list<uint64_t>{0, 200, 65530, 0xfffffff0, 0x123456789ab})
    for (uint64_t d : std::initializer_list<uint64_t>{1, 2, 100, 127}) {
      const uint64_t pn = largest + d;
      Writer w2(b);
      len = write_header(w2, 9, false, 0, pn, pn_length(pn, largest - 1 < largest ? largest - 1 : largest));
      w2.u8(uint8_t(FrameType::Ping));
      finish_packet(w2, len);
      EXPECT_EQ(parse_header({b, w2.size()}, largest).value().pn, pn) << largest << "+" << d;
    }
}

TEST(Header, LayoutAndStrictness) {
  uint8_t b[64];
  Writer w(b);
  uint8_t* len = write_header(w, 0x0102030405060708, true, 1, 5, 1);
  w.u8(uint8_t(FrameType::Ping));
  finish_packet(w, len);
  EXPECT_EQ(hex({b, w.size()}), "80" "0102030405060708" "01" "05" "0001" "01");
  Buf p(b, b + w.size());
  p[0] |= 0x04;
  EXPECT_EQ(parse_header(p, ~0ull).error(), Error::BadHeader);
  p[0] = 0x80;
  p.push_back(0x01);  // a byte beyond the payload length
  EXPECT_EQ(parse_header(p, ~0ull).error(), Error::BadHeader);
  p.pop_back();
  p.pop_back();  // payload shorter than the length says
  EXPECT_EQ(parse_header(p, ~0ull).error(), Error::Truncated);
  EXPECT_EQ(peek_session_id(Bytes(b, w.size())).value_or(0), 0x0102030405060708u);
}

TEST(Frames, AckRangesRoundTripAndAreChecked) {
  Frame f;
  f.type = FrameType::Ack;
  f.ack_delay_us = 1000;
  f.range_count = 3;
  f.ranges[0] = {90, 100};
  f.ranges[1] = {50, 80};
  f.ranges[2] = {0, 10};
  uint8_t b[128];
  Writer w(b);
  write_frame(w, f);
  Reader r({b, w.size()});
  Frame g;
  ASSERT_TRUE(parse_frame(r, g).ok());
  ASSERT_EQ(g.range_count, 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(g.ranges[i].lo, f.ranges[i].lo);
    EXPECT_EQ(g.ranges[i].hi, f.ranges[i].hi);
  }
  // A gap that would go below zero.
  const uint8_t below[] = {0x02, 0x05, 0x00, 0x01, 0x00, 0x09, 0x00};
  Reader r2(below);
  EXPECT_EQ(parse_frame(r2, g).error(), Error::BadAck);
  // More ranges than kMaxAckRanges.
  const uint8_t many[] = {0x02, 0x3f, 0x00, 0x08, 0x00};
  Reader r3(many);
  EXPECT_EQ(parse_frame(r3, g).error(), Error::BadAck);
  // First range larger than the largest acknowledged.
  const uint8_t first[] = {0x02, 0x05, 0x00, 0x00, 0x06};
  Reader r4(first);
  EXPECT_EQ(parse_frame(r4, g).error(), Error::BadAck);
}

TEST(Frames, StrictFields) {
  Frame g;
  const uint8_t unknown[] = {0x0a};
  Reader r1(unknown);
  EXPECT_EQ(parse_frame(r1, g).error(), Error::UnknownFrame);
  const uint8_t zero[] = {0x00};
  Reader r0(zero);
  EXPECT_EQ(parse_frame(r0, g).error(), Error::UnknownFrame);
  const uint8_t flags[] = {0x03, 0x00, 0x02, 0x00, 0x01, 0xaa};  // reserved STREAM flag bit
  Reader r2(flags);
  EXPECT_EQ(parse_frame(r2, g).error(), Error::BadFrame);
  const uint8_t empty[] = {0x03, 0x00, 0x00, 0x00, 0x00};  // empty STREAM without FIN
  Reader r3(empty);
  EXPECT_EQ(parse_frame(r3, g).error(), Error::BadFrame);
  const uint8_t fin[] = {0x03, 0x00, 0x01, 0x05, 0x00};  // empty STREAM with FIN: fine
  Reader r4(fin);
  EXPECT_TRUE(parse_frame(r4, g).ok());
  EXPECT_TRUE(g.fin);
  EXPECT_EQ(g.offset, 5u);
  Buf reason = {0x09, 0x00, 0x40 | 0x00, 0x41};  // CLOSE with a 65-byte reason
  reason.resize(4 + 65, 'x');
  Reader r5(reason);
  EXPECT_EQ(parse_frame(r5, g).error(), Error::BadFrame);
  const uint8_t cut[] = {0x07, 0x04};  // MAX_STREAM_DATA without its value
  Reader r6(cut);
  EXPECT_EQ(parse_frame(r6, g).error(), Error::Truncated);
}

TEST(RangeSet, MergesBoundsAndRemoves) {
  RangeSet<3> s;
  EXPECT_TRUE(s.add(10, 20));
  EXPECT_TRUE(s.add(30, 40));
  EXPECT_TRUE(s.add(20, 30));  // bridges both
  ASSERT_EQ(s.n, 1);
  EXPECT_EQ(s.lo[0], 10u);
  EXPECT_EQ(s.hi[0], 40u);
  EXPECT_TRUE(s.add(50, 60));
  EXPECT_TRUE(s.add(70, 80));
  EXPECT_FALSE(s.add(90, 100));  // a fourth range does not fit
  EXPECT_EQ(s.n, 3);
  EXPECT_TRUE(s.add(55, 75));  // merging still works when full
  EXPECT_EQ(s.n, 2);
  s.add_hull(100, 110);
  s.add_hull(0, 5);  // full: widens instead
  EXPECT_TRUE(s.contains(0) && s.contains(109) && s.contains(45));
  RangeSet<4> t;
  t.add(0, 100);
  EXPECT_TRUE(t.remove(10, 20));
  EXPECT_TRUE(t.remove(30, 40));
  EXPECT_EQ(t.n, 3);
  EXPECT_FALSE(t.contains(15));
  t.remove_below(35);
  EXPECT_EQ(t.lo[0], 40u);
}

}  // namespace
}  // namespace keel::control::test
