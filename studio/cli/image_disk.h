// studio/cli/image_disk.h — a device's disk image in memory as the store's BlockDevice, for the
// commands that write one with the store's own code (`keel device provision`: a fresh image,
// written out whole; `keel device enroll`: an existing one, written back block by block where it
// changed).
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "keel/bootspec/writer.h"
#include "keel/store/block_device.h"

namespace keel::studio {

// A component's string config value `key` in the compiled system (nullptr: none, or not a string):
// where the image's partitions and grants are written down.
inline const std::string* component_string(const bootspec::Model::Component& c, std::string_view key) {
  for (const auto& e : c.config)
    if (e.key == key && e.type == bootspec::ConfigType::kString) return &e.str_value;
  return nullptr;
}

class ImageDisk final : public store::BlockDevice {
 public:
  explicit ImageDisk(std::uint64_t blocks) : bytes_(blocks * store::kBlockSize, 0), orig_(bytes_) {}
  explicit ImageDisk(std::vector<std::uint8_t> bytes) : bytes_(std::move(bytes)), orig_(bytes_) {}
  keel::Result<void> read(std::uint64_t first, std::size_t count, std::uint8_t* out) override {
    if (!inside(first, count)) return Err{KEEL_RANGE_ERROR};
    std::memcpy(out, bytes_.data() + first * store::kBlockSize, count * store::kBlockSize);
    return {};
  }
  keel::Result<void> write(std::uint64_t first, std::size_t count, const std::uint8_t* in) override {
    if (!inside(first, count)) return Err{KEEL_RANGE_ERROR};
    std::memcpy(bytes_.data() + first * store::kBlockSize, in, count * store::kBlockSize);
    return {};
  }
  keel::Result<void> flush() override { return {}; }
  std::uint64_t blocks() const override { return bytes_.size() / store::kBlockSize; }
  const std::vector<std::uint8_t>& bytes() const { return bytes_; }
  // Writes the blocks changed since construction to fd in place, then fsync.
  bool save_changed(int fd) const {
    for (std::uint64_t b = 0; b < blocks(); ++b) {
      const std::size_t off = b * store::kBlockSize;
      if (std::memcmp(bytes_.data() + off, orig_.data() + off, store::kBlockSize) == 0) continue;
      if (::pwrite(fd, bytes_.data() + off, store::kBlockSize, static_cast<off_t>(off)) !=
          static_cast<ssize_t>(store::kBlockSize))
        return false;
    }
    return ::fsync(fd) == 0;
  }

 private:
  bool inside(std::uint64_t first, std::size_t count) const {
    return count > 0 && first < blocks() && count <= blocks() - first;
  }
  std::vector<std::uint8_t> bytes_, orig_;
};

}  // namespace keel::studio
