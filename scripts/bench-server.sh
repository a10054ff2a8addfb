#!/usr/bin/env bash
# Measures the server figures recorded in docs/benchmarks.md:
#   cold start to /readyz 200 (fresh and existing data directory),
#   RSS idle and with 100 and 1,000 tenants,
#   /healthz requests/s at concurrency 16 over HTTPS.
# Usage: scripts/bench-server.sh [output-file]
# Everything runs on 127.0.0.1 against a release build.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/bench-server.txt}
port=${BENCH_PORT:-18443}
base="https://127.0.0.1:$port"
work=$(mktemp -d)
trap 'kill "${pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT

cargo build --release -q -p citadel -p citadel-loadgen
bin=target/release/citadel
loadgen=target/release/citadel-loadgen

ms() { date +%s%N | awk '{printf "%d", $1/1000000}'; }
say() { echo "$*" | tee -a "$out"; }
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

start() { # start <data-dir>; sets pid and elapsed (ms from spawn until /readyz answered 200)
  # A Python poller spawns the server and probes /readyz every millisecond,
  # so the figure is not blurred by a shell loop's process starts.
  local line
  line=$(python3 - "$bin" "$1" "$port" "$work/serve.log" <<'PY'
import http.client, ssl, subprocess, sys, time
binary, data, port, log = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
t0 = time.monotonic()
proc = subprocess.Popen([binary, "--data-dir", data, "serve", "--listen", f"127.0.0.1:{port}"],
                        stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)
while True:
    if proc.poll() is not None:
        sys.exit(f"server exited: see {log}")
    try:
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=1)
        conn.request("GET", "/readyz")
        if conn.getresponse().status == 200:
            break
    except OSError:
        time.sleep(0.001)
print(proc.pid, round((time.monotonic() - t0) * 1000, 1))
PY
)
  pid=${line% *}
  elapsed=${line#* }
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=; }

: >"$out"
say "date: $(date -u +%FT%TZ)"
say "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(lscpu | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print $2}'), kernel $(uname -r)"
say "commit: $(git rev-parse --short HEAD)"

fresh=(); again=()
for i in $(seq 10); do
  rm -rf "$work/cold"
  start "$work/cold"; fresh+=("$elapsed"); stop
  start "$work/cold"; again+=("$elapsed"); stop
done
summary() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {printf "median %s, min %s, max %s (runs: %d)", v[int((NR+1)/2)], v[1], v[NR], NR}'; }
say "cold start to /readyz 200, empty data dir (ms): $(summary "${fresh[@]}")"
say "start to /readyz 200, existing data dir (ms): $(summary "${again[@]}")"

rm -rf "$work/rss"
start "$work/rss"
token=$(sed -n 's/^Bootstrap token (one-time; creates the first platform operator): //p' "$work/serve.log")
curl -sk -o /dev/null -X POST "$base/api/v1/platform/bootstrap" -H 'content-type: application/json' \
  -d "{\"token\":\"$token\",\"login\":\"bench\",\"password\":\"Load-Test-Passw0rd!\"}"
curl -sk -o /dev/null -c "$work/jar" -X POST "$base/api/v1/platform/login" -H 'content-type: application/json' \
  -d '{"login":"bench","password":"Load-Test-Passw0rd!"}'
sleep 2
say "RSS idle after start and operator sign-in: $(rss_kib "$pid") KiB"
create_until() {
  local n=$1 t0 t1 have
  have=$(curl -sk -b "$work/jar" "$base/api/v1/platform/tenants" | { grep -o '"slug"' || true; } | wc -l)
  t0=$(ms)
  for ((i = have; i < n; i++)); do
    curl -sk -w '\n' -b "$work/jar" -X POST "$base/api/v1/platform/tenants" -H 'content-type: application/json' \
      -d "{\"slug\":\"bench-$i\",\"admin_email\":\"admin@bench-$i.cn\"}" |
      sed -n 's/.*"one_time_password":"\([^"]*\)".*/\1/p' >>"$work/otps"
  done
  t1=$(ms)
  sleep 2
  say "RSS with $n tenants: $(rss_kib "$pid") KiB (created $((n - have)) in $((t1 - t0)) ms, one curl process each); open tenant databases: $(curl -sk "$base/metrics" | awk '/^citadel_open_tenant_databases/ {print $2}')"
}
create_until 100
create_until 1000
say "data directory with 1000 tenants: $(du -sh "$work/rss" | cut -f1)"
stop
start "$work/rss"
sleep 2
say "RSS idle after a restart with 1000 tenants: $(rss_kib "$pid") KiB (start to /readyz: $elapsed ms)"
i=0
while read -r otp && [ "$i" -lt 300 ]; do
  curl -sk -o /dev/null -X POST "$base/api/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"tenant\":\"bench-$i\",\"login\":\"admin@bench-$i.cn\",\"password\":\"$otp\"}"
  i=$((i + 1))
done <"$work/otps"
sleep 2
say "RSS after signing in to $i tenants: $(rss_kib "$pid") KiB; open tenant databases: $(curl -sk "$base/metrics" | awk '/^citadel_open_tenant_databases/ {print $2}') (the cache holds at most 256)"

steal() { awk '/^cpu / {print $9}' /proc/stat; }
load() { # load <extra loadgen flags>: one 5 s run after 1 s warm-up; prints requests/s
  "$loadgen" "$base/healthz" --ca "$work/rss/tls/cert.pem" --concurrency 16 --warmup 1 --duration 5 --json "$@" |
    sed -n 's/.*"rps":\([0-9]*\).*"p50_ms":\([0-9.]*\).*"p99_ms":\([0-9.]*\).*/\1 \2 \3/p'
}
h1=(); h2=(); h1p50=(); h1p99=(); steal0=$(steal)
for i in 1 2 3 4 5; do
  read -r rps p50 p99 < <(load); h1+=("$rps"); h1p50+=("$p50"); h1p99+=("$p99")
  read -r rps p50 p99 < <(load --http2); h2+=("$rps")
done
steal1=$(steal)
say "/healthz over HTTPS at concurrency 16, server and load driver sharing the 2 cores, 5 runs of 5 s each (1 s warm-up), HTTP/1.1 and HTTP/2 interleaved:"
say "  HTTP/1.1 keep-alive, a connection per worker: requests/s $(summary "${h1[@]}"); p50 ms $(summary "${h1p50[@]}"); p99 ms $(summary "${h1p99[@]}")"
say "  HTTP/2, all workers on one connection: requests/s $(summary "${h2[@]}")"
say "  CPU steal during the runs: $((steal1 - steal0)) ticks"
say "RSS after the load: $(rss_kib "$pid") KiB"
stop
