#!/usr/bin/env bash
# bench-serve.sh measures rpmirror serve's /mirrorlist and /metalink under
# wrk on loopback while syncs and probes run, and prints a Markdown section
# for docs/benchmarks.md.
#
# Set-up, all on 127.0.0.1: nginx serves an origin and two mirrors that
# rpmirror writes; the origin flips between the two revisions of the demo
# repository every 2 seconds, so the daemon keeps syncing (it syncs when a
# probe sees a new revision, and on an "@every 2s" schedule); it probes
# five mirrors every second. wrk then hammers each list for DURATION,
# with mirror selection fully on: a GeoIP database (benchgen geoip: the
# 10.N.0.0/16 networks in eight countries), wrk as the trusted proxy
# sending X-Forwarded-For from 1024 client addresses in those countries,
# mirrors with countries, weights and networks (one of them private), and
# ?repo=&arch= names from a vars template. Each route is measured three
# ways (the 1024 clients with requests built once, the same built per
# request, and wrk with no script), each with the CPU per request of the
# daemon and of wrk; the daemon's CPU profile of the first says where its
# time goes. The daemon serves HTTP with fasthttp, /mirrorlist and
# /metalink natively (server.Handler.ServeFast); the ceiling rows are
# benchgen fixed on the same server and limits (server.NewServer).
#
#   scripts/bench-serve.sh [DURATION]     # default 10s; needs nginx and wrk
#   PROFILE=DIR scripts/bench-serve.sh    # keeps DIR/cpu-ROUTE.pprof
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
"$benchgen" geoip "$work/country.mmdb"
# Three probe-only mirrors, each a URL of its own for a written mirror's files.
ln -s "$work/www/m1" "$work/www/p1"; ln -s "$work/www/m2" "$work/www/p2"; ln -s "$work/www/m1" "$work/www/p3"

cat > "$work/mirrors.yaml" <<EOF
state_dir: $work/state
listen: 127.0.0.1:$api
probe_interval: 1s
probe_timeout: 1s
geoip_db: $work/country.mmdb
trusted_proxies: [127.0.0.1]
repos:
  - name: demo-\${basearch}
    mirrorlist_name: demo
    arch: \${basearch}
    vars:
      basearch: [x86_64]
    origin: http://127.0.0.1:$web/origin/
    schedule: "@every 2s"
    gpgkeys: [$root/testdata/keys/test.pub]
    prune_after: 0s
    mirrors:
      - name: m1
        path: $work/www/m1
        url: http://127.0.0.1:$web/m1/
        country: DE
        weight: 200
      - name: m2
        path: $work/www/m2
        url: http://127.0.0.1:$web/m2/
        country: US
      - name: p1
        url: http://127.0.0.1:$web/p1/
        country: DE
        networks: [10.8.0.0/16]
        private: true
      - name: p2
        url: http://127.0.0.1:$web/p2/
        country: JP
        networks: [10.3.0.0/16, 10.11.0.0/16]
      - name: p3
        url: http://127.0.0.1:$web/p3/
        country: FR
        weight: 50
EOF
# wrk plays the trusted proxy: every request comes from one of 1024
# client addresses spread over the GeoIP database's countries (and the
# networks above). wrk runs on the same two cores as the daemon, so what
# its Lua script costs is taken from the daemon: xff.lua builds the 1024
# requests once per thread, in init, and request() only hands out the
# next one (a table lookup, as cheap as a scripted request gets);
# xff-format.lua is the naive script, building every request with
# wrk.format (string formatting in Lua), measured to show that cost.
cat > "$work/xff.lua" <<'LUA'
local reqs = {}
local n = 0
init = function(args)
  for i = 0, 1023 do
    wrk.headers["X-Forwarded-For"] = "10." .. (i % 256) .. "." .. math.floor(i / 256) .. ".7"
    reqs[i + 1] = wrk.format(nil)
  end
end
request = function()
  n = n % 1024 + 1
  return reqs[n]
end
LUA
cat > "$work/xff-format.lua" <<'LUA'
local addrs = {}
for i = 0, 1023 do addrs[i + 1] = "10." .. (i % 256) .. "." .. math.floor(i / 256) .. ".7" end
local n = 0
request = function()
  n = n % #addrs + 1
  wrk.headers["X-Forwarded-For"] = addrs[n]
  return wrk.format(nil)
end
LUA
# The daemon is profiled (Go's profiler, 100 samples a second) during
# each run with xff.lua, to say where its CPU goes; PROFILE=DIR keeps
# the profiles as DIR/cpu-ROUTE.pprof for go tool pprof.
profiles=${PROFILE:-$work/profiles}
mkdir -p "$profiles"
dport=$(port)
"$rpmirror" serve -c "$work/mirrors.yaml" -debug-listen "127.0.0.1:$dport" 2>"$work/serve.log" &
daemon_pid=$!
bench_pids+=($daemon_pid)
# cpu_ticks prints the CPU time the daemon used so far, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$daemon_pid/stat"; }
hz=$(getconf CLK_TCK)

