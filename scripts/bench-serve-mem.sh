#!/usr/bin/env bash
# bench-serve-mem.sh measures the memory of rpmirror serve with 100
# repositories of 5 mirrors each (2 written, 3 probe-only), probed every
# 5 s and synced every 10 s, all on loopback, and prints a Markdown section
# for docs/benchmarks.md (issue item 7): peak RSS (VmHWM) after DURATION.
#
#   scripts/bench-serve-mem.sh      # DURATION=30; QUICK=1: 10 s
set -euo pipefail
for tool in nginx go curl python3; do
  command -v $tool >/dev/null || { echo "bench-serve-mem: $tool is not installed" >&2; exit 1; }
done
. "$(dirname "$0")/bench-lib.sh"
repos=${MEM_REPOS:-100}
if [ "$quick" = 1 ]; then dur=${DURATION:-10}; else dur=${DURATION:-30}; fi
start_nginx
api=$(port)
base=http://127.0.0.1:$web
cp -r "$root/internal/demo/origin/v1" "$work/demo"
mkdir -p "$work/www/o" "$work/www/m"
{
  echo "state_dir: $work/state"
  echo "listen: 127.0.0.1:$api"
  echo "probe_interval: 5s"
  echo "probe_timeout: 5s"
  echo "repos:"
  for i in $(seq -w 1 "$repos"); do
    ln -s "$work/demo" "$work/www/o/r$i"
    cat <<YAML
  - name: r$i
    origin: $base/o/r$i/
    schedule: "@every 10s"
    gpgkeys: [$root/testdata/keys/test.pub]
    mirrors:
      - {name: w1, path: $work/www/m/r$i-w1, url: $base/m/r$i-w1/}
      - {name: w2, path: $work/www/m/r$i-w2, url: $base/m/r$i-w2/}
      - {name: p1, url: $base/m/r$i-w1/}
      - {name: p2, url: $base/m/r$i-w2/}
      - {name: p3, url: $base/m/r$i-w1/, priority: 200}
YAML
  done
} > "$work/mirrors.yaml"
"$rpmirror" sync -c "$work/mirrors.yaml" >/dev/null 2>&1 || { log "initial sync failed"; exit 1; }
"$rpmirror" serve -c "$work/mirrors.yaml" 2>"$work/serve.log" &
pid=$!
bench_pids+=("$pid")
ok=0
for _ in $(seq 100); do
  if curl -fs "http://127.0.0.1:$api/mirrorlist?repo=r001" 2>/dev/null | grep -q "/m/r001-w1/"; then ok=1; break; fi
  sleep 0.1
done
[ $ok = 1 ] || { log "the daemon never listed a mirror"; tail "$work/serve.log" >&2; exit 1; }
samples=()
for _ in $(seq "$dur"); do
  sleep 1
  samples+=("$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")")
done
hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
listed=0
for i in $(seq -w 1 "$repos"); do
  curl -fs "http://127.0.0.1:$api/mirrorlist?repo=r$i" | grep -q "/m/r$i-w" && listed=$((listed + 1))
done
runs_total=$(curl -fs "http://127.0.0.1:$api/metrics" | awk '/^rpmirror_sync_runs_total/ {s += $2} END {print s+0}')
kill "$pid"; wait "$pid" 2>/dev/null || true
result serve_mem_hwm_mb "$(awk -v k="$hwm" 'BEGIN {printf "%.0f", k / 1024}')"
echo "### Memory of rpmirror serve: $repos repositories × 5 mirrors"
echo
echo "$repos repositories (each the 6-package demo origin, signatures checked), each with 2 written mirrors and 3 probe-only ones"
echo "(500 mirrors plus $repos origins probed every 5 s; every repository on \`schedule: \"@every 10s\"\`), all served by nginx on"
echo "127.0.0.1, mirrors synced once beforehand. Memory of the daemon process after ${dur} s, from /proc/PID/status."
echo
echo "| peak RSS (VmHWM) | RSS at the end | median RSS sampled each second | syncs run | repos whose mirrorlist lists a mirror |"
echo "| ---: | ---: | ---: | ---: | ---: |"
echo "| $(awk -v k="$hwm" 'BEGIN {printf "%.0f MB", k / 1024}') | $(awk -v k="$rss" 'BEGIN {printf "%.0f MB", k / 1024}') | $(awk -v k="$(median "${samples[@]}")" 'BEGIN {printf "%.0f MB", k / 1024}') | $runs_total | $listed / $repos |"
