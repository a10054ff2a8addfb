#!/usr/bin/env bash
# The cost of the audit log on the records API: two servers, one built
# without the audit layer (BIN_OFF, e.g. the commit before it) and one
# with it (BIN_ON), each seeded by scripts/bench-records.sh and held; then
# the same runs against each in turn, ABBA twice, with nothing else
# loading the machine: get by id, a filtered page, create, update, and a
# seed of 100,000 records.
# Usage: BIN_OFF=path BIN_ON=path scripts/bench-audit.sh [output-file]
# BENCH_RUNS picks some of the runs (default: "get list create update seed");
# BENCH_BACKEND=postgres runs both against the machine's PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/bench-audit.txt}
: "${BIN_OFF:?the build without auditing}" "${BIN_ON:?the build with auditing}"
seconds=${BENCH_SECONDS:-10}
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
probe() { python3 -c 'import time; t = time.perf_counter(); sum(i * i for i in range(10_000_000)); print(f"{time.perf_counter() - t:.2f} s")'; }
say() { echo "$*" | tee -a "$out"; }

hold() { # hold <name> <binary> <port>: a seeded server, its settings in $work/<name>.env
  BENCH_BIN=$2 BENCH_PORT=$3 BENCH_HOLD=100000 BENCH_HOLD_ENV="$work/$1.env" \
    scripts/bench-records.sh "${BENCH_BACKEND:-sqlite}" "$work/$1.seed.txt" >/dev/null 2>&1 &
  pids+=($!)
  until [ -s "$work/$1.env" ]; do sleep 1; done
}
hold off "$BIN_OFF" 18461
hold on "$BIN_ON" 18462

: >"$out"
say "date: $(date -u +%FT%TZ)"
say "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r)"
say "off: $BIN_OFF ($(grep -m1 '^commit' "$work/off.seed.txt" || true)); on: $BIN_ON ($(grep -m1 '^commit' "$work/on.seed.txt" || true))"
say "seeding while held: off $(grep -m1 '^seed' "$work/off.seed.txt" | cut -d: -f2-); on $(grep -m1 '^seed' "$work/on.seed.txt" | cut -d: -f2-)"
say "cpu probe: $(probe)"

loadgen=${CARGO_TARGET_DIR:-target}/release/citadel-loadgen
run() { # run <label> <which> <path suffix> [loadgen flags]
  local label=$1 which=$2 suffix=$3; shift 3
  # shellcheck disable=SC1090
  (source "$work/$which.env"
   r=$("$loadgen" "$records$suffix" --ca "$ca" --concurrency 16 --warmup 2 --duration "$seconds" --json \
     --header "$auth" "$@")
   echo "$label, $which: $(echo "$r" | jq -r '"\(.rps) req/s, p50 \(.p50_ms) ms, p99 \(.p99_ms) ms, errors \(.errors)"')") | tee -a "$out"
}
list_query='?filter=%E9%87%91%E9%A2%9D%20%3E%3D%20{rand}&sort=%E9%87%91%E9%A2%9D&limit=50'
create='{"fields":{"名称":"新客户{seq}","金额":"12.50","状态":"新建","数量":{rand},"签约日":"2026-11-22","邮箱":"new{seq}@example.cn","电话":"13800138000","完成":false,"等级":1}}'
abba="off on on off off on on off"
runs=" ${BENCH_RUNS:-get list create update seed} "
wanted() { [[ $runs == *" $1 "* ]]; }
if wanted get; then for w in $abba; do run "get by id (100k)" "$w" "/{rand}" --rand-range 1..=100000; done; fi
if wanted list; then for w in $abba; do run "filtered list, 50 sorted (100k)" "$w" "$list_query" --rand-range 0..=990000; done; fi
if wanted create; then for w in $abba; do run "create" "$w" "" --body "$create" --rand-range 1..=1000; done; fi
if wanted update; then for w in $abba; do run "update" "$w" "/{rand}" --method PATCH --body '{"fields":{"数量":{rand},"状态":"跟进"}}' --rand-range 1..=100000; done; fi
# Seeding into the same table: each server seeds twice, at 100,000 and at
# 200,000 records, so the order is fair to both.
wanted seed && for w in off on on off; do
  # shellcheck disable=SC1090
  (source "$work/$w.env"
   t=${records%/records}; t=${t##*/}
   echo "seed 100,000 more records, $w: $(python3 scripts/seed_records.py "$base" "$ca" "${auth#authorization: Bearer }" "$t" 100000 --parallel 4)") | tee -a "$out"
done
say "cpu probe after: $(probe)"
