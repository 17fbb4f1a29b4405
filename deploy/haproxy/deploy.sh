#!/usr/bin/env bash
# Several kv_servers behind Debian's HAProxy on loopback, the way a fleet is run: HAProxy
# in `mode tcp` sends each connection to the instance with the fewest (`balance
# leastconn`), prefixed by a PROXY v2 header so every instance sees the client's own
# address, and checks each instance's admin port (`GET /health`): a draining or dead
# instance leaves the rotation within two check intervals.
#
#   deploy/haproxy/deploy.sh config FRONT_PORT PORT:ADMIN_PORT...   # print haproxy.cfg
#   deploy/haproxy/deploy.sh demo [N] [REQUESTS]                    # run it, show it, stop
#   deploy/haproxy/deploy.sh bench [N] [SECONDS] [RATE]             # what the hop costs
#
# `config` prints the HAProxy configuration for the instances given (the integration
# test runs HAProxy on exactly this text). `demo` starts N kv_servers (default 2) under
# pool-of-threads on ports 6381.. (admin 9181..), HAProxy on 6380, runs redis-benchmark
# (REQUESTS INCRs, default 100,000, 50 connections) through HAProxy, prints how many
# connections each instance took and the client address an instance sees, drains
# instance 1 (POST /drain) and shows HAProxy taking it out of rotation while the others
# answer, then stops everything. (redis-benchmark cannot reconnect, so the drain runs
# after it; under load it is tested in test/deploy.) `bench` measures the hop: one
# kv_server directly against N behind HAProxy, side by side, pinned apart, closed loop
# (throughput) and open loop at RATE (default 10,000/s; p99 corrected for coordinated
# omission), and HAProxy's CPU per request. Environment: CONNSCHED_BIN (the
# folder holding kv_server; default build/release/bin), DEPLOY_FRONT_PORT,
# DEPLOY_FIRST_PORT, DEPLOY_FIRST_ADMIN_PORT.
set -euo pipefail

# The configuration: one `server` line per instance, its health check on the admin port
# (a check with its own `port` is sent without the PROXY header, which the admin port
# does not speak).
print_config() {
  local front=$1
  shift
  cat <<EOF
global
  maxconn 4000

defaults
  mode tcp
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  # A connect refused (a dead or draining instance HAProxy has not marked DOWN yet) is
  # retried, each time on another instance.
  retries 3
  option redispatch 1

frontend kv
  bind 127.0.0.1:${front}
  default_backend kv_servers

backend kv_servers
  balance leastconn
  option httpchk GET /health
  http-check expect status 200
  default-server inter 500ms fall 2 rise 2 send-proxy-v2
EOF
  local i=1 pair
  for pair in "$@"; do
    echo "  server kv${i} 127.0.0.1:${pair%%:*} check port ${pair##*:}"
    i=$((i + 1))
  done
}

usage() {
  sed -n '8,10p' "$0" | sed 's/^# //' >&2
  exit 2
}

# Waits until something accepts on 127.0.0.1:$1 (at most 10 s).
wait_port() {
  local i
  for i in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "deploy: nothing listens on 127.0.0.1:$1 after 10 s" >&2
  return 1
}

# Starts N kv_servers and HAProxy in front of them, in $work; their pids go to `pids`.
# $pin_servers (a taskset prefix, or empty) runs them and HAProxy on one CPU.
start_fleet() {
  local n=$1
  local haproxy
  haproxy=$(command -v haproxy || echo /usr/sbin/haproxy)
  [ -x "$bin/kv_server" ] || { echo "deploy: no $bin/kv_server (build first, or set CONNSCHED_BIN)" >&2; exit 2; }
  [ -x "$haproxy" ] || { echo "deploy: haproxy is not installed (apt-get install haproxy)" >&2; exit 2; }
  local i p
  for p in "$front" $(seq "$port" $((port + n))) $(seq "$admin" $((admin + n - 1))); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "deploy: port $p is in use; choose others with DEPLOY_FRONT_PORT, DEPLOY_FIRST_PORT, DEPLOY_FIRST_ADMIN_PORT" >&2
      exit 2
    fi
  done
  pairs=()
  for i in $(seq 0 $((n - 1))); do
    $pin_servers "$bin/kv_server" --port=$((port + i)) --admin-port=$((admin + i)) \
      --thread-handling=pool-of-threads --proxy-protocol-networks=127.0.0.1/32 \
      >"$work/kv$((i + 1)).log" 2>&1 &
    pids+=($!)
    pairs+=("$((port + i)):$((admin + i))")
  done
  local pair
  for pair in "${pairs[@]}"; do wait_port "${pair%%:*}" && wait_port "${pair##*:}"; done
  print_config "$front" "${pairs[@]}" >"$work/haproxy.cfg"
  $pin_servers "$haproxy" -f "$work/haproxy.cfg" -db >"$work/haproxy.log" 2>&1 &
  haproxy_pid=$!
  pids+=($!)
  wait_port "$front"
  sleep 1.2  # HAProxy's first checks mark the instances up (rise 2, inter 500 ms)
}

# The settings and the clean-up every subcommand that runs servers shares.
setup() {
  bin=${CONNSCHED_BIN:-build/release/bin}
  front=${DEPLOY_FRONT_PORT:-6380}
  port=${DEPLOY_FIRST_PORT:-6381}
  admin=${DEPLOY_FIRST_ADMIN_PORT:-9181}
  pin_servers=""
  pin_client=""
  work=$(mktemp -d)
  pids=()  # global: the EXIT trap reads it
  # shellcheck disable=SC2064  # expand $work now, pids when the trap runs
  trap "kill \${pids[*]} 2>/dev/null || true; wait 2>/dev/null || true; rm -rf '$work'" EXIT
}

