#!/usr/bin/env bash
# Runs every test: installs what is missing, then configures, builds and runs CTest
# under each preset given, and the two stages that are not CMake presets:
#   soak  the 2-minute soak on the release build (scripts/soak.sh --short)
#   fuzz  every libFuzzer target replays its committed inputs, then fuzzes for a bounded
#         time (scripts/fuzz.sh; clang, its own build in build/fuzz)
# Default: release, soak, asan, tsan, fuzz — the whole suite three times, then the rest.
#   scripts/test.sh               # everything (CI runs exactly this)
#   scripts/test.sh release       # one preset
#   scripts/test.sh fuzz          # the fuzz stage alone
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
# ccache hashes paths relative to the checkout, so a fresh clone elsewhere (CI's) reuses
# what an earlier build compiled.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1

presets=("$@")
((${#presets[@]})) || presets=(release soak asan tsan fuzz)
jobs=$(nproc)
for preset in "${presets[@]}"; do
  case "$preset" in
    soak)
      echo "=== connsched: soak (2 minutes, release build)"
      bash scripts/soak.sh --short
      continue
      ;;
    fuzz)
      echo "=== connsched: fuzz (every target, bounded)"
      bash scripts/fuzz.sh
      continue
      ;;
  esac
  echo "=== connsched: preset '$preset': configure, build, test"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
  ctest --preset "$preset"
done
echo "=== connsched: all tests passed under: ${presets[*]}"
