// keel/sys/fatal.hh — how a service or driver component ends on a condition it cannot serve past
// (a missing grant, a region too small, a device that refuses to start): one "fatal: what: detail"
// line on the console, then exit; its supervisor restarts it. Device code only (libkeel).
#pragma once

#include "keel/keel.h"

namespace keel::sys {

[[noreturn]] inline void fail(const char* what, const char* detail = "") {
  keel_logf("fatal: %s%s%s", what, detail[0] != '\0' ? ": " : "", detail);
  keel_flush();
  keel_exit(1);
}

}  // namespace keel::sys
