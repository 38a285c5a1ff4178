// store_parse_fuzz: the store's parsers of what it reads from the disk and from its config — a
// record copy (record.h parse_copy), a metadata block of an encrypted partition (crypt.h
// parse_meta, meta_slot), the partition and grant config text (config_text.h), the store's header
// record text and the start-up plan over it (header.h) — on arbitrary
// bytes; and a whole small disk image read through read_record and an encrypted Volume (every
// path of slot selection and authentication on hostile metadata). The first byte picks the parser;
// a parser must never read out of bounds, and what it accepts must round-trip (text) or be
// self-consistent (copies).
//
// Seeds: run with STORE_FUZZ_WRITE_SEEDS=<dir> and the binary writes a seed corpus (a valid copy, a
// valid metadata block, config texts, a disk image with a record on it; the build does that after
// linking): a valid copy needs its checksum, which the fuzzer would never find on its own.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "keel/store/config_text.h"
#include "keel/store/crypt.h"
#include "keel/store/header.h"
#include "keel/store/record.h"

using namespace keel;
using namespace keel::store;

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

void block_parsers(const std::uint8_t* data, std::size_t size) {
  alignas(16) static std::uint8_t block[kBlockSize];
  std::memset(block, 0, sizeof block);
  std::memcpy(block, data, size < kBlockSize ? size : kBlockSize);
  const std::uint32_t id = size > 8 ? data[8] : 0;
  const auto c = parse_copy(block, id);
  if (c.ok()) {
    check(c.value().length <= kMaxRecordPayload);
    // A valid copy re-encodes to the same covered bytes.
    alignas(16) static std::uint8_t again[kBlockSize];
    encode_copy(id, c.value().sequence, std::span<const std::uint8_t>(block + kRecordHeader, c.value().length), again);
    check(std::memcmp(again, block, kRecordHeader + c.value().length) == 0);
  }
  const auto m = parse_meta(block, size > 16 ? data[16] : 0, 0);
  if (m.ok())
    for (std::size_t e = 0; e < kEntriesPerMeta; ++e) (void)meta_slot(block, e, static_cast<int>(e & 1));
}

void text_parsers(std::string_view text) {
  Partition p{"p", 0, 0, false};
  if (parse_partition(text, &p).ok()) {
    char buf[128];
    const std::size_t n = format_partition(p, buf, sizeof buf);
    check(n > 0);
    Partition q{"p", 1, 1, true};
    check(parse_partition(std::string_view(buf, n), &q).ok());
    check(q.start == p.start && q.blocks == p.blocks && q.encrypted == p.encrypted);
  }
  Header hd;
  if (parse_header(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()), &hd)
          .ok()) {
    static std::uint8_t buf[kMaxRecordPayload];
    const std::size_t n = format_header(hd, buf, sizeof buf);
    check(n == text.size() && std::memcmp(buf, text.data(), n) == 0);  // one spelling per header
    // Planning against a layout never writes past its arrays, whatever the old header says.
    Partition now[3] = {{"keys", 16, 16, true}, {"config", 33, 256, false}, {"data", 289, 100, true}};
    PartitionPlan plan[3];
    Header next;
    plan_layout(hd, now, plan, &next);
    check(next.count <= kMaxPartitions);
  }
  ClientGrant g;
  if (parse_store_grant(text, &g).ok()) {
    static char buf[1024];
    const std::size_t n = format_store_grant(g, buf, sizeof buf);
    check(n > 0);
    ClientGrant h;
    check(parse_store_grant(std::string_view(buf, n), &h).ok());
    check(h.count == g.count);
    for (std::size_t i = 0; i < g.count; ++i)
      check(h.entries[i].partition == g.entries[i].partition && h.entries[i].access == g.entries[i].access);
  }
}

// A disk of up to kDiskBlocks blocks in memory, from the input.
constexpr std::size_t kDiskBlocks = 5;
class MemDisk final : public BlockDevice {
 public:
  Result<void> read(std::uint64_t first, std::size_t count, std::uint8_t* out) override {
    if (count == 0 || first >= kDiskBlocks || count > kDiskBlocks - first) return Err{KEEL_RANGE_ERROR};
    std::memcpy(out, image + first * kBlockSize, count * kBlockSize);
    return Ok{};
  }
  Result<void> write(std::uint64_t first, std::size_t count, const std::uint8_t* in) override {
    if (count == 0 || first >= kDiskBlocks || count > kDiskBlocks - first) return Err{KEEL_RANGE_ERROR};
    std::memcpy(image + first * kBlockSize, in, count * kBlockSize);
    return Ok{};
  }
  Result<void> flush() override { return Ok{}; }
  std::uint64_t blocks() const override { return kDiskBlocks; }
  alignas(16) std::uint8_t image[kDiskBlocks * kBlockSize];
};

const std::uint8_t kMaster[kKeyBytes] = {1, 2, 3};
void counting_fill(void* ctx, std::uint8_t* out, std::size_t n) {
  auto* c = static_cast<std::uint8_t*>(ctx);
  for (std::size_t i = 0; i < n; ++i) out[i] = ++*c;
}

