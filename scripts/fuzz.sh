#!/usr/bin/env bash
# Builds the libFuzzer targets (the `fuzz` preset: clang, ASan + UBSan), replays every
# committed input through them, then fuzzes each target for a bounded time. Fails on any
# crash, leak, sanitizer report, timeout (10 s per input) or memory blow-up (2 GB RSS,
# 512 MB in one allocation), naming the target and the saved input.
#   scripts/fuzz.sh              # 60 s per target (CONNSCHED_FUZZ_SECONDS overrides)
#   scripts/fuzz.sh 300          # 300 s per target
#   scripts/fuzz.sh 0            # replay only: no new fuzzing
# CONNSCHED_FUZZ_TARGETS="fuzz_resp_parser fuzz_kv_session" picks targets;
# CONNSCHED_FUZZ_JOBS (default: 2, at most the CPUs) is how many fuzz at once.
# Working corpora and crash inputs go to build/fuzz/work/<target>/, never into fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
seconds=${1:-${CONNSCHED_FUZZ_SECONDS:-60}}
[[ $seconds =~ ^[0-9]+$ ]] || { echo "fuzz.sh: seconds must be a number, got '$seconds'" >&2; exit 2; }
targets=(${CONNSCHED_FUZZ_TARGETS:-fuzz_resp_parser fuzz_kv_session fuzz_http_request
  fuzz_admin_request fuzz_option_values fuzz_command_line fuzz_proxy_header})
jobs=${CONNSCHED_FUZZ_JOBS:-2}
((jobs <= $(nproc))) || jobs=$(nproc)

bash scripts/ensure-deps.sh
echo "=== connsched: preset 'fuzz': configure, build"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz

bin=$root/build/fuzz/bin
work=$root/build/fuzz/work
limits=(-timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# The committed inputs of a target: its seeds, its regressions, and the malformed
# requests the integration tests send (test/examples/corpus), for the parsers they fit.
inputs_of() {
  local t=${1#fuzz_} dirs=("fuzz/corpus/${1#fuzz_}" "fuzz/regressions/${1#fuzz_}")
  case $t in
    resp_parser | kv_session) dirs+=(test/examples/corpus/resp) ;;
    http_request | admin_request) dirs+=(test/examples/corpus/http) ;;
  esac
  for d in "${dirs[@]}"; do
    if [ -d "$d" ]; then find "$d" -type f; fi
  done | sort
}

# 1. Replay: every committed input through its target, once; any failure fails the stage.
echo "=== connsched: fuzz: replaying seed and regression inputs"
for t in "${targets[@]}"; do
  mapfile -t files < <(inputs_of "$t")
  ((${#files[@]})) || { echo "fuzz: $t has no seed corpus in fuzz/corpus/${t#fuzz_}" >&2; exit 1; }
  log=$work/$t/replay.log
  mkdir -p "$work/$t"
  if ! "$bin/$t" "${limits[@]}" "${files[@]}" >"$log" 2>&1; then
    echo "fuzz: $t FAILED on a committed input (seed or regression); its report:" >&2
    grep -E "Running:|ERROR|runtime error|invariant failed|SUMMARY" "$log" | tail -20 >&2
    echo "fuzz: full log: $log" >&2
    exit 1
  fi
  echo "  $t: ${#files[@]} inputs pass"
done
((seconds > 0)) || { echo "=== connsched: fuzz: replay passed (no fuzzing asked)"; exit 0; }

# 2. Fuzz each target for $seconds from a fresh copy of its inputs, $jobs at a time.
fuzz_one() {
  local t=$1 dir=$work/$1
  rm -rf "$dir/corpus" "$dir/artifacts"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  inputs_of "$t" | while read -r f; do cp "$f" "$dir/corpus/"; done
  "$bin/$t" "${limits[@]}" -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 \
    -artifact_prefix="$dir/artifacts/" "$dir/corpus" >"$dir/fuzz.log" 2>&1
}

echo "=== connsched: fuzz: ${#targets[@]} targets, ${seconds}s each, $jobs at a time"
declare -A pid_of
failed=()
for t in "${targets[@]}"; do
  while (($(jobs -rp | wc -l) >= jobs)); do wait -n || true; done
  fuzz_one "$t" &
  pid_of[$t]=$!
done
for t in "${targets[@]}"; do
  wait "${pid_of[$t]}" || failed+=("$t")
done

# 3. Report: the final coverage line of each target, and every failure with its input.
printf '%-20s %12s %8s %8s %8s %7s\n' target execs exec/s cov ft corpus | tee "$work/summary.txt"
for t in "${targets[@]}"; do
  log=$work/$t/fuzz.log
  last=$(grep -sE "^#[0-9]+" "$log" | tail -1 || true)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" 2>/dev/null || true)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" 2>/dev/null || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
  printf '%-20s %12s %8s %8s %8s %7s\n' "$t" "${execs:--}" "${rate:--}" "${cov:--}" "${ft:--}" \
    "${corp:--}" | tee -a "$work/summary.txt"
done
if ((${#failed[@]})); then
  for t in "${failed[@]}"; do
    echo "fuzz: $t FAILED; its report:" >&2
    grep -E "ERROR|runtime error|invariant failed|SUMMARY|Test unit written" "$work/$t/fuzz.log" |
      tail -20 >&2
    echo "fuzz: saved input(s):" "$work/$t"/artifacts/* >&2
    echo "fuzz: full log: $work/$t/fuzz.log" >&2
    echo "fuzz: replay with: $bin/$t <input>; keep it as fuzz/regressions/${t#fuzz_}/<name>" >&2
  done
  exit 1
fi
echo "=== connsched: fuzz: no crash, leak, timeout or OOM in ${seconds}s per target"
