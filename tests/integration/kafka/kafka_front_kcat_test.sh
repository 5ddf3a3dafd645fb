#!/usr/bin/env bash
# Cross-checks the TLS/SASL test front (tests/support/kafka_security_front.py) with an
# independent client: kcat lists the brokers, produces and consumes through the front over
# SASL_SSL with PLAIN and SCRAM-SHA-512, sees only the front's listeners in the metadata (never
# the plaintext mock behind it), and is refused with a wrong password or without trusting the CA;
# kafka-python produces and consumes with PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512.
#
#   kafka_front_kcat_test.sh DATAFLOW_BINARY SOURCE_DIR
set -euo pipefail

dataflow=$1
source_dir=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/kafka-front-kcat-XXXXXX")
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  echo "--- front output:" >&2
  cat "$work/front.log" >&2 || true
  exit 1
}

# A CA and a server certificate for 127.0.0.1 / localhost; another CA that signed nothing here.
cd "$work"
ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
openssl req -x509 "${ec[@]}" -keyout ca.key -out ca.pem -subj /CN=kcat-test-ca -days 2 2>/dev/null
openssl req -x509 "${ec[@]}" -keyout other.key -out other.pem -subj /CN=other-ca -days 2 2>/dev/null
openssl req "${ec[@]}" -keyout server.key -out server.csr -subj /CN=localhost 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -set_serial 7 -days 2 \
  -extfile server.ext -out server.pem 2>/dev/null

# The mock cluster (3 brokers), then the front before it.
"$dataflow" dev-kafka --brokers 3 --bootstrap-file "$work/backend" > mock.log 2>&1 &
pids+=($!)
for _ in $(seq 300); do [[ -s backend ]] && break; sleep 0.05; done
[[ -s backend ]] || fail "dataflow dev-kafka did not start: $(cat mock.log)"
backend=$(tr -d '\n' < backend)
backend=${backend#bootstrap.servers=}

cat > front.json <<EOF
{"backend": ["${backend%%,*}"],
 "tls": {"cert": "$work/server.pem", "key": "$work/server.key"},
 "sasl": {"mechanisms": ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"],
          "plain": {"alice": "alice-pw-kcat"}, "scram": {"bob": "bob-pw-kcat"}}}
EOF
python3 "$source_dir/tests/support/kafka_security_front.py" front.json > front.log 2>&1 &
pids+=($!)
for _ in $(seq 300); do grep -q '"ready"' front.log 2>/dev/null && break; sleep 0.05; done
grep -q '"ready"' front.log || fail "the front did not start"
front=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["bootstrap"])' front.log)
first=${front%%,*}

kcat_as() {  # MECHANISM USER PASSWORD CA ARGS...
  local mechanism=$1 user=$2 password=$3 ca=$4
  shift 4
  timeout 30 kcat -b "$first" -m 10 -X security.protocol=SASL_SSL -X sasl.mechanisms="$mechanism" \
    -X sasl.username="$user" -X sasl.password="$password" -X ssl.ca.location="$ca" "$@"
}

