#!/usr/bin/env bash
# A newcomer's first hour, as one test (README "Building your own" and the two guides
# describe exactly these steps):
#   1. install connsched into a prefix;
#   2. build a backend and a server out of tree against find_package(connsched), and
#      install them into the same prefix (the backend must land in <prefix>/lib/connsched);
#   3. the installed echo_server loads the out-of-tree backend by name;
#   4. the out-of-tree server, run from its build folder with no --plugin-dir, finds the
#      installed built-in backends (and the installed out-of-tree one), serves a 1 MiB set;
#      --plugin-dir still overrides;
#   5. connsched_compare, as installed, compares the out-of-tree backend with a built-in.
# Usage: newcomer_path.sh BUILD_DIR SOURCE_DIR WORK_DIR CMAKE GENERATOR BUILD_TYPE CFLAGS CXXFLAGS
set -euo pipefail
build=$1 source=$2 work=$3 cmake=$4 generator=$5 build_type=$6 cflags=$7 cxxflags=$8
prefix=$work/prefix consumer=$work/consumer-build
rm -rf "$work" && mkdir -p "$work"
pid=
fail() { echo "newcomer_path: FAILED: $*" >&2; exit 1; }
# A server this script started never outlives it (ctest would wait on its output).
trap '[ -z "$pid" ] || kill -KILL "$pid" 2>/dev/null || true' EXIT
step() { echo "== $*"; }

step "1. install connsched into $prefix"
"$cmake" --install "$build" --prefix "$prefix" >"$work/install.log" || fail "cmake --install"

step "2. build the consumer project against the installed package, install it there too"
"$cmake" -S "$source/test/find-package/consumer" -B "$consumer" -G "$generator" \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_BUILD_TYPE="$build_type" \
  -DCMAKE_C_FLAGS="$cflags" -DCMAKE_CXX_FLAGS="$cxxflags" -DCMAKE_CXX_COMPILER_LAUNCHER= \
  >"$work/configure.log" || { cat "$work/configure.log"; fail "configure"; }
"$cmake" --build "$consumer" >"$work/build.log" 2>&1 || { cat "$work/build.log"; fail "build"; }
"$cmake" --install "$consumer" >"$work/consumer-install.log" || fail "install of the consumer"
cat "$work/consumer-install.log"
test -f "$prefix/lib/connsched/consumer-backend.so" ||
  fail "connsched_add_scheduler(... INSTALL) did not install into $prefix/lib/connsched"

# Starts a server in the background with its log in $log; sets $pid and $port.
start() {
  log=$(mktemp -p "$work")
  "$@" --port=0 2>"$log" &
  pid=$!
  for _ in $(seq 1 200); do grep -q 'listening on' "$log" && break; sleep 0.05; done
  port=$(sed -n 's/.*listening on [^ ]*:\([0-9]*\).*/\1/p' "$log" | head -n1)
  [ -n "$port" ] || { cat "$log"; fail "$1 did not start"; }
}
stop() {
  kill -TERM "$pid"
  local status=0
  wait "$pid" || status=$?
  pid=
  [ "$status" -eq 0 ] || { cat "$log"; fail "exit status $status after SIGTERM"; }
}

step "3. the installed echo_server loads the out-of-tree backend by name"
start "$prefix/bin/echo_server" --thread-handling=consumer-backend
reply=$(printf 'out of tree\n' | timeout 10 nc -N 127.0.0.1 "$port")
stop
[ "$reply" = "out of tree" ] || fail "echo under consumer-backend answered '$reply'"

step "4. the out-of-tree server, with no --plugin-dir, finds the installed backends"
help=$("$consumer/tiny_cache" --help)
grep -q "Backends in $prefix/lib/connsched: consumer-backend, no-threads, one-thread-per-connection, pool-of-threads" <<<"$help" ||
  { echo "$help"; fail "--help does not list the installed backends"; }
for backend in pool-of-threads consumer-backend; do
  start "$consumer/tiny_cache" --thread-handling="$backend" --max-request-size=2000000
  value=$(head -c 1048576 /dev/zero | tr '\0' 'x')
  printf 'set big 1048576\r\n%s\r\nget big\r\nquit\r\n' "$value" |
    timeout 20 nc -N 127.0.0.1 "$port" >"$work/reply" || true
  stop
  expected=$(printf 'STORED\r\nVALUE big 1048576\r\n%s\r\nEND\r\n' "$value" | md5sum)
  [ "$(md5sum <"$work/reply")" = "$expected" ] ||
    fail "tiny_cache under $backend answered '$(head -c 60 "$work/reply")...'"
done
status=0
"$consumer/tiny_cache" --plugin-dir="$work/empty" --thread-handling=pool-of-threads \
  2>"$work/override.log" || status=$?
[ "$status" -eq 2 ] && grep -q "available: none" "$work/override.log" ||
  { cat "$work/override.log"; fail "--plugin-dir did not override the package's folder"; }

step "5. connsched_compare compares the out-of-tree backend with a built-in"
"$prefix/bin/connsched_compare" --bin-dir="$prefix/bin" \
  --backends=consumer-backend,one-thread-per-connection --scenarios=ping --connections=4 \
  --duration=0.3 --warmup=0.1 --no-reference --no-pin --out="$work/compare" ||
  fail "connsched_compare exited $?"
grep -q '^ping,kv_server,consumer-backend,4,' "$work/compare/compare.csv" ||
  { cat "$work/compare/compare.csv"; fail "no consumer-backend row in the CSV"; }
echo "newcomer_path: every step passed"
