// keel — the Keel Studio command line. Reference: docs/cli.md.
#include <sodium.h>

#include "cli.h"

int main(int argc, char** argv) {
  using namespace keel::studio;
  if (sodium_init() < 0) return error("libsodium failed to initialise");
  CLI::App app{"keel — Keel Studio: keys, releases, signing, and the Fleet API"};
  app.name("keel");
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("keel 0.1 (release format 1)"));
  Commands cmds;
  add_key_commands(app, cmds);
  add_release_commands(app, cmds);
  add_fleet_commands(app, cmds);
  add_system_commands(app, cmds);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);  // prints help / the usage error
    return rc == 0 ? 0 : 2;
  }
  for (const auto& c : cmds)
    if (c.app->parsed()) return c.run();
  std::cerr << app.help();
  return 2;
}
