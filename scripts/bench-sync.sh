#!/usr/bin/env bash
# bench-sync.sh measures rpmirror sync against dnf reposync and curl on
# loopback, and rpmirror verify against sha256sum + rpmkeys -K, and prints
# a Markdown section for docs/benchmarks.md: initial syncs (also against
# rsync from an rsync daemon), verification, an incremental and a no-op
# sync.
#
# Every contender reads the same origin, served by one nginx on
# 127.0.0.1; runs alternate between contenders, and each figure is the
# median of RUNS runs. Fixtures (real packages built by rpmbuild, signed
# by the committed test key) are kept in the cache directory, so only the
# first run builds them.
#
#   scripts/bench-sync.sh            # RUNS=5; QUICK=1 for a smoke run (smaller fixtures, 1 run)
#   BENCH_ONLY=small,inc scripts/bench-sync.sh   # sections: small, large, verify, inc, noop
#   RPMIRROR_BENCH_CACHE=DIR scripts/bench-sync.sh
set -euo pipefail
for tool in nginx curl go dnf rpmbuild rpmsign rpmkeys createrepo_c gpg sha256sum python3; do
  command -v $tool >/dev/null || { echo "bench-sync: $tool is not installed" >&2; exit 1; }
done
dnf reposync --help >/dev/null 2>&1 || { echo "bench-sync: dnf reposync is missing (dnf-plugins-core)" >&2; exit 1; }
. "$(dirname "$0")/bench-lib.sh"

if [ "$quick" = 1 ]; then
  small_n=${SMALL_PACKAGES:-200}; small_upd=${SMALL_UPDATED:-2}; large_n=${LARGE_PACKAGES:-4}; large_size=${LARGE_SIZE:-8388608}; noop_n=${NOOP_REPOS:-100}
else
  small_n=${SMALL_PACKAGES:-1000}; small_upd=${SMALL_UPDATED:-10}; large_n=${LARGE_PACKAGES:-20}; large_size=${LARGE_SIZE:-16777216}; noop_n=${NOOP_REPOS:-100}
fi
small_size=${SMALL_SIZE:-32768}
key=$root/testdata/keys/test.pub

# --- fixtures ---------------------------------------------------------------
small=$cache/rpms-small-$small_n-$small_size
large=$cache/rpms-large-$large_n-$large_size
if want small verify inc && [ ! -f "$small/done-$small_upd" ]; then
  log "building $small_n signed packages of $small_size bytes (once; cached in $small)"
  rm -rf "$small"; mkdir -p "$small"
  "$benchgen" rpms -packages "$small_n" -size "$small_size" "$small/v1" >&2
  "$benchgen" rpms -packages "$small_n" -size "$small_size" -updated "$small_upd" -from "$small/v1" "$small/v2" >&2
  touch "$small/done-$small_upd"
fi
if want large verify && [ ! -f "$large/done" ]; then
  log "building $large_n signed packages of $large_size bytes (once; cached in $large)"
  rm -rf "$large"; mkdir -p "$large"
  "$benchgen" rpms -packages "$large_n" -size "$large_size" -prefix large "$large/v1" >&2
  touch "$large/done"
fi
cp -r "$root/internal/demo/origin/v1" "$work/demo"

start_nginx
mkdir -p "$work/www/noop"
ln -s "$small/v1" "$work/www/small"
ln -s "$large/v1" "$work/www/large"
for i in $(seq -w 1 "$noop_n"); do ln -s "$work/demo" "$work/www/noop/r$i"; done
base=http://127.0.0.1:$web

