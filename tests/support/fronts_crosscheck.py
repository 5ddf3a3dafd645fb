#!/usr/bin/python3
"""Cross-checks the test fronts (ws_proxy.py, mqtt_auth_front.py) with an independent client,
python3-paho-mqtt, in front of a real mosquitto: a front that only agreed with our own engine
would prove nothing. Run by ctest (fronts_crosscheck); exits non-zero on the first mismatch."""
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_tcp(port, process):
    deadline = time.time() + 10
    while time.time() < deadline and process.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listens on %d" % port)


def start(argv, port, log):
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    wait_tcp(port, process)
    return process


def connect(port, method=None, data=None, transport="tcp", tls_ca=None, client_id="check"):
    """(reason code string, client or None). The client is connected and looping."""
    done = threading.Event()
    result = {}
    client = mqtt.Client(client_id=client_id, protocol=mqtt.MQTTv5, transport=transport)
    if tls_ca:
        client.tls_set(ca_certs=tls_ca)
    client.on_connect = lambda c, u, f, rc, p=None: (result.update(rc=str(rc)), done.set())
    client.on_disconnect = lambda c, u, rc, p=None: (result.setdefault("rc", str(rc)), done.set())
    props = None
    if method:
        props = Properties(PacketTypes.CONNECT)
        props.AuthenticationMethod = method
        if data is not None:
            props.AuthenticationData = data
    client.connect("127.0.0.1", port, properties=props)
    client.loop_start()
    if not done.wait(10):
        raise RuntimeError("no CONNACK from %d" % port)
    if result["rc"] != "Success":
        client.loop_stop()
        return result["rc"], None
    return result["rc"], client


def round_trip(port, **kw):
    """A QoS 1 message published and received through the front."""
    got = threading.Event()
    rc, sub = connect(port, client_id="sub", **kw)
    assert rc == "Success", rc
    sub.on_message = lambda c, u, m: got.set() if m.payload == b"hello" else None
    subscribed = threading.Event()
    sub.on_subscribe = lambda *a: subscribed.set()
    sub.subscribe("check/topic", qos=1)
    assert subscribed.wait(10)
    rc, pub = connect(port, client_id="pub", **kw)
    pub.publish("check/topic", b"hello", qos=1).wait_for_publish(10)
    assert got.wait(10), "the message did not come back"
    for c in (sub, pub):
        c.disconnect()
        c.loop_stop()


def expect(actual, wanted, what):
    if actual != wanted:
        sys.exit("%s: got %r, wanted %r" % (what, actual, wanted))
    print("ok:", what)


def main():
    with tempfile.TemporaryDirectory() as d, open(os.path.join(d, "log"), "w") as log:
        broker_port = free_port()
        with open(os.path.join(d, "mosquitto.conf"), "w") as f:
            f.write("listener %d 127.0.0.1\nallow_anonymous true\n" % broker_port)
        cert, key = os.path.join(d, "server.crt"), os.path.join(d, "server.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "2", "-subj", "/CN=localhost", "-addext",
                        "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                       check=True, stdout=log, stderr=subprocess.STDOUT)
        processes = [start(["/usr/sbin/mosquitto", "-c", os.path.join(d, "mosquitto.conf")],
                           broker_port, log)]
        try:
            tokens, record = os.path.join(d, "tokens"), os.path.join(d, "record")
            with open(tokens, "w") as f:
                f.write("good tok-good\n")
            front = free_port()
            processes.append(start(["/usr/bin/python3", os.path.join(HERE, "mqtt_auth_front.py"),
                                    "--port", str(front), "--upstream-port", str(broker_port),
                                    "--method", "K8S-SAT", "--tokens", tokens,
                                    "--record", record], front, log))
            expect(connect(front, "K8S-SAT", b"tok-good")[0], "Success", "accepted token")
            expect(connect(front, "OAUTH2-JWT", b"tok-good")[0], "Bad authentication method",
                   "wrong method")
            expect(connect(front)[0], "Bad authentication method", "no method")
            expect(connect(front, "K8S-SAT", b"tok-bad")[0], "Not authorized", "wrong token")
            round_trip(front, method="K8S-SAT", data=b"tok-good")
            print("ok: round trip through the auth front")
            with open(tokens, "a") as f:
                f.write("short tok-short %f\n" % (time.time() + 3))
            rc, short = connect(front, "K8S-SAT", b"tok-short", client_id="short")
            expect(rc, "Success", "short-lived token accepted")
            lost = threading.Event()
            short.on_disconnect = lambda *a: lost.set()
            expect(lost.wait(10), True, "connection cut when the token expires")
            with open(record) as f:
                events = [json.loads(line)["event"] for line in f]
            expect(events.count("expired"), 1, "expiry recorded")
            with open(record) as f:
                expect("tok-" in f.read(), False, "no token value in the record")

            ws, wss = free_port(), free_port()
            processes.append(start(["/usr/bin/python3", os.path.join(HERE, "ws_proxy.py"),
                                    "--port", str(ws), "--upstream-port", str(broker_port)],
                                   ws, log))
            processes.append(start(["/usr/bin/python3", os.path.join(HERE, "ws_proxy.py"),
                                    "--port", str(wss), "--upstream-port", str(broker_port),
                                    "--certfile", cert, "--keyfile", key], wss, log))
            round_trip(ws, transport="websockets")
            print("ok: round trip over ws://")
            round_trip(wss, transport="websockets", tls_ca=cert)
            print("ok: round trip over wss://")
        finally:
            for p in processes:
                p.kill()
                p.wait()


if __name__ == "__main__":
    main()
