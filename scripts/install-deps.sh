#!/usr/bin/env bash
# Installs every Debian package the build, the tests, the benchmarks and the quickstart need.
# Idempotent: packages already installed are skipped, and apt is not touched when nothing is missing.
# Runs as root without prompts (uses sudo when not root and sudo is available).
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config clang clang-format libclang-rt-14-dev
  # libraries
  # (paho only for the tests: an independent MQTT client; the engine has its own)
  librdkafka-dev libpaho-mqttpp-dev libpaho-mqtt-dev nlohmann-json3-dev libyaml-cpp-dev
  libssl-dev uuid-dev libgtest-dev libgmock-dev libbenchmark-dev libcli11-dev libspdlog-dev
  libcurl4-openssl-dev libcpp-httplib-dev
  # brokers and third-party clients used by tests, benchmarks and the quickstart
  mosquitto mosquitto-clients kcat
  python3 python3-jsonschema python3-yaml python3-kafka python3-paho-mqtt python3-websockets
  openssl
  # independent checks of the metrics endpoint: a Prometheus text parser and promtool
  python3-prometheus-client prometheus
  # the Helm chart's checks: Go's text/template and sprig (helm's template engine; helm itself is not packaged)
  # and the Kubernetes API types the rendered objects are checked against
  golang-go golang-github-masterminds-sprig-dev golang-gopkg-yaml.v3-dev python3-kubernetes
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

as_root=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  as_root=(sudo)
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
