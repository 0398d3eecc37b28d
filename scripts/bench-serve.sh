#!/usr/bin/env bash
# bench-serve.sh measures rpmirror serve's /mirrorlist and /metalink under
# wrk on loopback while syncs and probes run, and prints a Markdown section
# for docs/benchmarks.md.
#
# Set-up, all on 127.0.0.1: nginx serves an origin and two mirrors that
# rpmirror writes; the origin flips between the two revisions of the demo
# repository every 2 seconds, so the daemon keeps syncing (it syncs when a
# probe sees a new revision, and on an "@every 2s" schedule); it probes
# five mirrors every second. wrk then hammers each list for DURATION.
#
#   scripts/bench-serve.sh [DURATION]     # default 10s; needs nginx and wrk
set -euo pipefail
duration=${1:-10s}
for tool in nginx wrk go curl python3; do
  command -v $tool >/dev/null || { echo "bench-serve: $tool is not installed" >&2; exit 1; }
done
. "$(dirname "$0")/bench-lib.sh"
api=$(port)
mkdir -p "$work/www"
cp -r "$root/internal/demo/origin/v1" "$work/v1"
cp -r "$root/internal/demo/origin/v2" "$work/v2"
ln -s "$work/v1" "$work/www/origin"

start_nginx

cat > "$work/mirrors.yaml" <<EOF
state_dir: $work/state
listen: 127.0.0.1:$api
probe_interval: 1s
probe_timeout: 1s
repos:
  - name: demo
    origin: http://127.0.0.1:$web/origin/
    schedule: "@every 2s"
    gpgkeys: [$root/testdata/keys/test.pub]
    prune_after: 0s
    mirrors:
      - name: m1
        path: $work/www/m1
        url: http://127.0.0.1:$web/m1/
      - name: m2
        path: $work/www/m2
        url: http://127.0.0.1:$web/m2/
      - name: p1
        url: http://127.0.0.1:$web/m1/
      - name: p2
        url: http://127.0.0.1:$web/m2/
      - name: p3
        url: http://127.0.0.1:$web/m1/
EOF
"$rpmirror" serve -c "$work/mirrors.yaml" 2>"$work/serve.log" &
bench_pids+=($!)

for _ in $(seq 100); do
  if curl -fs "http://127.0.0.1:$api/mirrorlist?repo=demo" 2>/dev/null | grep -q "/m1/"; then break; fi
  sleep 0.1
done
curl -fs "http://127.0.0.1:$api/mirrorlist?repo=demo" | grep -q "/m1/" || { echo "bench-serve: the daemon never listed a mirror" >&2; cat "$work/serve.log" >&2; exit 1; }

# The origin publishes a new revision every 2 seconds.
( while :; do sleep 2; ln -sfn "$work/v2" "$work/www/origin.new" && mv -T "$work/www/origin.new" "$work/www/origin"
              sleep 2; ln -sfn "$work/v1" "$work/www/origin.new" && mv -T "$work/www/origin.new" "$work/www/origin"; done ) &
bench_pids+=($!)

runs() { curl -fs "http://127.0.0.1:$api/metrics" | awk '/^rpmirror_sync_runs_total/ {s += $2} END {print s+0}'; }
probes() { curl -fs "http://127.0.0.1:$api/metrics" | awk '/^rpmirror_mirror_last_probe_timestamp_seconds/ {n++} END {print n+0}'; }

echo "### rpmirror serve under load"
echo
echo "wrk, 2 threads, 64 connections, $duration per route, on the same 2-core machine as the daemon and nginx;"
echo "meanwhile the origin changes revision every 2 s, the daemon syncs two written mirrors and probes five mirrors every second."
echo
echo "| route | requests/s | p50 latency | p99 latency | syncs during the run |"
echo "| --- | ---: | ---: | ---: | ---: |"
for route in mirrorlist metalink; do
  before=$(runs)
  out=$(wrk -t2 -c64 -d"$duration" --latency "http://127.0.0.1:$api/$route?repo=demo")
  after=$(runs)
  rps=$(echo "$out" | awk '/^Requests\/sec/ {printf "%d", $2}')
  p50=$(echo "$out" | awk '$1=="50%" {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  errors=$(echo "$out" | awk '/Non-2xx|Socket errors/ {print}')
  [ -n "$errors" ] && echo "bench-serve: $route: $errors" >&2
  echo "| /$route | $rps | $p50 | $p99 | $((after - before)) |"
  result "serve_${route}_rps" "$rps"
done
echo
echo "Command: \`scripts/bench-serve.sh $duration\` (\`wrk -t2 -c64 -d$duration --latency URL\`)."
