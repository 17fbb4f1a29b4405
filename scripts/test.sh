#!/usr/bin/env bash
# Runs every test: installs what is missing, then configures, builds and runs CTest
# under each preset given (default: release, asan, tsan — the whole suite three times),
# then the `soak` stage: the 2-minute soak on the release build (scripts/soak.sh --short).
#   scripts/test.sh               # all three, then the short soak
#   scripts/test.sh release       # one preset
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh

presets=("$@")
((${#presets[@]})) || presets=(release asan tsan soak)
jobs=$(nproc)
for preset in "${presets[@]}"; do
  if [[ $preset == soak ]]; then # not a CMake preset: the short soak, on the release build
    echo "=== connsched: soak (2 minutes, release build)"
    bash scripts/soak.sh --short
    continue
  fi
  echo "=== connsched: preset '$preset': configure, build, test"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
  ctest --preset "$preset"
done
echo "=== connsched: all tests passed under: ${presets[*]}"
