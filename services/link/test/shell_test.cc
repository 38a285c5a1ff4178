// The link agent's shell (services/link/src/shell.h) against a fake host: every command, the
// line editor, long lines, escape sequences, the output cap and back-pressure.
#include "shell.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace keel::link {
namespace {

struct FakeHost final : ShellHost {
  struct Comp {
    std::string name;
    uint8_t state;
    uint32_t restarts, mem;
    uint16_t cpu;
  };
  std::vector<Comp> comps{{"serial", 1, 0, 128, 3}, {"net", 1, 2, 512, 125}, {"app", 3, 7, 64, 1000}};
  std::vector<std::string> lines;
  std::vector<std::string> restarted;
  RestartResult restart_result = RestartResult::Started;
  bool tunnel_ok = true;
  bool trace = false;
  bool trace_ok = true;
  uint8_t hash[32];
  FakeHost() {
    for (int i = 0; i < 32; ++i) hash[i] = uint8_t(i * 17);
    for (int i = 0; i < 50; ++i) lines.push_back("[app] line " + std::to_string(i));
  }
  size_t component_count() override { return comps.size(); }
  bool component(size_t i, ShellComponent& out) override {
    if (i >= comps.size()) return false;
    out = {comps[i].name, comps[i].state, comps[i].restarts, comps[i].mem, comps[i].cpu};
    return true;
  }
  RestartResult restart(std::string_view c) override {
    restarted.emplace_back(c);
    return restart_result;
  }
  void recent_lines(size_t n, LineSink& sink) override {
    const size_t from = n < lines.size() ? lines.size() - n : 0;
    for (size_t i = from; i < lines.size(); ++i) sink.line(lines[i]);
  }
  bool tunnel(ShellTunnel& t) override {
    if (!tunnel_ok) return false;
    t.state = 2;
    t.rx_bytes = 1234;
    t.tx_bytes = 5678;
    t.handshakes = 3;
    t.since_handshake_s = 12;
    t.dropped = 1;
    t.endpoint_ipv4 = (10u << 24) | (0u << 16) | (2u << 8) | 2u;
    t.endpoint_port = 51820;
    return true;
  }
  bool set_trace(bool on, bool& was) override {
    if (!trace_ok) return false;
    was = trace;
    trace = on;
    return true;
  }
  void info(ShellInfo& i) override {
    i.device = "demo";
    i.release = "r42";
    i.manifest_hash = hash;
    i.keel_version = "keel 0.12";
    i.uptime_ms = 93784005;  // 1 d 02:03:04
    i.fleet_connected = true;
    i.trace_on = trace;
  }
};

// The console stream: takes up to `room` bytes per call when limited.
struct Sink final : ShellOutput {
  std::string got;
  bool limited = false;
  size_t room = 0;
  size_t write(const uint8_t* d, size_t n) override {
    if (limited) n = n < room ? n : room;
    if (limited) room -= n;
    got.append(reinterpret_cast<const char*>(d), n);
    return n;
  }
};

struct ShellTest : ::testing::Test {
  FakeHost host;
  Shell shell{host};
  Sink out;
  size_t type(std::string_view s) {
    return shell.input(std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size()), out);
  }
  // The output of one command line (echo and prompt included).
  std::string run(std::string_view line) {
    out.got.clear();
    std::string s(line);
    s += "\r";
    EXPECT_EQ(type(s), s.size());
    return out.got;
  }
  std::string result(std::string_view line) {  // without the echo and the prompt
    std::string g = run(line);
    const std::string echo = std::string(line) + "\r\n";
    EXPECT_EQ(g.substr(0, echo.size()), echo);
    EXPECT_EQ(g.substr(g.size() - 6), "keel> ");
    return g.substr(echo.size(), g.size() - echo.size() - 6);
  }
};

TEST_F(ShellTest, GreetsWithThePrompt) {
  shell.start(out);
  EXPECT_NE(out.got.find("Keel shell"), std::string::npos);
  EXPECT_EQ(out.got.substr(out.got.size() - 6), "keel> ");
}

TEST_F(ShellTest, Help) {
  const std::string r = result("help");
  for (const char* c : {"help", "status", "components", "log [N]", "restart <component>", "net", "trace on|off",
                        "version", "uptime"})
    EXPECT_NE(r.find(c), std::string::npos) << c;
  EXPECT_EQ(result("help me"), "error: 'help' takes no arguments\r\n");
}

