#!/usr/bin/env bash
# The benchmark's one command (bench/README.md): installs what is missing, builds the engine and
# the harness (RelWithDebInfo, the project's default), and runs every scenario. Arguments are
# passed to dataflow-bench (e.g. --only mqtt-kafka.q1 --seconds 5); see --help. Results: a table
# on stdout and build/bench-results.json. KAFKA_BOOTSTRAP_SERVERS=host:port uses a real cluster.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mkdir -p build
{ bash scripts/install-deps.sh && cmake -S . -B build -G Ninja &&
  cmake --build build -j2 --target dataflow dataflow-bench; } > build/bench-build.log 2>&1 ||
  { tail -20 build/bench-build.log; echo "bench/run.sh: build failed" >&2; exit 1; }
exec build/bench/harness/dataflow-bench --out build/bench-results.json "$@"
