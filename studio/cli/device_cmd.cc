// keel device provision — a device's disk image and device key file, made on this machine before
// the device first boots, so that an operator can register its public keys in Fleet first
// (docs/cli.md "keel device provision", docs/operations.md "Provisioning a device").
//
// The image is what the device's own code would have written at its first boot, made with the same
// code: the manifest compiler (the layout), the store's logic (keel_store_logic: the header record
// and the crash-safe records, services/store) and the keystore's logic (keel_keystore_logic: the
// keys from this machine's libsodium randomness, sealed under a key derived from the device key,
// services/keystore). The keystore on the device then finds its records ("keys loaded") and uses
// exactly the keys printed here. The private keys never leave this process unsealed: only the
// sealed records go to the image, the device key to its own file (mode 0600).
#include <memory>
#include <string>

#include "commands.h"

namespace keel::studio {
namespace {
struct ProvisionOpts {
  std::string manifest, disk, device_key, disk_size;
  bool force = false, json = false;
};
}  // namespace
}  // namespace keel::studio

#if defined(KEEL_PROVISION)
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "commands.h"
#include "keel/keystore/keystore.h"
#include "keel/manifest/compiler.h"
#include "keel/release/io.h"
#include "keel/store/config_text.h"
#include "keel/store/header.h"
#include "keel/store/record.h"
#include "image_disk.h"

namespace keel::studio {
namespace {

namespace ks = keel::keystore;
namespace st = keel::store;

// The keystore's records in its partition: record 0 "identity", 1 "tunnel" (as the component's
// StoreRecords, services/keystore/src/main.cc), with the store's record code.
class PartitionRecords final : public ks::RecordStore {
 public:
  explicit PartitionRecords(st::BlockDevice& part) : part_(part) {}
  keel::Result<std::size_t> load(std::string_view name, std::span<std::uint8_t> out) override {
    const int id = record_id(name);
    if (id < 0) return Err{KEEL_NOT_FOUND};
    auto r = st::read_record(part_, location(id), ws_, out);
    if (!r.ok()) return Err{r.error()};
    return r.value().length;
  }
  keel::Result<void> save(std::string_view name, std::span<const std::uint8_t> bytes) override {
    const int id = record_id(name);
    if (id < 0) return Err{KEEL_INVALID_ARGUMENT};
    auto r = st::write_record(part_, location(id), ws_, bytes);
    if (!r.ok()) return Err{r.error()};
    return {};
  }

 private:
  static int record_id(std::string_view name) { return name == "identity" ? 0 : name == "tunnel" ? 1 : -1; }
  static st::RecordLocation location(int id) {
    const auto u = static_cast<std::uint64_t>(id);
    return st::RecordLocation{2 * u, 2 * u + 1, static_cast<std::uint32_t>(id)};
  }
  st::BlockDevice& part_;
  st::RecordWorkspace ws_{};
};

keel_error_t host_random(void*, std::uint8_t* out, std::size_t n) {
  randombytes_buf(out, n);
  return KEEL_OK;
}

std::string hex(const std::uint8_t* b, std::size_t n) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (std::size_t i = 0; i < n; ++i) {
    s += d[b[i] >> 4];
    s += d[b[i] & 15];
  }
  return s;
}

const bootspec::Model::Component* component(const manifest::Output& out, std::string_view name) {
  for (const auto& c : out.model.components)
    if (c.name == name) return &c;
  return nullptr;
}
std::uint32_t line_of(const manifest::Output& out, std::string_view comp) {
  for (const auto& i : out.images)
    if (i.component == comp) return i.line;
  return 0;
}

// Writes `bytes` to a new file of `mode` (an existing one only with force; then truncated and
// set to `mode`).
keel::Result<void, std::string> write_file(const std::string& path, const std::uint8_t* bytes, std::size_t n, mode_t mode,
                                     bool force) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (force ? O_TRUNC : O_EXCL), mode);
  if (fd < 0) return Err{"cannot create '" + path + "': " + std::strerror(errno)};
  bool ok = ::fchmod(fd, mode) == 0;
  for (std::size_t done = 0; ok && done < n;) {
    const ssize_t w = ::write(fd, bytes + done, n - done);
    if (w <= 0) ok = false;
    else done += static_cast<std::size_t>(w);
  }
  ok = ::fsync(fd) == 0 && ok;
  ok = ::close(fd) == 0 && ok;
  if (!ok) {
    ::unlink(path.c_str());
    return Err{"cannot write '" + path + "': " + std::strerror(errno)};
  }
  return {};
}

