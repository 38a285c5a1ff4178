// studio.analyze_256.ms: `keel analyze` on a generated 256-component system — the analysis
// (layout and exact memory of every component, capabilities, flow graph and its transitive
// closure, lints) and its three outputs (text, JSON, DOT). 256 components is over the compiler's
// and root server's 64 (generate.h), so the system is a boot spec written directly;
// studio.analyze_64_manifest.ms is the largest manifest the compiler takes, compiled and analysed.
// Median of 7 runs (after one warm-up), milliseconds.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "keel/analyze/analyze.h"
#include "keel/analyze/generate.h"

namespace {

template <class F>
double median_ms(F&& f) {
  f();
  std::vector<double> t;
  for (int i = 0; i < 7; ++i) {
    const auto a = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace

int main() {
  using namespace keel::analyze;
  Input in;
  in.kind = InputKind::kImage;
  in.source = "generated-256";
  in.spec = generate_spec(256);
  std::size_t out = 0, flows = 0;
  const double ms256 = median_ms([&] {
    const Report r = analyze(in);
    out = to_text(r).size() + to_json(r).size() + to_dot(r).size();  // the three outputs, as the CLI makes them
    flows = r.flows.size();
  });
  const std::string text = generate_manifest(64);
  const double ms64 = median_ms([&] {
    const Loaded l = load_manifest_text(text, "generated-64.toml");
    if (!l.ok()) {
      std::fprintf(stderr, "analyze_bench: the generated manifest does not compile: %s\n", l.errors[0].format().c_str());
      std::exit(1);
    }
    if (to_json(analyze(l.input)).empty()) std::exit(1);
  });
  std::printf("# 256 components, %zu flows, %zu bytes of output\n", flows, out);
  std::printf("BENCH studio.analyze_256.ms %.1f ms\n", ms256);
  std::printf("BENCH studio.analyze_64_manifest.ms %.1f ms\n", ms64);
  return 0;
}
