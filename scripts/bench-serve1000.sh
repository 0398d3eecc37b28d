#!/usr/bin/env bash
# bench-serve1000.sh measures rpmirror serve at scale (issue 10): 1,000
# repositories × 10 mirrors, origins and mirrors served by nginx on
# 127.0.0.1, and prints a Markdown section for docs/benchmarks.md:
#
#   - probes keep up: at every sample of /metrics
#     (rpmirror_mirror_last_probe_timestamp_seconds, every few seconds),
#     no mirror's last probe is older than 1.5 × probe_interval (a mirror
#     not yet probed counts from the daemon's start);
#   - peak RSS (VmHWM) of the daemon over the whole run;
#   - a burst: every origin changes at once (one symlink flip to the demo
#     repository's second revision); the daemon's JSON log ("sync
#     starting" / "sync done") shows how many syncs ran at once while the
#     burst drained, against max_parallel_syncs.
#
# Each repository is the 6-package demo origin (signatures checked) with
# one written mirror (m0, which nginx also serves as m1..m9: nine
# probe-only mirrors at other URLs), synced once before the daemon starts.
#
#   scripts/bench-serve1000.sh   # REPOS=1000 PROBE_INTERVAL=30 ROUNDS=4
#   QUICK=1: REPOS=100, PROBE_INTERVAL=5, ROUNDS=3
#   PROFILE=DIR: keeps DIR/serve1000-heap.pprof and DIR/serve1000-cpu.pprof
#   (30 s of CPU during the steady phase) from the daemon's -debug-listen
set -euo pipefail
for tool in nginx go curl python3; do
  command -v $tool >/dev/null || { echo "bench-serve1000: $tool is not installed" >&2; exit 1; }
done
. "$(dirname "$0")/bench-lib.sh"
if [ "$quick" = 1 ]; then
  repos=${REPOS:-100}; interval=${PROBE_INTERVAL:-5}; rounds=${ROUNDS:-3}
else
  repos=${REPOS:-1000}; interval=${PROBE_INTERVAL:-30}; rounds=${ROUNDS:-4}
fi
mirrors=10
syncs=${MAX_PARALLEL_SYNCS:-4}
probes=${MAX_PARALLEL_PROBES:-16}
sample=$(awk -v i="$interval" 'BEGIN {s = i / 10; if (s < 0.5) s = 0.5; print s}')
revision2=$(sed -n 's|.*<revision>\(.*\)</revision>.*|\1|p' "$root/internal/demo/origin/v2/repodata/repomd.xml")

cp -r "$root/internal/demo/origin/v1" "$work/demo1"
cp -r "$root/internal/demo/origin/v2" "$work/demo2"
ln -s demo1 "$work/current"
mkdir -p "$work/www/o" "$work/mirrors"
NGINX_LOCATIONS="    location ~ ^/m[0-9]+/(.*)\$ { alias $work/mirrors/\$1; }"
start_nginx
api=$(port)
base=http://127.0.0.1:$web
{
  echo "state_dir: $work/state"
  echo "listen: 127.0.0.1:$api"
  echo "probe_interval: ${interval}s"
  echo "max_parallel_syncs: $syncs"
  echo "max_parallel_probes: $probes"
  echo "repos:"
  for i in $(seq -f '%04g' 1 "$repos"); do
    ln -s "$work/current" "$work/www/o/r$i"
    echo "  - name: r$i"
    echo "    origin: $base/o/r$i/"
    echo "    schedule: \"@every 24h\""
    echo "    gpgkeys: [$root/testdata/keys/test.pub]"
    echo "    mirrors:"
    echo "      - {name: m0, path: $work/mirrors/r$i, url: $base/m0/r$i/}"
    for j in $(seq 1 $((mirrors - 1))); do echo "      - {name: m$j, url: $base/m$j/r$i/}"; done
  done
} > "$work/mirrors.yaml"
log "serve1000: first sync of $repos repositories (untimed)"
"$rpmirror" sync --parallel 8 -c "$work/mirrors.yaml" >/dev/null 2>"$work/sync.err" || { log "initial sync failed"; tail "$work/sync.err" >&2; exit 1; }

started=$(now)
debug=()
[ -n "${PROFILE:-}" ] && { dport=$(port); debug=(-debug-listen "127.0.0.1:$dport"); mkdir -p "$PROFILE"; }
"$rpmirror" serve --log-format json "${debug[@]}" -c "$work/mirrors.yaml" 2>"$work/serve.log" &
pid=$!
bench_pids+=("$pid")
for _ in $(seq 200); do curl -fs "http://127.0.0.1:$api/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

