// The Keel shell of the link agent (shell.h; docs/device-services.md "Link agent: shell and
// proxy"). A line editor, nine commands, bounded input and output; it never loads code.
#include "shell.h"

#include <cstring>

namespace keel::link {
namespace {

constexpr std::string_view kCutMarker = "\r\n... (output cut: more than 4096 bytes)\r\n";
constexpr std::string_view kGreeting = "Keel shell: observe and restart (help lists the commands)\r\n";

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

// The first word of s (and s is left with the rest, trimmed).
std::string_view word(std::string_view& s) {
  s = trim(s);
  const size_t sp = s.find(' ');
  const std::string_view w = s.substr(0, sp);
  s = sp == std::string_view::npos ? std::string_view{} : trim(s.substr(sp));
  return w;
}

const char* state_name(uint8_t s) {
  switch (s) {
    case 0: return "stopped";
    case 1: return "running";
    case 2: return "restarting";
    case 3: return "failed";
    default: return "unknown";
  }
}

const char* tunnel_state(uint32_t s) {
  switch (s) {
    case 0: return "not enrolled";
    case 1: return "handshaking";
    case 2: return "up";
    default: return "unknown";
  }
}

}  // namespace

// Mirrored lines into the command's output.
class ShellLines final : public LineSink {
 public:
  explicit ShellLines(Shell& s) : s_(s) {}
  void line(std::string_view text) override {
    s_.out_str(text, 0);
    s_.out("\r\n");
  }

 private:
  Shell& s_;
};

void Shell::put(std::string_view s) {
  if (start_ + len_ + s.size() > kBufferSize && start_ > 0) {
    std::memmove(buf_, buf_ + start_, len_);
    start_ = 0;
  }
  const size_t n = s.size() <= kBufferSize - start_ - len_ ? s.size() : kBufferSize - start_ - len_;
  std::memcpy(buf_ + start_ + len_, s.data(), n);
  len_ += n;
}

void Shell::out(std::string_view s) {
  if (cut_) return;
  if (used_ + s.size() > kOutputBudget) {
    put(s.substr(0, kOutputBudget - used_));
    used_ = kOutputBudget;
    cut_ = true;
    put(kCutMarker);
    return;
  }
  used_ += s.size();
  put(s);
}

void Shell::out_u64(uint64_t v, int width) {
  char d[20];
  int n = 0;
  do {
    d[n++] = char('0' + v % 10);
    v /= 10;
  } while (v != 0);
  char s[40];
  int k = 0;
  for (int i = n; i < width && k < 20; ++i) s[k++] = ' ';
  for (int i = n - 1; i >= 0; --i) s[k++] = d[i];
  out(std::string_view(s, size_t(k)));
}

// Text from the system (component names, console lines): control bytes and non-ASCII bytes are
// shown as '?', so that nothing a component prints can drive the operator's terminal. Padded with
// spaces to `width`.
void Shell::out_str(std::string_view s, int width) {
  char chunk[64];
  size_t k = 0;
  auto push = [&](char ch) {
    if (k == sizeof chunk) {
      out(std::string_view(chunk, k));
      k = 0;
    }
    chunk[k++] = ch;
  };
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    push((c < 0x20 || c >= 0x7f) ? '?' : ch);
  }
  for (int i = int(s.size()); i < width; ++i) push(' ');
  if (k > 0) out(std::string_view(chunk, k));
}

void Shell::out_duration_ms(uint64_t ms) {
  const uint64_t s = ms / 1000;
  out_u64(s / 86400);
  out("d ");
  const uint64_t parts[3] = {s / 3600 % 24, s / 60 % 60, s % 60};
  for (int i = 0; i < 3; ++i) {
    if (parts[i] < 10) out("0");
    out_u64(parts[i]);
    if (i < 2) out(":");
  }
}

void Shell::start(ShellOutput& o) {
  put(kGreeting);
  put(kPrompt);
  (void)flush(o);
}