int provision(const ProvisionOpts& o) {
  if (sodium_init() < 0) return error("libsodium did not initialise");
  if (!o.force) {
    for (const std::string* p : {&o.disk, &o.device_key})
      if (::access(p->c_str(), F_OK) == 0)
        return error("'" + *p + "' already exists; refusing to overwrite it (use --force)");
  }
  if (o.disk == o.device_key) return error("--disk and --device-key name the same file");
  // The manifest, compiled as for an image: its errors with file:line:column.
  const manifest::Output out = manifest::compile_file(o.manifest);
  if (!out.ok()) {
    for (const auto& d : out.errors) std::cerr << d.format() << "\n";
    return error(std::to_string(out.errors.size()) + " error(s) in " + o.manifest);
  }
  const auto* keystore = component(out, "keystore");
  if (keystore == nullptr)
    return error(o.manifest + ": the manifest has no component named 'keystore' (services/keystore): nothing to provision");
  const std::string where = o.manifest + ":" + std::to_string(line_of(out, "keystore"));
  const std::string* pname = component_string(*keystore, "partition");
  const std::string part_name = pname != nullptr ? *pname : "keys";
  // The layout as the store reads it: its config's part.<name> strings, the compiler's lay_out().
  const auto* store = component(out, "store");
  std::vector<std::string> names;
  std::vector<st::Partition> parts;
  if (store != nullptr)
    for (const auto& e : store->config)
      if (e.type == bootspec::ConfigType::kString && e.key.rfind(st::kPartitionKeyPrefix, 0) == 0)
        names.push_back(e.key.substr(sizeof st::kPartitionKeyPrefix - 1));
  for (const auto& n : names) {
    st::Partition p;
    p.name = n;
    const std::string* text = component_string(*store, std::string(st::kPartitionKeyPrefix) + n);
    if (auto r = st::parse_partition(*text, &p); !r.ok())
      return error("the compiled partition '" + n + "' does not parse: " + r.error().what);
    parts.push_back(p);
  }
  const st::Partition* keys = nullptr;
  for (const auto& p : parts)
    if (p.name == part_name) keys = &p;
  if (keys == nullptr)
    return error(where + ": the keystore's partition '" + part_name +
                 "' is not in the manifest (a [[partition]] name = \"" + part_name +
                 "\", encrypted = false, served by a component named 'store', and the keystore's [component.storage] "
                 "partitions = { " + part_name + " = \"rw\" })");
  if (keys->encrypted)
    return error(where + ": the keystore's partition '" + part_name +
                 "' is encrypted: it must be encrypted = false (its records are sealed under the device key already, "
                 "and the store's partition keys come from the keystore)");
  // The keystore must be able to read and write it (the store's grant.keystore = "keys:rw,...").
  const std::string* grant = component_string(*store, std::string(st::kGrantKeyPrefix) + "keystore");
  const std::string rw = part_name + ":rw";
  bool granted = false;
  for (std::size_t at = 0; grant != nullptr && at <= grant->size();) {
    const std::size_t comma = std::min(grant->find(',', at), grant->size());
    granted = granted || grant->compare(at, comma - at, rw) == 0;
    at = comma + 1;
  }
  if (!granted)
    return error(where + ": the keystore may not read and write its partition '" + part_name +
                 "' (its [component.storage] partitions = { " + part_name + " = \"rw\" })");
  if (keys->blocks < 4) return error(where + ": the keystore's partition '" + part_name + "' is smaller than 16 KiB (two records of two copies)");
  std::uint64_t end = st::kReservedBlocks;
  for (const auto& p : parts) end = std::max(end, p.start + st::physical_blocks(p));
  std::uint64_t size = (end * st::kBlockSize + (1u << 20) - 1) / (1u << 20) * (1u << 20);  // a whole MiB
  if (!o.disk_size.empty()) {
    std::uint64_t want = 0;
    if (!manifest::parse_size(o.disk_size, want) || want == 0 || want % st::kBlockSize != 0)
      return error("--disk-size '" + o.disk_size + "': a positive multiple of 4 KiB (bytes, or with KiB / MiB / GiB)");
    if (want < end * st::kBlockSize)
      return error("--disk-size " + o.disk_size + " is smaller than the manifest's partitions (" +
                   std::to_string(end * st::kBlockSize) + " bytes)");
    size = want;
  }
  ImageDisk disk(size / st::kBlockSize);
  // The header record the store writes on a fresh disk: every partition prepared (erased: the
  // image is zeros already, erase_partition writes them all the same).
  st::Header old, next;
  std::vector<st::PartitionPlan> plans(parts.size());
  st::plan_layout(old, parts, plans, &next);
  static const std::uint8_t zero[st::kBlockSize] = {};
  for (const auto& p : parts)
    if (auto r = st::erase_partition(disk, p, zero); !r.ok()) return error("erasing partition '" + std::string(p.name) + "'");
  std::vector<std::uint8_t> payload(st::kMaxRecordPayload);
  const std::size_t len = st::format_header(next, payload.data(), payload.size());
  if (len == 0) return error("the store's header record does not fit a record");
  st::Window reserved(disk, 0, st::kReservedBlocks);
  auto ws = std::make_unique<st::RecordWorkspace>();
  if (auto r = st::write_record(reserved, st::kHeaderRecord, *ws, std::span<const std::uint8_t>(payload.data(), len)); !r.ok())
    return error("writing the store's header record");
  // The keys: the keystore's first start, here.
  std::uint8_t device_key[ks::kKeyBytes];
  randombytes_buf(device_key, sizeof device_key);
  st::Window part(disk, keys->start, keys->blocks);
  auto records = std::make_unique<PartitionRecords>(part);
  auto keystore_logic = std::make_unique<ks::Keystore>();
  auto started = keystore_logic->start(device_key, *records, ks::RandomSource{host_random, nullptr});
  if (!started.ok()) {
    sodium_memzero(device_key, sizeof device_key);
    return error("making the keys: keel error " + std::to_string(static_cast<int>(started.error())));
  }
  const ks::PublicKeys pub = keystore_logic->own_public_keys();
  keystore_logic->wipe();
  // The device key first: an image whose key file could not be written is useless.
  auto wk = write_file(o.device_key, device_key, sizeof device_key, 0600, o.force);
  sodium_memzero(device_key, sizeof device_key);
  if (!wk.ok()) return error(wk.error());
  if (auto wd = write_file(o.disk, disk.bytes().data(), disk.bytes().size(), 0644, o.force); !wd.ok()) {
    ::unlink(o.device_key.c_str());
    return error(wd.error());
  }
  const std::vector<std::uint8_t> t(pub.tunnel_x25519, pub.tunnel_x25519 + 32), id(pub.identity_ed25519, pub.identity_ed25519 + 32);
  const std::string tb = keel::release::base64_encode(t), ib = keel::release::base64_encode(id);
  if (o.json) {
    nlohmann::json j = {{"disk", o.disk},
                        {"disk_bytes", size},
                        {"device_key", o.device_key},
                        {"partition", part_name},
                        {"partition_start_block", keys->start},
                        {"tunnel_public_key", tb},
                        {"identity_public_key", ib},
                        {"tunnel_public_key_hex", hex(pub.tunnel_x25519, 32)},
                        {"identity_public_key_hex", hex(pub.identity_ed25519, 32)}};
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::cout << "provisioned a device for " << o.manifest << "\n"
            << "  disk image:  " << o.disk << " (" << size << " bytes; the keystore's records in partition '" << part_name
            << "' at block " << keys->start << ")\n"
            << "  device key:  " << o.device_key << " (mode 0600: the board's device key; QEMU: qemu_run.py --device-key)\n"
            << "  tunnel public key (X25519):    " << tb << "\n"
            << "  identity public key (Ed25519): " << ib << "\n"
            << "register it before it first boots:\n"
            << "  keel fleet device register --name NAME --tunnel-key " << tb << " --identity-key " << ib << " ...\n";
  return 0;
}

}  // namespace

