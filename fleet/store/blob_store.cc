#include "blob_store.h"

#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace keel::fleet {
namespace fs = std::filesystem;

namespace {
std::string hex(const uint8_t* p, size_t n) {
  static const char* d = "0123456789abcdef";
  std::string s;
  s.reserve(n * 2);
  for (size_t k = 0; k < n; ++k) {
    s.push_back(d[p[k] >> 4]);
    s.push_back(d[p[k] & 15]);
  }
  return s;
}
void fsync_path(const fs::path& p, bool dir) {
  int fd = ::open(p.c_str(), dir ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) throw std::runtime_error("blob store: cannot open " + p.string() + " for fsync: " + strerror(errno));
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) throw std::runtime_error("blob store: fsync " + p.string() + ": " + strerror(errno));
}
std::atomic<uint64_t> g_tmp_counter{0};
}  // namespace

BlobStore::BlobStore(fs::path root) : root_(std::move(root)) {
  fs::create_directories(root_ / "tmp");
}

bool BlobStore::valid_id(const std::string& id) {
  if (id.size() != 64) return false;
  for (char c : id)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

fs::path BlobStore::path_of(const std::string& id) const {
  if (!valid_id(id)) throw std::runtime_error("blob store: invalid blob id");
  return root_ / id.substr(0, 2) / id;
}

std::string BlobStore::put(std::span<const uint8_t> data) {
  uint8_t h[32];
  crypto_generichash(h, sizeof h, data.data(), data.size(), nullptr, 0);
  std::string id = hex(h, sizeof h);
  fs::path final_path = path_of(id);
  if (fs::exists(final_path) && fs::file_size(final_path) == data.size()) return id;
  fs::create_directories(final_path.parent_path());
  fs::path tmp = root_ / "tmp" / (id + "." + std::to_string(::getpid()) + "." + std::to_string(g_tmp_counter++));
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) throw std::runtime_error("blob store: cannot create " + tmp.string() + ": " + strerror(errno));
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      fs::remove(tmp);
      throw std::runtime_error(std::string("blob store: write failed: ") + strerror(e));
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    int e = errno;
    ::close(fd);
    fs::remove(tmp);
    throw std::runtime_error(std::string("blob store: fsync failed: ") + strerror(e));
  }
  ::close(fd);
  fs::rename(tmp, final_path);
  fsync_path(final_path.parent_path(), true);
  return id;
}

std::vector<uint8_t> BlobStore::get(const std::string& id) const {
  std::ifstream in(path_of(id), std::ios::binary);
  if (!in) throw std::runtime_error("blob store: blob " + id + " is missing");
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

bool BlobStore::exists(const std::string& id) const { return valid_id(id) && fs::exists(path_of(id)); }

std::vector<std::string> BlobStore::list() const {
  std::vector<std::string> out;
  for (const auto& d : fs::directory_iterator(root_)) {
    if (!d.is_directory() || d.path().filename() == "tmp") continue;
    for (const auto& f : fs::directory_iterator(d.path()))
      if (valid_id(f.path().filename().string())) out.push_back(f.path().filename().string());
  }
  return out;
}

size_t BlobStore::collect_garbage(const std::set<std::string>& referenced) {
  size_t removed = 0;
  for (const auto& f : fs::directory_iterator(root_ / "tmp")) {
    fs::remove_all(f.path());
    ++removed;
  }
  for (const auto& id : list()) {
    if (!referenced.count(id)) {
      fs::remove(path_of(id));
      ++removed;
    }
  }
  return removed;
}

}  // namespace keel::fleet
