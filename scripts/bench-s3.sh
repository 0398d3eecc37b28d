#!/usr/bin/env bash
# bench-s3.sh measures an initial sync of the many-package origin (1,000
# signed packages; QUICK=1: 200) to a mirror in object storage, versitygw
# over a local directory on loopback, against the same sync to a local
# path, in the same run from the same origin, and prints a Markdown
# section for docs/benchmarks.md (issue 11: within 2x).
#
# Runs alternate between the two targets; each starts from an empty
# state_dir and an empty mirror (a fresh bucket prefix), and each figure
# is the median of RUNS runs.
#
#   scripts/bench-s3.sh          # RUNS=5; QUICK=1 for a smoke run
#   SMALL_PACKAGES=50 RUNS=1 scripts/bench-s3.sh
set -euo pipefail
for tool in nginx go rpmbuild rpmsign createrepo_c gpg python3; do
  command -v $tool >/dev/null || { echo "bench-s3: $tool is not installed" >&2; exit 1; }
done
. "$(dirname "$0")/bench-lib.sh"
versitygw=$(command -v versitygw || echo "$(go env GOPATH)/bin/versitygw")
[ -x "$versitygw" ] || { echo "bench-s3: versitygw is not installed (.ci/run installs it)" >&2; exit 1; }

if [ "$quick" = 1 ]; then n=${SMALL_PACKAGES:-200}; else n=${SMALL_PACKAGES:-1000}; fi
size=${SMALL_SIZE:-32768}
key=$root/testdata/keys/test.pub

# The same fixture as bench-sync.sh's many-package origin (v1 only).
fx=$cache/rpms-small-$n-$size
if [ ! -f "$fx/v1/repodata/repomd.xml" ]; then
  log "building $n signed packages of $size bytes (once; cached in $fx)"
  rm -rf "$fx"; mkdir -p "$fx"
  "$benchgen" rpms -packages "$n" -size "$size" "$fx/v1" >&2
fi
files=$(find "$fx/v1" -type f | wc -l)
mb=$(du -sm "$fx/v1" | cut -f1)

start_nginx
ln -s "$fx/v1" "$work/www/origin"
origin=http://127.0.0.1:$web/origin/

# versitygw: the posix backend in $work/s3 (bucket "bench"), on the same
# disk as the local mirror, on the same two cores as rpmirror (its CPU
# time is taken from rpmirror's), set up as S3 stores run:
# - keep-alive on: versitygw closes every connection after one request
#   unless told otherwise, where AWS S3, MinIO and Ceph RGW keep them open
#   (a TCP handshake per object measured the gateway's default, not
#   rpmirror);
# - --quiet: by default it formats and writes a line per request to its
#   standard output, where S3 stores log no request unless access logging
#   is turned on.
# (--disable-object-lock-file, which spares every PUT the lock file shared
# by gateways serving one directory, measured no clear gain: not used.)
access=rpmirrorbenchkey secret=rpmirror-bench-secret-0123456789abcdef
mkdir -p "$work/s3/bench"
s3port=$(port)
"$versitygw" --access "$access" --secret "$secret" --port "127.0.0.1:$s3port" --keep-alive --quiet \
  posix "$work/s3" >"$work/versitygw.log" 2>&1 &
vgw=$!
bench_pids+=($vgw)
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$s3port/" && break; sleep 0.1; done
printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$access" "$secret" > "$work/s3-credentials"

