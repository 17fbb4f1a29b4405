#!/usr/bin/env bash
# Runs every test: installs what is missing, then configures, builds and runs CTest
# under each preset given (default: release, asan, tsan — the whole suite three times —
# then fuzz: scripts/fuzz.sh, every libFuzzer target for a bounded time).
#   scripts/test.sh               # all four
#   scripts/test.sh release       # one preset
#   scripts/test.sh fuzz          # the fuzz stage alone
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh

presets=("$@")
((${#presets[@]})) || presets=(release asan tsan fuzz)
jobs=$(nproc)
for preset in "${presets[@]}"; do
  if [ "$preset" = fuzz ]; then
    bash scripts/fuzz.sh
    continue
  fi
  echo "=== connsched: preset '$preset': configure, build, test"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
  ctest --preset "$preset"
done
echo "=== connsched: all tests passed under: ${presets[*]}"
