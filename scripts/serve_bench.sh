#!/usr/bin/env bash
# The `serve` figures of BENCHMARKS.md, on loopback: dense single-request latency L and capacity
# C = 1000/L per second; then 60 s open-loop runs at 1.5×C without and with `--slo-ms 1.5·L`, at 0.5×C
# with the SLO, `--max-batch 4` vs `1` at 2×C, and SIGTERM in the middle of a 1.5×C run (every request
# the server accepted must be answered). Each server is started and stopped here; reports go to
# $OUT (default .build/serve-bench/), a summary to stdout. Runs .build/release/sparsevit (or $SPARSEVIT).
#
#   scripts/serve_bench.sh [--weights W] [--size 672] [--threads 2] [--seconds 60]
set -euo pipefail
cd "$(dirname "$0")/.."

weights=() size=672 threads=2 seconds=60
while [ $# -gt 0 ]; do
  case "$1" in
    --weights) weights=(--weights "$2"); shift 2 ;;
    --size) size="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "serve_bench.sh: unknown argument '$1'" >&2; exit 64 ;;
  esac
done
binary="${SPARSEVIT:-.build/release/sparsevit}"
[ -x "$binary" ] || { echo "serve_bench.sh: build first: swift build -c release" >&2; exit 1; }
out="${OUT:-.build/serve-bench}"
mkdir -p "$out"
server_pid=""

# Starts a server with extra options $@, logs to $out/$name.log; sets $port.
start() {
  local name="$1"; shift
  "$binary" serve "${weights[@]}" --size "$size" --threads "$threads" --port 0 "$@" 2>"$out/$name.log" &
  server_pid=$!
  for _ in $(seq 1 600); do
    port=$(grep -o 'on http://127.0.0.1:[0-9]*' "$out/$name.log" | grep -o '[0-9]*$' || true)
    [ -n "$port" ] && return 0
    kill -0 "$server_pid" 2>/dev/null || { cat "$out/$name.log" >&2; exit 1; }
    sleep 0.5
  done
  echo "serve_bench.sh: $name did not start" >&2; exit 1
}

stop() {
  kill -TERM "$server_pid"
  local status=0
  wait "$server_pid" || status=$?
  echo "server exit status $status" >>"$out/$1.log"
  [ $status -eq 0 ] || echo "serve_bench.sh: $1 exited with $status" >&2
}
trap '[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true' EXIT

load() {
  local name="$1" rate="$2"; shift 2
  echo "== $name: $rate requests/s for $seconds s" | tee -a "$out/summary.txt"
  python3 scripts/load_test.py --port "$port" --size "$size" --rate "$rate" --seconds "$seconds" \
    --json "$out/$name.json" "$@" | tee -a "$out/summary.txt" || true
}

: >"$out/summary.txt"
start latency --max-batch 1 --quiet
latency=$(python3 scripts/load_test.py --port "$port" --size "$size" --sequential 10)
stop latency
rate() { python3 -c "print(round($1 * 1000 / $latency, 3))"; }
slo=$(python3 -c "print(round(1.5 * $latency, 1))")
echo "dense single-request latency $latency ms (capacity $(rate 1)/s); SLO $slo ms" | tee -a "$out/summary.txt"

start dense --max-batch 4 --quiet
load dense-1.5x "$(rate 1.5)"
stop dense

start slo --max-batch 4 --slo-ms "$slo" --quiet
load slo-1.5x "$(rate 1.5)" --settle 15
load slo-0.5x "$(rate 0.5)"
stop slo
grep 'level ' "$out/slo.log" >>"$out/summary.txt" || true

for batch in 1 4; do
  start "batch$batch" --max-batch "$batch" --quiet
  load "batch$batch-2x" "$(rate 2)"
  stop "batch$batch"
done

# SIGTERM halfway through a run: accepted requests are answered (200), the rest are refused.
start sigterm --max-batch 4
python3 scripts/load_test.py --port "$port" --size "$size" --rate "$(rate 1.5)" --seconds "$seconds" \
  --json "$out/sigterm.json" >"$out/sigterm.txt" 2>&1 &
load_pid=$!
sleep "$(python3 -c "print($seconds / 2)")"
stop sigterm
wait "$load_pid" || true
answered=$(grep -c '"endpoint":"infer".*"status":200' "$out/sigterm.log" || true)
failed=$(grep -c '"endpoint":"infer".*"status":[45]' "$out/sigterm.log" || true)
echo "== sigterm: server answered $answered infer requests with 200 and $failed with an error; client:" | tee -a "$out/summary.txt"
cat "$out/sigterm.txt" | tee -a "$out/summary.txt"
