// keel — the Keel Studio command line. The commands are the table in commands.cc;
// reference: docs/cli.md.
#include <sodium.h>

#include "cli.h"

namespace {

using keel::studio::Noun;
using keel::studio::Run;

struct Parsed {
  CLI::App* cmd;
  Run run;
};

void add_noun(CLI::App& parent, const Noun& noun, std::vector<Parsed>& leaves) {
  CLI::App* app = parent.add_subcommand(noun.name, noun.help);
  app->require_subcommand(1);
  for (const auto& verb : noun.verbs) {
    CLI::App* cmd = app->add_subcommand(verb.name, verb.help);
    leaves.push_back({cmd, verb.setup(*cmd)});
  }
  for (const auto& sub : noun.nouns) add_noun(*app, sub, leaves);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace keel::studio;
  if (sodium_init() < 0) return error("libsodium failed to initialise");
  const Noun& table = command_table();
  CLI::App app{table.help};
  app.name(table.name);
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("keel 0.1 (release format 1)"));
  std::vector<Parsed> leaves;
  for (const auto& noun : table.nouns) add_noun(app, noun, leaves);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);  // prints help / the usage error
    return rc == 0 ? 0 : 2;
  }
  for (const auto& leaf : leaves)
    if (leaf.cmd->parsed()) return leaf.run();
  std::cerr << app.help();
  return 2;
}
