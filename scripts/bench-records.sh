#!/usr/bin/env bash
# Measures the records figures recorded in docs/benchmarks.md: a table of
# 10 fields seeded with 100,000 records through the batch API, then at
# concurrency 16 over HTTPS keep-alive with a personal access token:
#   get one record by (random) id, a filtered and sorted page of 50,
#   create one record, update one record;
# requests/s, p50, p99 and the server's RSS; and the filtered page on a
# table of 1,000,000 records.
# With BENCH_ENCRYPTION=1 it instead compares that table with one whose
# 备注, 邮箱 and 电话 are encrypted fields, side by side, and stops.
# With BENCH_UI=1 it instead measures the web grid page of the 100,000
# records (first page, filtered and sorted) beside the API's list of the
# same page, at concurrency 1 and 16, and the grid page's weight, and stops.
# Usage: scripts/bench-records.sh [sqlite|postgres] [output-file]
# Everything runs on 127.0.0.1 against a release build.
set -euo pipefail
cd "$(dirname "$0")/.."
backend=${1:-sqlite}
out=${2:-target/bench-records-$backend.txt}
port=${BENCH_PORT:-18445}
seconds=${BENCH_SECONDS:-10}
big=${BENCH_BIG:-1000000}
base="https://127.0.0.1:$port"
work=$(mktemp -d)
trap 'kill "${pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT

cargo build --release -q -p citadel -p citadel-loadgen
bin=${BENCH_BIN:-${CARGO_TARGET_DIR:-target}/release/citadel}  # BENCH_BIN: another build to compare
loadgen=${CARGO_TARGET_DIR:-target}/release/citadel-loadgen
say() { echo "$*" | tee -a "$out"; }
# This VM's CPU speed varies with its neighbours (the same build has run
# 30 % apart an hour later): a fixed single-thread task, timed beside each
# run, says which kind of hour it was.
probe() { python3 -c 'import time; t = time.perf_counter(); sum(i * i for i in range(10_000_000)); print(f"{time.perf_counter() - t:.2f} s")'; }
json() { curl -sk -H 'content-type: application/json' "$@"; }

db_args=()
if [ "$backend" = postgres ]; then
  pgdb="citadel_bench_$$"
  psql -q -h 127.0.0.1 -U postgres -c "CREATE DATABASE $pgdb" postgres
  trap 'kill "${pid:-0}" 2>/dev/null || true; sleep 1; psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $pgdb WITH (FORCE)" postgres; rm -rf "$work"' EXIT
  db_args=(--database "postgres://postgres@127.0.0.1:5432/$pgdb")
fi
"$bin" --data-dir "$work/data" "${db_args[@]}" serve --listen "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
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
pat=$(json -b "$work/admin" -H "x-csrf-token: $csrf" -X POST "$base/api/v1/me/tokens" \
  -d "{\"name\":\"bench\",\"expires_in_days\":1,\"password\":\"$password\"}" | jq -r .secret)
auth="authorization: Bearer $pat"
api() { json -H "$auth" "$@"; }
app=$(api -X POST "$base/api/v1/apps" -d '{"name":"基准"}' | jq -r .id)
fields='[
  {"name":"名称","type":"text","filterable":true},
  {"name":"金额","type":"currency","filterable":true},
  {"name":"状态","type":"single_select","filterable":true,
   "choices":[{"name":"新建"},{"name":"跟进"},{"name":"成交"},{"name":"流失"}]},
  {"name":"数量","type":"integer"},
  {"name":"签约日","type":"date","filterable":true},
  {"name":"备注","type":"long_text"},
  {"name":"邮箱","type":"email"},
  {"name":"电话","type":"mobile_phone"},
  {"name":"完成","type":"boolean"},
  {"name":"等级","type":"integer"}]'
table() { api -X POST "$base/api/v1/apps/$app/tables" -d "{\"name\":\"$1\",\"fields\":${2:-$fields}}" | jq -r .id; }
t100k=$(table 客户)
t1m=$(table 大表)
ca="$work/data/tls/cert.pem"

: >"$out"
say "date: $(date -u +%FT%TZ)"
say "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(lscpu | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print $2}'), kernel $(uname -r)"
say "commit: $(git rev-parse --short HEAD)  backend: $backend"
say "cpu probe (10M squares summed in Python; lower is a faster machine): $(probe)"

seed=$(python3 scripts/seed_records.py "$base" "$ca" "$pat" "$t100k" 100000 --parallel 4)
say "seed 100,000 records, batches of 1,000, 4 in flight: $seed"