for login in "PLAIN alice alice-pw-kcat" "SCRAM-SHA-512 bob bob-pw-kcat"; do
  read -r mechanism user password <<< "$login"
  topic="kcat-$RANDOM$RANDOM"

  # Metadata: three brokers, each at one of the front's listeners.
  kcat_as "$mechanism" "$user" "$password" ca.pem -L > metadata.txt 2>&1 ||
    fail "$mechanism: kcat -L failed: $(cat metadata.txt)"
  grep -q " 3 brokers:" metadata.txt || fail "$mechanism: not 3 brokers: $(cat metadata.txt)"
  while read -r port; do
    [[ ",$front," == *",127.0.0.1:$port,"* ]] ||
      fail "$mechanism: metadata names 127.0.0.1:$port, not a front listener ($front)"
  done < <(sed -n 's/^  broker [0-9]* at 127\.0\.0\.1:\([0-9]*\).*/\1/p' metadata.txt)

  printf 'k1:one\nk2:two\nk3:three\n' |
    kcat_as "$mechanism" "$user" "$password" ca.pem -P -t "$topic" -K: -p 0 > produce.log 2>&1 ||
    fail "$mechanism: produce failed: $(cat produce.log)"
  kcat_as "$mechanism" "$user" "$password" ca.pem -C -t "$topic" -p 0 -o beginning -c 3 -e \
    -f '%k=%s\n' > consumed.txt 2> consume.log || fail "$mechanism: consume failed: $(cat consume.log)"
  [[ "$(cat consumed.txt)" == $'k1=one\nk2=two\nk3=three' ]] ||
    fail "$mechanism: consumed $(cat consumed.txt)"
  grep -q "\"event\": \"authenticated\", \"mechanism\": \"$mechanism\"" front.log ||
    fail "$mechanism: the front saw no $mechanism login"
  echo "ok: $mechanism produce + consume through the front"
done

# kafka-python (python3-kafka) as a second independent client: it speaks SaslHandshake v0 with
# bare SASL frames and has its own SCRAM; produce and consume with every mechanism.
kafka_python=""
for candidate in python3 /usr/bin/python3; do
  if "$candidate" -c 'import kafka' 2>/dev/null; then kafka_python=$candidate; break; fi
done
[[ -n "$kafka_python" ]] ||
  fail "no python3 with the kafka module (scripts/install-deps.sh installs python3-kafka)"
cat > kafka_python_check.py <<'PY'
import sys
import kafka
broker, ca = sys.argv[1], sys.argv[2]
for mechanism, user, password in [("PLAIN", "alice", "alice-pw-kcat"),
                                  ("SCRAM-SHA-256", "bob", "bob-pw-kcat"),
                                  ("SCRAM-SHA-512", "bob", "bob-pw-kcat")]:
    common = dict(bootstrap_servers=broker, security_protocol="SASL_SSL", ssl_cafile=ca,
                  sasl_mechanism=mechanism, sasl_plain_username=user,
                  sasl_plain_password=password)
    topic = "kafka-python-" + mechanism.lower()
    producer = kafka.KafkaProducer(**common)
    for i in range(3):
        producer.send(topic, key=b"k%d" % i, value=b"v%d" % i, partition=0).get(timeout=30)
    producer.close()
    consumer = kafka.KafkaConsumer(**common, auto_offset_reset="earliest",
                                   consumer_timeout_ms=15000)
    consumer.assign([kafka.TopicPartition(topic, 0)])
    got = [(m.key, m.value) for m in consumer]
    consumer.close()
    assert got == [(b"k0", b"v0"), (b"k1", b"v1"), (b"k2", b"v2")], (mechanism, got)
    print("ok: kafka-python", mechanism, "produce + consume through the front")
PY
timeout 120 "$kafka_python" kafka_python_check.py "$first" "$work/ca.pem" > kafka-python.log 2>&1 ||
  fail "kafka-python through the front: $(cat kafka-python.log)"
grep "^ok" kafka-python.log

# Refusals: a wrong password (error 58), an untrusted server certificate.
if kcat_as SCRAM-SHA-512 bob wrong-password ca.pem -L -m 3 > refused.log 2>&1; then
  fail "a wrong SCRAM password was accepted"
fi
grep -q "SASL authentication error: Authentication failed" refused.log ||
  fail "no SASL refusal: $(cat refused.log)"
if kcat_as PLAIN alice alice-pw-kcat other.pem -L -m 3 > untrusted.log 2>&1; then
  fail "a server certificate from an untrusted CA was accepted"
fi
grep -q "certificate verify failed" untrusted.log || fail "no verify failure: $(cat untrusted.log)"
if grep -q "pw-kcat" front.log; then fail "the front logged a password"; fi
echo "ok: refusals"
