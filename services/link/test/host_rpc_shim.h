// Forced into the host build of lib/keel/src/proxy.cc and its test (keel_link_proxy_client_test):
// keel_internal.h names keel::rpc::call, which keel/sys/rpc.hh defines for aarch64 only. The
// proxy client never makes such a request; this declaration only lets the header parse.
#pragma once
#include "keel/sys/rpc.hh"

namespace keel::rpc {
template <class R, class... T>
int call(T&&...);
}  // namespace keel::rpc
