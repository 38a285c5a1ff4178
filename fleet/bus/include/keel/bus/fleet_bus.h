// keel/bus/fleet_bus.h — what Fleet's processes say to each other on the bus (keel/bus/bus.h),
// so that keel-fleet (API, web UI) and keel-gateway (tunnel + device link) may run as separate
// processes, on one node or several (docs/operations.md, "Fleet bus"). Subjects under the prefix:
//
//   events                  {"node", "org", "event"}: every change event of /api/v1/events, from
//                           the API (audited changes) and from the link (device.online / offline /
//                           status, device_command.result); each API process shows the others'
//   credentials             {"node", "user"}: a user's credentials changed (token revoked, role
//                           changed, ...): every process re-validates that user's live streams
//   device.<id>.commands    (empty) a command was queued for the device: the link that holds its
//                           session reads the store now instead of at its next poll;
//                           `device.all.commands`: a deployment's batch (every link reads it)
//   device.<id>.console     console requests, and console.<cid>.up|down their bytes
//                           (keel/bus/console_relay.h)
//
// Nothing that must survive is only on the bus: commands and their outcomes are in the store
// (a lost wake-up costs one store poll interval, `command_poll`), events are notifications.
#pragma once

#include <memory>

#include "keel/bus/bus.h"
#include "keel/bus/console_relay.h"
#include "keel/link/link_server.h"
#include "server/app.h"

namespace keel::bus {

// keel-fleet's side: forwards the App's events and credential changes to the bus and shows the
// other processes' ones; announces queued commands; opens consoles through the relay (unless the
// App already has a device link of its own). Restores the App's hooks when destroyed; create it
// before serving and destroy it after.
class ApiBus {
 public:
  ApiBus(Bus& bus, fleet::App& app, RelayConfig relay = {});
  ~ApiBus();
  ApiBus(const ApiBus&) = delete;
  ApiBus& operator=(const ApiBus&) = delete;
  ConsoleRelay& relay() { return relay_; }

 private:
  fleet::App& app_;
  ConsoleRelay relay_;
  std::unique_ptr<Bus::Subscription> events_, credentials_;
  std::function<void(int64_t)> local_command_queued_;  // the App's hook before (a link in this process)
  bool console_via_relay_ = false;
};

// The device link's change sink that publishes to the bus (give it to the LinkServer).
link::ChangeSink link_change_sink(Bus& bus);

// keel-gateway's side: command wake-ups for the link, consoles on the link's sessions.
class LinkBus {
 public:
  LinkBus(Bus& bus, link::LinkServer& link, RelayConfig relay = {});
  ~LinkBus();
  LinkBus(const LinkBus&) = delete;
  LinkBus& operator=(const LinkBus&) = delete;
  ConsoleRelay& relay() { return relay_; }

 private:
  ConsoleRelay relay_;
  std::unique_ptr<Bus::Subscription> commands_;
};

}  // namespace keel::bus
