#!/usr/bin/env bash
# Fleet benchmarks with N devices (default 100,000) in one deployment, studio mode (SQLite), on
# this machine's loopback only. Prints BENCH lines:
#   fleet.device_list.p99_ms   p99 latency of a 50-device page at ~1,000 req/s (wrk, 60 connections, each paced at one request per 55 ms + latency)
#   fleet.device_list.rate_rps the request rate actually achieved during that run
#   fleet.rss_100k.mb          peak resident memory of keel-fleet (VmHWM) after the load
#   fleet.rollout_start_100k.ms  wall time of POST .../rollouts (targets for all devices + first batch)
set -euo pipefail
FLEET=$1; SEED=$2; N=${3:-100000}
HERE=$(cd "$(dirname "$0")" && pwd)
command -v wrk >/dev/null || { echo "run.sh: wrk is missing (scripts/setup.sh installs it)" >&2; exit 1; }
DIR=$(mktemp -d /tmp/keel-fleet-bench-XXXXXX)
PID=""
cleanup() { [[ -n $PID ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; rm -rf "$DIR"; }
trap cleanup EXIT
eval "$("$SEED" "$DIR" "$N")"
"$FLEET" --data-dir "$DIR" --port 0 --print-port --threads 2 --log-level warn >"$DIR/port" 2>"$DIR/log" &
PID=$!
for _ in $(seq 100); do [[ -s $DIR/port ]] && break; sleep 0.1; done
PORT=$(head -1 "$DIR/port")
BASE=http://127.0.0.1:$PORT/api/v1
# Warm up, then the paced load: 20 s, bounded.
curl -sf "$BASE/devices?deployment_id=$DEPLOYMENT&limit=50" >/dev/null
export FLEET_DEPLOYMENT=$DEPLOYMENT FLEET_DEVICES=$N FLEET_PACE_MS=55
out=$(wrk -t2 -c60 -d20s --timeout 5s -s "$HERE/device_page.lua" "http://127.0.0.1:$PORT/")
p99=$(awk '/^FLEETBENCH p99_ms/ {print $3}' <<<"$out")
rate=$(awk '/^FLEETBENCH rate/ {print $3}' <<<"$out")
errors=$(awk '/^FLEETBENCH errors/ {print $3}' <<<"$out")
[[ $errors == 0 ]] || { echo "run.sh: $errors failed requests during the load" >&2; exit 1; }
echo "BENCH fleet.device_list.p99_ms $p99 ms"
echo "BENCH fleet.device_list.rate_rps $rate req/s"
# Upload the release, then time the rollout start over all N devices.
rid=$(curl -sf -H 'Content-Type: application/octet-stream' --data-binary @"$DIR/bench-release.keelrel" \
      "$BASE/projects/$PROJECT/releases" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
t=$(curl -sf -o "$DIR/rollout.json" -w '%{time_total}' -H 'Content-Type: application/json' \
      -d "{\"release_id\": $rid, \"batches\": [10, 50, 100]}" "$BASE/deployments/$DEPLOYMENT/rollouts")
total=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["total"])' "$DIR/rollout.json")
[[ $total == "$N" ]] || { echo "run.sh: rollout covers $total devices, expected $N" >&2; exit 1; }
echo "BENCH fleet.rollout_start_100k.ms $(python3 -c "print(round($t * 1000, 1))") ms"
rss=$(awk '/^VmHWM/ {print $2}' "/proc/$PID/status")
echo "BENCH fleet.rss_100k.mb $(python3 -c "print(round($rss / 1024, 1))") MB"
