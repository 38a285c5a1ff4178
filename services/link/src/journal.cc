// The command journal (journal.h): encoding, load with the "interrupted" rule, bounded eviction.
#include "journal.h"

#include <cstring>
#include <string_view>

namespace keel::link {

namespace {

constexpr uint8_t kMagic[4] = {'K', 'L', 'J', '1'};
constexpr uint8_t kOutcomeDone = 0, kOutcomeFailed = 1;
constexpr uint16_t kKindRestartSystem = 1;

void put_u64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = uint8_t(v >> (56 - 8 * i));
}
uint64_t get_u64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | p[i];
  return v;
}

void set_detail(Journal::Entry& e, std::string_view d) {
  const size_t n = d.size() < Journal::kMaxDetail ? d.size() : Journal::kMaxDetail;
  std::memcpy(e.detail, d.data(), n);
  e.detail_len = uint8_t(n);
}

}  // namespace

size_t Journal::encoded_size() const {
  size_t n = kHeader;
  for (size_t i = 0; i < n_; ++i) n += kEntryFixed + e_[i].detail_len;
  return n;
}

size_t Journal::encode(uint8_t* out, size_t cap) const {
  const size_t need = encoded_size();
  if (need > cap) return 0;
  uint8_t* p = out;
  std::memcpy(p, kMagic, 4), p += 4;
  std::memcpy(p, fingerprint_, 8), p += 8;
  put_u64(p, floor_), p += 8;
  for (int i = 0; i < 4; ++i) *p++ = uint8_t(instance_ >> (24 - 8 * i));
  *p++ = uint8_t(n_ >> 8), *p++ = uint8_t(n_);
  for (size_t i = 0; i < n_; ++i) {
    const Entry& e = e_[i];
    put_u64(p, e.id), p += 8;
    *p++ = uint8_t(e.kind >> 8), *p++ = uint8_t(e.kind);
    *p++ = uint8_t(e.state);
    *p++ = e.outcome;
    *p++ = e.detail_len;
    std::memcpy(p, e.detail, e.detail_len), p += e.detail_len;
  }
  return size_t(p - out);
}

bool Journal::decode(const uint8_t* in, size_t n) {
  if (n < kHeader || std::memcmp(in, kMagic, 4) != 0 || std::memcmp(in + 4, fingerprint_, 8) != 0) return false;
  const uint8_t* p = in + 12;
  const uint64_t floor = get_u64(p);
  p += 8;
  uint32_t inst = 0;
  for (int i = 0; i < 4; ++i) inst = inst << 8 | *p++;
  const size_t count = size_t(p[0]) << 8 | p[1];
  p += 2;
  if (count > kMaxEntries) return false;
  const uint8_t* end = in + n;
  for (size_t i = 0; i < count; ++i) {
    if (end - p < ptrdiff_t(kEntryFixed)) return false;
    Entry& e = e_[i];
    e.id = get_u64(p), p += 8;
    e.kind = uint16_t(p[0] << 8 | p[1]), p += 2;
    const uint8_t st = *p++;
    e.outcome = *p++;
    e.detail_len = *p++;
    if (st > 1 || e.detail_len > kMaxDetail || e.id == 0 || end - p < e.detail_len) return false;
    e.state = State(st);
    e.durable = true;
    std::memcpy(e.detail, p, e.detail_len), p += e.detail_len;
  }
  if (p != end) return false;
  n_ = count;
  floor_ = floor;
  instance_ = inst;
  return true;
}

bool Journal::load(const uint8_t fleet_key[32]) {
  std::memcpy(fingerprint_, fleet_key, 8);
  n_ = 0, floor_ = 0, instance_ = 0;
  size_t len = 0;
  const RecordStatus st = p_.record_read(kRecord, buf_, len);
  if (st == RecordStatus::Ok && !decode(buf_, len)) {
    n_ = 0, floor_ = 0, instance_ = 0;
    p_.log("journal: record 2 is not this Fleet's journal (or damaged): starting a new one");
  } else if (st == RecordStatus::Error) {
    p_.log("journal: record 2 could not be read: starting a new one");
  }
  size_t cut = 0;
  for (size_t i = 0; i < n_; ++i) {
    Entry& e = e_[i];
    if (e.state != State::Started) continue;
    e.state = State::Finished;
    e.durable = false;
    if (e.kind == kKindRestartSystem) {
      e.outcome = kOutcomeDone;
      set_detail(e, "restarted");
    } else {
      e.outcome = kOutcomeFailed;
      set_detail(e, "interrupted");
    }
    ++cut;
  }
  ++instance_;
  loaded_ = true;
  const bool ok = save();
  if (!ok) p_.log("journal: record 2 could not be written: commands are refused until it can");
  (void)cut;
  return ok;
}

const Journal::Entry* Journal::find(uint64_t id) const {
  for (size_t i = 0; i < n_; ++i)
    if (e_[i].id == id) return &e_[i];
  return nullptr;
}

void Journal::evict_one() {
  if (!n_) return;
  if (e_[0].id > floor_) floor_ = e_[0].id;
  for (size_t i = 1; i < n_; ++i) e_[i - 1] = e_[i];
  --n_;
}

bool Journal::save() {
  const size_t n = encode(buf_, sizeof buf_);
  if (!n) {
    dirty_ = true;
    return false;
  }
  ++writes_;
  dirty_ = !p_.record_write(kRecord, {buf_, n});
  if (!dirty_)
    for (size_t i = 0; i < n_; ++i) e_[i].durable = true;
  return !dirty_;
}

bool Journal::begin(uint64_t id, uint16_t kind) {
  if (!loaded_ || id == 0 || find(id)) return false;
  while (n_ == kMaxEntries || encoded_size() + kEntryFixed + kMaxDetail > kMaxBytes) evict_one();
  Entry& e = e_[n_++];
  e = Entry{};
  e.id = id;
  e.kind = kind;
  e.state = State::Started;
  if (save()) return true;
  --n_;  // not durable: forgotten, and the command is not executed
  return false;
}

bool Journal::finish(uint64_t id, uint8_t outcome, std::string_view detail) {
  for (size_t i = 0; i < n_; ++i) {
    Entry& e = e_[i];
    if (e.id != id) continue;
    e.state = State::Finished;
    e.durable = false;
    e.outcome = outcome;
    set_detail(e, detail);
    return save();
  }
  return false;
}

}  // namespace keel::link