TEST_F(ShellTest, EveryOutputLineEndsInCrLf) {
  for (const char* cmd : {"help", "status", "components", "log", "net", "version", "uptime", "trace on", "bogus"}) {
    const std::string r = result(cmd);
    ASSERT_FALSE(r.empty()) << cmd;
    EXPECT_EQ(r.substr(r.size() - 2), "\r\n") << cmd;
    for (size_t p = r.find('\n'); p != std::string::npos; p = r.find('\n', p + 1)) EXPECT_EQ(r[p - 1], '\r') << cmd;
  }
}

TEST_F(ShellTest, Status) {
  const std::string r = result("status");
  EXPECT_NE(r.find("device      demo\r\n"), std::string::npos) << r;
  EXPECT_NE(r.find("release     r42\r\n"), std::string::npos);
  EXPECT_NE(r.find("uptime      1d 02:03:04\r\n"), std::string::npos);
  EXPECT_NE(r.find("fleet       connected\r\n"), std::string::npos);
  EXPECT_NE(r.find("tunnel      up\r\n"), std::string::npos);
  EXPECT_NE(r.find("trace       off\r\n"), std::string::npos);
  EXPECT_NE(r.find("components  3: 2 running, 0 restarting, 1 failed, 0 stopped\r\n"), std::string::npos);
  host.tunnel_ok = false;
  EXPECT_NE(result("status").find("tunnel      no answer\r\n"), std::string::npos);
}

TEST_F(ShellTest, Components) {
  const std::string r = result("components");
  EXPECT_EQ(r.substr(0, 4), "NAME");
  EXPECT_NE(r.find("serial"), std::string::npos);
  EXPECT_EQ(r.substr(0, r.find("\r\n")),
            "NAME                              STATE         RESTARTS        MEMORY      CPU");
  EXPECT_NE(r.find("\r\nnet                               running              2       512 KiB    12.5%\r\n"),
            std::string::npos)
      << r;
  EXPECT_NE(r.find("\r\napp                               failed               7        64 KiB   100.0%\r\n"),
            std::string::npos)
      << r;
  EXPECT_NE(r.find("0.3%"), std::string::npos);
}

TEST_F(ShellTest, ComponentNamesCannotDriveTheTerminal) {
  host.comps.push_back({"evil\x1b[2J\x07", 1, 0, 0, 0});
  const std::string r = result("components");
  EXPECT_EQ(r.find('\x1b'), std::string::npos);
  EXPECT_EQ(r.find('\x07'), std::string::npos);
  EXPECT_NE(r.find("evil?[2J?"), std::string::npos);
}

TEST_F(ShellTest, Log) {
  std::string r = result("log");
  EXPECT_EQ(r.find("[app] line 29\r\n"), std::string::npos);
  EXPECT_NE(r.find("[app] line 30\r\n"), std::string::npos);
  EXPECT_NE(r.find("[app] line 49\r\n"), std::string::npos);
  r = result("log 3");
  EXPECT_EQ(r, "[app] line 47\r\n[app] line 48\r\n[app] line 49\r\n");
  EXPECT_EQ(result("log 200").find("[app] line 0\r\n"), 0u);
  for (const char* bad : {"log 0", "log 201", "log x", "log -1", "log 99999", "log 1 2"})
    EXPECT_EQ(result(bad), "error: usage: log [N], N from 1 to 200\r\n") << bad;
  host.lines = {"[x] bell\x07 and \x1b]0;title\x07 and \xc3\xa9"};
  EXPECT_EQ(result("log 1"), "[x] bell? and ?]0;title? and ??\r\n");
}

TEST_F(ShellTest, Restart) {
  EXPECT_EQ(result("restart net"), "restarting net\r\n");
  ASSERT_EQ(host.restarted.size(), 1u);
  EXPECT_EQ(host.restarted[0], "net");
  EXPECT_EQ(result("restart nope"), "error: unknown component 'nope' (try components)\r\n");
  EXPECT_EQ(result("restart ne"), "error: unknown component 'ne' (try components)\r\n");
  EXPECT_EQ(host.restarted.size(), 1u);  // unknown names never reach the host
  EXPECT_EQ(result("restart"), "error: usage: restart <component>\r\n");
  EXPECT_EQ(result("restart net app"), "error: usage: restart <component>\r\n");
  host.restart_result = RestartResult::Denied;
  EXPECT_EQ(result("restart app"), "error: restart of 'app' denied (the link has no control grant)\r\n");
  host.restart_result = RestartResult::Failed;
  EXPECT_EQ(result("restart app"), "error: restart of 'app' failed\r\n");
  host.restart_result = RestartResult::Unknown;
  EXPECT_EQ(result("restart app"), "error: unknown component 'app' (try components)\r\n");
}