run() { # run <label> <url> [loadgen flags]
  local label=$1 url=$2; shift 2
  local r
  if [ -n "${BENCH_PROFILE:-}" ] && [[ "$label" == *"$BENCH_PROFILE"* ]]; then
    # For profiling by hand: perf samples the server through the run.
    local data="target/perf-${label//[^a-z0-9]/_}-$(date +%s).data"
    (sleep 3; perf record -F 999 -g -p "$pid" -o "$data" -- sleep 6 >/dev/null 2>&1) &
  fi
  r=$("$loadgen" "$url" --ca "$ca" --concurrency "${RUN_CONCURRENCY:-16}" --warmup 2 --duration "$seconds" --json \
    --header "${RUN_AUTH:-$auth}" "$@")
  say "$label: $(echo "$r" | jq -r '"\(.rps) req/s, p50 \(.p50_ms) ms, p99 \(.p99_ms) ms, errors \(.errors)"')"
}
rss() { awk '/VmRSS|VmHWM/ {printf "%s %.0f MB  ", $1, $2/1024}' "/proc/$pid/status"; }

records="$base/api/v1/tables/$t100k/records"
# 金额 is n*7919 mod 1e6 (+ cents): a random lower bound and the sort use its index.
list_query='filter=%E9%87%91%E9%A2%9D%20%3E%3D%20{rand}&sort=%E9%87%91%E9%A2%9D&limit=50'
run "get by id (100k)" "$records/{rand}" --rand-range 1..=100000
run "filtered list, 50 sorted (100k)" "$records?$list_query" --rand-range 0..=990000

if [ -n "${BENCH_UI:-}" ]; then
  # The page a user opens: the grid's HTML with its first 50 rows, the
  # total count and the saved views, against the API's page of the same
  # 50 records, ABBA at each concurrency.
  grid="$base/tables/$t100k?$list_query"
  # The grid also counts the matches; so does the API when asked.
  RUN_CONCURRENCY=1 run "api with count=true: filtered first page of 50, sorted (100k), concurrency 1" "$records?$list_query&count=true" --rand-range 0..=990000
  for c in 1 16; do
    for kind in api grid grid api; do
      [ "$kind" = grid ] && url=$grid || url="$records?$list_query"
      RUN_CONCURRENCY=$c run "$kind: filtered first page of 50, sorted (100k), concurrency $c" "$url" --rand-range 0..=990000
    done
  done
  # Weight of the grid page without data (the empty table): its HTML and
  # every file it loads, as sent (the server does not compress).
  page=$(curl -sk -H "$auth" "$base/tables/$t1m")
  html=$(printf '%s' "$page" | wc -c)
  total=$html
  for asset in $(printf '%s' "$page" | grep -o '/assets/[^"]*' | sort -u); do
    size=$(curl -sk "$base$asset" | wc -c)
    say "  $asset: $size bytes"
    total=$((total + size))
  done
  say "grid page without data: HTML $html bytes, with its assets $total bytes"
  say "server memory: $(rss)"
  say "cpu probe after: $(probe)"
  exit 0
fi

if [ -n "${BENCH_ENCRYPTION:-}" ]; then
  # The cost of field-level encryption: the same table with 备注, 邮箱 and
  # 电话 encrypted, seeded the same way, each run beside the plaintext
  # table's, ABBA.
  sealed_fields=$(echo "$fields" | jq -c 'map(if .name == "备注" or .name == "邮箱" or .name == "电话" then . + {encrypted: true} else . end)')
  tsealed=$(table 加密客户 "$sealed_fields")
  seed=$(python3 scripts/seed_records.py "$base" "$ca" "$pat" "$tsealed" 100000 --parallel 4)
  say "seed 100,000 records, 3 encrypted fields: $seed"
  sealed="$base/api/v1/tables/$tsealed/records"
  create_body='{"fields":{"名称":"新客户{seq}","金额":"12.50","状态":"新建","数量":{rand},"签约日":"2026-11-22","备注":"新客户备注","邮箱":"new{seq}@example.cn","电话":"13800138000","完成":false,"等级":1}}'
  # ABBA twice: this machine's speed drifts by more than the difference.
  abba="plain sealed sealed plain plain sealed sealed plain"
  for kind in $abba; do
    [ "$kind" = sealed ] && url=$sealed || url=$records
    run "get by id (100k), $kind" "$url/{rand}" --rand-range 1..=100000
  done
  for kind in $abba; do
    [ "$kind" = sealed ] && url=$sealed || url=$records
    run "filtered list, 50 sorted (100k), $kind" "$url?$list_query" --rand-range 0..=990000
  done
  for kind in $abba; do
    [ "$kind" = sealed ] && url=$sealed || url=$records
    run "create, $kind" "$url" --body "$create_body" --rand-range 1..=1000
  done
  for kind in $abba; do
    [ "$kind" = sealed ] && url=$sealed || url=$records
    run "update, $kind" "$url/{rand}" --method PATCH --body '{"fields":{"数量":{rand},"邮箱":"changed{seq}@example.cn"}}' --rand-range 1..=100000
  done
  # Seeding ABBA too: the plaintext table was seeded into an empty
  # database and the encrypted one into a database of 100,000 records, so
  # two more tables, encrypted first, each into a larger one.
  for kind in sealed plain; do
    [ "$kind" = sealed ] && f=$sealed_fields || f=$fields
    t=$(table "再$kind" "$f")
    seed=$(python3 scripts/seed_records.py "$base" "$ca" "$pat" "$t" 100000 --parallel 4)
    say "seed 100,000 records again, $kind: $seed"
  done
  say "server memory: $(rss)"
  say "cpu probe after: $(probe)"
  exit 0