bool Shell::flush(ShellOutput& o) {
  while (len_ > 0) {
    const size_t n = o.write(buf_ + start_, len_);
    if (n == 0) break;
    const size_t took = n < len_ ? n : len_;
    start_ += took;
    len_ -= took;
  }
  if (len_ == 0) start_ = 0;
  return len_ == 0;
}

size_t Shell::input(std::span<const uint8_t> in, ShellOutput& o) {
  size_t i = 0;
  (void)flush(o);
  while (i < in.size()) {
    const uint8_t c = in[i];
    const bool enter = esc_ == Esc::None && (c == '\r' || c == '\n');
    // Room for what this byte may write: a command's whole output, or an echo / a fresh prompt.
    const size_t need = enter ? kOutputBudget + 256 : 32;
    if (kBufferSize - len_ < need) {
      (void)flush(o);
      if (kBufferSize - len_ < need) break;  // the console is blocked: the rest waits
    }
    feed(c);
    ++i;
  }
  (void)flush(o);
  return i;
}

void Shell::feed(uint8_t c) {
  // Escape sequences from the terminal (cursor keys, function keys, mouse, OSC replies) are
  // swallowed whole; a control byte inside one ends it and is handled as usual.
  switch (esc_) {
    case Esc::Esc:
      esc_len_ = 0;
      esc_ = c == '[' ? Esc::Csi : c == 'O' ? Esc::Ss3 : c == ']' ? Esc::Osc : Esc::None;
      if (c < 0x20 && c != 0x1b) break;
      return;
    case Esc::Csi:
      if (c >= 0x40 && c <= 0x7e) {
        esc_ = Esc::None;
        return;
      }
      if (c >= 0x20 && c <= 0x3f && ++esc_len_ < 32) return;
      esc_ = Esc::None;
      if (c < 0x20) break;
      return;
    case Esc::Ss3:
      esc_ = Esc::None;
      if (c < 0x20) break;
      return;
    case Esc::Osc:
      if (c == 0x07) {
        esc_ = Esc::None;
        return;
      }
      if (c == 0x1b) {
        esc_ = Esc::OscEsc;
        return;
      }
      if (c >= 0x20 && ++esc_len_ < 128) return;
      esc_ = Esc::None;
      if (c < 0x20) break;
      return;
    case Esc::OscEsc:
      esc_ = Esc::None;
      if (c < 0x20) break;
      return;
    case Esc::None:
      break;
  }
  if (c == '\n' && last_cr_) {  // CR LF: one Enter
    last_cr_ = false;
    return;
  }
  last_cr_ = c == '\r';
  switch (c) {
    case '\r':
    case '\n':
      enter();
      return;
    case 0x1b:
      esc_ = Esc::Esc;
      return;
    case 0x7f:
    case 0x08:  // DEL, backspace
      if (!too_long_ && line_len_ > 0) {
        --line_len_;
        put("\b \b");
      }
      return;
    case 0x03:  // Ctrl-C: the line is dropped
      put("^C\r\n");
      line_len_ = 0;
      too_long_ = false;
      put(kPrompt);
      return;
    case 0x15:  // Ctrl-U: the line is cleared
      put("\r\x1b[K");
      put(kPrompt);
      line_len_ = 0;
      too_long_ = false;
      return;
    default:
      break;
  }
  if (c < 0x20 || c >= 0x7f) return;  // other control bytes, non-ASCII: ignored
  if (too_long_) return;
  if (line_len_ == kMaxLine) {
    too_long_ = true;
    return;
  }
  line_[line_len_++] = char(c);
  const char e = char(c);
  put(std::string_view(&e, 1));
}

void Shell::enter() {
  put("\r\n");
  used_ = 0;
  cut_ = false;
  if (too_long_)
    out("error: line too long\r\n");
  else
    run(std::string_view(line_, line_len_));
  line_len_ = 0;
  too_long_ = false;
  put(kPrompt);
}

