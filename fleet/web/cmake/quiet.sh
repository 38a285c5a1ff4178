#!/usr/bin/env bash
# quiet.sh LOG CMD...: runs CMD with its output in LOG; prints LOG only if CMD fails, so a normal
# build stays silent and a failing npm step still shows why.
set -uo pipefail
log=$1; shift
mkdir -p "$(dirname "$log")"
rc=0
"$@" >"$log" 2>&1 || rc=$?
((rc == 0)) && exit 0
echo "fleet/web: '$*' failed (exit $rc); its output ($log):" >&2
grep -v 'Unknown user config "nodedir"' "$log" | tail -60 >&2
exit $rc
