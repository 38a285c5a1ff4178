// Runs the `keel` binary (or any program) as a child process and captures what it prints.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace keel::studio::testing {

struct RunResult {
  int status = -1;  // exit status; 128 + signal when killed by a signal
  std::string out;
  std::string err;
};

// Runs `program args...` in `cwd` with extra environment variables; waits for it.
RunResult run_program(const std::string& program, const std::vector<std::string>& args, const std::string& cwd,
                      const std::map<std::string, std::string>& env = {}, const std::string& stdin_text = {});

// A background process (e.g. keel-fleet) started by a test; stopped with SIGTERM (then SIGKILL)
// when the object dies. Its stdout's first line is available via first_line(); stderr goes to a
// log file so a failure can show it.
class Spawned {
 public:
  Spawned(const std::string& program, const std::vector<std::string>& args, const std::string& log_path);
  ~Spawned();
  Spawned(const Spawned&) = delete;
  Spawned& operator=(const Spawned&) = delete;
  // Waits up to timeout_ms for one line on stdout; empty on timeout or exit.
  std::string first_line(int timeout_ms);
  [[nodiscard]] int pid() const { return pid_; }

 private:
  int pid_ = -1;
  int out_fd_ = -1;
};

// A temporary directory removed with everything in it.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A keel-fleet in studio mode on a free loopback port, its data in <dir>/data, its log in
// <dir>/fleet.log. `program` is the keel-fleet binary (the tests' KEEL_FLEET).
struct StudioFleet {
  std::unique_ptr<Spawned> process;
  std::string port, url;  // url: http://127.0.0.1:<port>
  // Starts it; an empty port means it did not start (the log says why).
  void start(const std::string& program, const TempDir& dir);
};

// The manifest the Fleet CLI tests release ("plant" 2.0.0, one component "pump").
inline constexpr const char* kPlantManifest = R"([system]
name = "plant"
version = "2.0.0"
platform = "qemu-virt"
memory = "1MiB"

[[group]]
name = "top"

[[component]]
name = "pump"
image = "pump.elf"
priority = 10
budget_us = 100
period_us = 1000
)";

std::string read_text(const std::string& path);
void write_bytes(const std::string& path, const std::string& bytes);
// A minimal valid 64-bit little-endian aarch64 ELF executable header followed by `payload`.
std::string fake_elf(const std::string& payload);

}  // namespace keel::studio::testing
