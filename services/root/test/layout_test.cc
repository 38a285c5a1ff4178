// Address-space layout and info page of a component, from a spec made with the host writer.
#include "layout.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "keel/bootspec/writer.h"

using namespace keel::root;
namespace bs = keel::bootspec;

namespace {

bs::Model model() {
  bs::Model m;
  m.name = "t";
  m.platform = "qemu-virt";
  m.ram_base = 0x40000000;
  m.ram_size = 512u << 20;
  m.memory = 64u << 20;
  m.groups.push_back({"top", bs::kNone, bs::Strategy::kOneForOne, 3, 5});
  for (const char* n : {"a", "b"}) {
    bs::Model::Component c;
    c.name = n;
    c.image = std::string(n) + ".elf";
    c.priority = 10;
    c.budget_us = 100;
    c.period_us = 1000;
    c.stack_size = 16384;
    m.components.push_back(c);
  }
  m.components[0].heap_size = 8192;
  m.components[0].services = {"serial", "status"};
  m.components[0].config = {{"rate", bs::ConfigType::kInt, false, 42, ""}, {"label", bs::ConfigType::kString, true, 0, "hello"}};
  m.components[0].devices = {{"uart0", 0x09000000, 0x1000, 0x20000000}};
  m.components[0].irqs = {{"uart0", 33}};
  m.components[0].regions = {{"scratch", bs::RegionKind::kPrivate, bs::kPermRead | bs::kPermWrite, bs::kNone, 0x10000000, 8192}};
  m.components[1].priority = 20;
  m.channels.push_back({"calls", bs::ChannelKind::kRpc, 0, 1, "client", "server", 0});
  m.channels.push_back({"ticks", bs::ChannelKind::kEvent, 1, 0, "tick", "tock", 0});
  m.channels.push_back({"data", bs::ChannelKind::kStream, 0, 1, "out", "in", 8192});
  return m;
}

Image image() {
  Image img;
  img.entry = 0x400000;
  img.count = 2;
  img.seg[0] = Segment{0x400000, 2, 0, nullptr, 0, true, false, true};
  img.seg[1] = Segment{0x402000, 1, 0, nullptr, 0, true, true, false};
  img.end = 0x403000;
  return img;
}

}  // namespace

TEST(Layout, MappingsTablesAndEnds) {
  auto bytes = bs::write(model());
  auto spec = bs::Spec::parse(bytes.data(), bytes.size());
  ASSERT_TRUE(spec.ok());
  Layout l;
  ASSERT_TRUE(compute_layout(spec.value(), 0, image(), l).ok());
  // text (shared), data (fresh), stack, heap, stream ring, info, ipc, system page (status), region, device
  EXPECT_EQ(l.shared_image_pages, 2u);
  EXPECT_EQ(l.fresh_pages, 1u + 4 + 2 + 1 + 1 + 2);  // data + stack + heap + info + ipc + region
  ASSERT_EQ(l.end_count, 3u);
  EXPECT_EQ(l.ends[0].k, 0u);
  EXPECT_FALSE(l.ends[0].to);  // rpc client
  EXPECT_TRUE(l.ends[1].to);   // event waiter
  EXPECT_EQ(l.ends[1].j, 0u);  // first notify index
  EXPECT_EQ(l.ends[2].j, 1u);  // the stream producer has one too
  EXPECT_EQ(l.ends[2].peer, 1u);
  EXPECT_EQ(l.ends[2].peer_k, 2u);  // b's ends: calls(0), ticks(1), data(2)
  bool device = false, ring = false, sys = false, spec_map = false, root_log = false;
  for (std::uint32_t i = 0; i < l.count; ++i) {
    device |= l.map[i].kind == MapKind::kDevice && l.map[i].paddr == 0x09000000 && l.map[i].vaddr == 0x20000000;
    ring |= l.map[i].kind == MapKind::kStream && l.map[i].vaddr == KEEL_STREAM_BASE && l.map[i].pages == 3;
    sys |= l.map[i].kind == MapKind::kSystemPage;
    spec_map |= l.map[i].kind == MapKind::kSpec;
    root_log |= l.map[i].kind == MapKind::kRootLog;
  }
  EXPECT_TRUE(device && ring && sys);
  EXPECT_FALSE(spec_map);  // only the core services get the spec
  EXPECT_FALSE(root_log);  // only serial reads the root server's log
  // Level-3 tables: image, heap, stack, info+system page, ipc, region, device, stream.
  EXPECT_EQ(l.l3_count, 8u);
}

