#include "keel/bus/fleet_bus.h"

#include <spdlog/spdlog.h>

namespace keel::bus {

using nlohmann::json;

ApiBus::ApiBus(Bus& bus, fleet::App& app, RelayConfig relay) : app_(app), relay_(bus, relay) {
  app_.events.set_forward([&bus](const std::string& text, std::optional<int64_t> org) {
    bus.publish("events", R"({"node":")" + bus.node() + R"(","org":)" + (org ? std::to_string(*org) : "null") +
                              R"(,"event":)" + text + "}");
  });
  app_.credentials.set_forward([&bus](int64_t user) {
    bus.publish("credentials", json{{"node", bus.node()}, {"user", user}}.dump());
  });
  events_ = bus.subscribe("events", [&app, &bus](std::string_view, std::string_view data, std::string_view) {
    auto j = json::parse(data, nullptr, false);
    if (!j.is_object() || !j.contains("event") || !j["event"].is_object() || !j.contains("node") ||
        !j["node"].is_string()) {
      spdlog::warn("bus: a malformed event was ignored");
      return;
    }
    if (j["node"] == bus.node()) return;  // ours: already shown
    std::optional<int64_t> org;
    if (j.contains("org") && j["org"].is_number_integer()) org = j["org"].get<int64_t>();
    app.events.publish_local(j["event"].dump(-1, ' ', false, json::error_handler_t::replace), org);
  });
  credentials_ = bus.subscribe("credentials", [&app, &bus](std::string_view, std::string_view data, std::string_view) {
    auto j = json::parse(data, nullptr, false);
    if (!j.is_object() || !j.contains("user") || !j["user"].is_number_integer() || !j.contains("node")) return;
    if (j["node"] == bus.node()) return;
    app.credentials.changed_local(j["user"].get<int64_t>());
  });
  local_command_queued_ = app_.command_queued;
  app_.command_queued = [local = local_command_queued_, &bus](int64_t device) {
    if (local) local(device);
    bus.publish("device." + (device ? std::to_string(device) : std::string("all")) + ".commands", {});
  };
  if (!app_.console_open) {
    console_via_relay_ = true;
    app_.console_open = [this](int64_t device, std::shared_ptr<fleet::ConsoleBridge> bridge) {
      return relay_.open(device, std::move(bridge));
    };
  }
}

ApiBus::~ApiBus() {
  events_.reset();
  credentials_.reset();
  app_.events.set_forward(nullptr);
  app_.credentials.set_forward(nullptr);
  if (console_via_relay_) app_.console_open = nullptr;
  app_.command_queued = local_command_queued_;
}

link::ChangeSink link_change_sink(Bus& bus) {
  return [&bus](const std::string& action, const std::string& type, int64_t id, int64_t org) {
    const json ev = fleet::change_event(action, type, std::to_string(id), org, fleet::now_ms());
    bus.publish("events", json{{"node", bus.node()}, {"org", org}, {"event", ev}}.dump());
  };
}

LinkBus::LinkBus(Bus& bus, link::LinkServer& link, RelayConfig relay) : relay_(bus, relay) {
  commands_ = bus.subscribe("device.*.commands", [&link](std::string_view, std::string_view, std::string_view) {
    link.poke_commands();
  });
  relay_.serve([&link](int64_t device, std::shared_ptr<fleet::ConsoleBridge> bridge) {
    return link.open_console(device, std::move(bridge));
  });
}

LinkBus::~LinkBus() { commands_.reset(); }

}  // namespace keel::bus