fi

# The cost of authorization: a member whose only group reads the table
# with a row scope (rows created by their department: the admin's, so
# every row) and two hidden fields, against the tenant admin, ABBA.
sess() { json -b "$work/admin" -H "x-csrf-token: $csrf" "$@"; }
dept=$(sess -X POST "$base/api/v1/departments" -d '{"name":"销售部"}' | jq -r .id)
admin_id=$(sess "$base/api/v1/me" | jq -r .user.id)
sess -o /dev/null -X PATCH "$base/api/v1/users/$admin_id" -d "{\"department_id\":\"$dept\"}"
created=$(sess -X POST "$base/api/v1/users" \
  -d "{\"login\":\"scoped\",\"email\":\"scoped@bench.cn\",\"department_id\":\"$dept\"}")
scoped_id=$(echo "$created" | jq -r .user.id)
scoped_otp=$(echo "$created" | jq -r .one_time_password)
scsrf=$(json -c "$work/scoped" -X POST "$base/api/v1/auth/login" \
  -d "{\"tenant\":\"bench\",\"login\":\"scoped\",\"password\":\"$scoped_otp\"}" | jq -r .csrf_token)
json -o /dev/null -b "$work/scoped" -H "x-csrf-token: $scsrf" -X POST "$base/api/v1/auth/password" \
  -d "{\"current_password\":\"$scoped_otp\",\"new_password\":\"$password\"}"
scoped_pat=$(json -b "$work/scoped" -H "x-csrf-token: $scsrf" -X POST "$base/api/v1/me/tokens" \
  -d "{\"name\":\"bench\",\"expires_in_days\":1,\"password\":\"$password\"}" | jq -r .secret)
field_id() { api "$base/api/v1/tables/$t100k" | jq -r --arg n "$1" '.fields[] | select(.name == $n) | .id'; }
note=$(field_id 备注); mail=$(field_id 邮箱)
member_group=$(sess "$base/api/v1/groups" | jq -r '.[] | select(.builtin == "member") | .id')
sess -o /dev/null -X PUT "$base/api/v1/groups/$member_group" -d '{"name":"成员","grants":{}}'
sess -o /dev/null -X POST "$base/api/v1/groups" -d "{\"name\":\"销售组\",
  \"members\":[{\"user\":\"$scoped_id\"}],
  \"grants\":{\"tables\":{\"$t100k\":{\"operations\":[\"read\"],
    \"fields\":{\"$note\":\"hidden\",\"$mail\":\"hidden\"},\"rows\":{\"read\":\"my_department\"}}}}}"
scoped="authorization: Bearer $scoped_pat"
shown=$(json -H "$scoped" "$records/1" | jq -c '.fields | keys | length')
say "scoped member sees $shown of 10 fields of record 1"
if [ -n "${BENCH_HOLD:-}" ]; then
  # For profiling by hand: the seeded server stays up this many seconds.
  printf 'base=%s\nca=%s\nauth="%s"\nscoped="%s"\nrecords=%s\npid=%s\n' "$base" "$ca" "$auth" "$scoped" "$records" "$pid" >"${BENCH_HOLD_ENV:-target/bench-hold.env}"
  sleep "$BENCH_HOLD"
  exit 0
fi
for who in admin scoped scoped admin; do
  [ "$who" = scoped ] && header=$scoped || header=$auth
  RUN_AUTH=$header run "get by id (100k), $who" "$records/{rand}" --rand-range 1..=100000
done
for who in admin scoped scoped admin; do
  [ "$who" = scoped ] && header=$scoped || header=$auth
  RUN_AUTH=$header run "filtered list, 50 sorted (100k), $who" "$records?$list_query" --rand-range 0..=990000
done
run "create" "$records" --body '{"fields":{"名称":"新客户{seq}","金额":"12.50","状态":"新建","数量":{rand},"签约日":"2026-11-22","邮箱":"new{seq}@example.cn","电话":"13800138000","完成":false,"等级":1}}' --rand-range 1..=1000
run "update" "$records/{rand}" --method PATCH --body '{"fields":{"数量":{rand},"状态":"跟进"}}' --rand-range 1..=100000
say "server memory after the 100k runs: $(rss)"
say "cpu probe after the 100k runs: $(probe)"

if [ "$big" -gt 0 ]; then
  seed=$(python3 scripts/seed_records.py "$base" "$ca" "$pat" "$t1m" "$big" --parallel 4)
  say "seed $big records: $seed"
  run "filtered list, 50 sorted ($big)" "$base/api/v1/tables/$t1m/records?$list_query" --rand-range 0..=990000
  say "server memory at the end: $(rss)"
fi