TEST(Layout, InfoPageRoundTrip) {
  auto bytes = bs::write(model());
  auto spec = bs::Spec::parse(bytes.data(), bytes.size());
  ASSERT_TRUE(spec.ok());
  Layout l;
  ASSERT_TRUE(compute_layout(spec.value(), 0, image(), l).ok());
  std::vector<std::uint8_t> buf(KEEL_INFO_MAX_BYTES, 0);
  auto w = write_info(spec.value(), 0, l, 3, 62500000, buf.data(), buf.size());
  ASSERT_TRUE(w.ok());
  const auto* info = reinterpret_cast<const keel_info_t*>(buf.data());
  auto str = [&](keel_info_str_t s) { return std::string(reinterpret_cast<const char*>(buf.data()) + s.off, s.len); };
  EXPECT_EQ(info->magic, KEEL_INFO_MAGIC);
  EXPECT_EQ(info->generation, 3u);
  EXPECT_EQ(str(info->name), "a");
  EXPECT_EQ(info->services, static_cast<std::uint32_t>(KEEL_SERVICE_SERIAL | KEEL_SERVICE_STATUS));
  EXPECT_EQ(info->heap_size, 8192u);
  ASSERT_EQ(info->channel_count, 3u);
  const auto* ch = reinterpret_cast<const keel_info_channel_t*>(buf.data() + info->channels_off);
  EXPECT_EQ(str(ch[0].name), "calls");
  EXPECT_EQ(ch[0].slot, KEEL_SLOT_CHANNEL_BASE + 0u);
  EXPECT_EQ(str(ch[1].end), "tock");
  EXPECT_EQ(ch[1].slot, 0u);  // an event waiter gets nothing new
  EXPECT_EQ(ch[1].notify_bit, 1ull << KEEL_NOTIFY_EVENT_SHIFT);
  EXPECT_EQ(ch[2].notify_bit, 1ull << (KEEL_NOTIFY_EVENT_SHIFT + 1));
  EXPECT_EQ(ch[2].vaddr, KEEL_STREAM_BASE);
  EXPECT_EQ(ch[2].size, 8192u);
  const auto* cf = reinterpret_cast<const keel_info_config_t*>(buf.data() + info->config_off);
  ASSERT_EQ(info->config_count, 2u);
  bool rate = false, label = false;
  for (int i = 0; i < 2; ++i) {
    rate |= str(cf[i].key) == "rate" && cf[i].int_value == 42;
    label |= str(cf[i].key) == "label" && str(cf[i].str_value) == "hello" && cf[i].overlay == 1;
  }
  EXPECT_TRUE(rate && label);
  const auto* dv = reinterpret_cast<const keel_info_device_t*>(buf.data() + info->devices_off);
  EXPECT_EQ(dv[0].vaddr, 0x20000000u);
  const auto* iq = reinterpret_cast<const keel_info_irq_t*>(buf.data() + info->irqs_off);
  EXPECT_EQ(iq[0].slot, static_cast<std::uint32_t>(KEEL_SLOT_IRQ_BASE));
  EXPECT_EQ(iq[0].notify_bit, 1ull << KEEL_NOTIFY_IRQ_SHIFT);
  // The server side of the rpc channel: badge 0x1000 + its end index.
  Layout lb;
  ASSERT_TRUE(compute_layout(spec.value(), 1, image(), lb).ok());
  std::vector<std::uint8_t> b2(KEEL_INFO_MAX_BYTES, 0);
  ASSERT_TRUE(write_info(spec.value(), 1, lb, 0, 1, b2.data(), b2.size()).ok());
  const auto* i2 = reinterpret_cast<const keel_info_t*>(b2.data());
  const auto* c2 = reinterpret_cast<const keel_info_channel_t*>(b2.data() + i2->channels_off);
  EXPECT_EQ(c2[0].slot, 0u);
  EXPECT_EQ(c2[0].badge, 0x1000u);
  EXPECT_EQ(c2[1].slot, KEEL_SLOT_CHANNEL_BASE + 2u);  // event signaller
  // Too small a buffer is an error, not an overflow.
  std::vector<std::uint8_t> tiny(300, 0);
  EXPECT_FALSE(write_info(spec.value(), 0, l, 0, 1, tiny.data(), tiny.size()).ok());
}

TEST(Layout, RejectsOversizedStackAndHeap) {
  auto m = model();
  m.components[0].stack_size = 64u << 20;
  auto bytes = bs::write(m);
  auto spec = bs::Spec::parse(bytes.data(), bytes.size());
  ASSERT_TRUE(spec.ok());
  Layout l;
  auto r = compute_layout(spec.value(), 0, image(), l);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), LayoutError::kStackTooBig);
  m = model();
  m.components[0].heap_size = 128u << 20;
  bytes = bs::write(m);
  spec = bs::Spec::parse(bytes.data(), bytes.size());
  ASSERT_TRUE(spec.ok());
  r = compute_layout(spec.value(), 0, image(), l);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), LayoutError::kHeapTooBig);
}
