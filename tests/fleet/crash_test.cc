// Crash safety with the real binary: kill -9 during release uploads and during rollout steps;
// after a restart nothing is half stored and the rollout continues where it was. Also the
// studio-mode bind refusal and graceful SIGTERM.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio.hpp>
#include <chrono>
#include <set>
#include <thread>

#include "fleet_test_util.h"
#include "store/blob_store.h"

using namespace keel::fleet;
using namespace keel::fleet::testing;
namespace rel = keel::release;

namespace {

struct Proc {
  pid_t pid = -1;
  uint16_t port = 0;
  std::string log;
};

// Starts keel-fleet; returns once it printed its port (or with port 0 if it exited).
Proc start(const std::vector<std::string>& args, int* exit_code = nullptr) {
  int out[2], err[2];
  if (pipe(out) != 0 || pipe(err) != 0) throw std::runtime_error("pipe");
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], 1);
    dup2(err[1], 2);
    close(out[0]);
    close(err[0]);
    std::vector<char*> argv;
    std::string bin = KEEL_FLEET_BIN;
    argv.push_back(bin.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  Proc p;
  p.pid = pid;
  std::string line;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  bool out_open = true, err_open = true;
  while ((out_open || err_open) && std::chrono::steady_clock::now() < deadline) {
    if (poll(fds, 2, 200) <= 0) continue;
    char buf[512];
    if (out_open && (fds[0].revents & (POLLIN | POLLHUP))) {
      ssize_t n = read(out[0], buf, sizeof buf);
      if (n <= 0) {
        out_open = false;
        fds[0].fd = -1;
      } else {
        line.append(buf, static_cast<size_t>(n));
        if (line.find('\n') != std::string::npos) break;
      }
    }
    if (err_open && (fds[1].revents & (POLLIN | POLLHUP))) {
      ssize_t n = read(err[0], buf, sizeof buf);
      if (n <= 0) {
        err_open = false;
        fds[1].fd = -1;
      } else {
        p.log.append(buf, static_cast<size_t>(n));
      }
    }
  }
  if (!line.empty()) p.port = static_cast<uint16_t>(std::stoi(line));
  // Collect what was logged before the port line (warnings at start).
  for (int k = 0; err_open && k < 3; ++k) {
    pollfd e{err[0], POLLIN, 0};
    if (poll(&e, 1, 100) <= 0) continue;
    char buf[4096];
    ssize_t n = read(err[0], buf, sizeof buf);
    if (n <= 0) break;
    p.log.append(buf, static_cast<size_t>(n));
  }
  // Drain stderr in the background so the server never blocks on a full pipe.
  int efd = err[0];
  std::thread([efd] {
    char buf[4096];
    while (read(efd, buf, sizeof buf) > 0) {
    }
    close(efd);
  }).detach();
  close(out[0]);
  if (!p.port && exit_code) {
    int st = 0;
    waitpid(pid, &st, 0);
    *exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  }
  return p;
}

void kill9(Proc& p) {
  kill(p.pid, SIGKILL);
  int st;
  waitpid(p.pid, &st, 0);
}

Proc start_studio(const std::filesystem::path& dir) {
  Proc p = start({"--data-dir", dir.string(), "--port", "0", "--print-port", "--threads", "2", "--log-level", "warn"});
  if (!p.port) throw std::runtime_error("keel-fleet did not start: " + p.log);
  return p;
}

Resp api(const Proc& p, const std::string& m, const std::string& t, const json& b = nullptr) {
  return http(p.port, m, t, b.is_null() ? std::string() : b.dump());
}

