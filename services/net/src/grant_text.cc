#include "keel/net/grant_text.h"

namespace keel::net {

namespace {

struct Cursor {
  std::string_view s;
  std::size_t i = 0;
  bool done() const { return i >= s.size(); }
  char peek() const { return done() ? '\0' : s[i]; }
  bool eat(char c) {
    if (peek() != c) return false;
    ++i;
    return true;
  }
};

bool number(Cursor& c, std::uint32_t max, std::uint32_t* out) {
  std::uint32_t v = 0;
  std::size_t n = 0;
  while (c.peek() >= '0' && c.peek() <= '9') {
    v = v * 10 + static_cast<std::uint32_t>(c.peek() - '0');
    if (v > max || ++n > 10) return false;
    ++c.i;
  }
  *out = v;
  return n > 0;
}

bool port_range(Cursor& c, PortRange* r) {
  if (c.eat('*')) return *r = PortRange::all(), true;
  std::uint32_t a = 0, b = 0;
  if (!number(c, 65535, &a) || a == 0) return false;
  b = a;
  if (c.eat('-') && (!number(c, 65535, &b) || b < a)) return false;
  *r = PortRange{static_cast<std::uint16_t>(a), static_cast<std::uint16_t>(b)};
  return true;
}

bool address(Cursor& c, Ipv4Addr* a) {
  std::uint32_t v = 0;
  for (int k = 0; k < 4; ++k) {
    std::uint32_t octet;
    if (!number(c, 255, &octet)) return false;
    v = v << 8 | octet;
    if (k < 3 && !c.eat('.')) return false;
  }
  a->value = v;
  return true;
}

// A list item ends at ',' ';' or the end.
bool at_item_end(const Cursor& c) { return c.done() || c.peek() == ',' || c.peek() == ';'; }

Err<GrantTextError> fail(std::size_t at, const char* what) { return Err{GrantTextError{at, what}}; }

}  // namespace

Result<void, GrantTextError> parse_grant(std::string_view text, Grant* out) {
  Cursor c{text};
  bool seen_ports = false, seen_eph = false, seen_remote = false;
  out->local_count = 0;
  out->remote_count = 0;
  out->ephemeral = PortRange{};
  while (!c.done()) {
    const std::size_t key_at = c.i;
    std::size_t eq = text.find('=', c.i);
    if (eq == std::string_view::npos) return fail(key_at, "expected key=value");
    const std::string_view key = text.substr(c.i, eq - c.i);
    c.i = eq + 1;
    if (key == "ports") {
      if (seen_ports) return Err{GrantTextError{key_at, "ports given twice"}};
      seen_ports = true;
      do {
        const std::size_t at = c.i;
        if (out->local_count == kMaxLocalRanges) return fail(at, "more local port ranges than the limit (8)");
        PortRange r;
        if (!port_range(c, &r) || !at_item_end(c)) return fail(at, "bad port or port range (1..65535, a-b, *)");
        out->local[out->local_count++] = r;
      } while (c.eat(','));
    } else if (key == "ephemeral") {
      if (seen_eph) return Err{GrantTextError{key_at, "ephemeral given twice"}};
      seen_eph = true;
      const std::size_t at = c.i;
      if (!port_range(c, &out->ephemeral) || !at_item_end(c) || c.peek() == ',')
        return fail(at, "bad ephemeral port range (a-b)");
    } else if (key == "remote") {
      if (seen_remote) return Err{GrantTextError{key_at, "remote given twice"}};
      seen_remote = true;
      do {
        const std::size_t at = c.i;
        if (out->remote_count == kMaxRemoteRules) return fail(at, "more remote rules than the limit (8)");
        RemoteRule r;
        std::uint32_t prefix = 32;
        if (!address(c, &r.addr)) return fail(at, "bad remote address (a.b.c.d/prefix:ports)");
        if (c.eat('/') && !number(c, 32, &prefix)) return fail(at, "bad prefix length (0..32)");
        r.prefix = static_cast<std::uint8_t>(prefix);
        if (!c.eat(':') || !port_range(c, &r.ports) || !at_item_end(c))
          return fail(at, "bad remote ports (:port, :a-b or :*)");
        out->remote[out->remote_count++] = r;
      } while (c.eat(','));
    } else {
      return Err{GrantTextError{key_at, "unknown key (ports, ephemeral, remote)"}};
    }
    if (!c.done() && !c.eat(';')) return fail(c.i, "expected ';' between parts");
  }
  return {};
}

namespace {

struct Writer {
  char* buf;
  std::size_t cap;
  std::size_t n = 0;
  bool overflow = false;
  void put(char ch) {
    if (n + 1 >= cap) {
      overflow = true;
      return;
    }
    buf[n++] = ch;
  }
  void str(const char* s) {
    while (*s != '\0') put(*s++);
  }
  void num(std::uint32_t v) {
    char tmp[10];
    int k = 0;
    do tmp[k++] = static_cast<char>('0' + v % 10), v /= 10;
    while (v != 0);
    while (k > 0) put(tmp[--k]);
  }
  void range(const PortRange& r) {
    if (r.first == 1 && r.last == 65535) return put('*');
    num(r.first);
    if (r.last != r.first) put('-'), num(r.last);
  }
};

}  // namespace

std::size_t format_grant(const Grant& g, char* buf, std::size_t cap) {
  if (cap == 0) return 0;
  Writer w{buf, cap};
  bool any = false;
  if (g.local_count > 0) {
    w.str("ports=");
    for (std::uint8_t i = 0; i < g.local_count; ++i) {
      if (i) w.put(',');
      w.range(g.local[i]);
    }
    any = true;
  }
  if (!g.ephemeral.empty()) {
    if (any) w.put(';');
    w.str("ephemeral=");
    w.num(g.ephemeral.first);
    w.put('-');
    w.num(g.ephemeral.last);
    any = true;
  }
  if (g.remote_count > 0) {
    if (any) w.put(';');
    w.str("remote=");
    for (std::uint8_t i = 0; i < g.remote_count; ++i) {
      const RemoteRule& r = g.remote[i];
      if (i) w.put(',');
      for (int k = 3; k >= 0; --k) {
        w.num((r.addr.value >> (8 * k)) & 0xff);
        if (k) w.put('.');
      }
      w.put('/');
      w.num(r.prefix);
      w.put(':');
      w.range(r.ports);
    }
  }
  if (w.overflow) {
    buf[0] = '\0';
    return 0;
  }
  buf[w.n] = '\0';
  return w.n;
}

}  // namespace keel::net
