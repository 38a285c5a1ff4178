// Address-space layout and info page of a component, from a spec made with the host writer.
#include "layout.h"

#include <gtest/gtest.h>

#include <algorithm>
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
  auto w = write_info(spec.value(), 0, l, 3, 62500000, nullptr, buf.data(), buf.size());
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
  ASSERT_TRUE(write_info(spec.value(), 1, lb, 0, 1, nullptr, b2.data(), b2.size()).ok());
  const auto* i2 = reinterpret_cast<const keel_info_t*>(b2.data());
  const auto* c2 = reinterpret_cast<const keel_info_channel_t*>(b2.data() + i2->channels_off);
  EXPECT_EQ(c2[0].slot, 0u);
  EXPECT_EQ(c2[0].badge, 0x1000u);
  EXPECT_EQ(c2[1].slot, KEEL_SLOT_CHANNEL_BASE + 2u);  // event signaller
  // Too small a buffer is an error, not an overflow.
  std::vector<std::uint8_t> tiny(300, 0);
  EXPECT_FALSE(write_info(spec.value(), 0, l, 0, 1, nullptr, tiny.data(), tiny.size()).ok());
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

// DMA regions (format.h kRegionDma): a private one becomes a kDma mapping (fresh frames per start,
// counted like any fresh frame), a shared one mapped rw a kShared mapping, and an address-only one
// (perms 0) no mapping at all — but every one is in the info page, with its physical address: 0
// from the host layout, the builder's once it has made the frames.
TEST(Layout, DmaAndAddressOnlyRegions) {
  auto m = model();
  m.shared.push_back({"bufs", 16384});
  m.components[0].regions.push_back({"ring", bs::RegionKind::kPrivate, bs::kPermRead | bs::kPermWrite, bs::kNone,
                                     0x10010000, 8192, bs::kRegionDma});
  m.components[0].regions.push_back({"bufs", bs::RegionKind::kShared, bs::kPermRead | bs::kPermWrite, 0, 0x10020000,
                                     16384, bs::kRegionDma});
  m.components[1].regions.push_back({"bufs", bs::RegionKind::kShared, 0, 0, 0, 16384, bs::kRegionDma});
  auto bytes = bs::write(m);
  auto spec = bs::Spec::parse(bytes.data(), bytes.size());
  ASSERT_TRUE(spec.ok()) << bs::error_name(spec.error().code) << " at " << spec.error().offset;
  Layout la;
  ASSERT_TRUE(compute_layout(spec.value(), 0, image(), la).ok());
  // MappingsTablesAndEnds' fresh pages; the DMA region's 2 are not among them (root-owned frames
  // kept for the system's life: a device may outlive its driver).
  EXPECT_EQ(la.fresh_pages, 1u + 4 + 2 + 1 + 1 + 2);
  const Mapping* dma = nullptr;
  const Mapping* shared = nullptr;
  for (std::uint32_t i = 0; i < la.count; ++i) {
    if (la.map[i].kind == MapKind::kDma) dma = &la.map[i];
    if (la.map[i].kind == MapKind::kShared) shared = &la.map[i];
  }
  ASSERT_NE(dma, nullptr);
  EXPECT_EQ(dma->vaddr, 0x10010000u);
  EXPECT_EQ(dma->pages, 2u);
  EXPECT_EQ(dma->index, 1u);  // the region table index of "ring"
  EXPECT_EQ(dma->paddr, 0u);
  ASSERT_NE(shared, nullptr);
  EXPECT_TRUE(shared->write);
  EXPECT_EQ(shared->index, 0u);

  Layout lb;
  ASSERT_TRUE(compute_layout(spec.value(), 1, image(), lb).ok());
  Layout plain;
  auto pb = bs::write(model());
  auto ps = bs::Spec::parse(pb.data(), pb.size());
  ASSERT_TRUE(ps.ok());
  ASSERT_TRUE(compute_layout(ps.value(), 1, image(), plain).ok());
  EXPECT_EQ(lb.count, plain.count);  // the address-only region adds no mapping ...
  EXPECT_EQ(lb.l3_count, plain.l3_count);
  EXPECT_EQ(lb.fresh_pages, plain.fresh_pages);
  for (std::uint32_t i = 0; i < lb.count; ++i) EXPECT_NE(lb.map[i].kind, MapKind::kShared);

  auto region = [](const std::vector<std::uint8_t>& buf, const char* name) -> const keel_info_region_t* {
    const auto* info = reinterpret_cast<const keel_info_t*>(buf.data());
    const auto* rg = reinterpret_cast<const keel_info_region_t*>(buf.data() + info->regions_off);
    for (std::uint32_t i = 0; i < info->region_count; ++i)
      if (std::string(reinterpret_cast<const char*>(buf.data()) + rg[i].name.off, rg[i].name.len) == name) return &rg[i];
    return nullptr;
  };
  // ... but is in b's info page: perms 0, vaddr 0, its size, the physical address (0 on the host).
  std::vector<std::uint8_t> ib(KEEL_INFO_MAX_BYTES, 0);
  ASSERT_TRUE(write_info(spec.value(), 1, lb, 0, 1, nullptr, ib.data(), ib.size()).ok());
  const auto* bb = region(ib, "bufs");
  ASSERT_NE(bb, nullptr);
  EXPECT_EQ(bb->perms, 0u);
  EXPECT_EQ(bb->shared, 1u);
  EXPECT_EQ(bb->vaddr, 0u);
  EXPECT_EQ(bb->size, 16384u);
  EXPECT_EQ(bb->paddr, 0u);
  // a's page from the host layout: every paddr 0 (the plain region too).
  std::vector<std::uint8_t> ia(KEEL_INFO_MAX_BYTES, 0);
  ASSERT_TRUE(write_info(spec.value(), 0, la, 0, 1, nullptr, ia.data(), ia.size()).ok());
  ASSERT_NE(region(ia, "ring"), nullptr);
  EXPECT_EQ(region(ia, "ring")->paddr, 0u);
  EXPECT_EQ(region(ia, "bufs")->paddr, 0u);
  EXPECT_EQ(region(ia, "scratch")->paddr, 0u);
  EXPECT_EQ(region(ia, "ring")->vaddr, 0x10010000u);
  // With the builder's addresses: the private one from its mapping, the shared one from the table;
  // a region that is not DMA keeps 0 whatever the table says.
  la.map[dma - la.map].paddr = 0x40200000;
  const std::uint64_t shared_paddr[] = {0x41000000};
  std::fill(ia.begin(), ia.end(), 0);
  ASSERT_TRUE(write_info(spec.value(), 0, la, 0, 1, shared_paddr, ia.data(), ia.size()).ok());
  EXPECT_EQ(region(ia, "ring")->paddr, 0x40200000u);
  EXPECT_EQ(region(ia, "bufs")->paddr, 0x41000000u);
  EXPECT_EQ(region(ia, "scratch")->paddr, 0u);
  std::fill(ib.begin(), ib.end(), 0);
  ASSERT_TRUE(write_info(spec.value(), 1, lb, 0, 1, shared_paddr, ib.data(), ib.size()).ok());
  EXPECT_EQ(region(ib, "bufs")->paddr, 0x41000000u);
  EXPECT_EQ(region(ib, "bufs")->vaddr, 0u);
}

