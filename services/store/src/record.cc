// Crash-safe records (keel/store/record.h).
#include "keel/store/record.h"

#include <cstring>


#include "keel/store/crypt.h"
#include "le.h"
#include "sodium_api.h"

namespace keel::store {

const char* copy_fault_name(CopyFault f) {
  switch (f) {
    case CopyFault::kNone: return "valid";
    case CopyFault::kBlank: return "blank (never written)";
    case CopyFault::kMagic: return "bad magic";
    case CopyFault::kVersion: return "unknown version";
    case CopyFault::kReserved: return "reserved bytes set";
    case CopyFault::kId: return "another record's copy";
    case CopyFault::kLength: return "bad length";
    case CopyFault::kChecksum: return "checksum mismatch (torn or corrupt)";
  }
  return "?";
}

namespace {

void checksum(const std::uint8_t* data, std::size_t n, std::uint8_t out[kRecordChecksum]) {
  crypto_generichash(out, kRecordChecksum, data, n, nullptr, 0);
}

}  // namespace

Result<RecordInfo, CopyFault> parse_copy(std::span<const std::uint8_t> block, std::uint32_t id) {
  if (block.size() != kBlockSize) return Err{CopyFault::kLength};
  const std::uint8_t* b = block.data();
  const std::uint32_t magic = detail::get32(b);
  if (magic != kRecordMagic) {
    bool blank = true;
    for (std::size_t i = 0; i < kRecordHeader && blank; ++i) blank = b[i] == 0;
    return Err{blank ? CopyFault::kBlank : CopyFault::kMagic};
  }
  if (detail::get16(b + 4) != kRecordVersion) return Err{CopyFault::kVersion};
  if (detail::get16(b + 6) != 0 || detail::get64(b + 24) != 0) return Err{CopyFault::kReserved};
  if (detail::get32(b + 8) != id) return Err{CopyFault::kId};
  const std::uint32_t length = detail::get32(b + 12);
  if (length > kMaxRecordPayload) return Err{CopyFault::kLength};
  std::uint8_t sum[kRecordChecksum];
  checksum(b, kRecordHeader + length, sum);
  if (sodium_memcmp(sum, b + kBlockSize - kRecordChecksum, kRecordChecksum) != 0) return Err{CopyFault::kChecksum};
  return RecordInfo{detail::get64(b + 16), length};
}

void encode_copy(std::uint32_t id, std::uint64_t sequence, std::span<const std::uint8_t> payload,
                 std::span<std::uint8_t> block) {
  std::uint8_t* b = block.data();
  std::memset(b, 0, kBlockSize);
  const std::size_t n = payload.size() < kMaxRecordPayload ? payload.size() : kMaxRecordPayload;
  detail::put32(b, kRecordMagic);
  detail::put16(b + 4, kRecordVersion);
  detail::put32(b + 8, id);
  detail::put32(b + 12, static_cast<std::uint32_t>(n));
  detail::put64(b + 16, sequence);
  if (n) std::memcpy(b + kRecordHeader, payload.data(), n);
  checksum(b, kRecordHeader + n, b + kBlockSize - kRecordChecksum);
}

namespace {

struct Copies {
  Result<RecordInfo, CopyFault> info[2] = {Err{CopyFault::kBlank}, Err{CopyFault::kBlank}};
  keel_error_t device_error[2] = {KEEL_OK, KEEL_OK};
  int newest = -1;  // the valid copy with the highest sequence, -1: none
};

Copies load(BlockDevice& dev, const RecordLocation& at, RecordWorkspace& ws) {
  Copies c;
  const std::uint64_t where[2] = {at.copy_a, at.copy_b};
  for (int k = 0; k < 2; ++k) {
    const auto r = dev.read(where[k], 1, ws.block[k]);
    if (!r.ok()) {
      // Data that fails authentication (an encrypted partition) is an invalid copy, like a torn one.
      if (r.error() != kCorrupt) c.device_error[k] = r.error();
      c.info[k] = Err{CopyFault::kChecksum};
      continue;
    }
    c.info[k] = parse_copy(std::span<const std::uint8_t>(ws.block[k], kBlockSize), at.id);
  }
  for (int k = 0; k < 2; ++k)
    if (c.info[k].ok() && (c.newest < 0 || c.info[k].value().sequence > c.info[c.newest].value().sequence)) c.newest = k;
  return c;
}

}  // namespace

Result<RecordInfo> read_record(BlockDevice& dev, const RecordLocation& at, RecordWorkspace& ws,
                               std::span<std::uint8_t> out) {
  if (at.copy_a == at.copy_b) return Err{KEEL_INVALID_ARGUMENT};
  const Copies c = load(dev, at, ws);
  if (c.newest < 0) {
    for (keel_error_t e : c.device_error)
      if (e != KEEL_OK) return Err{e};
    return Err{KEEL_NOT_FOUND};
  }
  const RecordInfo info = c.info[c.newest].value();
  if (out.size() < info.length) return Err{KEEL_RANGE_ERROR};
  if (info.length) std::memcpy(out.data(), ws.block[c.newest] + kRecordHeader, info.length);
  return info;
}

Result<RecordInfo> write_record(BlockDevice& dev, const RecordLocation& at, RecordWorkspace& ws,
                                std::span<const std::uint8_t> data) {
  if (at.copy_a == at.copy_b) return Err{KEEL_INVALID_ARGUMENT};
  if (data.size() > kMaxRecordPayload) return Err{KEEL_RANGE_ERROR};
  const Copies c = load(dev, at, ws);
  // Neither copy readable: the device is failing (or gone); writing now could hit the copy that
  // holds the record. The caller retries when the device is back.
  if (c.device_error[0] != KEEL_OK && c.device_error[1] != KEEL_OK) return Err{c.device_error[0]};
  std::uint64_t sequence = 1;
  int target = 0;
  if (c.newest >= 0) {
    sequence = c.info[c.newest].value().sequence + 1;
    target = 1 - c.newest;
  } else if (c.device_error[0] != KEEL_OK) {
    target = 1;  // keep away from the copy we could not read
  }
  if (sequence == 0) return Err{KEEL_RANGE_ERROR};  // 2^64 writes: not in this universe
  encode_copy(at.id, sequence, data, std::span<std::uint8_t>(ws.block[target], kBlockSize));
  TRY(dev.write(target == 0 ? at.copy_a : at.copy_b, 1, ws.block[target]));
  TRY(dev.flush());
  return RecordInfo{sequence, data.size()};
}

}  // namespace keel::store
