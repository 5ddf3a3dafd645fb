#!/usr/bin/env bash
# The README's first command: installs what is missing, builds `dataflow`, starts a local MQTT
# broker (mosquitto) and a development Kafka (`dataflow dev-kafka`) on free loopback ports, runs
# the dataflows of examples/quickstart/, publishes MQTT v5 messages with properties and shows
# what arrives in Kafka, produces a Kafka record and shows the MQTT message it becomes, and stops
# everything it started.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
fail() { echo "quickstart failed: $*" >&2; exit 1; }

step "Installing dependencies and building (output in build/quickstart-build.log)"
mkdir -p build
bash scripts/install-deps.sh > build/quickstart-build.log 2>&1 ||
  { tail -20 build/quickstart-build.log; fail "scripts/install-deps.sh"; }
{ cmake -S . -B build -G Ninja && cmake --build build --target dataflow; } \
  >> build/quickstart-build.log 2>&1 || { tail -20 build/quickstart-build.log; fail "build"; }
dataflow=$root/build/cli/dataflow

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# wait_for SECONDS COMMAND...: runs COMMAND every 0.1 s until it succeeds or SECONDS pass.
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" > /dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

step "Starting the brokers"
mqtt_port=$(free_port)
printf 'listener %s 127.0.0.1\nallow_anonymous true\n' "$mqtt_port" > "$work/mosquitto.conf"
/usr/sbin/mosquitto -c "$work/mosquitto.conf" > "$work/mosquitto.log" 2>&1 &
pids+=($!)
wait_for 10 bash -c "echo > /dev/tcp/127.0.0.1/$mqtt_port" || fail "mosquitto did not start"
echo "mosquitto (MQTT v5)         127.0.0.1:$mqtt_port"

"$dataflow" dev-kafka --brokers 1 --topic telemetry:3 --topic commands:1 --bootstrap-file "$work/bootstrap" \
  > "$work/dev-kafka.log" 2>&1 &
pids+=($!)
wait_for 10 test -s "$work/bootstrap" || fail "dataflow dev-kafka did not start"
bootstrap=$(sed 's/^bootstrap.servers=//' "$work/bootstrap")
echo "dataflow dev-kafka          $bootstrap  (topics telemetry: 3 partitions, commands: 1)"

step "Running the dataflows of examples/quickstart/"
mkdir "$work/manifests"
sed "s/host: localhost:1883/host: 127.0.0.1:$mqtt_port/" examples/quickstart/endpoints.yaml |
  sed "s/host: localhost:9092/host: $bootstrap/" > "$work/manifests/endpoints.yaml"
cp examples/quickstart/dataflow.yaml examples/quickstart/commands.yaml "$work/manifests/"
echo "\$ dataflow run -f examples/quickstart   (hosts rewritten to the ports above)"
"$dataflow" run -f "$work/manifests" 2> "$work/engine.log" &
engine=$!
pids+=($engine)
wait_for 20 grep -q "MQTT source: subscribed" "$work/engine.log" ||
  { cat "$work/engine.log"; fail "dataflow run did not subscribe its MQTT source"; }
wait_for 20 grep -q "MQTT destination: connected" "$work/engine.log" ||
  { cat "$work/engine.log"; fail "dataflow run did not connect its MQTT destination"; }
sed 's/^/  /' "$work/engine.log"

step "Publishing three MQTT v5 messages"
publish() {
  local topic=$1 payload=$2; shift 2
  echo "\$ mosquitto_pub -V 5 -q 1 -t $topic -m '$payload' $*"
  mosquitto_pub -V 5 -h 127.0.0.1 -p "$mqtt_port" -q 1 -t "$topic" -m "$payload" "$@"
}
publish factory/press-1/telemetry '{"temperature":21.5}' \
  -D publish content-type application/json -D publish user-property unit celsius
publish factory/press-1/telemetry '{"temperature":21.7}' \
  -D publish content-type application/json -D publish message-expiry-interval 3600
publish factory/lathe-1/telemetry '{"rpm":1200}' \
  -D publish user-property unit rpm -D publish user-property unit per-minute

step "What arrived in Kafka (kcat -C -t telemetry)"
timeout 30 kcat -C -b "$bootstrap" -t telemetry -c 3 -q \
  -f 'partition %p  offset %o  key %k\n  headers  %h\n  payload  %s\n' ||
  fail "the messages did not all reach Kafka"

step "Producing a Kafka record to the topic commands"
# stdbuf: mosquitto_sub flushes its message lines itself but not the -d lines we wait for.
stdbuf -oL mosquitto_sub -V 5 -d -h 127.0.0.1 -p "$mqtt_port" -q 1 -t 'factory/commands' -C 1 -W 30 \
  -F 'topic %t\n  user properties  %P\n  payload  %p' > "$work/sub.log" 2>&1 &
sub=$!
pids+=($sub)
wait_for 10 grep -q "received SUBACK" "$work/sub.log" || fail "mosquitto_sub did not subscribe"
echo "\$ echo '{\"action\":\"stop\"}' | kcat -P -t commands -k press-1 -H issued-by=operator"
echo '{"action":"stop"}' | kcat -P -b "$bootstrap" -t commands -k press-1 -H issued-by=operator
wait "$sub" || fail "the record did not reach MQTT"

step "What arrived over MQTT (mosquitto_sub -V 5 -t factory/commands)"
grep -v -e '^Client ' -e '^Subscribed' "$work/sub.log" | sed 's/^/  /'

step "Stopping (SIGTERM): the engine delivers what is in flight, then exits"
kill -TERM "$engine"
wait "$engine" || fail "dataflow run exited with $?"
tail -n 3 "$work/engine.log" | sed 's/^/  /'
echo
echo "Quickstart done: MQTT v5 properties became Kafka headers and the MQTT topic the key, so"
echo "each machine's messages stay in order on one partition; the Kafka record's key, timestamp"
echo "and headers became MQTT v5 user properties."
echo "Next: README.md (dataflow run, examples/, the test command)."