// Plain records at blocks 1/2 of the disk; an encrypted partition "p" at block 0 (metadata 0,
// data 1..4) with records at its logical blocks 0/1. Reads must fail cleanly or give a valid
// record; a write after a read must read back.
void disk_image(const std::uint8_t* data, std::size_t size) {
  static MemDisk disk;
  std::memset(disk.image, 0, sizeof disk.image);
  std::memcpy(disk.image, data, size < sizeof disk.image ? size : sizeof disk.image);
  static RecordWorkspace rws;
  static std::uint8_t out[kMaxRecordPayload];
  (void)read_record(disk, RecordLocation{1, 2, 1}, rws, out);
  PartitionKey key;
  derive_partition_key(kMaster, "p", &key);
  static std::uint32_t session[4];
  std::memset(session, 0, sizeof session);
  static VolumeWorkspace vws;
  std::uint8_t counter = 0;
  Volume v(disk, Partition{"p", 0, 4, true}, key, RandomFill{counting_fill, &counter}, session, vws);
  static std::uint8_t blocks[4 * kBlockSize];
  (void)v.read(0, 4, blocks);
  for (std::uint64_t b = 0; b < 4; ++b) (void)v.read(b, 1, blocks);
  (void)read_record(v, RecordLocation{0, 1, 1}, rws, out);
  const std::uint8_t value[3] = {'n', 'e', 'w'};
  if (write_record(v, RecordLocation{0, 1, 1}, rws, value).ok()) {
    const auto r = read_record(v, RecordLocation{0, 1, 1}, rws, out);
    check(r.ok() && r.value().length == 3 && std::memcmp(out, value, 3) == 0);
  }
}

void write_file(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  if (FILE* f = std::fopen(path.c_str(), "wb")) {
    std::fwrite(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
  }
}

void write_seeds(const std::string& dir) {
  if (!crypto_init().ok()) return;
  std::vector<std::uint8_t> copy(1 + kBlockSize, 0);
  copy[0] = 1;  // block parsers
  const std::uint8_t payload[5] = {'h', 'e', 'l', 'l', 'o'};
  encode_copy(5, 3, payload, std::span<std::uint8_t>(copy.data() + 1, kBlockSize));
  write_file(dir + "/copy", copy);
  std::vector<std::uint8_t> meta(1 + kBlockSize, 0);
  meta[0] = 1;
  const std::uint8_t header[24] = {'K', 'S', 'M', 'B', 1, 0, 42, 0, 7, 0, 0, 0, 0, 0, 0, 0};
  std::memcpy(meta.data() + 1, header, sizeof header);
  write_file(dir + "/meta", meta);
  const char* texts[] = {"start=16;blocks=256;encrypted=yes", "start=40;blocks=1;encrypted=no", "config:rw,data:r",
                         "keys:w", "keel-store 1\nkeys 16 16 yes\nconfig 40 256 no\n"};
  int k = 0;
  for (const char* t : texts) {
    std::vector<std::uint8_t> v(1, 0);
    v.insert(v.end(), t, t + std::strlen(t));
    write_file(dir + "/text" + std::to_string(k++), v);
  }
  // A disk image with records on it, plain and encrypted.
  static MemDisk disk;
  std::memset(disk.image, 0, sizeof disk.image);
  static RecordWorkspace rws;
  (void)write_record(disk, RecordLocation{1, 2, 1}, rws, payload);
  std::vector<std::uint8_t> plain(1, 2);
  plain.insert(plain.end(), disk.image, disk.image + sizeof disk.image);
  write_file(dir + "/disk_plain", plain);
  std::memset(disk.image, 0, sizeof disk.image);
  PartitionKey key;
  derive_partition_key(kMaster, "p", &key);
  std::uint32_t session[4] = {};
  static VolumeWorkspace vws;
  std::uint8_t counter = 0;
  Volume v(disk, Partition{"p", 0, 4, true}, key, RandomFill{counting_fill, &counter}, session, vws);
  (void)write_record(v, RecordLocation{0, 1, 1}, rws, payload);
  (void)write_record(v, RecordLocation{0, 1, 1}, rws, payload);
  std::vector<std::uint8_t> sealed(1, 2);
  sealed.insert(sealed.end(), disk.image, disk.image + sizeof disk.image);
  write_file(dir + "/disk_sealed", sealed);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* dir = std::getenv("STORE_FUZZ_WRITE_SEEDS")) {
    write_seeds(dir);
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool ready = crypto_init().ok();
  check(ready);
  if (size == 0) return 0;
  switch (data[0] % 3) {
    case 0: text_parsers(std::string_view(reinterpret_cast<const char*>(data + 1), size - 1)); break;
    case 1: block_parsers(data + 1, size - 1); break;
    default: disk_image(data + 1, size - 1); break;
  }
  return 0;
}