# CPU seconds (user + system) a process has used so far.
cpu_seconds() {
  awk '{ printf "%.3f", ($14 + $15) / '"$(getconf CLK_TCK)"' }' "/proc/$1/stat"
}

# One connsched_loadgen run against port $1 (the rest: its flags); prints
# "throughput p99_us" from its JSON.
loadgen() {
  local target=$1
  shift
  $pin_client "$bin/connsched_loadgen" --port "$target" --request INCR\ hop --json "$@" |
    python3 -c 'import json,sys; r=json.load(sys.stdin); print("%.0f %.0f %d" % (r["throughput"], r["latency"]["p99_us"], r["errors"]))'
}

# What the hop through HAProxy costs: the same load against one instance directly and
# through HAProxy in front of N, side by side in one run, servers and HAProxy pinned to
# CPU 0 and the load generator to CPU 1 (as connsched_compare pins), a closed loop for
# throughput and an open loop at a fixed rate for the corrected p99, and HAProxy's own
# CPU per request from /proc.
bench() {
  local n=${1:-2} seconds=${2:-5} rate=${3:-10000}
  setup
  command -v taskset >/dev/null || { echo "deploy: taskset is not installed (apt-get install util-linux)" >&2; exit 2; }
  [ -x "$bin/connsched_loadgen" ] || { echo "deploy: no $bin/connsched_loadgen (build first)" >&2; exit 2; }
  pin_servers="taskset -c 0"
  pin_client="taskset -c 1"
  start_fleet "$n"
  local direct=$port closed=(-c 32 --duration "$seconds" --warmup 1)
  local open=(-c 32 --duration "$seconds" --warmup 1 --rate "$rate" --open-loop)
  # The direct run must not send a PROXY header and comes from 127.0.0.1, which the
  # instances require one from: the direct target is an instance of its own.
  $pin_servers "$bin/kv_server" --port=$((port + n)) --admin-port=0 \
    --thread-handling=pool-of-threads >"$work/direct.log" 2>&1 &
  pids+=($!)
  direct=$((port + n))
  wait_port "$direct"
  echo "== $n kv_servers (pool-of-threads) behind HAProxy, against one kv_server directly; ${seconds} s per run, 32 connections, INCR"
  printf '%-28s %12s %12s %8s\n' run "requests/s" "p99 (us)" errors
  read -r t p e < <(loadgen "$direct" "${closed[@]}")
  printf '%-28s %12s %12s %8s\n' "direct, closed loop" "$t" "$p" "$e"
  local before after requests
  before=$(cpu_seconds "$haproxy_pid")
  read -r t p e < <(loadgen "$front" "${closed[@]}")
  after=$(cpu_seconds "$haproxy_pid")
  printf '%-28s %12s %12s %8s\n' "through HAProxy, closed" "$t" "$p" "$e"
  requests=$(awk -v t="$t" -v s="$seconds" 'BEGIN { printf "%.0f", t * (s + 1) }')
  local hop
  hop=$(awk -v b="$before" -v a="$after" -v r="$requests" 'BEGIN { printf "%.1f", (a - b) * 1e6 / r }')
  read -r t p e < <(loadgen "$direct" "${open[@]}")
  printf '%-28s %12s %12s %8s\n' "direct, open ${rate}/s" "$t" "$p" "$e"
  read -r t p e < <(loadgen "$front" "${open[@]}")
  printf '%-28s %12s %12s %8s\n' "through HAProxy, open ${rate}/s" "$t" "$p" "$e"
  echo "HAProxy's CPU per request (closed loop, warm-up included): ${hop} us"
}

demo() {
  local n=${1:-2} requests=${2:-100000}
  setup
  command -v redis-benchmark >/dev/null || { echo "deploy: redis-benchmark is not installed (apt-get install redis-tools)" >&2; exit 2; }
  start_fleet "$n"
  local i
  echo "== $n kv_servers behind HAProxy on 127.0.0.1:$front (config: deploy.sh config $front ${pairs[*]})"
  redis-benchmark -p "$front" -c 50 -n "$requests" -t incr -q | tr '\r' '\n' | tail -n 2
  echo "== connections each instance accepted (its /stats), and the address it saw"
  for i in $(seq 0 $((n - 1))); do
    local accepted
    accepted=$(curl -s "http://127.0.0.1:$((admin + i))/stats" | grep -o '"connections_accepted": [0-9]*' | grep -o '[0-9]*$')
    echo "kv$((i + 1)) (port $((port + i))): $accepted connection(s)"
  done
  redis-cli -p "$front" CLIENT INFO | grep -o 'addr=[^ ]*'
  echo "== POST /drain on kv1: /health says 503, HAProxy takes it out of rotation"
  curl -s -X POST "http://127.0.0.1:$admin/drain"
  echo
  sleep 1.5
  grep "kv_servers/kv1 is DOWN" "$work/haproxy.log" | sed 's/^\[[A-Z]*\] *([0-9]*) : //' || true
  echo "through HAProxy afterwards: $(redis-cli -p "$front" PING) from the others"
}

case "${1:-}" in
  config)
    shift
    [ $# -ge 2 ] || usage
    print_config "$@"
    ;;
  demo)
    shift
    demo "$@"
    ;;
  bench)
    shift
    bench "$@"
    ;;
  *) usage ;;
esac
