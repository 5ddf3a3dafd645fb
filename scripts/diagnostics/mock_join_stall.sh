#!/usr/bin/env bash
# Reproduces librdkafka 2.0.2's mock-coordinator race behind issue 12's hung Kafka group tests:
# one consumer at a time joins a fresh group while the whole process is stopped (SIGSTOP) for a
# random 0-1.9 s after a random 0.1-1.5 s. A join that is not assigned within 40 s was stranded
# (its JoinGroup answer discarded by the mock's session timer).
#   usage: scripts/diagnostics/mock_join_stall.sh SESSION_TIMEOUT_MS ITERATIONS
# Measured 2026-12-05: session 3000 -> 2 of 16 stranded; session 6000 -> 0 of 20.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
g++ -O1 -o "$work/join" "$here/mock_join_stall.cc" -lrdkafka
"$work/join" "${1:-3000}" "${2:-16}" &
pid=$!
( while kill -0 $pid 2>/dev/null; do
    sleep 0.$((RANDOM % 14 + 1)); kill -STOP $pid 2>/dev/null || break
    sleep $((RANDOM % 2)).$((RANDOM % 10)); kill -CONT $pid 2>/dev/null || break
  done ) &
wait $pid
