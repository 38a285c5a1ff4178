// Release format throughput: build, sign and verify a release with 16 components of 4 MiB
// (64 MiB), the cost a device and Fleet pay per upload / update. Prints BENCH lines (medians of
// 5 runs). Run from the host-release tree: `make bench`.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "keel/release/release.h"

namespace {

using namespace keel::release;
using Clock = std::chrono::steady_clock;

template <class F>
double median_ms(F&& f) {
  std::vector<double> t;
  for (int i = 0; i < 5; ++i) {
    auto a = Clock::now();
    f();
    t.push_back(std::chrono::duration<double, std::milli>(Clock::now() - a).count());
  }
  std::sort(t.begin(), t.end());
  return t[2];
}

}  // namespace

int main() {
  ReleaseInput in;
  in.system_name = "bench";
  in.system_version = "1";
  in.created_at = 1;
  const size_t per = 4 << 20, n = 16;
  for (size_t i = 0; i < n; ++i) {
    std::vector<uint8_t> data(per);
    for (size_t k = 0; k < per; ++k) data[k] = static_cast<uint8_t>((k * 2654435761u + i) >> 13);
    std::string name = "c";
    name += std::to_string(i);  // not "c" + to_string(): GCC 12 -O3 -Wrestrict false positive
    in.components.push_back({name, std::move(data), HashAlg::kSha256});
  }
  std::vector<uint8_t> seed(32, 7);
  auto key = PrivateKey::from_secret(KeyKind::kSigning, seed).value();
  std::vector<uint8_t> file;
  double build = median_ms([&] { file = build_release(in).value(); });
  std::vector<uint8_t> signed_file;
  double sign = median_ms([&] { signed_file = add_signature(file, key).value(); });
  bool ok = true;
  double verify = median_ms([&] { ok = ok && verify_release(signed_file, {key.public_key()}).ok(); });
  if (!ok) {
    std::fprintf(stderr, "verification failed\n");
    return 1;
  }
  double mib = static_cast<double>(signed_file.size()) / (1 << 20);
  std::printf("BENCH release.build_64mib.ms %.1f ms\n", build);
  std::printf("BENCH release.sign_64mib.ms %.1f ms\n", sign);
  std::printf("BENCH release.verify_64mib.ms %.1f ms\n", verify);
  std::printf("BENCH release.verify.mib_per_s %.0f MiB/s\n", mib / (verify / 1000));
  return 0;
}
