#!/usr/bin/env bash
# The main job: installs what is missing, builds the release preset, then starts the
# echo server under each built-in backend in turn and shows it serving real clients.
# (The scheduler comparison tool replaces this demo; see issue "main job".)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" >/dev/null
bin=build/release/bin
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for backend in $(ls build/release/lib/connsched/ | sed 's/\.so$//'); do
  "$bin/echo_server" --port=0 --thread-handling="$backend" 2>"$log" &
  pid=$!
  for _ in $(seq 1 100); do grep -q 'listening on' "$log" && break; sleep 0.05; done
  port=$(sed -n 's/.*listening on [^ ]*:\([0-9]*\).*/\1/p' "$log" | head -n1)
  start=$(date +%s%N)
  replies=0
  for i in $(seq 1 50); do
    reply=$(printf 'hello %s from client %s\n' "$backend" "$i" | nc -N 127.0.0.1 "$port") &&
      [ "$reply" = "hello $backend from client $i" ] && replies=$((replies + 1))
  done
  elapsed_ms=$((($(date +%s%N) - start) / 1000000))
  kill -TERM "$pid"
  wait "$pid" && status=0 || status=$?
  printf '%-28s 50 clients, %2d correct echoes in %5d ms, exit status %d\n' \
    "$backend" "$replies" "$elapsed_ms" "$status"
done
