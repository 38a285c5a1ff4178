// Boot-spec writer (host only): serialises a system model into the binary format (kVersion) of
// format.h. Deterministic: the same model gives the same bytes (strings interned in order of first
// use, padding zeroed). It does not judge the model: the manifest compiler checks the rules, and
// tests read every written spec back through the reader.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "keel/bootspec/format.h"

namespace keel::bootspec {

struct Model {
  struct Region {
    std::string name;
    RegionKind kind = RegionKind::kPrivate;
    std::uint8_t perms = kPermRead | kPermWrite;
    std::uint32_t shared = kNone;
    std::uint64_t vaddr = 0, size = 0;
    std::uint16_t flags = 0;  // kRegionDma
  };
  struct Device {
    std::string name;
    std::uint64_t paddr = 0, size = 0, vaddr = 0;
  };
  struct Irq {
    std::string name;
    std::uint32_t irq = 0;
  };
  struct Config {
    std::string key;
    ConfigType type = ConfigType::kInt;
    bool overlay = false;
    std::int64_t int_value = 0;
    std::string str_value;
  };
  struct Component {
    std::string name, image;
    std::uint32_t group = 0;
    std::uint8_t priority = 0;
    Restart restart = Restart::kPermanent;
    bool passive = false;
    bool control = false;  // manifest `control = true` (kComponentControl)
    bool debug_console = false, debug_halt = false, debug_kernel_test = false, cycle_counter = false;  // `debug`
    std::uint32_t budget_us = 0, period_us = 0, stack_size = 0, heap_size = 0;
    std::vector<Region> regions;
    std::vector<Device> devices;
    std::vector<Irq> irqs;
    std::vector<std::uint32_t> deps;
    std::vector<std::string> services;
    std::vector<Config> config;
  };
  struct Shared {
    std::string name;
    std::uint64_t size = 0;
  };
  struct Channel {
    std::string name;
    ChannelKind kind = ChannelKind::kRpc;
    std::uint32_t client = 0, server = 0;
    std::string client_end, server_end;
    std::uint64_t size = 0;
  };
  struct Group {
    std::string name;
    std::uint32_t parent = kNone;
    Strategy strategy = Strategy::kOneForOne;
    std::uint32_t intensity = 0, period_s = 0;
  };

  std::string name, version, platform;
  std::uint64_t ram_base = 0, ram_size = 0, memory = 0;
  std::uint32_t console_input = kNone;
  std::uint32_t console_mirror = kNone;
  std::vector<Component> components;
  std::vector<Shared> shared;
  std::vector<Channel> channels;
  std::vector<Group> groups;
};

std::vector<std::uint8_t> write(const Model& m);

// Recomputes header.checksum over spec (used by the writer, and by tests that corrupt a field and
// want the corruption to reach the structural checks behind the checksum).
void reseal(std::vector<std::uint8_t>& spec);

}  // namespace keel::bootspec