void Shell::run(std::string_view line) {
  std::string_view rest = line;
  const std::string_view cmd = word(rest);
  if (cmd.empty()) return;
  auto no_args = [&](const char* name) {
    if (rest.empty()) return true;
    out("error: '");
    out(name);
    out("' takes no arguments\r\n");
    return false;
  };
  if (cmd == "help") {
    if (no_args("help")) cmd_help();
  } else if (cmd == "status") {
    if (no_args("status")) cmd_status();
  } else if (cmd == "components") {
    if (no_args("components")) cmd_components();
  } else if (cmd == "log") {
    cmd_log(rest);
  } else if (cmd == "restart") {
    cmd_restart(rest);
  } else if (cmd == "net") {
    if (no_args("net")) cmd_net();
  } else if (cmd == "trace") {
    cmd_trace(rest);
  } else if (cmd == "version") {
    if (no_args("version")) cmd_version();
  } else if (cmd == "uptime") {
    if (no_args("uptime")) cmd_uptime();
  } else {
    out("error: unknown command '");
    out_str(cmd, 0);
    out("' (try help)\r\n");
  }
}

void Shell::cmd_help() {
  out("commands (observe and restart; nothing here loads code):\r\n"
      "  help                 this list\r\n"
      "  status               the device, its link to Fleet and its components at a glance\r\n"
      "  components           the components: state, restarts, memory, CPU\r\n"
      "  log [N]              the last N console lines (default 20, at most 200)\r\n"
      "  restart <component>  restart one component through the supervisor\r\n"
      "  net                  the tunnel to Fleet\r\n"
      "  trace on|off         switch tracing (the events go to Fleet)\r\n"
      "  version              the release and the Keel version\r\n"
      "  uptime               time since boot\r\n"
      "keys: backspace, Ctrl-C drops the line, Ctrl-U clears it\r\n");
}

void Shell::cmd_status() {
  ShellInfo info;
  host_.info(info);
  out("device      ");
  out_str(info.device, 0);
  out("\r\nrelease     ");
  out_str(info.release.empty() ? std::string_view("(none)") : info.release, 0);
  out("\r\nuptime      ");
  out_duration_ms(info.uptime_ms);
  out("\r\nfleet       ");
  out(info.fleet_connected ? "connected" : "not connected");
  out("\r\ntunnel      ");
  ShellTunnel t;
  if (host_.tunnel(t))
    out(tunnel_state(t.state));
  else
    out("no answer");
  out("\r\ntrace       ");
  out(info.trace_on ? "on" : "off");
  const size_t n = host_.component_count();
  size_t by_state[5] = {};
  for (size_t i = 0; i < n; ++i) {
    ShellComponent c;
    if (host_.component(i, c)) ++by_state[c.state < 4 ? c.state : 4];
  }
  out("\r\ncomponents  ");
  out_u64(n);
  out(": ");
  out_u64(by_state[1]);
  out(" running, ");
  out_u64(by_state[2]);
  out(" restarting, ");
  out_u64(by_state[3]);
  out(" failed, ");
  out_u64(by_state[0]);
  out(" stopped\r\n");
}

void Shell::cmd_components() {
  out("NAME                              STATE         RESTARTS        MEMORY      CPU\r\n");
  const size_t n = host_.component_count();
  for (size_t i = 0; i < n; ++i) {
    ShellComponent c;
    if (!host_.component(i, c)) continue;
    out_str(c.name, 34);
    out_str(state_name(c.state), 12);
    out_u64(c.restarts, 10);
    out_u64(c.memory_kib, 10);
    out(" KiB");
    const uint16_t cpu = c.cpu_permille > 1000 ? 1000 : c.cpu_permille;
    out_u64(cpu / 10, 6);
    out(".");
    out_u64(cpu % 10);
    out("%\r\n");
  }
}