for _ in $(seq 100); do
  if curl -fs "http://127.0.0.1:$api/mirrorlist?repo=demo&arch=x86_64" 2>/dev/null | grep -q "/m1/"; then break; fi
  sleep 0.1
done
curl -fs "http://127.0.0.1:$api/mirrorlist?repo=demo&arch=x86_64" | grep -q "/m1/" || { echo "bench-serve: the daemon never listed a mirror" >&2; cat "$work/serve.log" >&2; exit 1; }

# The origin publishes a new revision every 2 seconds.
( while :; do sleep 2; ln -sfn "$work/v2" "$work/www/origin.new" && mv -T "$work/www/origin.new" "$work/www/origin"
              sleep 2; ln -sfn "$work/v1" "$work/www/origin.new" && mv -T "$work/www/origin.new" "$work/www/origin"; done ) &
bench_pids+=($!)

# A short run first, not measured: the daemon's first syncs, heap growth
# and goroutines for 64 connections should not count against the first
# route measured.
wrk -t2 -c64 -d2s -s "$work/xff.lua" "http://127.0.0.1:$api/mirrorlist?repo=demo&arch=x86_64" >/dev/null

runs() { curl -fs "http://127.0.0.1:$api/metrics" | awk '/^rpmirror_sync_runs_total/ {s += $2} END {print s+0}'; }
probes() { curl -fs "http://127.0.0.1:$api/metrics" | awk '/^rpmirror_mirror_last_probe_timestamp_seconds/ {n++} END {print n+0}'; }

secs=$(echo "$duration" | awk '/m$/ {print int($0 * 60); next} {print int($0)}')  # wrk durations: 10s, 1m
echo "### rpmirror serve under load"
echo
echo "wrk, 2 threads, 64 connections, $duration per run, on the same 2-core machine as the daemon and nginx;"
echo "meanwhile the origin changes revision every 2 s, the daemon syncs two written mirrors and probes five mirrors every second."
echo "Mirror selection is on: a GeoIP database, five mirrors with countries, weights and networks (one private), and"
echo "wrk as the trusted proxy. Clients:"
echo
echo "- **1024 via X-Forwarded-For** (the figure for the goal): every request carries one of 1024 client addresses that"
echo "  the GeoIP database places in eight countries, so each answer is ordered for its client (network, country,"
echo "  continent, then a weighted shuffle). The requests are built once by the Lua script's init; per request wrk"
echo "  only picks the next."
echo "- **1024, built per request**: the same, with a script that builds every request with wrk.format, as wrk's"
echo "  examples do; the difference is wrk's own CPU, taken from the daemon on the shared cores."
echo "- **wrk alone, no script**: one client, 127.0.0.1 (no country, no network); the answer is still shuffled."
echo "- **ceiling**: not the daemon but \`benchgen fixed\`, the daemon's HTTP server (fasthttp with the daemon's limits,"
echo "  server.NewServer) answering every request with one answer of the route captured from the daemon, as cheaply as"
echo "  the server allows; wrk sends it the 1024 clients' requests. What the two cores give to that server here, with wrk beside it."
echo
echo "CPU per request is the process's user + system time over the requests of the run (the daemon's includes its"
echo "syncs and probes)."
echo
echo "| route | clients | requests/s | p50 latency | p99 latency | daemon CPU per request | wrk CPU per request | syncs during the run |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
for route in mirrorlist metalink; do
  for mode in xff format none; do
    case $mode in
      xff) script=(-s "$work/xff.lua"); what="1024 via X-Forwarded-For" ;;
      format) script=(-s "$work/xff-format.lua"); what="1024, built per request" ;;
      none) script=(); what="wrk alone, no script" ;;
    esac
    prof=
    if [ $mode = xff ]; then
      curl -fs -o "$profiles/cpu-$route.pprof" "http://127.0.0.1:$dport/debug/pprof/profile?seconds=$(( secs > 2 ? secs - 1 : 1 ))" &
      prof=$!
    fi
    before=$(runs)
    ticks=$(cpu_ticks)
    out=$(/usr/bin/time -f 'wrk-cpu %U %S' wrk -t2 -c64 -d"$duration" --latency "${script[@]}" "http://127.0.0.1:$api/$route?repo=demo&arch=x86_64" 2>&1)
    after=$(runs)
    ticks=$(( $(cpu_ticks) - ticks ))
    if [ -n "$prof" ]; then wait "$prof"; fi
    rps=$(echo "$out" | awk '/^Requests\/sec/ {printf "%d", $2}')
    p50=$(echo "$out" | awk '$1=="50%" {print $2}')
    p99=$(echo "$out" | awk '$1=="99%" {print $2}')
    errors=$(echo "$out" | awk '/Non-2xx|Socket errors/ {print}')
    [ -n "$errors" ] && echo "bench-serve: $route ($what): $errors" >&2
    total=$(echo "$out" | awk '/requests in/ {print $1}')
    cpu=$(awk -v t="$ticks" -v hz="$hz" -v n="$total" 'BEGIN {printf "%.1f µs", n ? t / hz / n * 1e6 : 0}')
    wcpu=$(echo "$out" | awk -v n="$total" '$1=="wrk-cpu" {printf "%.1f µs", n ? ($2 + $3) / n * 1e6 : 0}')
    echo "| /$route | $what | $rps | $p50 | $p99 | $cpu | $wcpu | $((after - before)) |"
    if [ $mode = xff ]; then
      result "serve_${route}_rps" "$rps"
      result "serve_${route}_cpu_us" "${cpu% µs}"
      result "serve_${route}_wrk_cpu_us" "${wcpu% µs}"
    fi
  done