TEST_F(ShellTest, Net) {
  EXPECT_EQ(result("net"),
            "tunnel      up\r\nendpoint    10.0.2.2:51820\r\nhandshakes  3 (last 12 s ago)\r\n"
            "rx          1234 bytes\r\ntx          5678 bytes\r\ndropped     1 inner packets\r\n");
  host.tunnel_ok = false;
  EXPECT_EQ(result("net"), "error: the tunnel does not answer\r\n");
}

TEST_F(ShellTest, Trace) {
  EXPECT_EQ(result("trace on"), "trace on (was off)\r\n");
  EXPECT_TRUE(host.trace);
  EXPECT_EQ(result("trace on"), "trace on (was on)\r\n");
  EXPECT_EQ(result("trace off"), "trace off (was on)\r\n");
  EXPECT_FALSE(host.trace);
  EXPECT_EQ(result("trace"), "error: usage: trace on|off\r\n");
  EXPECT_EQ(result("trace maybe"), "error: usage: trace on|off\r\n");
  host.trace_ok = false;
  EXPECT_EQ(result("trace on"), "error: tracing could not be switched\r\n");
}

TEST_F(ShellTest, VersionAndUptime) {
  const std::string v = result("version");
  EXPECT_EQ(v.find("keel 0.12\r\nrelease     r42\r\nmanifest    001122334455"), 0u) << v;
  EXPECT_EQ(result("uptime"), "up 1d 02:03:04\r\n");
}

TEST_F(ShellTest, UnknownCommandAndBlankLines) {
  EXPECT_EQ(result("reboot"), "error: unknown command 'reboot' (try help)\r\n");
  EXPECT_EQ(result("load app.elf"), "error: unknown command 'load' (try help)\r\n");
  EXPECT_EQ(result(""), "");
  EXPECT_EQ(result("   "), "");
  EXPECT_EQ(result("  uptime  "), "up 1d 02:03:04\r\n");
}

TEST_F(ShellTest, BackspaceAndDelete) {
  out.got.clear();
  type("uptx\x7f");
  EXPECT_EQ(out.got, "uptx\b \b");
  type("imf\bf\be\r");
  EXPECT_NE(out.got.find("up 1d 02:03:04\r\n"), std::string::npos);
  out.got.clear();
  type("\x7f\x7f\x08");  // on an empty line: nothing
  EXPECT_EQ(out.got, "");
}

TEST_F(ShellTest, CtrlCDropsAndCtrlUClears) {
  out.got.clear();
  type("restart net\x03");
  EXPECT_EQ(out.got, "restart net^C\r\nkeel> ");
  EXPECT_TRUE(host.restarted.empty());
  out.got.clear();
  type("restart net\x15uptime\r");
  EXPECT_TRUE(host.restarted.empty());
  EXPECT_NE(out.got.find("\r\x1b[Kkeel> uptime\r\nup 1d"), std::string::npos);
}

TEST_F(ShellTest, CrLfAndLfAreOneEnter) {
  out.got.clear();
  type("uptime\r\nuptime\nuptime\r");
  size_t n = 0;
  for (size_t p = out.got.find("up 1d"); p != std::string::npos; p = out.got.find("up 1d", p + 1)) ++n;
  EXPECT_EQ(n, 3u);
  // No empty command (an extra prompt) from the LF after CR.
  size_t prompts = 0;
  for (size_t p = out.got.find("keel> "); p != std::string::npos; p = out.got.find("keel> ", p + 1)) ++prompts;
  EXPECT_EQ(prompts, 3u);
}

TEST_F(ShellTest, OtherControlBytesAreIgnored) {
  out.got.clear();
  type(std::string("up\x01\x02\x04\t\x0c\x00time\r", 13));
  EXPECT_NE(out.got.find("up 1d 02:03:04"), std::string::npos) << out.got;
  EXPECT_EQ(out.got.find('\t'), std::string::npos);
}