// The root server's contiguity check of a DMA region's frames (what it refuses to boot without).
TEST(Layout, ContiguousRun) {
  ContiguousRun ok;
  for (std::uint64_t p = 0; p < 4; ++p) ok.add(0x40200000 + p * 4096);
  EXPECT_TRUE(ok.ok(4 * 4096));
  EXPECT_EQ(ok.base, 0x40200000u);
  EXPECT_FALSE(ok.ok(3 * 4096));  // not the size asked for
  ContiguousRun gap;
  for (std::uint64_t pa : {0x40200000ull, 0x40201000ull, 0x40203000ull, 0x40204000ull}) gap.add(pa);
  EXPECT_FALSE(gap.ok(4 * 4096));
  ContiguousRun backwards;
  for (std::uint64_t pa : {0x40201000ull, 0x40200000ull}) backwards.add(pa);
  EXPECT_FALSE(backwards.ok(2 * 4096));
  ContiguousRun unaligned;
  unaligned.add(0x40200800);
  EXPECT_FALSE(unaligned.ok(4096));
  ContiguousRun empty;
  EXPECT_FALSE(empty.ok(0));
  ContiguousRun at_zero;  // 0 means "not DMA" in the info page
  at_zero.add(0);
  EXPECT_FALSE(at_zero.ok(4096));
  ContiguousRun one;
  one.add(0x5ffff000);
  EXPECT_TRUE(one.ok(4096));
}
