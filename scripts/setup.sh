#!/usr/bin/env bash
# Installs every Debian and npm package the build and the tests need.
# Idempotent and quiet: does nothing when everything is already there.
set -euo pipefail

PKGS=(
  build-essential cmake ninja-build pkg-config git python3
  g++-aarch64-linux-gnu binutils-aarch64-linux-gnu picolibc-aarch64-linux-gnu
  libc6-dev-arm64-cross  # static glibc for the Linux reference guest's udp_echo (bench/net)
  qemu-system-arm
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev
  libsodium-dev libb2-dev libssl-dev nettle-dev
  libboost1.81-dev nlohmann-json3-dev libtomlplusplus-dev libcli11-dev libspdlog-dev
  libsqlite3-dev libpq-dev libpqxx-dev postgresql
  wireguard-go iproute2 iputils-ping wrk
  lld  # the host trees link with it (cmake/keel_flags.cmake)
  chromium
  graphviz python3-jsonschema  # keel analyze --svg (dot); the analyze/SBOM tests' JSON Schema checks
  mosquitto mosquitto-clients  # the device link end-to-end tests (tests/link: MQTT through the proxy)
  nats-server libnats-dev  # the Fleet bus between keel-fleet and keel-gateway (fleet/bus; its tests start a nats-server)
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

# Node.js may come from another source (it ships npm itself); only install it when absent.
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)

if ((${#missing[@]})); then
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  echo "setup: installing ${#missing[@]} Debian package(s): ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >/dev/null
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
