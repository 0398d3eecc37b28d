# bench-lib.sh: helpers shared by scripts/bench-*.sh. Sourced, not run.
#
# Provides: $root, $cache (fixtures kept between runs), $work (removed on
# exit), $runs, $quick, $rpmirror (a fresh build), start_nginx, measure,
# median, pratio (paired ratios), settle (before each timed run), result (a key=value line for the Goals table of bench.sh), want
# (whether BENCH_ONLY selects a section).

root=$(cd "$(dirname "$0")/.." && pwd)
quick=${QUICK:-0}
cache=${RPMIRROR_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rpmirror-bench}
results=${BENCH_RESULTS:-/dev/null}
if [ "$quick" = 1 ]; then runs=${RUNS:-1}; else runs=${RUNS:-5}; fi
mkdir -p "$cache"
work=$(mktemp -d "${TMPDIR:-/tmp}/rpmirror-bench.XXXXXX")
chmod 755 "$work"
# gpg (run by dnf and rpmsign) leaves a socket directory per home under
# /run/user/<uid>/gnupg; the ones that appear during the run and are empty
# at its end (their agents gone with their homes in $work) are removed.
gpg_socketdirs=/run/user/$(id -u)/gnupg
gpg_before=$(ls "$gpg_socketdirs" 2>/dev/null || true)
bench_pids=()
bench_cleanup() {
  for p in "${bench_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
  if [ -d "$gpg_socketdirs" ]; then
    sleep 2 # agents notice their home is gone and exit
    for d in $(ls "$gpg_socketdirs"); do
      case "$d" in d.*) ;; *) continue ;; esac
      grep -qxF "$d" <<<"$gpg_before" || rmdir "$gpg_socketdirs/$d" 2>/dev/null || true
    done
  fi
}
trap bench_cleanup EXIT

log() { echo "bench: $*" >&2; }

# want NAME...: whether BENCH_ONLY (comma-separated section names; empty:
# all) selects any of the sections NAME.
want() {
  [ -z "${BENCH_ONLY:-}" ] && return 0
  local n
  for n in "$@"; do
    case ",$BENCH_ONLY," in *",$n,"*) return 0 ;; esac
  done
  return 1
}

rpmirror=$work/rpmirror
(cd "$root" && CGO_ENABLED=0 go build -trimpath -o "$rpmirror" ./cmd/rpmirror)
benchgen=$work/benchgen
(cd "$root" && CGO_ENABLED=0 go build -o "$benchgen" ./internal/benchgen/cmd/benchgen)

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_nginx serves $work/www on 127.0.0.1:$web (sendfile, two workers);
# $NGINX_LOCATIONS, if set, is added to its server block.
start_nginx() {
  web=$(port)
  mkdir -p "$work/www"
  cat > "$work/nginx.conf" <<NGINX
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  types { application/x-rpm rpm; application/xml xml; }
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:$web;
    root $work/www;
    location ~ /\.[^/]*rpmirror { deny all; }
${NGINX_LOCATIONS:-}
  }
}
NGINX
  [ "$(id -u)" = 0 ] && sed -i '1i user root;' "$work/nginx.conf"
  nginx -c "$work/nginx.conf" -p "$work" 2>/dev/null
}

now() { date +%s.%N; }

# median N1 N2 ...: the median of the numbers (the lower middle one of an even count).
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# fmt3 X: X with three significant decimals.
fmt3() { awk -v x="$1" 'BEGIN {printf (x < 10 ? "%.3f" : "%.1f"), x}'; }

# ratio A B: A/B with two decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }

# pratio "A1 A2 ..." "B1 B2 ...": the median of the rounds' ratios Ai/Bi,
# with two decimals; empty when either list is. A round runs the two
# back to back, so each ratio compares them in one state of the machine:
# on a shared or virtual machine, times drift by up to ±50% between
# rounds minutes apart, and a ratio of the two medians would mix rounds.
pratio() {
  local -a a b r=()
  read -ra a <<<"$1"; read -ra b <<<"$2"
  { [ ${#a[@]} -gt 0 ] && [ ${#a[@]} = ${#b[@]} ]; } || return 0
  local i
  for i in "${!a[@]}"; do r+=("$(awk -v x="${a[$i]}" -v y="${b[$i]}" 'BEGIN {printf "%.6f", (y > 0 ? x / y : 0)}')"); done
  awk -v m="$(median "${r[@]}")" 'BEGIN {printf "%.2f", m}'
}

# timed CMD...: run CMD, print its wall-clock seconds; fail loudly if it fails.
timed() {
  local t0 t1
  t0=$(now)
  if ! "$@" >"$work/last.out" 2>"$work/last.err"; then
    log "failed: $*"; tail -20 "$work/last.err" >&2; tail -5 "$work/last.out" >&2
    return 1
  fi
  t1=$(now)
  awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.4f\n", b - a}'
}

# settle: write back what earlier runs left dirty before the next timed
# run, so that no contender's flushes (rpmirror's syncfs of a large batch,
# dnf's, dd's) write another's files, nor the disk write them back under
# its run. Not timed.
settle() { sync; }

# result KEY VALUE: record a figure for the Goals table of bench.sh.
result() { echo "$1=$2" >> "$results"; }
