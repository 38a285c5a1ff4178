// fleet_bench_seed DATA_DIR DEVICES — prepares a studio-mode data directory for the Fleet
// benchmarks: one project with a trusted signing key, one deployment with DEVICES devices
// (inserted in one transaction, as registration would: keys, tunnel addresses), and a signed
// release file DATA_DIR/bench-release.keelrel to upload. Prints the ids as shell assignments.
#include <sodium.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "keel/release/keys.h"
#include "keel/release/release.h"
#include "server/app.h"

using namespace keel::fleet;
namespace rel = keel::release;

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: fleet_bench_seed DATA_DIR DEVICES\n");
    return 2;
  }
  Config cfg;
  cfg.data_dir = argv[1];
  cfg.threads = 1;
  long n = std::stol(argv[2]);
  App app(cfg);
  auto db = app.pool->acquire();
  std::vector<uint8_t> seed(32, 42);
  auto key = rel::PrivateKey::from_secret(rel::KeyKind::kSigning, seed, "bench").value();
  int64_t now = now_ms();
  Tx tx(*db);
  int64_t project = db->one("INSERT INTO projects (organization_id, name, description, created_at) VALUES ($1, 'bench', "
                            "'', $2) RETURNING id", {app.studio_org_id, now})->i(0);
  db->query("INSERT INTO signing_keys (project_id, name, public_key, key_id, created_at) VALUES ($1, 'bench', $2, $3, $4)",
            {project, rel::base64_encode(key.public_key().bytes), key.public_key().id_hex(), now});
  int64_t dep = db->one("INSERT INTO deployments (project_id, name, description, created_at) VALUES ($1, 'prod', '', $2) "
                        "RETURNING id", {project, now})->i(0);
  uint8_t raw[32];
  for (long k = 0; k < n; ++k) {
    randombytes_buf(raw, sizeof raw);
    std::string tk = rel::base64_encode(raw);
    randombytes_buf(raw, sizeof raw);
    std::string ik = rel::base64_encode(raw);
    db->query("INSERT INTO devices (deployment_id, name, tunnel_public_key, identity_public_key, address_index, status, "
              "connection, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'active', 'offline', $6, $6)",
              {dep, "device-" + std::to_string(k), tk, ik, int64_t{2} + k, now});
  }
  tx.commit();
  rel::ReleaseInput in;
  in.system_name = "bench";
  in.system_version = "1.0.0";
  in.created_at = 1790000000;
  in.manifest = "[system]\nname = \"bench\"\n";
  in.summary.parsed = true;
  in.summary.components = {"app"};
  in.components.push_back({"app", std::vector<uint8_t>(4096, 1), rel::HashAlg::kSha256});
  auto file = rel::add_signature(rel::build_release(in).value(), key);
  if (!file) {
    std::fprintf(stderr, "seed: %s\n", file.error().describe().c_str());
    return 1;
  }
  std::ofstream(std::string(argv[1]) + "/bench-release.keelrel", std::ios::binary)
      .write(reinterpret_cast<const char*>(file.value().data()), static_cast<std::streamsize>(file.value().size()));
  std::printf("PROJECT=%lld\nDEPLOYMENT=%lld\n", static_cast<long long>(project), static_cast<long long>(dep));
  return 0;
}