#else  // a tree without the keystore's logic (fuzz)
namespace keel::studio {
namespace {
int provision(const ProvisionOpts&) { return error("keel device provision is not built in this tree (no keystore logic)"); }
}  // namespace
#endif

Run device_provision(CLI::App& cmd) {
  auto o = std::make_shared<ProvisionOpts>();
  cmd.add_option("--manifest", o->manifest, "the device's system manifest (TOML): its partitions and keystore")
      ->required()
      ->check(CLI::ExistingFile);
  cmd.add_option("--disk", o->disk, "the disk image to create (raw; QEMU: qemu_run.py --disk)")->required();
  cmd.add_option("--device-key", o->device_key, "the device key file to create (32 random bytes, mode 0600)")->required();
  cmd.add_option("--disk-size", o->disk_size,
                 "the image's size (bytes, or with KiB / MiB / GiB; default: the partitions, rounded up to a MiB)");
  cmd.add_flag("--force", o->force, "overwrite existing output files");
  cmd.add_flag("--json", o->json, "machine-readable output");
  cmd.footer(
      "The image holds the store's header record and the keystore's sealed keys (the layout and record format the\n"
      "device's own code uses); the device key file is the board's device key. Keep it secret: with the image it\n"
      "opens everything. Register the printed public keys in Fleet before the device first boots.\n\n"
      "Example:\n"
      "  keel device provision --manifest systems/gateway/gateway.toml --disk dev7.img --device-key dev7.key\n"
      "  keel fleet device register --name dev7 --tunnel-key <tunnel> --identity-key <identity> --deployment 1");
  return [o] { return provision(*o); };
}

}  // namespace keel::studio
