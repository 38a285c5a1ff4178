// keel device enroll — writes a device's enrolment (Fleet's tunnel endpoint and key, the device's
// and Fleet's inner addresses) as record 1 of partition `link` into a disk image made by
// `keel device provision` (docs/cli.md "keel device enroll"; the record: docs/device-services.md
// "Tunnel (tunnel)"). The text is keel/tunnel/enrolment.h's (the parser the tunnel and the link
// agent use on the device), the record the store's own code (keel_store_logic: the crash-safe
// two-copy record the device's keel_record_read reads).
#include <memory>
#include <string>

#include "commands.h"

namespace keel::studio {
namespace {
struct EnrollOpts {
  std::string manifest, disk, fleet_endpoint, fleet_key, address, fleet_address = "10.64.0.1";
};
}  // namespace
}  // namespace keel::studio

#if defined(KEEL_PROVISION)
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "keel/manifest/compiler.h"
#include "keel/store/config_text.h"
#include "keel/store/header.h"
#include "keel/store/record.h"
#include "keel/tunnel/enrolment.h"
#include "image_disk.h"

namespace keel::studio {
namespace {

namespace st = keel::store;
namespace tn = keel::tunnel;

constexpr const char* kPartition = "link";


int enroll(const EnrollOpts& o) {
  // The values first: each checked as the device will check it.
  tn::Enrolment e;
  char why[96];
  struct Item {
    const char* option;
    tn::EnrolmentKey key;
    const std::string* value;
  };
  const Item items[] = {{"--fleet-endpoint", tn::EnrolmentKey::FleetEndpoint, &o.fleet_endpoint},
                        {"--fleet-key", tn::EnrolmentKey::FleetKey, &o.fleet_key},
                        {"--address", tn::EnrolmentKey::Address, &o.address},
                        {"--fleet-address", tn::EnrolmentKey::FleetAddress, &o.fleet_address}};
  for (const Item& i : items) {
    if (!tn::set_enrolment_value(e, i.key, i.value->data(), i.value->size(), why, sizeof why)) {
      const char* what = std::strchr(why, ':');
      return error(std::string(i.option) + " '" + *i.value + "':" + (what != nullptr ? what + 1 : why));
    }
  }
  if (e.address == e.fleet_address) return error("--address and --fleet-address are the same address");
  // The manifest: its partition `link`, plain.
  const manifest::Output out = manifest::compile_file(o.manifest);
  if (!out.ok()) {
    for (const auto& d : out.errors) std::cerr << d.format() << "\n";
    return error(std::to_string(out.errors.size()) + " error(s) in " + o.manifest);
  }
  const bootspec::Model::Component* store = nullptr;
  for (const auto& c : out.model.components)
    if (c.name == "store") store = &c;
  const std::string* text =
      store != nullptr ? component_string(*store, std::string(st::kPartitionKeyPrefix) + kPartition) : nullptr;
  if (text == nullptr)
    return error(o.manifest + ": no partition 'link' served by a component 'store' (a [[partition]] name = \"link\", "
                 "encrypted = false, read by the tunnel and the link agent: docs/device-services.md \"Tunnel\")");
  st::Partition part;
  part.name = kPartition;
  if (auto r = st::parse_partition(*text, &part); !r.ok())
    return error(std::string("the compiled partition 'link' does not parse: ") + r.error().what);
  if (part.encrypted)
    return error(o.manifest + ": partition 'link' is encrypted: the enrolment must be readable before the device's "
                 "keys are (make it encrypted = false; it holds no secret)");
  if (part.blocks < 4) return error(o.manifest + ": partition 'link' is smaller than 16 KiB (records 0 and 1, two copies each)");
  // The image: made by keel device provision for this manifest (its header names 'link' where the
  // manifest puts it).
  const int fd = ::open(o.disk.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return error("cannot open '" + o.disk + "': " + std::strerror(errno) + " (make it with keel device provision)");
  std::vector<std::uint8_t> bytes;
  {
    std::uint8_t buf[1 << 16];
    for (;;) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0) {
        ::close(fd);
        return error("cannot read '" + o.disk + "': " + std::strerror(errno));
      }
      if (n == 0) break;
      bytes.insert(bytes.end(), buf, buf + n);
    }
  }
  bytes.resize(bytes.size() / st::kBlockSize * st::kBlockSize);
  ImageDisk disk(std::move(bytes));
  auto ws = std::make_unique<st::RecordWorkspace>();
  std::vector<std::uint8_t> payload(st::kMaxRecordPayload);
  st::Window reserved(disk, 0, std::min<std::uint64_t>(st::kReservedBlocks, disk.blocks()));
  auto hr = st::read_record(reserved, st::kHeaderRecord, *ws, payload);
  st::Header header;
  if (!hr.ok() || !st::parse_header(std::span<const std::uint8_t>(payload.data(), hr.value().length), &header).ok()) {
    ::close(fd);
    return error("'" + o.disk + "' has no store header record: not a device disk image (make it with keel device provision)");
  }
  const st::HeaderEntry* entry = nullptr;
  for (std::uint8_t i = 0; i < header.count; ++i)
    if (std::strcmp(header.entries[i].name, kPartition) == 0) entry = &header.entries[i];
  if (entry == nullptr || entry->start != part.start || entry->blocks != part.blocks || entry->encrypted) {
    ::close(fd);
    return error("'" + o.disk + "' was not made for " + o.manifest + ": its partition 'link' is " +
                 (entry == nullptr ? std::string("missing") : "elsewhere") + " (provision it with this manifest)");
  }
  st::Window window(disk, part.start, part.blocks);
  char rec[tn::kEnrolmentMaxBytes];
  const std::size_t n = tn::format_enrolment(e, rec, sizeof rec);
  const st::RecordLocation at{2, 3, 1};
  if (n == 0 || !st::write_record(window, at, *ws, std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(rec), n)).ok()) {
    ::close(fd);
    return error("writing record 1 of partition 'link' failed");
  }
  const bool saved = disk.save_changed(fd);
  ::close(fd);
  if (!saved) return error("cannot write '" + o.disk + "': " + std::strerror(errno));
  std::cout << "enrolled " << o.disk << " (record 1 of partition 'link', block " << part.start + 2 << "):\n"
            << std::string(rec, n);
  return 0;
}

}  // namespace
#else
namespace keel::studio {
namespace {
int enroll(const EnrollOpts&) { return error("keel device enroll is not built in this tree (no store logic)"); }
}  // namespace
#endif

Run device_enroll(CLI::App& cmd) {
  auto o = std::make_shared<EnrollOpts>();
  cmd.add_option("--manifest", o->manifest, "the device's system manifest (TOML): its partition 'link'")
      ->required()
      ->check(CLI::ExistingFile);
  cmd.add_option("--disk", o->disk, "the device's disk image (made by keel device provision), written in place")->required();
  cmd.add_option("--fleet-endpoint", o->fleet_endpoint, "Fleet's tunnel endpoint as the device reaches it (IPv4:port)")
      ->required();
  cmd.add_option("--fleet-key", o->fleet_key, "Fleet's WireGuard public key (base64, 32 bytes)")->required();
  cmd.add_option("--address", o->address, "the device's inner IPv4 address (assigned by Fleet at registration)")->required();
  cmd.add_option("--fleet-address", o->fleet_address, "Fleet's inner IPv4 address (default 10.64.0.1)");
  cmd.footer(
      "Writes record 1 of partition 'link' (fleet_endpoint, fleet_key, address, fleet_address), which the tunnel\n"
      "and the link agent read at start. Run it after keel device provision and fleet device register.\n\n"
      "Example:\n"
      "  keel device enroll --manifest systems/gw/gw.toml --disk dev7.img --fleet-endpoint 10.0.2.2:51820 \\\n"
      "      --fleet-key <Fleet's tunnel public key> --address 10.64.0.7");
  return [o] { return enroll(*o); };
}

}  // namespace keel::studio
