#!/usr/bin/env bash
# The README's first command. Installs what is missing, builds `dataflow`, and shows what the
# engine does today: validating AIO manifests, then catching mistakes in a broken one.
# (Moving messages, `dataflow run` with local brokers, lands with the run issue; this script
# grows into that end-to-end quickstart then.)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

bash scripts/install-deps.sh
cmake -S . -B build -G Ninja >/dev/null
cmake --build build --target dataflow >/dev/null
dataflow=build/engine/cli/dataflow

echo
echo "== 1. A valid set of manifests: MQTT broker -> Event Hubs over SASL"
echo "\$ dataflow validate --secrets-dir examples/event-hubs-sasl/secrets --configmaps-dir examples/event-hubs-sasl/configmaps examples/event-hubs-sasl"
"$dataflow" validate --secrets-dir examples/event-hubs-sasl/secrets \
  --configmaps-dir examples/event-hubs-sasl/configmaps examples/event-hubs-sasl

echo
echo "== 2. A manifest with mistakes: every problem is reported with file:line:column and YAML path"
broken=$(mktemp -d)
trap 'rm -rf "$broken"' EXIT
sed -e 's/latencyMs: 1000/latencyMS: 1000/' -e 's/maxMessages: 100$/maxMessages: "100"/' \
    -e 's/maxBytes: 1024/maxBytes: -1/' \
    <(awk 'FNR == 1 { print "---" } { print }' examples/kafka-batching/*.yaml) > "$broken/broken.yaml"
echo "\$ dataflow validate broken.yaml"
(cd "$broken" && "$root/$dataflow" validate broken.yaml) && { echo "expected errors" >&2; exit 1; }
echo "(exit code 1: invalid)"
echo
echo "Quickstart done. Next: README.md (examples/, crds/, the test command)."
