// enrolment_read IMAGE START_BLOCK — the host side of Tunnel.Enroll: reads record 1 of the
// partition starting at START_BLOCK of a disk image with the store's own record code (as the
// device's keel_record_read does), parses it with keel/tunnel/enrolment.h and prints it in the
// canonical form (exit 1 with the reason if either fails).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <vector>

#include "keel/store/block_device.h"
#include "keel/store/record.h"
#include "keel/tunnel/enrolment.h"

namespace st = keel::store;

class FileDisk final : public st::BlockDevice {
 public:
  explicit FileDisk(std::vector<std::uint8_t> b) : b_(std::move(b)) {}
  keel::Result<void> read(std::uint64_t first, std::size_t count, std::uint8_t* out) override {
    if (count == 0 || first >= blocks() || count > blocks() - first) return keel::Err{KEEL_RANGE_ERROR};
    std::memcpy(out, b_.data() + first * st::kBlockSize, count * st::kBlockSize);
    return {};
  }
  keel::Result<void> write(std::uint64_t, std::size_t, const std::uint8_t*) override { return keel::Err{KEEL_DENIED}; }
  keel::Result<void> flush() override { return {}; }
  std::uint64_t blocks() const override { return b_.size() / st::kBlockSize; }

 private:
  std::vector<std::uint8_t> b_;
};

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: enrolment_read IMAGE START_BLOCK\n");
    return 2;
  }
  std::ifstream f(argv[1], std::ios::binary);
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  FileDisk disk(std::move(bytes));
  const std::uint64_t start = std::strtoull(argv[2], nullptr, 10);
  st::Window part(disk, start, disk.blocks() > start ? disk.blocks() - start : 0);
  auto ws = std::make_unique<st::RecordWorkspace>();
  std::vector<std::uint8_t> payload(st::kMaxRecordPayload);
  auto r = st::read_record(part, st::RecordLocation{2, 3, 1}, *ws, payload);
  if (!r.ok()) {
    std::printf("record 1: keel error %d\n", static_cast<int>(r.error()));
    return 1;
  }
  keel::tunnel::Enrolment e;
  keel::tunnel::EnrolmentError err;
  if (!keel::tunnel::parse_enrolment(reinterpret_cast<const char*>(payload.data()), r.value().length, e, err)) {
    std::printf("%s\n", err.message);
    return 1;
  }
  char text[keel::tunnel::kEnrolmentMaxBytes];
  const std::size_t n = keel::tunnel::format_enrolment(e, text, sizeof text);
  std::fwrite(text, 1, n, stdout);
  return 0;
}
