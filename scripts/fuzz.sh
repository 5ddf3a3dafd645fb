#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (address and undefined-behaviour sanitizers) and runs
# each for SECONDS (default 60) from a seed corpus of the repository's manifests and messages.
# A crash leaves its input in $BUILD/artifacts and fails the script.
#   scripts/fuzz.sh [SECONDS]        DATAFLOW_FUZZ_BUILD_DIR overrides the build folder;
#                                    DATAFLOW_FUZZ_JOBS the build's parallel jobs (ninja's default).
set -euo pipefail
seconds=${1:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
build=${DATAFLOW_FUZZ_BUILD_DIR:-$root/build-fuzz}

CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DDATAFLOW_FUZZ=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" ${DATAFLOW_FUZZ_JOBS:+-j "$DATAFLOW_FUZZ_JOBS"} >/dev/null

mkdir -p "$build/artifacts"
status=0
for target in "$build"/tests/fuzz/*/fuzz_*; do
  [ -x "$target" ] || continue
  name=$(basename "$target")
  corpus="$build/corpus/$name"
  mkdir -p "$corpus"
  seeds=()
  case "$name" in
    fuzz_manifest) seeds=("$root/examples" "$root/tests/data/invalid") ;;
  esac
  source_corpus="$root/tests/fuzz/$(basename "$(dirname "$target")")/corpus"
  [ -d "$source_corpus" ] && seeds+=("$source_corpus")
  echo "fuzz: $name for ${seconds}s"
  if ! "$target" "$corpus" "${seeds[@]}" -max_total_time="$seconds" -timeout=10 \
      -rss_limit_mb=2048 -max_len=65536 -artifact_prefix="$build/artifacts/$name-" \
      -print_final_stats=1 >"$build/$name.log" 2>&1; then
    echo "fuzz: $name FAILED; see $build/$name.log and $build/artifacts" >&2
    tail -n 40 "$build/$name.log" >&2
    status=1
  else
    grep -E 'stat::number_of_executed_units|Done [0-9]+ runs' "$build/$name.log" | tail -n 2
  fi
done
exit $status
