# bench/fleet/store.sh — sourced by run.sh and import.sh: Fleet's store for a benchmark run and its
# clean-up. `bench_store NAME BACKEND DIR` sets PREFIX (BENCH line prefix), MODE_ARGS (keel-fleet's
# store options) and SEED_ARGS (the seeder's): sqlite is studio mode in DIR; postgres is fleet mode
# on a throwaway PostgreSQL cluster in /tmp (unix socket only, durable settings), removed by
# bench_cleanup. The caller keeps keel-fleet's pid in PID.
PID=""; PGDIR=""; PGBIN=""
AS_PG=()
bench_cleanup() {
  [[ -n $PID ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  if [[ -n $PGDIR ]]; then "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$PGDIR/data" -m immediate -w stop >/dev/null 2>&1 || true; rm -rf "$PGDIR"; fi
  rm -rf "$DIR"
}
bench_store() {
  local name=$1 backend=$2
  PREFIX=fleet
  MODE_ARGS=()
  SEED_ARGS=()
  if [[ $backend == postgres ]]; then
    PREFIX=fleet.pg
    PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    [[ -x $PGBIN/initdb ]] || { echo "$name: PostgreSQL server binaries are missing (package postgresql)" >&2; exit 1; }
    PGDIR=$(mktemp -d /tmp/keel-fleet-bench-pg-XXXXXX)
    # PostgreSQL refuses to run as root: the cluster belongs to the postgres user then.
    if [[ $(id -u) == 0 ]]; then chown postgres: "$PGDIR"; AS_PG=(runuser -u postgres --); fi
    local port=$((20000 + RANDOM % 30000))
    "${AS_PG[@]}" "$PGBIN/initdb" -D "$PGDIR/data" -A trust -U postgres --no-sync -E UTF8 --locale=C.UTF-8 >/dev/null
    # Durable settings (fsync, synchronous_commit on), like SQLite's synchronous=FULL in studio mode.
    "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$PGDIR/data" -w -t 60 -l "$PGDIR/log" \
      -o "-k $PGDIR -p $port -c listen_addresses=''" start >/dev/null
    local conn="host=$PGDIR port=$port user=postgres dbname=postgres"
    SEED_ARGS=("$conn")
    MODE_ARGS=(--mode fleet --database "$conn")
  elif [[ $backend != sqlite ]]; then
    echo "$name: backend must be sqlite or postgres, not '$backend'" >&2; exit 2
  fi
}
