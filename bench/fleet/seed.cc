// fleet_bench_seed DATA_DIR DEVICES [CONNINFO] — prepares the Fleet benchmarks' data: one
// project with a trusted signing key, one deployment with DEVICES devices (inserted in one
// transaction, as registration would: keys, tunnel addresses), and a signed release file
// DATA_DIR/bench-release.keelrel to upload. Prints the ids as shell assignments.
// Without CONNINFO: a studio-mode data directory (SQLite). With CONNINFO: fleet mode on that
// PostgreSQL database, with an organisation, its owner and a write API token for the load
// (printed as TOKEN=...; only its hash is stored, as for any token).
#include <sodium.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>

#include "keel/release/keys.h"
#include "keel/release/release.h"
#include "server/app.h"
#include "store/api_tokens.h"
#include "store/deployments.h"
#include "store/devices.h"
#include "store/organizations.h"
#include "store/projects.h"
#include "store/signing_keys.h"
#include "store/users.h"

using namespace keel::fleet;
namespace rel = keel::release;

int main(int argc, char** argv) {
  if (argc != 3 && argc != 4) {
    std::fprintf(stderr, "usage: fleet_bench_seed DATA_DIR DEVICES [POSTGRES_CONNINFO]\n");
    return 2;
  }
  Config cfg;
  cfg.data_dir = argv[1];
  cfg.threads = 1;
  if (argc == 4) {
    cfg.mode = Mode::fleet;
    cfg.database = argv[3];
  }
  long n = std::stol(argv[2]);
  App app(cfg);
  auto db = app.pool->acquire();
  std::vector<uint8_t> seed(32, 42);
  auto key = rel::PrivateKey::from_secret(rel::KeyKind::kSigning, seed, "bench").value();
  int64_t now = now_ms();
  Tx tx(*db);
  int64_t org = app.studio_org_id;
  std::string token;
  if (cfg.mode == Mode::fleet) {
    org = insert_organization(*db, "bench", now).id;
    int64_t user = insert_user(*db, {.email = "bench@example.com",
                                     .name = "Bench",
                                     .role = "organization_owner",
                                     .organization_id = org,
                                     .status = "active",
                                     .created_at = now});
    std::string prefix = random_token(9), secret = random_token(32);
    std::replace(prefix.begin(), prefix.end(), '_', 'x');
    insert_token(*db, {.user_id = user,
                       .name = "bench",
                       .scope = "write",
                       .prefix = prefix,
                       .secret_hash = sha256_hex(secret),
                       .created_at = now});
    token = "keel_" + prefix + "_" + secret;
  }
  int64_t project = insert_project(*db, org, "bench", "", now).id;
  insert_signing_key(*db, project, "bench", rel::base64_encode(key.public_key().bytes), key.public_key().id_hex(), now);
  int64_t dep = insert_deployment(*db, project, "prod", "", now);
  uint8_t raw[32];
  for (long k = 0; k < n; ++k) {
    randombytes_buf(raw, sizeof raw);
    std::string tk = rel::base64_encode(raw);
    randombytes_buf(raw, sizeof raw);
    std::string ik = rel::base64_encode(raw);
    insert_device(*db, dep, "device-" + std::to_string(k), {.tunnel = tk, .identity = ik}, int64_t{2} + k, now);
  }
  tx.commit();
  if (cfg.mode == Mode::fleet) {
    // A steady state, not a fresh bulk load: planner statistics current and the load's WAL
    // checkpointed, so autovacuum and the checkpointer do not run during the measurement.
    db->exec_script("VACUUM ANALYZE");
    db->exec_script("CHECKPOINT");
  }
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
  std::printf("PROJECT=%lld\nDEPLOYMENT=%lld\nTOKEN=%s\n", static_cast<long long>(project), static_cast<long long>(dep),
              token.c_str());
  return 0;
}
