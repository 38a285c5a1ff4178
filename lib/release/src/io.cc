// File-system layer (POSIX) over the pure release library.
#include "keel/release/io.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace keel::release {
namespace {

std::string sys_error(const std::string& what, const std::string& path) {
  return what + " '" + path + "': " + std::strerror(errno);
}

// Closes a descriptor on every path out.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

std::string mode_text(mode_t m) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(m & 07777));
  return buf;
}

Result<std::vector<uint8_t>> read_fd(int fd, const std::string& path, uint64_t size) {
  std::vector<uint8_t> out(static_cast<size_t>(size));
  size_t got = 0;
  while (got < out.size()) {
    ssize_t n = ::read(fd, out.data() + got, out.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(ErrorCode::kIo, sys_error("cannot read", path));
    if (n == 0) return fail(ErrorCode::kIo, "file '" + path + "' shrank while being read");
    got += static_cast<size_t>(n);
  }
  return out;
}

Result<std::vector<uint8_t>> open_and_read(const std::string& path, uint64_t max_size, bool private_key) {
  Fd f;
  f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f.fd < 0) {
    if (errno == ENOENT) return fail(ErrorCode::kIo, "file not found: '" + path + "'");
    return fail(ErrorCode::kIo, sys_error("cannot open", path));
  }
  struct stat st {};
  // fstat on the open descriptor: the checks apply to the very file that is read.
  if (::fstat(f.fd, &st) != 0) return fail(ErrorCode::kIo, sys_error("cannot stat", path));
  if (!S_ISREG(st.st_mode)) return fail(ErrorCode::kIo, "'" + path + "' is not a regular file");
  if (static_cast<uint64_t>(st.st_size) > max_size)
    return fail(ErrorCode::kTooLarge, "file '" + path + "' is " + std::to_string(st.st_size) +
                                          " bytes, over the limit of " + std::to_string(max_size));
  auto bytes = TRY(read_fd(f.fd, path, static_cast<uint64_t>(st.st_size)));
  if (private_key) {
    std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    // A public key given by mistake gets the clearer message, not a permissions complaint.
    if (!looks_like_private_key(text)) {
      sodium_memzero(bytes.data(), bytes.size());
      return fail(ErrorCode::kKeyKind, "'" + path + "' is not a private key file (a public key file, or not a key)");
    }
    if ((st.st_mode & 077) != 0) {
      sodium_memzero(bytes.data(), bytes.size());
      return fail(ErrorCode::kKeyPermissions,
                  "private key file '" + path + "' is accessible by other users (mode " + mode_text(st.st_mode) +
                      "); refusing to use it. Restrict it with: chmod 600 '" + path + "'");
    }
  }
  return bytes;
}

std::string dir_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

Result<std::vector<uint8_t>> read_file(const std::string& path, uint64_t max_size) {
  return open_and_read(path, max_size, false);
}

Result<void> write_file_atomic(const std::string& path, std::span<const uint8_t> data, unsigned mode, bool overwrite) {
  std::string tmpl = dir_of(path) + "/.keel-tmp-XXXXXX";
  Fd f;
  f.fd = ::mkstemp(tmpl.data());  // created 0600: a private key is never briefly readable
  if (f.fd < 0) return fail(ErrorCode::kIo, sys_error("cannot create a file in", dir_of(path)));
  auto cleanup_fail = [&](const std::string& msg) {
    ::unlink(tmpl.c_str());
    return fail(ErrorCode::kIo, msg);
  };
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(f.fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return cleanup_fail(sys_error("cannot write", path));
    done += static_cast<size_t>(n);
  }
  if (::fchmod(f.fd, static_cast<mode_t>(mode)) != 0) return cleanup_fail(sys_error("cannot chmod", path));
  if (::fsync(f.fd) != 0) return cleanup_fail(sys_error("cannot sync", path));
  if (overwrite) {
    if (::rename(tmpl.c_str(), path.c_str()) != 0) return cleanup_fail(sys_error("cannot write", path));
  } else {
    // link() fails with EEXIST instead of replacing: no window where an existing key is lost.
    if (::link(tmpl.c_str(), path.c_str()) != 0) {
      if (errno == EEXIST)
        return cleanup_fail("'" + path + "' already exists; refusing to overwrite it (use --force)");
      return cleanup_fail(sys_error("cannot write", path));
    }
    ::unlink(tmpl.c_str());
  }
  return keel::Ok{};
}

Result<PrivateKey> generate_key(KeyKind kind, std::string comment) {
  if (sodium_init() < 0) return fail(ErrorCode::kCrypto, "libsodium failed to initialise");
  std::array<uint8_t, 32> secret{};
  randombytes_buf(secret.data(), secret.size());
  if (kind == KeyKind::kTunnel) {
    // Clamp as WireGuard's `wg genkey` does, so the key reads the same in wg tools.
    secret[0] &= 248;
    secret[31] &= 127;
    secret[31] |= 64;
  }
  auto key = PrivateKey::from_secret(kind, secret, std::move(comment));
  sodium_memzero(secret.data(), secret.size());
  return key;
}

Result<void> write_private_key_file(const std::string& path, const PrivateKey& key, bool overwrite) {
  std::string text = format_private_key(key);
  auto r = write_file_atomic(path, std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()), 0600,
                             overwrite);
  sodium_memzero(text.data(), text.size());
  return r;
}

Result<void> write_public_key_file(const std::string& path, const PublicKey& key, bool overwrite) {
  std::string text = format_public_key(key);
  return write_file_atomic(path, std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()), 0644,
                           overwrite);
}

Result<PrivateKey> read_private_key_file(const std::string& path) {
  auto bytes = TRY(open_and_read(path, 16384, true));
  std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  auto key = parse_private_key(text);
  sodium_memzero(bytes.data(), bytes.size());
  if (!key) {
    Error e = key.take_error();
    e.message = "'" + path + "': " + e.message;
    return keel::Err{e};
  }
  return key;
}

Result<PublicKey> read_public_key_file(const std::string& path) {
  auto bytes = TRY(open_and_read(path, 16384, false));
  std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  auto key = parse_public_key(text);
  if (!key) {
    Error e = key.take_error();
    e.message = "'" + path + "': " + e.message;
    return keel::Err{e};
  }
  return key;
}

}  // namespace keel::release