void Shell::cmd_log(std::string_view arg) {
  size_t n = kDefaultLog;
  if (!arg.empty()) {
    n = 0;
    bool ok = arg.size() <= 4;
    for (const char c : arg) {
      if (c < '0' || c > '9') ok = false;
      n = n * 10 + size_t(c - '0');
    }
    if (!ok || n < 1 || n > kMaxLog) {
      out("error: usage: log [N], N from 1 to 200\r\n");
      return;
    }
  }
  ShellLines sink(*this);
  host_.recent_lines(n, sink);
}

void Shell::cmd_restart(std::string_view arg) {
  std::string_view rest = arg;
  const std::string_view name = word(rest);
  if (name.empty() || !rest.empty()) {
    out("error: usage: restart <component>\r\n");
    return;
  }
  bool known = false;
  const size_t n = host_.component_count();
  for (size_t i = 0; i < n && !known; ++i) {
    ShellComponent c;
    known = host_.component(i, c) && c.name == name;
  }
  RestartResult r = known ? host_.restart(name) : RestartResult::Unknown;
  switch (r) {
    case RestartResult::Started:
      out("restarting ");
      out_str(name, 0);
      out("\r\n");
      return;
    case RestartResult::Unknown:
      out("error: unknown component '");
      out_str(name, 0);
      out("' (try components)\r\n");
      return;
    case RestartResult::Denied:
      out("error: restart of '");
      out_str(name, 0);
      out("' denied (the link has no control grant)\r\n");
      return;
    case RestartResult::Failed:
      out("error: restart of '");
      out_str(name, 0);
      out("' failed\r\n");
      return;
  }
}

void Shell::cmd_net() {
  ShellTunnel t;
  if (!host_.tunnel(t)) {
    out("error: the tunnel does not answer\r\n");
    return;
  }
  out("tunnel      ");
  out(tunnel_state(t.state));
  out("\r\nendpoint    ");
  for (int i = 3; i >= 0; --i) {
    out_u64((t.endpoint_ipv4 >> (8 * i)) & 0xff);
    if (i > 0) out(".");
  }
  out(":");
  out_u64(t.endpoint_port);
  out("\r\nhandshakes  ");
  out_u64(t.handshakes);
  if (t.since_handshake_s == ~0ull) {
    out(" (none yet)");
  } else {
    out(" (last ");
    out_u64(t.since_handshake_s);
    out(" s ago)");
  }
  out("\r\nrx          ");
  out_u64(t.rx_bytes);
  out(" bytes\r\ntx          ");
  out_u64(t.tx_bytes);
  out(" bytes\r\ndropped     ");
  out_u64(t.dropped);
  out(" inner packets\r\n");
}

void Shell::cmd_trace(std::string_view arg) {
  if (arg != "on" && arg != "off") {
    out("error: usage: trace on|off\r\n");
    return;
  }
  bool was = false;
  if (!host_.set_trace(arg == "on", was)) {
    out("error: tracing could not be switched\r\n");
    return;
  }
  out("trace ");
  out(arg);
  out(was ? " (was on)\r\n" : " (was off)\r\n");
}

void Shell::cmd_version() {
  ShellInfo info;
  host_.info(info);
  out_str(info.keel_version, 0);
  out("\r\nrelease     ");
  out_str(info.release.empty() ? std::string_view("(none)") : info.release, 0);
  out("\r\nmanifest    ");
  if (info.manifest_hash == nullptr) {
    out("(unknown)");
  } else {
    static constexpr char kHex[] = "0123456789abcdef";
    char hex[64];
    for (int i = 0; i < 32; ++i) {
      hex[2 * i] = kHex[info.manifest_hash[i] >> 4];
      hex[2 * i + 1] = kHex[info.manifest_hash[i] & 15];
    }
    out(std::string_view(hex, 64));
  }
  out("\r\n");
}

void Shell::cmd_uptime() {
  ShellInfo info;
  host_.info(info);
  out("up ");
  out_duration_ms(info.uptime_ms);
  out("\r\n");
}

}  // namespace keel::link
