#!/usr/bin/env bash
# Installs the Debian packages connsched needs to build, test and benchmark, if missing.
# Sourced or run by scripts/test.sh and scripts/main-job.sh; safe to run again.
set -euo pipefail

CONNSCHED_PACKAGES=(
  cmake ninja-build g++ clang ccache       # toolchain (ccache caches rebuilds)
  libclang-rt-14-dev                       # libFuzzer and clang's sanitizer runtimes (fuzz preset)
  libfmt-dev doctest-dev libcli11-dev      # the project's chosen libraries
  libhttp-parser-dev                       # HTTP parsing for examples/http
  libsystemd-dev pkg-config systemd        # socket activation and sd_notify in core; systemd-socket-activate (tests)
  liburing-dev                             # the io_uring poller of pool-of-threads (--thread-pool-poller)
  redis-tools redis-server wrk curl        # real clients, and the reference servers
  nginx-light                              # the HTTP reference server (http-ping)
  haproxy                                  # the load balancer in front (PROXY protocol tests)
  nlohmann-json3-dev                       # JSON for compare's --scenario-file
  netcat-openbsd procps gnuplot-nox        # test helpers and the comparison chart
  python3                                  # the docs-commands test and scripts/hostile_clients.py
)

missing=()
for pkg in "${CONNSCHED_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "connsched: installing missing packages: ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
