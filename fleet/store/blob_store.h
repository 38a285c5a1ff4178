// blob_store.h — content-addressed files (release files, component images) in a directory.
//
// Crash safety: a blob is written to tmp/, fsync'ed, renamed into place and the directory is
// fsync'ed before put() returns; the database row that refers to it is committed afterwards.
// So after kill -9 at any point, a row never points at a missing or partial blob. The reverse
// (a blob no row points at) is removed by collect_garbage() at start.
#pragma once

#include <cstdint>
#include <filesystem>
#include <set>
#include <span>
#include <string>
#include <vector>

namespace keel::fleet {

class BlobStore {
 public:
  explicit BlobStore(std::filesystem::path root);
  // Stores data; returns its id (hex BLAKE2b-256 of the content). Idempotent.
  std::string put(std::span<const uint8_t> data);
  std::vector<uint8_t> get(const std::string& id) const;
  bool exists(const std::string& id) const;
  std::filesystem::path path_of(const std::string& id) const;
  // Removes leftover temp files and every blob not in `referenced`; returns how many it removed.
  size_t collect_garbage(const std::set<std::string>& referenced);
  std::vector<std::string> list() const;
  static bool valid_id(const std::string& id);

 private:
  std::filesystem::path root_;
};

}  // namespace keel::fleet
