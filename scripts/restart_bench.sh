#!/usr/bin/env bash
# Restarts under a steady load, measured: kv_server (pool-of-threads, pinned to CPU 0) is
# replaced RESTARTS times with --inherit-from, one every 2 s, while connsched_loadgen
# (pinned to CPU 1) holds CONNECTIONS connections in an open loop at RATE PINGs per second
# with --reconnect. It prints the refused connections and the errors (both must be 0),
# the connections the old processes closed at their drains and the load generator
# reopened, and the corrected p99 in the 100 ms intervals around each restart next to
# the steady intervals'.
#   scripts/restart_bench.sh [RESTARTS] [CONNECTIONS] [RATE]     # default 10 500 20000
# Environment: CONNSCHED_BIN (default build/release/bin), RESTART_BENCH_PORT (6400).
set -euo pipefail
cd "$(dirname "$0")/.."
restarts=${1:-10} connections=${2:-500} rate=${3:-20000}
bin=${CONNSCHED_BIN:-build/release/bin}
port=${RESTART_BENCH_PORT:-6400}
for tool in kv_server connsched_loadgen; do
  [ -x "$bin/$tool" ] || { echo "restart_bench: no $bin/$tool (build first, or set CONNSCHED_BIN)" >&2; exit 2; }
done
command -v taskset >/dev/null || { echo "restart_bench: taskset is not installed (apt-get install util-linux)" >&2; exit 2; }
ulimit -n 20000 2>/dev/null || true
work=$(mktemp -d)
server_pids=()
# shellcheck disable=SC2064  # expand $work now, the pids when the trap runs
trap "kill \${server_pids[*]} 2>/dev/null || true; wait 2>/dev/null || true; rm -rf '$work'" EXIT
socket="$work/kv.handover"
flags=(--port="$port" --admin-port=0 --thread-handling=pool-of-threads
       --handover-socket="$socket" --shutdown-timeout=10)

taskset -c 0 "$bin/kv_server" "${flags[@]}" >"$work/kv0.log" 2>&1 &
server_pids+=($!)
for _ in $(seq 100); do [ -S "$socket" ] && break; sleep 0.1; done
[ -S "$socket" ] || { echo "restart_bench: kv_server did not start:" >&2; cat "$work/kv0.log" >&2; exit 1; }

warmup=1
duration=$((restarts * 2 + 2))
start=$(date +%s%N)
taskset -c 1 "$bin/connsched_loadgen" --port "$port" --request PING -c "$connections" \
  --rate "$rate" --open-loop --reconnect --warmup "$warmup" --duration "$duration" \
  --timeline-ms 100 --json >"$work/load.json" 2>"$work/load.err" &
load=$!
sleep $((warmup + 1))
: >"$work/restarts"
for i in $(seq "$restarts"); do
  # When the replacement was started, in ms from the measured window's start.
  echo $((($(date +%s%N) - start) / 1000000 - warmup * 1000)) >>"$work/restarts"
  taskset -c 0 "$bin/kv_server" "${flags[@]}" --inherit-from="$socket" >"$work/kv$i.log" 2>&1 &
  server_pids+=($!)
  sleep 2
done
wait "$load" || { echo "restart_bench: the load generator failed:" >&2; cat "$work/load.err" >&2; exit 1; }
exits=0
for pid in "${server_pids[@]:0:${#server_pids[@]}-1}"; do
  wait "$pid" || exits=$((exits + 1))
done

python3 - "$work/load.json" "$work/restarts" "$restarts" "$connections" "$rate" "$exits" <<'EOF'
import json, statistics, sys
load = json.load(open(sys.argv[1]))
restarts = [int(line) for line in open(sys.argv[2]) if line.strip()]
n, connections, rate, bad_exits = sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6])
step = load["timeline_interval_ms"]
# An interval is in a restart's window if it overlaps [start, start + 500 ms).
def in_window(at):
    return any(at + step > r and at < r + 500 for r in restarts)
windows = [t["p99_us"] for t in load["timeline"] if in_window(t["start_ms"]) and t["completed"]]
steady = [t["p99_us"] for t in load["timeline"] if not in_window(t["start_ms"]) and t["completed"]]
print(f"{n} restarts with --inherit-from, {connections} connections, open loop at {rate:} PING/s, "
      f"{load['seconds']:.0f} s measured")
print(f"  requests {load['requests']}, throughput {load['throughput']:.0f}/s "
      f"(offered {load['offered_rate']:.0f}/s), never sent {load['unsent']}")
print(f"  refused {load['refused']}, errors {load['errors']}, old processes not exiting 0: {bad_exits}")
print(f"  reconnects {load['reconnects']} (closed at a drain, reopened), "
      f"in flight at those closes {load['unanswered_at_close']}")
print(f"  p99 (corrected), whole run: {load['latency']['p99_us'] / 1000:.2f} ms")
if steady:
    print(f"  p99 per 100 ms interval: steady median {statistics.median(steady) / 1000:.2f} ms "
          f"(max {max(steady) / 1000:.2f}); within 500 ms of a restart median "
          f"{statistics.median(windows) / 1000 if windows else 0:.2f} ms "
          f"(max {max(windows) / 1000 if windows else 0:.2f})")
ok = load["refused"] == 0 and load["errors"] == 0 and bad_exits == 0
sys.exit(0 if ok else 1)
EOF
