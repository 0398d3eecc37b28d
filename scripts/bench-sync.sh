#!/usr/bin/env bash
# bench-sync.sh measures rpmirror sync against dnf reposync and curl on
# loopback, and rpmirror verify against sha256sum + rpmkeys -K, and prints
# a Markdown section for docs/benchmarks.md (issue items 1, 2, 3 and 5).
#
# Every contender reads the same origin, served by one nginx on
# 127.0.0.1; runs alternate between contenders, and each figure is the
# median of RUNS runs. Fixtures (real packages built by rpmbuild, signed
# by the committed test key) are kept in the cache directory, so only the
# first run builds them.
#
#   scripts/bench-sync.sh            # RUNS=5; QUICK=1 for a smoke run (smaller fixtures, 1 run)
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
if [ ! -f "$small/done-$small_upd" ]; then
  log "building $small_n signed packages of $small_size bytes (once; cached in $small)"
  rm -rf "$small"; mkdir -p "$small"
  "$benchgen" rpms -packages "$small_n" -size "$small_size" "$small/v1" >&2
  "$benchgen" rpms -packages "$small_n" -size "$small_size" -updated "$small_upd" -from "$small/v1" "$small/v2" >&2
  touch "$small/done-$small_upd"
fi
if [ ! -f "$large/done" ]; then
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
# rpmirror: one repository, one written mirror, signatures checked, default
# download settings (4 packages at once).
write_cfg() { # FILE STATE_DIR then NAME ORIGIN MIRROR_PATH triples
  local f=$1 st=$2; shift 2
  { echo "state_dir: $st"; echo "repos:"
    while [ $# -gt 0 ]; do
      echo "  - name: $1"; echo "    origin: $2"; echo "    gpgkeys: [$key]"; echo "    prune_after: 0s"
      echo "    mirrors:"; echo "      - name: m"; echo "        path: $3"
      shift 3
    done; } > "$f"
}
# dnf reposync: its own configuration, cache and installroot in $1; gpgcheck=1
# with the same key, -g (delete packages whose signature fails), 4 parallel
# downloads like rpmirror, metadata checked against the origin on every run.
dnf_setup() { # DIR URL
  mkdir -p "$1/repos.d"
  printf '[main]\nmodule_platform_id=platform:rpmirror\nmax_parallel_downloads=4\nmetadata_expire=0\n' > "$1/dnf.conf"
  printf '[bench]\nname=bench\nbaseurl=%s\ngpgcheck=1\nrepo_gpgcheck=0\ngpgkey=file://%s\n' "$2" "$key" > "$1/repos.d/bench.repo"
}
# reposync does not import keys: import it into the installroot's rpmdb first
# (not timed).
dnf_import() { mkdir -p "$1/root"; rpmkeys --root "$1/root" --import "$key"; }
dnf_reposync() { # DIR
  # No plugin but reposync: others (local) write into the host's /var/lib/dnf.
  dnf --config "$1/dnf.conf" --setopt=reposdir="$1/repos.d" --installroot="$1/root" --setopt=cachedir="$1/cache" \
    --disableplugin='*' --enableplugin=reposync --releasever=1 -y -q reposync --repoid=bench -g --download-metadata -p "$1/out"
}
dnf_cmd="dnf reposync --repoid=bench -g --download-metadata -p OUT (gpgcheck=1, gpgkey=file://…/test.pub, max_parallel_downloads=4, metadata_expire=0, fresh --installroot and cachedir, the key imported into the installroot's rpmdb beforehand, untimed)"
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
files_of() { (cd "$1" && find . -type f ! -name 'done*' | sed 's|^\./||' | sort); }
bytes_of() { (cd "$1" && find . -type f ! -name 'done*' -printf '%s\n' | awk '{s += $1} END {print s}'); }
mb() { awk -v b="$1" 'BEGIN {printf "%.1f", b / 1e6}'; }

# --- 1. initial sync ----------------------------------------------------------
initial() { # NAME ORIGIN_DIR -> sets med_r med_d med_c med_cd
  local name=$1 dir=$2 i tr td tc tcd
  local R=() D=() C=() CD=()
  write_cfg "$work/$name.yaml" "$work/$name-state" "$name" "$base/$name/" "$work/$name-mirror"
  dnf_setup "$work/$name-dnf" "$base/$name/"
  files_of "$dir" | sed "s|^|$name/|;s|^$name/||" > "$work/$name.list"
  sed "s|^|$name/|" "$work/$name.list" > "$work/$name.urls"
  curl_cfg "$work/$name.urls" - > "$work/$name.curl"
  mkdir -p "$work/$name-curl"; curl_cfg "$work/$name.urls" "$work/$name-curl" > "$work/$name.curldisk"
  for i in $(seq "$runs"); do
    rm -rf "$work/$name-state" "$work/$name-mirror"
    tr=$(timed "$rpmirror" sync -c "$work/$name.yaml") || exit 1
    rm -rf "$work/$name-dnf/out" "$work/$name-dnf/cache" "$work/$name-dnf/root"
    dnf_import "$work/$name-dnf"
    td=$(timed dnf_reposync "$work/$name-dnf") || exit 1
    tc=$(timed curl_get "$work/$name.curl") || exit 1
    rm -rf "$work/$name-curl"; mkdir -p "$work/$name-curl"
    tcd=$(timed curl_get "$work/$name.curldisk") || exit 1
    log "initial $name run $i: rpmirror ${tr}s dnf ${td}s curl ${tc}s curl-to-disk ${tcd}s"
    R+=("$tr"); D+=("$td"); C+=("$tc"); CD+=("$tcd")
  done
  # sanity: what rpmirror and dnf wrote is the origin
  local got want
  got=$(find "$work/$name-mirror/Packages" -name '*.rpm' | wc -l); want=$(find "$dir/Packages" -name '*.rpm' | wc -l)
  [ "$got" = "$want" ] || { log "rpmirror mirrored $got of $want packages"; exit 1; }
  got=$(find "$work/$name-dnf/out" -name '*.rpm' | wc -l)
  [ "$got" = "$want" ] || { log "dnf reposync downloaded $got of $want packages"; exit 1; }
  med_r=$(median "${R[@]}"); med_d=$(median "${D[@]}"); med_c=$(median "${C[@]}"); med_cd=$(median "${CD[@]}")
}

echo "### Sync against dnf reposync and curl (loopback)"
echo
echo "One nginx on 127.0.0.1 (2 workers, sendfile) serves every origin. rpmirror syncs to **one** written mirror"
echo "(\`download.concurrency\` 4, the default; it verifies checksums, RPM digests and signatures, and fsyncs before publishing)."
echo "dnf reposync: \`$dnf_cmd\`."
echo "curl: \`curl -s --fail --parallel --parallel-max 4 -K LIST\` of every file of the origin, to /dev/null (raw loopback rate) and to files."
echo "Median of $runs runs, contenders alternating within each run; times in seconds."
echo
echo "| origin | files, MB | rpmirror sync | dnf reposync -g | curl → /dev/null | curl → disk | dnf / rpmirror | curl→null / rpmirror |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for fx in small large; do
  if [ $fx = small ]; then dir=$small/v1; desc="$small_n packages × $((small_size / 1024)) KiB"; else dir=$large/v1; desc="$large_n packages × $((large_size / 1048576)) MiB"; fi
  initial $fx "$dir"
  bytes=$(bytes_of "$dir"); nfiles=$(files_of "$dir" | wc -l)
  eval "${fx}_r=$med_r ${fx}_d=$med_d ${fx}_c=$med_c ${fx}_bytes=$bytes"
  echo "| $desc | $nfiles, $(mb "$bytes") | $(fmt3 "$med_r") | $(fmt3 "$med_d") | $(fmt3 "$med_c") | $(fmt3 "$med_cd") | $(ratio "$med_d" "$med_r")× | $(ratio "$med_c" "$med_r") |"
  result "sync_${fx}_rpmirror" "$med_r"; result "sync_${fx}_dnf" "$med_d"; result "sync_${fx}_curl" "$med_c"; result "sync_${fx}_curldisk" "$med_cd"
  result "sync_${fx}_speedup" "$(ratio "$med_d" "$med_r")"
done
large_rate=$(awk -v b="$large_bytes" -v t="$large_r" 'BEGIN {printf "%.0f", b / 1e6 / t}')
large_crate=$(awk -v b="$large_bytes" -v t="$large_c" 'BEGIN {printf "%.0f", b / 1e6 / t}')
result sync_large_rate "$large_rate"; result sync_large_curlrate "$large_crate"
result sync_large_fraction "$(ratio "$large_c" "$large_r")"
echo
echo "Large packages: rpmirror $large_rate MB/s, curl to /dev/null $large_crate MB/s ($(awk -v a="$large_c" -v b="$large_r" 'BEGIN {printf "%.0f", 100 * a / b}')% of the raw loopback rate)."
echo

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
  verify_cmp $fx
  pb=$(find "$work/$fx-mirror/Packages" -name '*.rpm' -printf '%s\n' | awk '{s += $1} END {print s}')
  echo "| $fx ($v_n packages) | $(fmt3 "$v_r") s | $(fmt3 "$v_s") s | $(awk -v n="$v_n" -v t="$v_r" 'BEGIN {printf "%.0f", n / t}') | $(awk -v n="$v_n" -v t="$v_s" 'BEGIN {printf "%.0f", n / t}') | $(awk -v b="$pb" -v t="$v_r" 'BEGIN {printf "%.0f", b / 1e6 / t}') | $(awk -v b="$pb" -v t="$v_s" 'BEGIN {printf "%.0f", b / 1e6 / t}') | $(ratio "$v_s" "$v_r")× |"
  result "verify_${fx}_rpmirror" "$v_r"; result "verify_${fx}_shell" "$v_s"; result "verify_${fx}_speedup" "$(ratio "$v_s" "$v_r")"
done
echo

# --- 2. incremental sync ------------------------------------------------------
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
R=(); C=()
for i in $(seq "$runs"); do
  rm -rf "$work/small-state" "$work/small-mirror"
  cp -a "$work/inc-state0" "$work/small-state"; cp -a "$work/inc-mirror0" "$work/small-mirror"
  tr=$(timed "$rpmirror" sync -c "$work/small.yaml") || exit 1
  tc=$(timed curl_get "$work/changed.curl") || exit 1
  log "incremental run $i: rpmirror ${tr}s curl ${tc}s"
  R+=("$tr"); C+=("$tc")
done
grep -q "$(grep '\.rpm$' "$work/changed.urls" | head -1 | xargs basename)" <(find "$work/small-mirror" -name '*.rpm') || { log "incremental sync did not publish the update"; exit 1; }
inc_r=$(median "${R[@]}"); inc_c=$(median "${C[@]}")
result inc_rpmirror "$inc_r"; result inc_curl "$inc_c"; result inc_ratio "$(ratio "$inc_r" "$inc_c")"
# where the time goes: a CPU profile is not available from the CLI, so
# split it with the log's own timestamps (-v --log-format json)
echo "### Incremental sync: $changed_pkgs of $small_n packages updated"
echo
echo "The mirror serves revision 1 (restored from a copy before each run); the origin now serves revision 2, where"
echo "$changed_pkgs packages have a new release. curl fetches just the files that differ between the two revisions"
echo "($(wc -l < "$work/changed.urls") files, $(mb "$changed_bytes") MB: the $changed_pkgs packages and the new repodata), 4 at once, to /dev/null."
echo "Median of $runs runs."
echo
echo "| rpmirror sync | curl, changed files only | rpmirror / curl |"
echo "| ---: | ---: | ---: |"
echo "| $(fmt3 "$inc_r") s | $(fmt3 "$inc_c") s | $(ratio "$inc_r" "$inc_c")× |"
echo

# --- 3. no-op sync of many repositories -----------------------------------------
args=()
for i in $(seq -w 1 "$noop_n"); do args+=("r$i" "$base/noop/r$i/" "$work/noop-mirror/r$i"); done
write_cfg "$work/noop.yaml" "$work/noop-state" "${args[@]}"
"$rpmirror" sync -c "$work/noop.yaml" >/dev/null 2>&1 || { log "initial sync of $noop_n repos failed"; exit 1; }
dnf_setup "$work/noop-dnf" "$base/noop/r001/"
dnf_import "$work/noop-dnf"
dnf_reposync "$work/noop-dnf" >/dev/null 2>&1
R=(); D=()
for i in $(seq "$runs"); do
  tr=$(timed "$rpmirror" sync -c "$work/noop.yaml") || exit 1
  td=$(timed dnf_reposync "$work/noop-dnf") || exit 1
  log "no-op run $i: rpmirror ($noop_n repos) ${tr}s dnf (1 repo) ${td}s"
  R+=("$tr"); D+=("$td")
done
grep -q "r001" "$work/last.out" 2>/dev/null || true
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
echo "Fixtures: \`internal/benchgen/cmd/benchgen rpms -packages $small_n -size $small_size\` (and \`-updated $small_upd -from v1\` for revision 2),"
echo "\`benchgen rpms -packages $large_n -size $large_size -prefix large\`; cached in \`$cache\`."
