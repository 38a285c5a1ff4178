#!/usr/bin/env bash
# Device import benchmark: POST /deployments/{id}/devices/import of a CSV file with 10,000 rows,
# then one with 100,000 rows (into the same, then non-empty, deployment), on this machine's
# loopback. BACKEND (3rd argument): sqlite (studio mode, the default) or postgres (fleet mode on a
# throwaway PostgreSQL cluster in /tmp, unix socket only, removed at the end; the requests
# authenticate with a write API token). Prints BENCH lines ("fleet.pg." for postgres):
#   fleet.import_10k.ms    wall time of the 10,000-row import (request sent → 201 received)
#   fleet.import_100k.ms   the same for 100,000 rows
#   fleet.import_rss.mb    peak resident memory of keel-fleet (VmHWM) afterwards
set -euo pipefail
FLEET=$1; SEED=$2; BACKEND=${3:-sqlite}
DIR=$(mktemp -d /tmp/keel-fleet-import-XXXXXX)
. "$(dirname "$0")/store.sh"
trap bench_cleanup EXIT
bench_store import.sh "$BACKEND"
eval "$("$SEED" "$DIR" 0 "${SEED_ARGS[@]}")"
AUTH=()
[[ -n ${TOKEN:-} ]] && AUTH=(-H "Authorization: Bearer $TOKEN")
"$FLEET" "${MODE_ARGS[@]}" --data-dir "$DIR" --port 0 --print-port --threads 2 --log-level warn >"$DIR/port" 2>"$DIR/log" &
PID=$!
for _ in $(seq 100); do [[ -s $DIR/port ]] && break; sleep 0.1; done
PORT=$(head -1 "$DIR/port")
BASE=http://127.0.0.1:$PORT/api/v1
# Files of distinct random keys (as `wg pubkey` prints them), names unique across both files.
python3 - "$DIR" <<'PY'
import base64, os, sys
for n, prefix in ((10000, "a"), (100000, "b")):
    with open(f"{sys.argv[1]}/devices-{n}.csv", "w") as f:
        f.write("name,tunnel_public_key,identity_public_key\n")
        for i in range(n):
            f.write(f"{prefix}-{i:06d},{base64.b64encode(os.urandom(32)).decode()},{base64.b64encode(os.urandom(32)).decode()}\n")
PY
for n in 10000 100000; do
  t=$(curl -s "${AUTH[@]}" -o "$DIR/out.json" -w '%{http_code} %{time_total}' -H 'Content-Type: text/csv' \
        --data-binary @"$DIR/devices-$n.csv" "$BASE/deployments/$DEPLOYMENT/devices/import")
  code=${t% *}
  [[ $code == 201 ]] || { echo "import.sh: $n rows answered $code: $(head -c 300 "$DIR/out.json")" >&2; exit 1; }
  count=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["count"])' "$DIR/out.json")
  [[ $count == "$n" ]] || { echo "import.sh: imported $count devices, expected $n" >&2; exit 1; }
  echo "BENCH $PREFIX.import_$((n / 1000))k.ms $(python3 -c "print(round(${t#* } * 1000, 1))") ms"
done
rss=$(awk '/^VmHWM/ {print $2}' "/proc/$PID/status")
echo "BENCH $PREFIX.import_rss.mb $(python3 -c "print(round($rss / 1024, 1))") MB"