# --- contenders -------------------------------------------------------------
# rpmirror: one repository, one written mirror, default download settings
# (4 packages at once); with the test key as gpgkeys (signatures checked)
# or without (checksums and RPM digests only).
write_cfg() { # FILE STATE_DIR KEYS then NAME ORIGIN MIRROR_PATH triples
  local f=$1 st=$2 keys=$3; shift 3
  { echo "state_dir: $st"; echo "repos:"
    while [ $# -gt 0 ]; do
      echo "  - name: $1"; echo "    origin: $2"; [ "$keys" = yes ] && echo "    gpgkeys: [$key]"; echo "    prune_after: 0s"
      echo "    mirrors:"; echo "      - name: m"; echo "        path: $3"
      shift 3
    done; } > "$f"
}
# dnf reposync: its own configuration, cache and installroot in $1; 4
# parallel downloads like rpmirror, metadata checked against the origin on
# every run. With -g: gpgcheck=1 with the same key (packages whose
# signature fails are deleted); without: gpgcheck=0, no -g.
dnf_setup() { # DIR URL GPGCHECK(1|0)
  mkdir -p "$1/repos.d"
  printf '[main]\nmodule_platform_id=platform:rpmirror\nmax_parallel_downloads=4\nmetadata_expire=0\n' > "$1/dnf.conf"
  printf '[bench]\nname=bench\nbaseurl=%s\ngpgcheck=%s\nrepo_gpgcheck=0\ngpgkey=file://%s\n' "$2" "${3:-1}" "$key" > "$1/repos.d/bench.repo"
}
# reposync does not import keys: import it into the installroot's rpmdb first
# (not timed).
dnf_import() { mkdir -p "$1/root"; rpmkeys --root "$1/root" --import "$key"; }
dnf_reposync() { # DIR [-g]
  # No plugin but reposync: others (local) write into the host's /var/lib/dnf.
  dnf --config "$1/dnf.conf" --setopt=reposdir="$1/repos.d" --installroot="$1/root" --setopt=cachedir="$1/cache" \
    --disableplugin='*' --enableplugin=reposync --releasever=1 -y -q reposync --repoid=bench ${2:-} --download-metadata -p "$1/out"
}
dnf_cmd="dnf reposync --repoid=bench [-g] --download-metadata -p OUT (max_parallel_downloads=4, metadata_expire=0, fresh --installroot and cachedir; with -g: gpgcheck=1, gpgkey=file://…/test.pub, the key imported into the installroot's rpmdb beforehand, untimed; without: gpgcheck=0)"
# curl: one process, 4 transfers at once, every file of the list.
curl_cfg() { # LISTFILE OUTDIR|- > config: URL per line in LISTFILE (paths relative to the origin)
  local list=$1 out=$2 n=0
  while read -r p; do
    n=$((n + 1))
    echo "url = \"$base/$p\""
    if [ "$out" = - ]; then echo 'output = "/dev/null"'; else echo "output = \"$out/$n\""; fi
  done < "$list"
}
curl_get() { curl -s --fail --parallel --parallel-max 4 -K "$1"; }
# rsync: a daemon on 127.0.0.1 serving each origin directory as a module;
# the client copies the tree as mirror operators do (rsync -a --delete).
rsync_port=""
start_rsyncd() { # NAME DIR pairs
  command -v rsync >/dev/null || { log "rsync is not installed: the rsync comparison is left out (apt-get install rsync)"; return 0; }
  rsync_port=$(port)
  { echo "pid file = $work/rsyncd.pid"; echo "use chroot = no"; echo "uid = $(id -un)"; echo "gid = $(id -gn)"
    echo "log file = $work/rsyncd.log"
    while [ $# -gt 0 ]; do printf '[%s]\n  path = %s\n  read only = yes\n' "$1" "$2"; shift 2; done; } > "$work/rsyncd.conf"
  rsync --daemon --no-detach --config="$work/rsyncd.conf" --address=127.0.0.1 --port="$rsync_port" &
  bench_pids+=($!)
  for _ in $(seq 50); do rsync "rsync://127.0.0.1:$rsync_port/" >/dev/null 2>&1 && return 0; sleep 0.1; done
  log "the rsync daemon did not start"; cat "$work/rsyncd.log" >&2; exit 1
}
rsync_get() { rsync -a --delete "rsync://127.0.0.1:$rsync_port/$1/" "$2/"; }
rsync_cmd="rsync -a --delete rsync://127.0.0.1:PORT/MODULE/ DIR/ (an rsync daemon on loopback, the origin directory as its module)"
files_of() { (cd "$1" && find . -type f ! -name 'done*' | sed 's|^\./||' | sort); }
bytes_of() { (cd "$1" && find . -type f ! -name 'done*' -printf '%s\n' | awk '{s += $1} END {print s}'); }
mb() { awk -v b="$1" 'BEGIN {printf "%.1f", b / 1e6}'; }
want small && start_rsyncd small "$small/v1"
for fx in small large; do
  write_cfg "$work/$fx.yaml" "$work/$fx-state" yes "$fx" "$base/$fx/" "$work/$fx-mirror"
  write_cfg "$work/$fx-nosig.yaml" "$work/$fx-nosig-state" no "$fx" "$base/$fx/" "$work/$fx-nosig-mirror"
done

# --- 1. initial sync ----------------------------------------------------------
# initial NAME ORIGIN_DIR CONTENDER...: runs every contender $runs times,
# alternating, from nothing; sets t_CONTENDER to each one's median.
# Contenders: rp (rpmirror, signatures checked), rpn (rpmirror without
# gpgkeys), dnfg (dnf reposync -g), dnf (reposync, gpgcheck=0), curl
# (to /dev/null), curld (to disk), rsync.
initial() {
  local name=$1 dir=$2 i c t; shift 2
  dnf_setup "$work/$name-dnfg" "$base/$name/" 1
  dnf_setup "$work/$name-dnf" "$base/$name/" 0
  files_of "$dir" | sed "s|^|$name/|" > "$work/$name.urls"
  curl_cfg "$work/$name.urls" - > "$work/$name.curl"
  mkdir -p "$work/$name-curl"; curl_cfg "$work/$name.urls" "$work/$name-curl" > "$work/$name.curldisk"
  declare -gA T=()
  for i in $(seq "$runs"); do
    local line="initial $name run $i:"
    for c in "$@"; do
      case $c in
        rp) rm -rf "$work/$name-state" "$work/$name-mirror"; settle; t=$(timed "$rpmirror" sync -c "$work/$name.yaml") ;;
        rpn) rm -rf "$work/$name-nosig-state" "$work/$name-nosig-mirror"; settle; t=$(timed "$rpmirror" sync -c "$work/$name-nosig.yaml") ;;
        dnfg) rm -rf "$work/$name-dnfg/out" "$work/$name-dnfg/cache" "$work/$name-dnfg/root"; dnf_import "$work/$name-dnfg"
              settle; t=$(timed dnf_reposync "$work/$name-dnfg" -g) ;;
        dnf) rm -rf "$work/$name-dnf/out" "$work/$name-dnf/cache" "$work/$name-dnf/root"; settle; t=$(timed dnf_reposync "$work/$name-dnf") ;;
        curl) settle; t=$(timed curl_get "$work/$name.curl") ;;
        curld) rm -rf "$work/$name-curl"; mkdir -p "$work/$name-curl"; settle; t=$(timed curl_get "$work/$name.curldisk") ;;
        rsync) [ -n "$rsync_port" ] || continue
               rm -rf "$work/$name-rsync"; mkdir -p "$work/$name-rsync"; settle; t=$(timed rsync_get "$name" "$work/$name-rsync") ;;
      esac || exit 1
      T[$c]="${T[$c]:-} $t"; line="$line $c ${t}s"
    done
    log "$line"
  done
  # sanity: what each wrote is the origin's packages
  local got want d
  want=$(find "$dir/Packages" -name '*.rpm' | wc -l)
  for d in "$name-mirror" "$name-nosig-mirror" "$name-dnfg/out" "$name-dnf/out" "$name-rsync"; do
    [ -d "$work/$d" ] || continue
    got=$(find "$work/$d" -name '*.rpm' | wc -l)
    [ "$got" = "$want" ] || { log "$d holds $got of $want packages"; exit 1; }
  done
  for c in "$@"; do
    # shellcheck disable=SC2086
    [ -n "${T[$c]:-}" ] && eval "t_$c=$(median ${T[$c]})" || eval "t_$c="
  done
}
# cell SECONDS: a table cell, or "—" for a contender not run.
cell() { [ -n "$1" ] && fmt3 "$1" || echo "—"; }

