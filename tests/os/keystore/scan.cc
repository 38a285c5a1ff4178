// keystore_scan — the host side of os.keystore_persist (tests/os/keystore/persist.py): opens a
// device's sealed keys from its disk image with its device key file, prints the public keys, and
// checks that no 8-byte window of any secret appears in the files given (the image itself, the
// console logs), as bytes or as hex text.
//
//   keystore_scan --disk IMG --device-key KEY [--partition keys] [--scan FILE]...
//
// It re-derives the seal key independently, from the documented format (services/keystore
// README "Keys": crypto_kdf id 1, context "keelkeys", of the device key) rather than through any
// hook in the keystore, and reads the records with the store's own code (keel_store_logic: the
// header record for the partition's place, records 0 "identity" and 1 "tunnel"). Secrets scanned
// for: the tunnel private key, the identity seed and its expanded scalar (SHA-512 of the seed,
// first half), the device key, the seal key and the storage master.
// Output: "keys tunnel <hex> identity <hex>", then "scan: PASS ..." (exit 0) or "scan: FAIL ..."
// (exit 1); usage or unreadable input: exit 2.
#include <sodium.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "keel/keystore/keystore.h"
#include "keel/store/header.h"
#include "keel/store/record.h"

namespace {

namespace st = keel::store;
using Bytes = std::vector<std::uint8_t>;

class ImageDisk final : public st::BlockDevice {
 public:
  explicit ImageDisk(Bytes b) : b_(std::move(b)) {}
  keel::Result<void> read(std::uint64_t first, std::size_t count, std::uint8_t* out) override {
    if (count == 0 || (first + count) * st::kBlockSize > b_.size()) return keel::Err{KEEL_RANGE_ERROR};
    std::memcpy(out, b_.data() + first * st::kBlockSize, count * st::kBlockSize);
    return {};
  }
  keel::Result<void> write(std::uint64_t, std::size_t, const std::uint8_t*) override { return keel::Err{KEEL_DENIED}; }
  keel::Result<void> flush() override { return {}; }
  std::uint64_t blocks() const override { return b_.size() / st::kBlockSize; }

 private:
  Bytes b_;
};

bool slurp(const std::string& path, Bytes* out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  out->assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  return true;
}

std::string hex(const std::uint8_t* b, std::size_t n) {
  std::string s(2 * n + 1, '\0');
  sodium_bin2hex(s.data(), s.size(), b, n);
  s.pop_back();
  return s;
}

int usage(const char* why) {
  std::fprintf(stderr, "keystore_scan: %s\nusage: keystore_scan --disk IMG --device-key KEY [--partition keys] [--scan FILE]...\n", why);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (sodium_init() < 0) return usage("libsodium did not initialise");
  std::string disk, key_file, partition = "keys";
  std::vector<std::string> scans;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) return usage(("a value after " + a).c_str());
    if (a == "--disk") disk = argv[++i];
    else if (a == "--device-key") key_file = argv[++i];
    else if (a == "--partition") partition = argv[++i];
    else if (a == "--scan") scans.push_back(argv[++i]);
    else return usage(("unknown argument " + a).c_str());
  }
  if (disk.empty() || key_file.empty()) return usage("--disk and --device-key are required");
  Bytes image, device_key;
  if (!slurp(disk, &image)) return usage(("cannot read " + disk).c_str());
  if (!slurp(key_file, &device_key) || device_key.size() != 32) return usage("the device key file is not 32 bytes");
  ImageDisk dev(image);
  // The partition's place: the store's header record.
  auto ws = std::make_unique<st::RecordWorkspace>();
  Bytes payload(st::kMaxRecordPayload);
  st::Window reserved(dev, 0, st::kReservedBlocks);
  auto h = st::read_record(reserved, st::kHeaderRecord, *ws, payload);
  if (!h.ok()) return usage("no store header record on the image");
  st::Header header;
  if (!st::parse_header(std::span<const std::uint8_t>(payload.data(), h.value().length), &header).ok())
    return usage("the header record does not parse");
  const st::HeaderEntry* entry = nullptr;
  for (std::size_t i = 0; i < header.count; ++i)
    if (header.entries[i].view() == partition) entry = &header.entries[i];
  if (entry == nullptr || entry->encrypted) return usage("no plain keystore partition in the header");
  st::Window part(dev, entry->start, entry->blocks);
  // The secrets, re-derived and opened.
  std::uint8_t seal_key[32], master[32], tunnel[32], seed[32], scalar[64];
  crypto_kdf_derive_from_key(seal_key, 32, 1, "keelkeys", device_key.data());
  crypto_kdf_derive_from_key(master, 32, 2, "keelkeys", device_key.data());
  const char* names[2] = {"identity", "tunnel"};
  std::uint8_t* outs[2] = {seed, tunnel};
  for (std::uint32_t id = 0; id < 2; ++id) {
    auto r = st::read_record(part, st::RecordLocation{2 * id, 2 * id + 1, id}, *ws, payload);
    if (!r.ok()) return usage((std::string("no record ") + names[id]).c_str());
    if (!keel::keystore::open(seal_key, names[id], std::span<const std::uint8_t>(payload.data(), r.value().length), outs[id]).ok())
      return usage((std::string("the record ") + names[id] + " does not open with this device key").c_str());
  }
  crypto_hash_sha512(scalar, seed, 32);
  std::uint8_t tpk[32], ipk[32], isk[64];
  crypto_scalarmult_curve25519_base(tpk, tunnel);
  crypto_sign_ed25519_seed_keypair(ipk, isk, seed);
  std::printf("keys tunnel %s identity %s\n", hex(tpk, 32).c_str(), hex(ipk, 32).c_str());
  struct Secret {
    const char* name;
    const std::uint8_t* b;
  } secrets[] = {{"tunnel private key", tunnel}, {"identity seed", seed}, {"identity scalar", scalar},
                 {"device key", device_key.data()}, {"seal key", seal_key}, {"storage master", master}};
  scans.insert(scans.begin(), disk);
  int found = 0;
  std::size_t bytes = 0;
  for (const std::string& path : scans) {
    Bytes data;
    if (!slurp(path, &data)) return usage(("cannot read " + path).c_str());
    bytes += data.size();
    std::string text(data.begin(), data.end());
    for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (const Secret& s : secrets)
      for (std::size_t w = 0; w + 8 <= 32; ++w) {
        const std::string bin(reinterpret_cast<const char*>(s.b + w), 8), hx = hex(s.b + w, 8);
        for (const std::string* needle : {&bin, &hx}) {
          const std::size_t at = text.find(*needle);
          if (at != std::string::npos && found++ < 10)
            std::printf("scan: FAIL: bytes %zu..%zu of the %s found in %s at offset %zu (%s)\n", w, w + 7, s.name,
                        path.c_str(), at, needle == &bin ? "binary" : "hex");
        }
      }
  }
  sodium_memzero(tunnel, sizeof tunnel);
  sodium_memzero(seed, sizeof seed);
  sodium_memzero(isk, sizeof isk);
  if (found != 0) return 1;
  std::printf("scan: PASS: no 8-byte window of %zu secrets in %zu file(s), %zu bytes (binary or hex)\n",
              sizeof secrets / sizeof secrets[0], scans.size(), bytes);
  return 0;
}
