// services/link/src/journal.h — the link agent's record of executed command ids, which makes
// Fleet's commands run exactly once (docs/control-protocol.md "Exactly-once commands";
// services/link/README.md "Exactly once"). Record 2 of partition `link`, rewritten whole at each
// change (the store's records are crash-safe: a power cut leaves the old or the new copy).
//
//   header: magic "KLJ1", fleet key fingerprint (8 bytes: a new Fleet starts a new journal),
//           floor u64 (the highest id ever evicted), instance u32 (agent starts), count u16
//   entry:  id u64, kind u16, state u8 (0 started, 1 finished), outcome u8, detail len u8, detail
//
// Bounds: at most kMaxEntries entries and kMaxBytes bytes of record; the oldest entries are evicted
// first and raise the floor. Details are cut to kMaxDetail bytes, so at least
// (kMaxBytes - header) / (13 + kMaxDetail) = 75 entries always fit — more than the 64 commands
// Fleet sends a device per session. A command whose id is at or below the floor and not in the
// journal was executed long ago and forgotten: it is answered `failed` ("expired") and not run.
// Entries found `started` at load were cut by a reboot or a restart of the agent: they become
// `failed` "interrupted" (never run again), except a system restart (kind 1), whose reboot was
// its outcome: `done` "restarted".
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "platform.h"

namespace keel::link {

class Journal {
 public:
  static constexpr uint32_t kRecord = 2;
  static constexpr size_t kMaxEntries = 128;
  static constexpr size_t kMaxDetail = 40;
  static constexpr size_t kMaxBytes = 4032;  // KEEL_RECORD_MAX_BYTES
  static constexpr size_t kHeader = 4 + 8 + 8 + 4 + 2;
  static constexpr size_t kEntryFixed = 8 + 2 + 1 + 1 + 1;

  enum class State : uint8_t { Started = 0, Finished = 1 };
  struct Entry {
    uint64_t id = 0;
    uint16_t kind = 0;
    State state = State::Started;
    uint8_t outcome = 0;  // keel::control::Outcome
    uint8_t detail_len = 0;
    char detail[kMaxDetail] = {};
    bool durable = false;  // (memory only) this state is in the record on disk
  };

  explicit Journal(Platform& p) : p_(p) {}

  // Reads record 2 (a missing, unreadable or other Fleet's journal starts empty), turns `started`
  // entries into their final outcome, counts this start (instance) and writes it back. False when
  // the record could not be written (the journal then works in memory and says so in the log).
  bool load(const uint8_t fleet_key[32]);
  bool loaded() const { return loaded_; }

  const Entry* find(uint64_t id) const;
  // Ids at or below it that are not in the journal were forgotten (executed long ago).
  uint64_t floor() const { return floor_; }
  uint32_t instance() const { return instance_; }
  size_t size() const { return n_; }

  // Records `id` as started (durable when it returns true; false: not recorded, do not execute).
  bool begin(uint64_t id, uint16_t kind);
  // Records the outcome of a started id (durable when it returns true).
  bool finish(uint64_t id, uint8_t outcome, std::string_view detail);

  // Writes the record again after a failed write (called every second while dirty()).
  bool retry() { return dirty_ ? save() : true; }
  bool dirty() const { return dirty_; }

  size_t encoded_size() const;
  uint64_t writes() const { return writes_; }

 private:
  bool save();
  void evict_one();
  size_t encode(uint8_t* out, size_t cap) const;
  bool decode(const uint8_t* in, size_t n);

  Platform& p_;
  uint8_t fingerprint_[8] = {};
  uint64_t floor_ = 0;
  uint32_t instance_ = 0;
  Entry e_[kMaxEntries];  // oldest first
  size_t n_ = 0;
  bool loaded_ = false;
  bool dirty_ = false;
  uint64_t writes_ = 0;
  uint8_t buf_[kMaxBytes] = {};
};

}  // namespace keel::link