// Sends an upload slowly in chunks from another thread; the caller kills the server meanwhile.
void upload_slowly(uint16_t port, int64_t project, const std::vector<uint8_t>& file, std::atomic<bool>& done) {
  try {
    namespace asio = boost::asio;
    asio::io_context ioc;
    asio::ip::tcp::socket s(ioc);
    s.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    std::string head = "POST /api/v1/projects/" + std::to_string(project) +
                       "/releases HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: " +
                       std::to_string(file.size()) + "\r\n\r\n";
    asio::write(s, asio::buffer(head));
    size_t chunk = file.size() / 20 + 1;
    for (size_t off = 0; off < file.size(); off += chunk) {
      asio::write(s, asio::buffer(file.data() + off, std::min(chunk, file.size() - off)));
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    char buf[256];
    boost::system::error_code ec;
    s.read_some(asio::buffer(buf), ec);
  } catch (...) {
  }
  done = true;
}

// Every release row's blobs exist and verify; no other blob and no temp file remains.
void check_releases_whole(const std::filesystem::path& dir, const rel::PublicKey& key) {
  auto db = open_sqlite((dir / "fleet.db").string());
  BlobStore bs(dir / "blobs");
  std::set<std::string> referenced;
  for (const auto& r : db->query("SELECT id, file_blob, file_size FROM releases")) {
    ASSERT_TRUE(bs.exists(r.s(1))) << "release " << r.s(0) << " points at a missing file";
    auto bytes = bs.get(r.s(1));
    EXPECT_EQ(static_cast<int64_t>(bytes.size()), r.i(2));
    EXPECT_TRUE(rel::verify_release(bytes, {key}).ok()) << "stored release file does not verify";
    referenced.insert(r.s(1));
    size_t comps = 0;
    for (const auto& c : db->query("SELECT blob FROM release_components WHERE release_id = $1", {r.i(0)})) {
      EXPECT_TRUE(bs.exists(c.s(0)));
      referenced.insert(c.s(0));
      ++comps;
    }
    EXPECT_EQ(comps, 2u);
  }
  for (const auto& id : bs.list()) EXPECT_TRUE(referenced.count(id)) << "orphan blob " << id << " survived the restart";
  EXPECT_TRUE(std::filesystem::is_empty(dir / "blobs" / "tmp"));
}

TEST(FleetCrash, KillDuringReleaseUpload) {
  TempDir dir;
  auto key = test_key(3);
  auto file = make_release("big", "1.0.0", {key}, 1 << 20);
  Proc p = start_studio(dir.path());
  int64_t pid = api(p, "POST", "/api/v1/projects", {{"name", "demo"}}).j["id"];
  ASSERT_EQ(api(p, "POST", "/api/v1/projects/" + std::to_string(pid) + "/keys", {{"name", "k"}, {"public_key", public_key_text(key)}}).status, 201);
  // How long does a whole upload take here?
  auto t0 = std::chrono::steady_clock::now();
  {
    std::atomic<bool> done{false};
    upload_slowly(p.port, pid, make_release("probe", "0.0.1", {key}, 1 << 20), done);
  }
  auto total = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  for (double frac : {0.3, 0.8, 0.95, 1.1}) {
    std::atomic<bool> done{false};
    std::thread t([&] { upload_slowly(p.port, pid, file, done); });
    std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int64_t>(static_cast<double>(total) * frac)));
    kill9(p);
    t.join();
    p = start_studio(dir.path());  // recovery runs before the port is printed
    check_releases_whole(dir.path(), key.public_key());
    auto list = api(p, "GET", "/api/v1/releases?project_id=" + std::to_string(pid));
    ASSERT_EQ(list.status, 200);
    for (const auto& r : list.j["items"]) {
      if (r["name"] != "big") continue;
      auto dl = http(p.port, "GET", "/api/v1/releases/" + std::to_string(r["id"].get<int64_t>()) + "/file");
      EXPECT_EQ(dl.body, as_string(file)) << "a stored release differs from what was uploaded";
    }
  }
  // Whatever happened, a clean upload (or an honest "already exists") works afterwards.
  auto again = http(p.port, "POST", "/api/v1/projects/" + std::to_string(pid) + "/releases", as_string(file), {}, "application/octet-stream");
  EXPECT_TRUE(again.status == 201 || again.status == 409) << again.body;
  kill9(p);
}

struct RolloutState {
  std::string status;
  int64_t current_batch = 0, succeeded = 0;
};

// The invariants a rollout must satisfy at every committed step.
RolloutState check_rollout_consistent(const std::filesystem::path& dir, int64_t ro) {
  auto db = open_sqlite((dir / "fleet.db").string());
  auto r = db->one("SELECT status, current_batch FROM rollouts WHERE id = $1", {ro});
  EXPECT_TRUE(r);
  RolloutState st{r->s(0), r->i(1), 0};
  for (const auto& t : db->query("SELECT batch, status, device_id FROM rollout_targets WHERE rollout_id = $1", {ro})) {
    int64_t b = t.i(0);
    const std::string& s = t.s(1);
    if (s == "succeeded") ++st.succeeded;
    if (b < st.current_batch) {
      EXPECT_TRUE(s == "succeeded" || s == "failed") << "batch " << b << " left " << s;
    }
    if (b > st.current_batch && st.status == "running") {
      EXPECT_EQ(s, "pending") << "batch " << b << " started early";
    }
    if (b == st.current_batch) {
      EXPECT_NE(s, "pending") << "current batch " << b << " not fully started";
    }
    int64_t cmds = db->one("SELECT count(*) FROM device_commands WHERE rollout_id = $1 AND device_id = $2", {ro, t.i(2)})->i(0);
    EXPECT_EQ(cmds, s == "pending" ? 0 : 1) << "device " << t.i(2) << " in state " << s << " has " << cmds << " commands";
  }
  return st;
}

