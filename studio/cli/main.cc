// keel — the Keel Studio command line. The commands are the table in commands.cc;
// reference: docs/cli.md.
#include <sodium.h>

#include <algorithm>
#include <string>
#include <vector>

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

// Optimal string alignment distance (Levenshtein plus adjacent transpositions, so 'delpoy' is
// one step from 'deploy').
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i)
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

// The commands nearest to an unknown word: the smallest edit distance if it is small for the
// word's length (1 up to 4 letters, 2 up to 8, else 3), or the one command it is a prefix of
// (3 letters at least). Empty when nothing is close.
std::vector<std::string> nearest(const std::string& word, const std::vector<std::string>& names) {
  size_t limit = word.size() <= 4 ? 1 : word.size() <= 8 ? 2 : 3;
  size_t best = limit + 1;
  std::vector<std::string> out;
  for (const auto& n : names) {
    size_t d = edit_distance(word, n);
    if (d >= n.size()) continue;
    if (d < best) {
      out.clear();
      best = d;
    }
    if (d == best) out.push_back(n);
  }
  if (!out.empty() || word.size() < 3) return out;
  for (const auto& n : names)
    if (n.compare(0, word.size(), word) == 0) out.push_back(n);
  if (out.size() > 1) out.clear();
  return out;
}

// Walks the words before the first option through the command table. A word that names no
// command where one is expected is reported here, with the nearest commands, rather than as
// CLI11's "A subcommand is required". Returns true (after printing) if it found one. The nouns
// have no options of their own (only --help, and --version at the top), so the first word
// starting with '-' ends the walk; a verb's own arguments are CLI11's to check.
bool unknown_command(int argc, char** argv, const Noun& root) {
  const Noun* noun = &root;
  std::string path;  // the command words so far, e.g. "fleet"
  for (int i = 1; i < argc; ++i) {
    std::string word = argv[i];
    if (word.empty() || word[0] == '-') return false;
    std::vector<std::string> names;
    const Noun* next = nullptr;
    bool verb = false;
    for (const auto& v : noun->verbs) {
      names.push_back(v.name);
      verb = verb || word == v.name;
    }
    for (const auto& n : noun->nouns) {
      names.push_back(n.name);
      if (word == n.name) next = &n;
    }
    if (verb) return false;
    if (next) {
      noun = next;
      path += (path.empty() ? "" : " ") + word;
      continue;
    }
    std::string prefix = path.empty() ? "" : path + " ";
    std::string msg = "keel: error: unknown command '" + prefix + word + "'";
    auto close = nearest(word, names);
    if (!close.empty()) {
      msg += ". Did you mean ";
      for (size_t k = 0; k < close.size(); ++k)
        msg += (k == 0 ? "" : k + 1 == close.size() ? " or " : ", ") + ("'" + prefix + close[k] + "'");
      msg += "?";
    } else {
      msg += "; the commands " + (path.empty() ? std::string("are") : "of 'keel " + path + "' are") + ": ";
      for (size_t k = 0; k < names.size(); ++k) msg += (k ? ", " : "") + names[k];
    }
    std::cerr << msg << " (see keel " << prefix << "--help)\n";
    return true;
  }
  return false;
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
  // Top-level verbs (`keel analyze`), then the nouns.
  for (const auto& verb : table.verbs) {
    CLI::App* cmd = app.add_subcommand(verb.name, verb.help);
    leaves.push_back({cmd, verb.setup(*cmd)});
  }
  for (const auto& noun : table.nouns) add_noun(app, noun, leaves);
  if (unknown_command(argc, argv, table)) return 2;
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