TEST_F(ShellTest, EscapeSequencesAreSwallowed) {
  out.got.clear();
  // Cursor keys (CSI and SS3), a function key with parameters, an OSC reply ended by BEL and by
  // ST, a two-byte escape, and a non-ASCII byte.
  type("up\x1b[A\x1b[1;5C\x1bOB\x1b[15~ti\x1b]11;rgb:0000/0000/0000\x07\x1b]0;x\x1b\\\x1b" "7me\xc3\xa9\r");
  EXPECT_NE(out.got.find("uptime\r\nup 1d 02:03:04"), std::string::npos) << out.got;
  EXPECT_EQ(out.got.find("\x1b[A"), std::string::npos);
  // An unterminated CSI is given up after 32 bytes; Ctrl-C inside one still works.
  out.got.clear();
  type("\x1b[" + std::string(40, '1') + "\x15uptime\r");
  EXPECT_NE(out.got.find("up 1d"), std::string::npos);
  out.got.clear();
  type("restart net\x1b[1\x03");
  EXPECT_EQ(out.got, "restart net^C\r\nkeel> ");
  // An endless OSC ends after 128 bytes.
  out.got.clear();
  type("\x1b]" + std::string(300, 'x') + "\x15uptime\r");
  EXPECT_NE(out.got.find("uptime\r\nup 1d"), std::string::npos);
}

TEST_F(ShellTest, LongLinesAreRefused) {
  std::string line(256, 'a');
  EXPECT_EQ(result(line), "error: unknown command '" + line + "' (try help)\r\n");
  out.got.clear();
  std::string longer(1000, 'b');
  type(longer + "\r");
  EXPECT_EQ(out.got, std::string(256, 'b') + "\r\nerror: line too long\r\nkeel> ");
  // Backspace does not make a refused line acceptable; Ctrl-U starts again.
  out.got.clear();
  type(std::string(300, 'c') + "\x7f\x7f\x15uptime\r");
  EXPECT_NE(out.got.find("up 1d"), std::string::npos);
  EXPECT_EQ(out.got.find("line too long"), std::string::npos);
}

TEST_F(ShellTest, OutputIsCutAtTheBudget) {
  host.lines.clear();
  for (int i = 0; i < 200; ++i) host.lines.push_back("[app] " + std::string(100, 'x') + std::to_string(i));
  const std::string r = result("log 200");
  EXPECT_NE(r.find("... (output cut: more than 4096 bytes)\r\n"), std::string::npos);
  EXPECT_LE(r.size(), Shell::kOutputBudget + 64);
  // The next command is not affected.
  EXPECT_EQ(result("uptime"), "up 1d 02:03:04\r\n");
}

TEST_F(ShellTest, BlockedConsoleHoldsBackInput) {
  out.limited = true;
  out.room = 0;
  const std::string cmds = "log 200\rlog 200\rlog 200\r";
  host.lines.assign(200, "[app] " + std::string(100, 'y'));
  // Nothing can be written: the first command runs (its output is buffered), the second waits.
  size_t took = type(cmds);
  EXPECT_LT(took, cmds.size());
  EXPECT_LE(shell.pending(), Shell::kBufferSize);
  EXPECT_GT(shell.pending(), Shell::kOutputBudget);
  const size_t again = type(std::string_view(cmds).substr(took));
  EXPECT_EQ(again, 0u);  // still blocked: nothing consumed, nothing lost
  // The stream drains bit by bit; all commands eventually run, and every byte arrives once.
  size_t guard = 0;
  while (took < cmds.size() && guard++ < 1000) {
    out.room = 700;
    took += type(std::string_view(cmds).substr(took));
  }
  EXPECT_EQ(took, cmds.size());
  out.room = 1 << 20;
  EXPECT_TRUE(shell.flush(out));
  EXPECT_EQ(shell.pending(), 0u);
  size_t cuts = 0;
  for (size_t p = out.got.find("output cut"); p != std::string::npos; p = out.got.find("output cut", p + 1)) ++cuts;
  EXPECT_EQ(cuts, 3u);
  EXPECT_EQ(out.got.substr(out.got.size() - 6), "keel> ");
}

TEST_F(ShellTest, TypingIntoASlowConsoleLosesNothing) {
  out.limited = true;
  out.room = 0;
  std::string typed(200, 'z');
  size_t took = 0, guard = 0;
  while (took < typed.size() && guard++ < 1000) {
    took += type(std::string_view(typed).substr(took));
    out.room = 5;
  }
  out.room = 1 << 20;
  EXPECT_TRUE(shell.flush(out));
  EXPECT_EQ(out.got, typed);
}

}  // namespace
}  // namespace keel::link