if want small; then
  # The contenders compared with the first run right after it, in each
  # round (pratio).
  initial small "$small/v1" rpn curld rsync dnf rp dnfg curl
  r_dnf=$(pratio "${T[rpn]}" "${T[dnf]}"); r_curld=$(pratio "${T[rpn]}" "${T[curld]}")
  r_rsync=$(pratio "${T[rpn]}" "${T[rsync]:-}"); r_dnfg=$(pratio "${T[rp]}" "${T[dnfg]}")
  bytes=$(bytes_of "$small/v1"); nfiles=$(files_of "$small/v1" | wc -l)
  echo "### Initial sync of $small_n packages × $((small_size / 1024)) KiB (loopback)"
  echo
  echo "One nginx on 127.0.0.1 (2 workers, sendfile) serves the origin ($nfiles files, $(mb "$bytes") MB: real packages built by"
  echo "rpmbuild and signed by rpmsign, repodata by createrepo_c). Every contender starts from nothing."
  echo "rpmirror syncs to one written mirror (\`download.concurrency\` 4, the default) and always verifies checksums and RPM digests"
  echo "and makes every file durable before publishing; \"signatures checked\" adds \`gpgkeys\` (the test key)."
  echo "dnf reposync: \`$dnf_cmd\`. curl: \`curl -s --fail --parallel --parallel-max 4 -K LIST\` of every file of the origin."
  echo "rsync: \`$rsync_cmd\`; neither curl nor rsync verifies or fsyncs anything."
  echo "Median of $runs runs, contenders alternating within each run (in the order rpmirror, curl → disk, rsync, dnf reposync,"
  echo "rpmirror with signatures, dnf reposync -g, curl → /dev/null); times in seconds."
  echo
  echo "| rpmirror, no signature checks | dnf reposync | curl → disk | rsync | rpmirror, signatures checked | dnf reposync -g | curl → /dev/null |"
  echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  echo "| $(cell "$t_rpn") | $(cell "$t_dnf") | $(cell "$t_curld") | $(cell "$t_rsync") | $(cell "$t_rp") | $(cell "$t_dnfg") | $(cell "$t_curl") |"
  echo
  echo "Ratios (rpmirror's time over the other's, the median of the $runs runs' ratios: each run times both in the same minute,"
  echo "while this machine's times drift by up to ±50% between runs): without signature checks ${r_dnf}× dnf reposync,"
  echo "${r_curld}× curl to disk, $( [ -n "$r_rsync" ] && echo "${r_rsync}× rsync" || echo "rsync not measured");"
  echo "with signatures ${r_dnfg}× dnf reposync -g. The ratios of the medians above: $(ratio "$t_rpn" "$t_dnf")×, $(ratio "$t_rpn" "$t_curld")×,"
  echo "$( [ -n "$t_rsync" ] && echo "$(ratio "$t_rpn" "$t_rsync")×" || echo "—") and $(ratio "$t_rp" "$t_dnfg")×."
  echo
  result small_packages "$small_n"
  result sync_small_nosig "$t_rpn"; result sync_small_dnf "$t_dnf"; result sync_small_curldisk "$t_curld"; result sync_small_rsync "$t_rsync"
  result sync_small_rpmirror "$t_rp"; result sync_small_dnfg "$t_dnfg"; result sync_small_curl "$t_curl"
  result sync_small_vs_dnf "$r_dnf"; result sync_small_vs_curldisk "$r_curld"
  [ -n "$r_rsync" ] && result sync_small_vs_rsync "$r_rsync"
  result sync_small_sig_vs_dnfg "$r_dnfg"
