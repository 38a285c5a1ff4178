#!/usr/bin/env bash
# Fleet benchmarks with N devices (default 100,000) in one deployment, on this machine's loopback
# only. BACKEND (4th argument): sqlite (studio mode, the default) or postgres (fleet mode on a
# throwaway PostgreSQL cluster this script creates in /tmp, unix socket only, and removes; the
# load then authenticates with an API token like the CLI). Prints BENCH lines, with
# "fleet.pg." instead of "fleet." for postgres:
#   fleet.device_list.p99_ms   p99 latency of a 50-device page at ~1,000 req/s (wrk, 60 connections, each paced at one request per 55 ms + latency)
#   fleet.device_list.rate_rps the request rate actually achieved during that run
#   fleet.device_list.max_rps  the rate the server sustains unpaced (8 connections, 10 s)
#   fleet.rss_100k.mb          peak resident memory of keel-fleet (VmHWM) after the load
#   fleet.rollout_start_100k.ms  wall time of POST .../rollouts (targets for all devices + first batch)
set -euo pipefail
FLEET=$1; SEED=$2; N=${3:-100000}; BACKEND=${4:-sqlite}
HERE=$(cd "$(dirname "$0")" && pwd)
command -v wrk >/dev/null || { echo "run.sh: wrk is missing (scripts/setup.sh installs it)" >&2; exit 1; }
DIR=$(mktemp -d /tmp/keel-fleet-bench-XXXXXX)
. "$(dirname "$0")/store.sh"
trap bench_cleanup EXIT
bench_store run.sh "$BACKEND"
eval "$("$SEED" "$DIR" "$N" "${SEED_ARGS[@]}")"
AUTH=()
[[ -n ${TOKEN:-} ]] && AUTH=(-H "Authorization: Bearer $TOKEN")
"$FLEET" "${MODE_ARGS[@]}" --data-dir "$DIR" --port 0 --print-port --threads 2 --log-level warn >"$DIR/port" 2>"$DIR/log" &
PID=$!
for _ in $(seq 100); do [[ -s $DIR/port ]] && break; sleep 0.1; done
PORT=$(head -1 "$DIR/port")
BASE=http://127.0.0.1:$PORT/api/v1
# Warm up, then the paced load: 20 s, bounded.
curl -sf "${AUTH[@]}" "$BASE/devices?deployment_id=$DEPLOYMENT&limit=50" >/dev/null
export FLEET_DEPLOYMENT=$DEPLOYMENT FLEET_DEVICES=$N FLEET_PACE_MS=55 FLEET_TOKEN=${TOKEN:-}
out=$(wrk -t2 -c60 -d20s --timeout 5s -s "$HERE/device_page.lua" "http://127.0.0.1:$PORT/")
p99=$(awk '/^FLEETBENCH p99_ms/ {print $3}' <<<"$out")
rate=$(awk '/^FLEETBENCH rate/ {print $3}' <<<"$out")
errors=$(awk '/^FLEETBENCH errors/ {print $3}' <<<"$out")
[[ $errors == 0 ]] || { echo "run.sh: $errors failed requests during the load" >&2; exit 1; }
echo "BENCH $PREFIX.device_list.p99_ms $p99 ms"
echo "BENCH $PREFIX.device_list.rate_rps $rate req/s"
# Saturation: the same requests unpaced from 8 connections for 10 s (what the server sustains).
out=$(FLEET_PACE_MS=0 wrk -t2 -c8 -d10s --timeout 5s -s "$HERE/device_page.lua" "http://127.0.0.1:$PORT/")
errors=$(awk '/^FLEETBENCH errors/ {print $3}' <<<"$out")
[[ $errors == 0 ]] || { echo "run.sh: $errors failed requests during the saturation run" >&2; exit 1; }
echo "BENCH $PREFIX.device_list.max_rps $(awk '/^FLEETBENCH rate/ {print $3}' <<<"$out") req/s"
# Upload the release, then time the rollout start over all N devices.
rid=$(curl -sf "${AUTH[@]}" -H 'Content-Type: application/octet-stream' --data-binary @"$DIR/bench-release.keelrel" \
      "$BASE/projects/$PROJECT/releases" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
t=$(curl -sf "${AUTH[@]}" -o "$DIR/rollout.json" -w '%{time_total}' -H 'Content-Type: application/json' \
      -d "{\"release_id\": $rid, \"batches\": [10, 50, 100]}" "$BASE/deployments/$DEPLOYMENT/rollouts")
total=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["total"])' "$DIR/rollout.json")
[[ $total == "$N" ]] || { echo "run.sh: rollout covers $total devices, expected $N" >&2; exit 1; }
echo "BENCH $PREFIX.rollout_start_100k.ms $(python3 -c "print(round($t * 1000, 1))") ms"
rss=$(awk '/^VmHWM/ {print $2}' "/proc/$PID/status")
echo "BENCH $PREFIX.rss_100k.mb $(python3 -c "print(round($rss / 1024, 1))") MB"
