#!/usr/bin/env bash
# Measures the sign-in figures recorded in docs/benchmarks.md:
#   POST /api/v1/auth/login throughput and latency at concurrency 16,
#   /healthz latency alone and while those sign-ins run beside it
#   (password hashing must not block the async runtime).
# Usage: scripts/bench-login.sh [output-file]
# Everything runs on 127.0.0.1 against a release build.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/bench-login.txt}
port=${BENCH_PORT:-18444}
base="https://127.0.0.1:$port"
work=$(mktemp -d)
trap 'kill "${pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT

cargo build --release -q -p citadel -p citadel-loadgen
bin=target/release/citadel
loadgen=target/release/citadel-loadgen
say() { echo "$*" | tee -a "$out"; }
json() { curl -sk -H 'content-type: application/json' "$@"; }

"$bin" --data-dir "$work/data" serve --listen "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
pid=$!
until curl -sk -o /dev/null "$base/readyz"; do sleep 0.05; done
token=$(sed -n 's/^Bootstrap token (one-time; creates the first platform operator): //p' "$work/serve.log")
password='Load-Test-Passw0rd!'
json -o /dev/null -X POST "$base/api/v1/platform/bootstrap" \
  -d "{\"token\":\"$token\",\"login\":\"bench\",\"password\":\"$password\"}"
op_csrf=$(json -c "$work/op" -X POST "$base/api/v1/platform/login" \
  -d "{\"login\":\"bench\",\"password\":\"$password\"}" | jq -r .csrf_token)
otp=$(json -b "$work/op" -H "x-csrf-token: $op_csrf" -X POST "$base/api/v1/platform/tenants" \
  -d '{"slug":"bench","admin_email":"admin@bench.cn"}' | jq -r .one_time_password)
csrf=$(json -c "$work/admin" -X POST "$base/api/v1/auth/login" \
  -d "{\"tenant\":\"bench\",\"login\":\"admin@bench.cn\",\"password\":\"$otp\"}" | jq -r .csrf_token)
json -o /dev/null -b "$work/admin" -H "x-csrf-token: $csrf" -X POST "$base/api/v1/auth/password" \
  -d "{\"current_password\":\"$otp\",\"new_password\":\"$password\"}"
login_body="{\"tenant\":\"bench\",\"login\":\"admin@bench.cn\",\"password\":\"$password\"}"

: >"$out"
say "date: $(date -u +%FT%TZ)"
say "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(lscpu | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print $2}'), kernel $(uname -r)"
say "commit: $(git rev-parse --short HEAD)"

run() { # run <url> <concurrency> <seconds> [loadgen flags]: prints "rps p50 p99 errors"
  local url=$1 c=$2 d=$3; shift 3
  "$loadgen" "$url" --ca "$work/data/tls/cert.pem" --concurrency "$c" --warmup 2 --duration "$d" --json "$@" |
    jq -r '"\(.rps) \(.p50_ms) \(.p99_ms) \(.errors)"'
}
summary() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {printf "median %s, min %s, max %s (runs: %d)", v[int((NR+1)/2)], v[1], v[NR], NR}'; }

hz_rps=(); hz_p50=(); hz_p99=()
li_rps=(); li_p50=(); li_p99=(); li_err=()
mix_hz_p50=(); mix_hz_p99=(); mix_li_rps=(); mix_li_p99=()
for i in 1 2 3; do
  read -r rps p50 p99 _ < <(run "$base/healthz" 4 10)
  hz_rps+=("$rps"); hz_p50+=("$p50"); hz_p99+=("$p99")
  read -r rps p50 p99 err < <(run "$base/api/v1/auth/login" 16 10 --post-json "$login_body")
  li_rps+=("$rps"); li_p50+=("$p50"); li_p99+=("$p99"); li_err+=("$err")
  run "$base/api/v1/auth/login" 16 12 --post-json "$login_body" >"$work/mix-login" &
  mixpid=$!
  sleep 1 # the sign-in load is past its own warm-up when /healthz starts measuring
  read -r _ p50 p99 _ < <(run "$base/healthz" 4 10)
  mix_hz_p50+=("$p50"); mix_hz_p99+=("$p99")
  wait "$mixpid"
  read -r rps _ p99 _ <"$work/mix-login"
  mix_li_rps+=("$rps"); mix_li_p99+=("$p99")
done
say "POST /api/v1/auth/login, one user, concurrency 16, 3 runs of 10 s (2 s warm-up), argon2id m=19456 KiB t=4 p=1 on 2 hashing threads:"
say "  sign-ins/s $(summary "${li_rps[@]}"); p50 ms $(summary "${li_p50[@]}"); p99 ms $(summary "${li_p99[@]}"); errors $(summary "${li_err[@]}")"
say "/healthz at concurrency 4, alone: requests/s $(summary "${hz_rps[@]}"); p50 ms $(summary "${hz_p50[@]}"); p99 ms $(summary "${hz_p99[@]}")"
say "/healthz at concurrency 4 while the sign-in load runs: p50 ms $(summary "${mix_hz_p50[@]}"); p99 ms $(summary "${mix_hz_p99[@]}")"
say "  sign-ins meanwhile: sign-ins/s $(summary "${mix_li_rps[@]}"); p99 ms $(summary "${mix_li_p99[@]}")"
say "RSS after the runs: $(awk '/VmRSS/ {print $2}' "/proc/$pid/status") KiB"
say "sign-in responses by status (all runs, from /metrics):"
curl -sk "$base/metrics" | grep '^citadel_http_requests_total' | grep 'route="/api/v1/auth/login"' | tee -a "$out"
grep -iE 'error|warn' "$work/serve.log" | sort | uniq -c | sort -rn | head -5 | tee -a "$out" || true