fi

if want large; then
  initial large "$large/v1" rp curld curl dnfg
  # shares: the median of the runs' (pratio)
  s_disk=$(pratio "${T[curld]}" "${T[rp]}"); s_null=$(pratio "${T[curl]}" "${T[rp]}")
  pct() { awk -v r="$1" 'BEGIN {printf "%.0f", 100 * r}'; }
  bytes=$(bytes_of "$large/v1"); nfiles=$(files_of "$large/v1" | wc -l)
  rate() { awk -v b="$bytes" -v t="$1" 'BEGIN {printf "%.0f", b / 1e6 / t}'; }
  share() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.0f", 100 * a / b}'; }
  echo "### Initial sync of $large_n packages × $((large_size / 1048576)) MiB (loopback)"
  echo
  echo "The same set-up with large packages ($nfiles files, $(mb "$bytes") MB); rpmirror with signatures checked. Rates are MB of"
  echo "the origin's files per second of each command's wall time; share = the other's time over rpmirror's, the median of the"
  echo "$runs runs' shares (each run times rpmirror and then curl → disk back to back). Times: median of $runs runs."
  echo
  echo "| rpmirror | curl → disk | curl → /dev/null | dnf reposync -g | rpmirror MB/s | curl → disk MB/s | curl → /dev/null MB/s | share of curl → disk | share of curl → /dev/null |"
  echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  echo "| $(cell "$t_rp") | $(cell "$t_curld") | $(cell "$t_curl") | $(cell "$t_dnfg") | $(rate "$t_rp") | $(rate "$t_curld") | $(rate "$t_curl") | $(pct "$s_disk")% | $(pct "$s_null")% |"
  echo
  # The floor: what moving these bytes as curl does costs in CPU (curl's
  # user+sys, and nginx's workers' from /proc), plus the digests rpm checks
  # over every byte (benchgen hashcost), spread perfectly over every core.
  hz=$(getconf CLK_TCK); cores=$(nproc)
  nginx_ticks() { local p s=0; for p in $(pgrep -P "$(cat "$work/nginx.pid")"); do s=$((s + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo "$s"; }
  declare -a CC=() NC=() HC=() DD=()
  for i in $(seq "$runs"); do
    rm -rf "$work/large-curl"; mkdir -p "$work/large-curl"; settle
    n0=$(nginx_ticks)
    /usr/bin/time -o "$work/curl.time" -f '%U %S' curl -s --fail --parallel --parallel-max 4 -K "$work/large.curldisk" >/dev/null 2>&1 || { log "curl failed"; exit 1; }
    n1=$(nginx_ticks)
    CC+=("$(awk '{print $1 + $2}' "$work/curl.time")"); NC+=("$(awk -v a="$n0" -v b="$n1" -v hz="$hz" 'BEGIN {print (b - a) / hz}')")
    # shellcheck disable=SC2046
    HC+=("$("$benchgen" hashcost $(find "$large/v1" -name '*.rpm'))")
    # curl's bytes are written back first: dd alone on the disk, as rpmirror is at its commit
    settle; DD+=("$(timed dd if=/dev/zero of="$work/dd.out" bs=1M count=$((bytes / 1048576)) conv=fsync)"); rm -f "$work/dd.out"
  done
  c_curl=$(median "${CC[@]}"); c_nginx=$(median "${NC[@]}"); c_hash=$(median "${HC[@]}")
  # The disk's pace is the fastest of the runs, not their median: a floor.
  # Its speed here changes with what it did just before (a run of 1.8 s
  # right after another's 335 MB were deleted and discarded, 0.33 s next).
  t_dd=$(printf '%s\n' "${DD[@]}" | sort -g | head -1)
  floor=$(awk -v a="$c_curl" -v b="$c_nginx" -v c="$c_hash" -v n="$cores" 'BEGIN {printf "%.3f", (a + b + c) / n}')
  bound=$(ratio "$t_curld" "$floor")
  echo "What the machine allows: to move these bytes, curl to disk spends $c_curl CPU-seconds (user + system) and nginx's"
  echo "workers $c_nginx; the digests rpm checks, two SHA-256 and one MD5 over every byte (\`benchgen hashcost\`), cost $c_hash more."
  echo "Spread perfectly over the $cores cores, a verifier that moves the bytes as curl does and checks what rpm checks needs"
  echo "at least $floor s here, so its share of curl → disk is at most $(share "$t_curld" "$floor")%; rpmirror's is $(share "$t_curld" "$t_rp")% (medians),"
  dfloor=$(awk -v f="$floor" -v d="$t_dd" 'BEGIN {printf "%.3f", (f > d ? f : d)}')
  echo "$(share "$floor" "$t_rp")% of that bound. That bound leaves out durability: rpmirror also makes every byte durable, curl does not;"
  echo "writing as many bytes to this disk with \`dd conv=fsync\` takes $(fmt3 "$t_dd") s on its own (the fastest of $runs runs). Counting that too, with the"
  echo "disk writing while the digests are computed, a verifier that makes the bytes durable needs at least $dfloor s, a share"
  echo "of curl → disk of at most $(share "$t_curld" "$dfloor")%; rpmirror is at $(share "$dfloor" "$t_rp")% of that. Medians of $runs runs."
  echo
  result large_packages "$large_n"; result large_mib "$((large_size / 1048576))"
  result sync_large_rpmirror "$t_rp"; result sync_large_curldisk "$t_curld"; result sync_large_curl "$t_curl"; result sync_large_dnfg "$t_dnfg"
  result sync_large_rate "$(rate "$t_rp")"; result sync_large_curldiskrate "$(rate "$t_curld")"; result sync_large_curlrate "$(rate "$t_curl")"
  result sync_large_share_disk "$s_disk"; result sync_large_share_null "$s_null"
  result sync_large_floor "$floor"; result sync_large_share_bound "$bound"; result sync_large_of_bound "$(ratio "$floor" "$t_rp")"
  result sync_large_dd "$t_dd"; result sync_large_dfloor "$dfloor"; result sync_large_share_dbound "$(ratio "$t_curld" "$dfloor")"; result sync_large_of_dbound "$(ratio "$dfloor" "$t_rp")"
fi

# --- 5. verification (on the mirrors the last initial syncs wrote) ---------
verify_cmp() { # NAME -> sets v_r v_s
  local name=$1 i tr ts R=() S=()
  local files; files=$(find "$work/$name-mirror/Packages" -name '*.rpm' | sort)
  rm -rf "$work/rpmdb"; mkdir -p "$work/rpmdb"
  rpmkeys --root "$work/rpmdb" --import "$key"
  shell_verify() { sha256sum $files >/dev/null && rpmkeys --root "$work/rpmdb" -K $files >/dev/null; }
  for i in $(seq "$runs"); do
    tr=$(timed "$rpmirror" verify -c "$work/$name.yaml") || exit 1
    ts=$(timed shell_verify) || exit 1
    R+=("$tr"); S+=("$ts")
  done
  v_n=$(echo "$files" | wc -l)
  v_r=$(median "${R[@]}"); v_s=$(median "${S[@]}")
}
if want verify; then
echo "### Verifying a mirror: rpmirror verify against sha256sum + rpmkeys -K"
echo
echo "\`rpmirror verify -c CFG\` re-checks every file of the mirror that the initial sync above wrote (packages: size, checksum,"
echo "RPM header and payload digests, OpenPGP signature by the configured key; metadata: checksums). Against it, the shell's"
echo "\`sha256sum FILES && rpmkeys --root TMP -K FILES\` with the key imported by \`rpmkeys --root TMP --import test.pub\`."
echo "Median of $runs runs; packages per second and MB/s of package bytes."
echo
echo "| mirror | rpmirror verify | sha256sum + rpmkeys -K | rpmirror pkgs/s | shell pkgs/s | rpmirror MB/s | shell MB/s | shell / rpmirror |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for fx in small large; do
  if [ ! -f "$work/$fx-mirror/repodata/repomd.xml" ]; then
    "$rpmirror" sync -c "$work/$fx.yaml" >/dev/null 2>&1 || { log "sync of $fx failed"; exit 1; }
  fi
  verify_cmp $fx
  pb=$(find "$work/$fx-mirror/Packages" -name '*.rpm' -printf '%s\n' | awk '{s += $1} END {print s}')
  echo "| $fx ($v_n packages) | $(fmt3 "$v_r") s | $(fmt3 "$v_s") s | $(awk -v n="$v_n" -v t="$v_r" 'BEGIN {printf "%.0f", n / t}') | $(awk -v n="$v_n" -v t="$v_s" 'BEGIN {printf "%.0f", n / t}') | $(awk -v b="$pb" -v t="$v_r" 'BEGIN {printf "%.0f", b / 1e6 / t}') | $(awk -v b="$pb" -v t="$v_s" 'BEGIN {printf "%.0f", b / 1e6 / t}') | $(ratio "$v_s" "$v_r")× |"
  result "verify_${fx}_rpmirror" "$v_r"; result "verify_${fx}_shell" "$v_s"; result "verify_${fx}_speedup" "$(ratio "$v_s" "$v_r")"
done
echo
fi

# --- 2. incremental sync ------------------------------------------------------
if want inc; then
rm -rf "$work/small-state" "$work/small-mirror"
"$rpmirror" sync -c "$work/small.yaml" >/dev/null 2>&1
cp -a "$work/small-state" "$work/inc-state0"; cp -a "$work/small-mirror" "$work/inc-mirror0"
(cd "$small/v1" && find . -type f ! -name 'done*' -print0 | xargs -0 sha256sum | sort) > "$work/v1.sums"
(cd "$small/v2" && find . -type f ! -name 'done*' -print0 | xargs -0 sha256sum | sort) > "$work/v2.sums"
comm -13 "$work/v1.sums" "$work/v2.sums" | awk '{sub(/^\.\//, "", $2); print "small/" $2}' > "$work/changed.urls"
changed_pkgs=$(grep -c '\.rpm$' "$work/changed.urls")
changed_bytes=$(sed 's|^small/||' "$work/changed.urls" | (cd "$small/v2" && xargs stat -c %s) | awk '{s += $1} END {print s}')
curl_cfg "$work/changed.urls" - > "$work/changed.curl"
ln -sfn "$small/v2" "$work/www/small"
# The least disk work of publishing those files (benchgen durable: two
# rounds of flushes), timed in each run beside curl: what a tool that
# keeps rpmirror's promise adds to curl's time at the least.
mapfile -t changed_files < <(sed "s|^small/|$small/v2/|" "$work/changed.urls")
R=(); C=(); DU=(); FL=()
for i in $(seq "$runs"); do
  rm -rf "$work/small-state" "$work/small-mirror"
  cp -a "$work/inc-state0" "$work/small-state"; cp -a "$work/inc-mirror0" "$work/small-mirror"
  settle; tr=$(timed "$rpmirror" sync -c "$work/small.yaml") || exit 1
  settle; tc=$(timed curl_get "$work/changed.curl") || exit 1
  settle; tu=$("$benchgen" durable "$work/durable-$i" "${changed_files[@]}") || exit 1
  rm -rf "$work/durable-$i"
  log "incremental run $i: rpmirror ${tr}s curl ${tc}s durable ${tu}s"
  R+=("$tr"); C+=("$tc"); DU+=("$tu")
  FL+=("$(awk -v c="$tc" -v d="$tu" 'BEGIN {printf "%.6f", (c + d) / c}')")
done
grep -q "$(grep '\.rpm$' "$work/changed.urls" | head -1 | xargs basename)" <(find "$work/small-mirror" -name '*.rpm') || { log "incremental sync did not publish the update"; exit 1; }
inc_r=$(median "${R[@]}"); inc_c=$(median "${C[@]}"); inc_ratio=$(pratio "${R[*]}" "${C[*]}")
result inc_rpmirror "$inc_r"; result inc_curl "$inc_c"; result inc_ratio "$inc_ratio"
inc_du=$(median "${DU[@]}"); inc_floor=$(awk -v m="$(median "${FL[@]}")" 'BEGIN {printf "%.2f", m}')
result inc_durable "$inc_du"; result inc_floor_ratio "$inc_floor"
# where the time goes: a CPU profile is not available from the CLI, so
# split it with the log's own timestamps (-v --log-format json)
echo "### Incremental sync: $changed_pkgs of $small_n packages updated"
echo
echo "The mirror serves revision 1 (restored from a copy before each run); the origin now serves revision 2, where"
echo "$changed_pkgs packages have a new release. curl fetches just the files that differ between the two revisions"
echo "($(wc -l < "$work/changed.urls") files, $(mb "$changed_bytes") MB: the $changed_pkgs packages and the new repodata), 4 at once, to /dev/null."
echo "Times: median of $runs runs. Ratios: the median of the runs' ratios (each run times rpmirror and then curl back to back)."
echo
# The same kind of update synced by rpmirror serve: the daemon that
# keeps mirrors in step on a schedule, whose syncs need no process start.
# Successive revisions v2, v3, ... each give the same packages the next
# release (built once, cached); the daemon checks the origin every
# second, and /status.json's last_sync.seconds is the sync's own time.
# curl fetches the files that differ between the same two revisions.
last=$((1 + runs))
for k in $(seq 3 "$last"); do
  if [ ! -f "$small/done-v$k" ]; then
    log "building revision $k of the small packages (once; cached in $small)"
    rm -rf "$small/v$k"
    "$benchgen" rpms -packages "$small_n" -size "$small_size" -updated "$small_upd" -release "$k" -from "$small/v$((k - 1))" "$small/v$k" >&2
    touch "$small/done-v$k"
  fi
done
revision_of() { grep -o '<revision>[^<]*</revision>' "$1/repodata/repomd.xml" | sed 's/<[^>]*>//g'; }
changed_between() { # OLD NEW > the curl config of the files NEW has that OLD has not
  (cd "$1" && find . -type f ! -name 'done*' -print0 | xargs -0 sha256sum | sort) > "$work/old.sums"
  (cd "$2" && find . -type f ! -name 'done*' -print0 | xargs -0 sha256sum | sort) > "$work/new.sums"
  comm -13 "$work/old.sums" "$work/new.sums" | awk '{sub(/^\.\//, "", $2); print "small/" $2}' > "$work/pair.urls"
  curl_cfg "$work/pair.urls" -
}
rm -rf "$work/daemon-state" "$work/daemon-mirror"
cp -a "$work/inc-state0" "$work/daemon-state"; cp -a "$work/inc-mirror0" "$work/daemon-mirror"
ln -sfn "$small/v1" "$work/www/small"
dport=$(port)
{ echo "state_dir: $work/daemon-state"; echo "listen: 127.0.0.1:$dport"; echo "repos:"
  echo "  - name: small"; echo "    origin: $base/small/"; echo "    gpgkeys: [$key]"; echo "    prune_after: 0s"
  echo '    schedule: "@every 1s"'; echo "    mirrors:"; echo "      - name: m"; echo "        path: $work/daemon-mirror"; } > "$work/daemon.yaml"
"$rpmirror" serve -c "$work/daemon.yaml" > "$work/daemon.log" 2>&1 &
daemon_pid=$!
bench_pids+=("$daemon_pid")
# last_sync REVISION: the seconds of the daemon's last sync once it
# published REVISION, waiting up to 60 s for it.
last_sync() {
  local i out
  for i in $(seq 600); do
    out=$(curl -s "http://127.0.0.1:$dport/status.json" | python3 -c '
import json, sys
d = json.load(sys.stdin)
for r in d.get("repos", []):
    s = r.get("last_sync") or {}
    if r.get("name") == "small" and s.get("revision") == sys.argv[1] and s.get("result") == "ok" and s.get("fetched", 0) > 0:
        print(s["seconds"])
' "$1" 2>/dev/null || true)
    [ -n "$out" ] && { echo "$out"; return 0; }
    sleep 0.1
  done
  log "rpmirror serve did not publish revision $1 within a minute"; tail -20 "$work/daemon.log" >&2; return 1
}
# the first scheduled check finds the mirror current
for _ in $(seq 100); do curl -s "http://127.0.0.1:$dport/status.json" | grep -q '"last_sync"' && break; sleep 0.1; done
D=(); DC=()
for k in $(seq 2 "$last"); do
  changed_between "$small/v$((k - 1))" "$small/v$k" > "$work/pair.curl"
  settle
  ln -sfn "$small/v$k" "$work/www/small"
  td=$(last_sync "$(revision_of "$small/v$k")") || exit 1
  td=$(awk -v t="$td" 'BEGIN {printf "%.4f", t}')
  settle; tc=$(timed curl_get "$work/pair.curl") || exit 1
  log "incremental run $((k - 1)) in rpmirror serve: the sync ${td}s, curl ${tc}s"
  D+=("$td"); DC+=("$tc")
done
kill "$daemon_pid" 2>/dev/null || true
wait "$daemon_pid" 2>/dev/null || true
inc_d=$(median "${D[@]}"); inc_dc=$(median "${DC[@]}"); inc_dratio=$(pratio "${D[*]}" "${DC[*]}")
result inc_daemon "$inc_d"; result inc_daemon_curl "$inc_dc"; result inc_daemon_ratio "$inc_dratio"

echo "| how | rpmirror | curl, changed files only | rpmirror / curl |"
echo "| --- | ---: | ---: | ---: |"
echo "| \`rpmirror sync\` (the command's wall time, its process's start included) | $(fmt3 "$inc_r") s | $(fmt3 "$inc_c") s | ${inc_ratio}× |"
echo "| \`rpmirror serve\` (the daemon's scheduled sync: its own time, /status.json \`last_sync.seconds\`; no process start) | $(fmt3 "$inc_d") s | $(fmt3 "$inc_dc") s | ${inc_dratio}× |"
echo
V=(); for _ in $(seq 5); do V+=("$(timed curl --version)"); done
echo "curl's time is its command's wall time, its process's start included (\`curl --version\` alone: $(fmt3 "$(median "${V[@]}")") s"
echo "here, median of 5). For the daemon, the origin moves to the next revision (v2, v3, ...: the same $changed_pkgs packages"
echo "at the next release each time) while \`rpmirror serve\` checks it every second (\`schedule: \"@every 1s\"\`), and"
echo "curl fetches the files that differ between the same two revisions."
echo
echo "What the machine allows: rpmirror's promise (docs/design.md) is that every file is durable before the commit that"
echo "makes it visible, and the commit durable. The least disk work that takes for this update, \`benchgen durable\` (the"
echo "$(wc -l < "$work/changed.urls") changed files written, made durable at once with a new repomd.xml, then that repomd.xml renamed into"
echo "place and made durable: two rounds of flushes, timed in each run of the command's rows above), took $(fmt3 "$inc_du") s here"
echo "(median of $runs). A tool that fetched as curl does and then did only that would take ${inc_floor}× curl's time (the median of"
echo "the runs' (curl + that) / curl), before it read a byte of the primary metadata or verified anything."
echo
fi

# --- 3. no-op sync of many repositories -----------------------------------------
if want noop; then
args=()
for i in $(seq -w 1 "$noop_n"); do args+=("r$i" "$base/noop/r$i/" "$work/noop-mirror/r$i"); done
write_cfg "$work/noop.yaml" "$work/noop-state" yes "${args[@]}"
"$rpmirror" sync -c "$work/noop.yaml" >/dev/null 2>&1 || { log "initial sync of $noop_n repos failed"; exit 1; }
first=$(seq -w 1 "$noop_n" | head -1)
dnf_setup "$work/noop-dnf" "$base/noop/r$first/" 1
dnf_import "$work/noop-dnf"
dnf_reposync "$work/noop-dnf" -g >/dev/null 2>&1
R=(); D=()
for i in $(seq "$runs"); do
  tr=$(timed "$rpmirror" sync -c "$work/noop.yaml") || exit 1
  td=$(timed dnf_reposync "$work/noop-dnf" -g) || exit 1
  log "no-op run $i: rpmirror ($noop_n repos) ${tr}s dnf (1 repo) ${td}s"
  R+=("$tr"); D+=("$td")
done
noop_r=$(median "${R[@]}"); noop_d=$(median "${D[@]}")
per_repo=$(awk -v t="$noop_r" -v n="$noop_n" 'BEGIN {printf "%.4f", t / n}')
result noop_rpmirror "$noop_r"; result noop_dnf "$noop_d"; result noop_repos "$noop_n"
result noop_per_repo_speedup "$(ratio "$noop_d" "$per_repo")"; result noop_total_speedup "$(ratio "$noop_d" "$noop_r")"
echo "### No-op sync: $noop_n repositories whose origins did not change"
echo
echo "$noop_n repositories (each the 6-package demo origin under its own path), one written mirror each, all current."
echo "\`rpmirror sync -c CFG\` checks every one (fetches each origin's repomd.xml and compares). dnf reposync's no-op: the same"
echo "command as above, run again on one of those repositories with its cache kept (metadata_expire=0, so it asks the origin)."
echo "Median of $runs runs."
echo
echo "| rpmirror, $noop_n repos | per repo | dnf reposync, 1 repo | dnf (1 repo) / rpmirror per repo | dnf (1 repo) / rpmirror ($noop_n repos) |"
echo "| ---: | ---: | ---: | ---: | ---: |"
echo "| $(fmt3 "$noop_r") s | $(awk -v t="$per_repo" 'BEGIN {printf "%.1f ms", t * 1000}') | $(fmt3 "$noop_d") s | $(ratio "$noop_d" "$per_repo")× | $(ratio "$noop_d" "$noop_r")× |"
echo
fi
echo "Fixtures: \`internal/benchgen/cmd/benchgen rpms -packages $small_n -size $small_size\` (and \`-updated $small_upd -from v1\` for revision 2, \`-updated $small_upd -release K -from vK-1\` for revision K),"
echo "\`benchgen rpms -packages $large_n -size $large_size -prefix large\`; cached in \`$cache\`."