cfg() { # FILE STATE_DIR then the mirror's lines
  local f=$1 st=$2; shift 2
  { echo "state_dir: $st"; echo "repos:"; echo "  - name: bench"; echo "    origin: $origin"
    echo "    gpgkeys: [$key]"; echo "    mirrors:"; echo "      - name: m"; printf '%s\n' "$@"; } > "$f"
}
# cpu_ticks PID: the user + system CPU time of process PID, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# ctimed CMD...: like timed, and prints the CPU seconds (user + system) of
# CMD and its children after the wall-clock seconds.
ctimed() {
  local c0 c1 t me=$BASHPID # this shell's, not a command substitution's
  c0=$(awk '{print $16 + $17}' "/proc/$me/stat")
  t=$(timed "$@") || return 1
  c1=$(awk '{print $16 + $17}' "/proc/$me/stat")
  awk -v t="$t" -v c="$((c1 - c0))" -v hz="$hz" 'BEGIN {printf "%s %.3f\n", t, c / hz}'
}
hz=$(getconf CLK_TCK)
L=() S=() LC=() SC=() VC=()
for i in $(seq "$runs"); do
  cfg "$work/local-$i.yaml" "$work/state-local-$i" "        path: $work/local-$i"
  cfg "$work/s3-$i.yaml" "$work/state-s3-$i" "        s3:" "          endpoint: http://127.0.0.1:$s3port" \
    "          bucket: bench" "          prefix: run-$i/" "          region: us-east-1" "          credentials_file: $work/s3-credentials"
  settle; read -r tl cl < <(ctimed "$rpmirror" sync -c "$work/local-$i.yaml")
  settle; v0=$(cpu_ticks "$vgw")
  read -r ts cs < <(ctimed "$rpmirror" sync -c "$work/s3-$i.yaml")
  v1=$(cpu_ticks "$vgw")
  [ -n "$ts" ] || exit 1
  # Both must hold the whole repository.
  got=$(find "$work/s3/bench/run-$i" -type f -not -path '*/.rpmirror/*' | wc -l)
  want=$(find "$work/local-$i" -type f -not -path "*/.rpmirror/*" | wc -l)
  [ "$got" = "$want" ] || { log "the bucket holds $got files, the local mirror $want"; exit 1; }
  vc=$(awk -v v="$((v1 - v0))" -v hz="$hz" 'BEGIN {printf "%.3f", v / hz}')
  log "initial sync run $i: local ${tl}s (CPU ${cl}s), versitygw ${ts}s (CPU rpmirror ${cs}s, versitygw ${vc}s)"
  L+=("$tl"); S+=("$ts"); LC+=("$cl"); SC+=("$cs"); VC+=("$vc")
  # The runs' files are removed at the end, not here: on a filesystem like
  # this machine's (ext4 without a journal), creating a file within about a
  # minute of deletions in its block group costs a scan past every inode
  # freed there (the kernel's recently_deleted(); a quarter of versitygw's
  # CPU in a profile), which would charge the next runs for this cleanup.
done
med_l=$(median "${L[@]}"); med_s=$(median "${S[@]}")
r=$(pratio "${S[*]}" "${L[*]}")
# CPU per object stored, in microseconds (median of the runs).
us() { awk -v c="$1" -v n="$files" 'BEGIN {printf "%.0f", c * 1e6 / n}'; }
cpu_l=$(us "$(median "${LC[@]}")"); cpu_s=$(us "$(median "${SC[@]}")"); cpu_v=$(us "$(median "${VC[@]}")")
result s3_packages "$n"
result s3_local "$med_l"
result s3_versitygw "$med_s"
result s3_ratio "$r"
result s3_cpu_local_us "$cpu_l"
result s3_cpu_rpmirror_us "$cpu_s"
result s3_cpu_versitygw_us "$cpu_v"

echo "### Initial sync to object storage (issue 11)"
echo
echo "The many-package origin ($n signed packages, $files files, $mb MB; nginx on loopback) synced by \`rpmirror sync\` to"
echo "one written mirror: a local path, or a bucket prefix of versitygw (the build .ci/run installs)"
echo "(posix backend on the same disk and the same two cores; \`--keep-alive\` as S3 stores keep connections open, \`--quiet\` as they log no request"
echo "by default; loopback, SigV4, every object uploaded with the x-amz-checksum-sha256 the store verifies). CPU is user + system time per file stored ($files files), rpmirror's and the"
echo "gateway's: both run on the same two cores, so the gateway's CPU is time rpmirror does not get."
echo "Each run starts from an empty state_dir and an empty mirror (removed at the end: this disk's ext4 has no journal, and a file created"
echo "within a minute of deletions nearby costs the kernel a scan past the inodes they freed); the two alternate; times: median of $runs runs; ratio: the median of the runs' ratios (each run times the two back to back)."
echo
echo "| target | initial sync | versitygw / local | rpmirror CPU per file | store's CPU per file |"
echo "| --- | ---: | ---: | ---: | ---: |"
echo "| local path | $(fmt3 "$med_l") s | | $cpu_l µs | |"
echo "| versitygw | $(fmt3 "$med_s") s | ${r}× | $cpu_s µs | $cpu_v µs |"