done
# The ceiling: what this machine's two cores give when the server does
# nothing but answer. benchgen fixed serves one captured answer of the
# route through server.NewServer (the daemon's fasthttp server and limits),
# with no selection, syncs, probes, metrics or log; wrk runs as above,
# with the xff.lua requests.
for route in mirrorlist metalink; do
  curl -fs -o "$work/fixed-$route" "http://127.0.0.1:$api/$route?repo=demo&arch=x86_64"
  type=text/plain; [ $route = metalink ] && type=application/metalink+xml
  fport=$(port)
  "$benchgen" fixed -listen "127.0.0.1:$fport" -type "$type" "$work/fixed-$route" >/dev/null &
  fixed_pid=$!
  bench_pids+=($fixed_pid)
  for _ in $(seq 50); do curl -fs -o /dev/null "http://127.0.0.1:$fport/" && break; sleep 0.1; done
  fticks=$(awk '{print $14 + $15}' "/proc/$fixed_pid/stat")
  out=$(/usr/bin/time -f 'wrk-cpu %U %S' wrk -t2 -c64 -d"$duration" --latency -s "$work/xff.lua" "http://127.0.0.1:$fport/$route?repo=demo&arch=x86_64" 2>&1)
  fticks=$(( $(awk '{print $14 + $15}' "/proc/$fixed_pid/stat") - fticks ))
  kill "$fixed_pid"; wait "$fixed_pid" 2>/dev/null || true
  rps=$(echo "$out" | awk '/^Requests\/sec/ {printf "%d", $2}')
  p50=$(echo "$out" | awk '$1=="50%" {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  total=$(echo "$out" | awk '/requests in/ {print $1}')
  cpu=$(awk -v t="$fticks" -v hz="$hz" -v n="$total" 'BEGIN {printf "%.1f µs", n ? t / hz / n * 1e6 : 0}')
  wcpu=$(echo "$out" | awk -v n="$total" '$1=="wrk-cpu" {printf "%.1f µs", n ? ($2 + $3) / n * 1e6 : 0}')
  echo "| /$route | ceiling: the daemon's server (fasthttp) answering a fixed body, no daemon | $rps | $p50 | $p99 | $cpu | $wcpu | |"
  result "serve_${route}_ceiling_rps" "$rps"
  result "serve_${route}_ceiling_cpu_us" "${cpu% µs}"
done
echo
echo "Where the daemon's CPU goes during the runs with 1024 clients, as shares of its CPU profile's samples"
echo "(\`go tool pprof -top -cum\`): serving HTTP is fasthttp's connection loop (reading requests, writing answers), the"
echo "handler excluded; socket reads and writes are the system calls within it; the mirror handler is everything"
echo "the route does (client address, GeoIP, ordering, the body, counters); the rest is syncs, probes and timers."
echo
echo "| route | serving HTTP (fasthttp and the kernel) | of which socket reads and writes | the mirror handler | Go scheduler and GC | the rest |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
# cum RE PROFILE: the summed cum% of the profile's functions matching RE.
cum() { go tool pprof -top -cum -nodecount=100000 "$2" 2>/dev/null | awk -v re="$1" '$6 ~ re {sub("%", "", $5); s += $5} END {printf "%.1f", s}'; }
for route in mirrorlist metalink; do
  f=$profiles/cpu-$route.pprof
  [ -s "$f" ] || { echo "bench-serve: no profile of /$route" >&2; continue; }
  handler=$(cum '^github.com/rpmirror/rpmirror/server\.\(\*mirrorRoutes\)\.fastList$' "$f")
  http=$(cum '^github.com/valyala/fasthttp\.\(\*Server\)\.serveConn$' "$f")
  # The server's sockets are read and written with raw system calls
  # (server.rawRead, rawWrite); syscall.read and write are the rest's.
  sys=$(cum '^(syscall\.(read|write)|github.com/rpmirror/rpmirror/server\.raw(Read|Write))$' "$f")
  rt=$(cum '^runtime\.(schedule|gcBgMarkWorker|bgsweep|bgscavenge)$' "$f")
  awk -v r="$route" -v h="$handler" -v n="$http" -v s="$sys" -v g="$rt" 'BEGIN {
    printf "| /%s | %.0f%% | %.0f%% | %.0f%% | %.0f%% | %.0f%% |\n", r, n - h, s, h, g, 100 - n - g }'
done
echo
echo "Command: \`scripts/bench-serve.sh $duration\` (\`wrk -t2 -c64 -d$duration --latency [-s SCRIPT] URL\`; PROFILE=DIR keeps the profiles)."