# ended: how many syncs have ended, by the log (done, failed, skipped,
# on standby).
ended() { grep -cE '"msg":"sync (done|failed|skipped|: on standby)' "$work/serve.log" || true; }

# The sampler reads /metrics every $sample s until $work/stop appears and
# writes what it saw to $work/probes.json.
cat > "$work/sampler.py" <<'PY'
import json, os, re, sys, time, urllib.request
url, started, interval, step, stop, flip_file, out = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5], sys.argv[6], sys.argv[7]
pat = re.compile(r'^rpmirror_mirror_last_probe_timestamp_seconds\{([^}]*)\} (\S+)$')
worst = {"before": (0.0, ""), "after": (0.0, "")}
series, samples = 0, 0
while not os.path.exists(stop):
    t0 = time.time()
    try:
        body = urllib.request.urlopen(url, timeout=30).read().decode()
    except Exception as e:
        print("sampler:", e, file=sys.stderr); time.sleep(step); continue
    now = time.time()
    phase = "after" if os.path.exists(flip_file) else "before"
    n = 0
    for line in body.splitlines():
        m = pat.match(line)
        if m:
            n += 1
            age = now - max(float(m.group(2)), started)
            if age > worst[phase][0]:
                worst[phase] = (age, m.group(1))
    series, samples = max(series, n), samples + 1
    time.sleep(max(0, step - (time.time() - t0)))
json.dump({"series": series, "samples": samples,
           "worst_before": worst["before"][0], "worst_before_of": worst["before"][1],
           "worst_after": worst["after"][0], "worst_after_of": worst["after"][1]}, open(out, "w"))
PY
python3 "$work/sampler.py" "http://127.0.0.1:$api/metrics" "$started" "$interval" "$sample" "$work/stop" "$work/flipped" "$work/probes.json" &
sampler=$!
bench_pids+=("$sampler")

# The start-up round (every repository's sync, max_parallel_syncs at a
# time, all no-ops) is probed through too; it ends before the steady phase.
deadline=$(awk -v t="$(now)" -v n="$repos" 'BEGIN {printf "%.0f", t + 60 + n}')
while [ "$(ended)" -lt "$repos" ] && awk -v n="$(now)" -v d="$deadline" 'BEGIN {exit !(n < d)}'; do sleep 1; done
startup=$(awk -v a="$started" -v b="$(now)" 'BEGIN {printf "%.1f", b - a}')
log "serve1000: start-up round of $(ended) syncs done in ${startup}s"
steady=$(awk -v i="$interval" -v r="$rounds" 'BEGIN {print i * r}')
log "serve1000: $repos repos × $mirrors mirrors, probe_interval ${interval}s: watching probes for ${steady}s"
if [ -n "${PROFILE:-}" ]; then
  curl -fs -o "$PROFILE/serve1000-cpu.pprof" "http://127.0.0.1:$dport/debug/pprof/profile?seconds=30" &
  bench_pids+=($!)
fi
sleep "$steady"
[ -n "${PROFILE:-}" ] && curl -fs -o "$PROFILE/serve1000-heap.pprof" "http://127.0.0.1:$dport/debug/pprof/heap"

# The burst: every origin moves to revision 2 at once.
log "serve1000: every origin changes at once"
ln -s demo2 "$work/current.new" && mv -T "$work/current.new" "$work/current"
flipped=$(now)
touch "$work/flipped"
deadline=$(awk -v t="$flipped" -v n="$repos" -v i="$interval" 'BEGIN {printf "%.0f", t + 3 * i + n * 2}')
done_n=0
while :; do
  done_n=$(grep -c "\"msg\":\"sync done\".*\"revision\":\"$revision2\"" "$work/serve.log" || true)
  [ "$done_n" -ge "$repos" ] && break
  if awk -v n="$(now)" -v d="$deadline" 'BEGIN {exit !(n > d)}'; then log "serve1000: only $done_n of $repos repositories synced revision 2"; break; fi
  sleep 1
done
drained=$(now)
# one more probe round after the burst, still sampled
sleep "$interval"
touch "$work/stop"
wait "$sampler" || true
hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
kill "$pid"; wait "$pid" 2>/dev/null || true