TEST(FleetCrash, KillDuringRolloutSteps) {
  TempDir dir;
  auto key = test_key(4);
  Proc p = start_studio(dir.path());
  int64_t pid = api(p, "POST", "/api/v1/projects", {{"name", "demo"}}).j["id"];
  api(p, "POST", "/api/v1/projects/" + std::to_string(pid) + "/keys", {{"name", "k"}, {"public_key", public_key_text(key)}});
  auto up = http(p.port, "POST", "/api/v1/projects/" + std::to_string(pid) + "/releases",
                 as_string(make_release("sys", "2.0.0", {key})), {}, "application/octet-stream");
  ASSERT_EQ(up.status, 201) << up.body;
  int64_t rid = up.j["id"];
  int64_t dep = api(p, "POST", "/api/v1/deployments", {{"project_id", pid}, {"name", "prod"}}).j["id"];
  const int n = 150;
  for (int k = 0; k < n; ++k)
    ASSERT_EQ(api(p, "POST", "/api/v1/devices", {{"deployment_id", dep}, {"name", "d" + std::to_string(k)},
                                                 {"tunnel_public_key", random_key_b64()}, {"identity_public_key", random_key_b64()}}).status, 201);
  auto ro_resp = api(p, "POST", "/api/v1/deployments/" + std::to_string(dep) + "/rollouts",
                     {{"release_id", rid}, {"batches", {10, 30, 60, 100}}, {"failure_threshold_percent", 50}});
  ASSERT_EQ(ro_resp.status, 201);
  int64_t ro = ro_resp.j["id"];
  std::atomic<int64_t> acked{0};
  // Reports successes for devices being updated; `limit` bounds a phase so that the rollout is
  // still running when the server is killed, however fast the machine is.
  auto reporter = [&](uint16_t port, std::atomic<bool>& stop, int64_t limit) {
    int64_t sent = 0;
    while (!stop && sent < limit) {
      try {
        auto t = http(port, "GET", "/api/v1/rollouts/" + std::to_string(ro) + "/targets?status=in_progress&limit=200");
        if (t.status != 200 || t.j["items"].empty()) return;
        for (const auto& x : t.j["items"]) {
          if (stop || ++sent > limit) return;
          auto r = http(port, "POST", "/api/v1/devices/" + std::to_string(x["device_id"].get<int64_t>()) + "/update-report",
                        json{{"rollout_id", ro}, {"status", "succeeded"}}.dump());
          if (r.status == 200) ++acked;
        }
      } catch (...) {
        return;  // the server was killed
      }
    }
  };
  for (int delay : {300, 700}) {
    std::atomic<bool> stop{false};
    std::thread rep([&] { reporter(p.port, stop, 40); });
    std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    kill9(p);
    stop = true;
    rep.join();
    int64_t seen = acked.load();
    auto st = check_rollout_consistent(dir.path(), ro);
    EXPECT_GE(st.succeeded, seen) << "an acknowledged report was lost";
    EXPECT_EQ(st.status, "running");
    p = start_studio(dir.path());
    auto after = check_rollout_consistent(dir.path(), ro);
    EXPECT_EQ(after.succeeded, st.succeeded);
    EXPECT_GE(after.current_batch, st.current_batch);
  }
  // Resume: the rest of the rollout completes from where it was.
  std::atomic<bool> stop{false};
  for (int round = 0; round < 10; ++round) reporter(p.port, stop, n);
  auto g = api(p, "GET", "/api/v1/rollouts/" + std::to_string(ro));
  EXPECT_EQ(g.j["status"], "succeeded") << g.body;
  EXPECT_EQ(g.j["progress"]["succeeded"], n);
  kill9(p);
}

TEST(FleetCrash, StudioRefusesRemoteBindAndStopsGracefully) {
  TempDir dir;
  int code = 0;
  Proc refused = start({"--data-dir", dir.path().string(), "--bind", "0.0.0.0", "--port", "0", "--print-port"}, &code);
  EXPECT_EQ(refused.port, 0);
  EXPECT_EQ(code, 2);
  EXPECT_NE(refused.log.find("refusing"), std::string::npos) << refused.log;
  Proc loud = start({"--data-dir", dir.path().string(), "--bind", "0.0.0.0", "--port", "0", "--print-port", "--allow-remote"});
  ASSERT_NE(loud.port, 0) << loud.log;
  EXPECT_NE(loud.log.find("NO LOGIN"), std::string::npos) << loud.log;
  kill(loud.pid, SIGTERM);
  int st = 0;
  waitpid(loud.pid, &st, 0);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  Proc bad = start({"--mode", "fleet", "--database", "host=/nonexistent dbname=x connect_timeout=1", "--data-dir",
                    dir.path().string(), "--port", "0", "--print-port"}, &code);
  EXPECT_EQ(bad.port, 0);
  EXPECT_EQ(code, 1);
  EXPECT_NE(bad.log.find("PostgreSQL"), std::string::npos) << bad.log;
}

}  // namespace
