#!/usr/bin/env bash
# bench-scale.sh measures planning a sync of distribution-scale metadata:
# rpmirror sync --dry-run of a synthetic 100,000-package primary.xml
# (internal/benchgen), gzip and zstd, served by nginx on loopback, against
# an empty mirror and against a mirror rpmirror published at the previous
# revision (1% of the packages differ; its index in state_dir). It prints a Markdown section for
# docs/benchmarks.md (issue item 4): wall time, MB/s of uncompressed
# primary.xml and peak RSS (/usr/bin/time).
#
#   scripts/bench-scale.sh          # RUNS=5; QUICK=1: 20,000 packages, 1 run
set -euo pipefail
for tool in nginx go python3 /usr/bin/time; do
  command -v $tool >/dev/null || { echo "bench-scale: $tool is not installed" >&2; exit 1; }
done
. "$(dirname "$0")/bench-lib.sh"
if [ "$quick" = 1 ]; then n=${SCALE_PACKAGES:-20000}; else n=${SCALE_PACKAGES:-100000}; fi
changed=$((n / 100))
fx=$cache/primary-$n
if [ ! -f "$fx/done" ]; then
  log "generating a $n-package primary.xml, two revisions (once; cached in $fx)"
  rm -rf "$fx"
  "$benchgen" primary -packages "$n" -revision 1 "$fx/rev1" >&2
  "$benchgen" primary -packages "$n" -revision 2 -changed "$changed" "$fx/rev2" >&2
  touch "$fx/done"
fi
open_size=$(sed -n 's|.*<open-size>\([0-9]*\)</open-size>.*|\1|p' "$fx/rev2/gz/repodata/repomd.xml")
start_nginx
ln -s "$fx/rev2" "$work/www/scale"
base=http://127.0.0.1:$web

echo "### Distribution-scale metadata: planning a sync of $n packages"
echo
echo "A synthetic primary.xml of $n packages ($(awk -v b="$open_size" 'BEGIN {printf "%.0f", b / 1e6}') MB uncompressed; entries shaped like Fedora's: requires, provides, files;"
echo "\`benchgen primary -packages $n\`) with a valid repomd.xml, served by nginx on 127.0.0.1, gzip and zstd."
echo "\`rpmirror sync --dry-run -c CFG\` downloads repomd.xml and primary, verifies its checksum, decompresses, parses and plans:"
echo "against an **empty** mirror (every package to fetch), and against a mirror **behind** by one revision, as rpmirror left it"
echo "when it published that revision (it serves the previous primary.xml and holds its packages, sparse files of their sizes, which the plan lists; \`state_dir\` holds the index of it that the publish"
echo "wrote, made here by \`benchgen index\`; $changed packages differ). A mirror rpmirror did not publish (filled by rsync) has no"
echo "index: its first sync reads the primary it serves and checks every file it keeps; **adopted** is such a mirror holding"
echo "revision 1's repodata and none of its packages (the primary it serves read; every package missing, so found so by one listing)."
echo "MB/s is uncompressed primary.xml of the"
echo "origin per second of the whole command's wall time (download, checksum, decompression, parse, diff, report); peak RSS"
echo "from \`/usr/bin/time -f %M\`. Median of $runs runs."
echo
echo "| format | mirror | compressed MB | wall time | MB/s | peak RSS | would fetch |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: |"
worst_rate=""; worst_rss=0
for fmt in gz zst; do
  csize=$(find "$fx/rev2/$fmt/repodata" -name "*primary*" -printf '%s\n')
  for mc in empty behind adopted; do
    mpath=$work/mirror-$fmt-$mc
    rm -rf "$mpath"
    rm -rf "$work/state-$fmt-$mc"
    if [ $mc != empty ]; then mkdir -p "$mpath"; cp -r "$fx/rev1/$fmt/repodata" "$mpath/"; fi
    if [ $mc = behind ]; then
      # A mirror rpmirror published: it serves revision 1 and holds its
      # packages, and state_dir holds the index that publish wrote
      # (benchgen index stands in for that sync: the synthetic packages
      # are sparse files of their sizes, listed by the plan as a real
      # mirror's are). "adopted" has no index: the primary it serves is
      # read, and its packages are missing.
      "$benchgen" index -files -o "$work/state-$fmt-$mc/index/scale/m.idx" "$mpath"
    fi
    cat > "$work/$fmt-$mc.yaml" <<YAML
state_dir: $work/state-$fmt-$mc
repos:
  - name: scale
    origin: $base/scale/$fmt/
    mirrors:
      - name: m
        path: $mpath
YAML
    T=(); M=()
    for i in $(seq "$runs"); do
      /usr/bin/time -f '%M %e' -o "$work/time.out" "$rpmirror" sync --dry-run -c "$work/$fmt-$mc.yaml" > "$work/dry.out" 2>"$work/dry.err" \
        || { log "dry run failed"; tail "$work/dry.err" >&2; exit 1; }
      read -r rss secs < "$work/time.out"
      T+=("$secs"); M+=("$rss")
      log "dry run $fmt $mc run $i: ${secs}s ${rss} KB"
    done
    t=$(median "${T[@]}"); m=$(median "${M[@]}")
    fetch=$(grep -ciE '\.rpm' "$work/dry.out" || true)
    rate=$(awk -v b="$open_size" -v t="$t" 'BEGIN {printf "%.0f", b / 1e6 / t}')
    echo "| $fmt | $mc | $(awk -v b="$csize" 'BEGIN {printf "%.1f", b / 1e6}') | $(fmt3 "$t") s | $rate | $(awk -v k="$m" 'BEGIN {printf "%.0f MB", k / 1024}') | $fetch |"
    result "scale_${fmt}_${mc}_rate" "$rate"; result "scale_${fmt}_${mc}_rss_mb" "$(awk -v k="$m" 'BEGIN {printf "%.0f", k / 1024}')"
    [ $mc = adopted ] && continue # not one of the goal's two cases
    if [ -z "$worst_rate" ] || [ "$rate" -lt "$worst_rate" ]; then worst_rate=$rate; fi
    [ "$m" -gt "$worst_rss" ] && worst_rss=$m
  done
done
result scale_packages "$n"; result scale_worst_rate "$worst_rate"; result scale_worst_rss_mb "$(awk -v k="$worst_rss" 'BEGIN {printf "%.0f", k / 1024}')"
echo
echo "\"would fetch\" counts the lines of the dry run's report naming a package (each package may appear once to fetch and once to publish)."