# Syncs at once, from the log: every "sync starting" and "sync done" of
# the burst (after the flip), in time order.
read -r burst_n burst_most burst_avg burst_secs all_most < <(python3 - "$work/serve.log" "$flipped" <<'PY'
import json, sys
from datetime import datetime
flip = float(sys.argv[2])
ends = ("sync done", "sync failed", "sync skipped", "sync: on standby")
ev = []
for line in open(sys.argv[1]):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    msg = e.get("msg", "")
    if msg == "sync starting":
        d = 1
    elif msg.startswith(ends):
        d = -1
    else:
        continue
    t = datetime.fromisoformat(e["time"].replace("Z", "+00:00")).timestamp()
    ev.append((t, d, e.get("repo", "")))
ev.sort(key=lambda x: (x[0], x[1]))
# A sync runs from its "sync starting" to the next end message of its repo
# (a sync cancelled without one ends at the repo's next start).
running = set()
most = bmost = n = 0
area, first, last, prev = 0.0, None, None, None
for t, d, repo in ev:
    if t >= flip and prev is not None:
        area += len(running) * (t - prev)
    if d > 0:
        running.add(repo)
    else:
        running.discard(repo)
    most = max(most, len(running))
    if t >= flip:
        if first is None:
            first = t
        last, prev = t, t
        bmost = max(bmost, len(running))
        n += d > 0
secs = (last - first) if first is not None else 0
print(n, bmost, "%.2f" % (area / secs if secs > 0 else 0), "%.1f" % secs, most)
PY
)
read -r series samples worst_b worst_a worst_of < <(python3 -c '
import json, sys
p = json.load(open(sys.argv[1]))
w = p["worst_before_of"] if p["worst_before"] >= p["worst_after"] else p["worst_after_of"]
print(p["series"], p["samples"], "%.1f" % p["worst_before"], "%.1f" % p["worst_after"], w.replace(" ", "") or "-")' "$work/probes.json")
worst=$(awk -v a="$worst_b" -v b="$worst_a" 'BEGIN {print (a > b ? a : b)}')
ratio_probe=$(awk -v w="$worst" -v i="$interval" 'BEGIN {printf "%.2f", w / i}')
hwm_mb=$(awk -v k="$hwm" 'BEGIN {printf "%.0f", k / 1024}')
result serve1000_repos "$repos"; result serve1000_mirrors "$((repos * mirrors))"
result serve1000_probe_ratio "$ratio_probe"; result serve1000_hwm_mb "$hwm_mb"
result serve1000_max_parallel_syncs "$syncs"; result serve1000_burst_most "$burst_most"
result serve1000_burst_avg "$burst_avg"; result serve1000_burst_synced "$done_n"

echo "### rpmirror serve: $repos repositories × $mirrors mirrors"
echo
echo "$repos repositories, each the 6-package demo origin (signatures checked) under its own path, with one written mirror"
echo "that nginx also serves under nine more URLs: $((repos * mirrors)) mirrors and $repos origins, all on 127.0.0.1, probed every"
echo "${interval} s (\`max_parallel_probes: $probes\`, \`max_parallel_syncs: $syncs\`, schedules \`@every 24h\`, so syncs come from the"
echo "start-up round and from probes that see a new origin revision). After $rounds probe intervals every origin changes at once"
echo "(a symlink flip to the demo's second revision); the run ends one interval after the last repository synced it."
echo
echo "- **Probes keep up:** $samples samples of \`/metrics\` every ${sample} s; at each, the age of every mirror's"
echo "  \`rpmirror_mirror_last_probe_timestamp_seconds\` (from the daemon's start for a mirror not yet probed). Oldest seen:"
echo "  ${worst_b} s before the burst, ${worst_a} s during and after it (${ratio_probe} × probe_interval; \`$worst_of\`); $series mirrors reported."
echo "- **Start-up:** every repository's sync at start (no-ops, max_parallel_syncs at a time) ended ${startup} s after the start."
echo "- **Memory:** peak RSS (VmHWM) $hwm_mb MB, $(awk -v k="$rss" 'BEGIN {printf "%.0f", k / 1024}') MB at the end."
echo "- **The burst:** $done_n of $repos repositories synced revision 2 in $(awk -v a="$flipped" -v b="$drained" 'BEGIN {printf "%.1f", b - a}') s after the flip."
echo "  From the daemon's JSON log (\"sync starting\" / \"sync done\"): $burst_n syncs, at most $burst_most at once"
echo "  (max_parallel_syncs $syncs), on average $burst_avg at once over the $burst_secs s from the first start to the last end;"
echo "  at most $all_most at once over the whole run (start-up round included)."
