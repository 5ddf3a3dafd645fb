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


# paho 1.6 has no public AUTH API: the re-authentication (MQTT v5 section 4.12.1) is checked over
# a raw socket with hand-built packets, written here independently of the front's own codec.
def raw_varint(n):
    out = bytearray()
    while True:
        out.append(n % 128 | (0x80 if n >= 128 else 0))
        n //= 128
        if not n:
            return bytes(out)


def raw_str(b):
    return len(b).to_bytes(2, "big") + b


def raw_packet(first, body):
    return bytes([first]) + raw_varint(len(body)) + body


def raw_auth_props(method, data):
    return b"\x15" + raw_str(method.encode()) + b"\x16" + raw_str(data)


def raw_read(sock):
    """(first byte, body) of the next packet, or None at EOF; the socket timeout is the deadline."""
    def exact(n):
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                if data:
                    raise RuntimeError("EOF inside a packet")
                return None
            data += chunk
        return data
    first = exact(1)
    if first is None:
        return None
    length, shift = 0, 0
    while True:
        b = exact(1)[0]
        length |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            break
    return first[0], exact(length) if length else b""


def raw_connect(port, client_id, data, method="K8S-SAT"):
    """A socket past an accepted CONNACK (clean start, keep alive 60, v5)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    props = raw_auth_props(method, data)
    body = (raw_str(b"MQTT") + bytes([5, 0x02]) + (60).to_bytes(2, "big") +
            raw_varint(len(props)) + props + raw_str(client_id.encode()))
    sock.sendall(raw_packet(0x10, body))
    first, body = raw_read(sock)
    expect((first, body[1]), (0x20, 0x00), "raw CONNACK Success for %s" % client_id)
    return sock


def raw_reauth(data, method="K8S-SAT"):
    props = raw_auth_props(method, data)
    return raw_packet(0xF0, bytes([0x19]) + raw_varint(len(props)) + props)


def reason_of(packet):
    """(first byte, reason code): a body left out is reason 0x00 (3.15.2.1, 3.14.2.1); None at
    EOF."""
    if packet is None:
        return None
    first, body = packet
    return first, body[0] if body else 0x00


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

            with open(tokens, "a") as f:
                f.write("renewed tok-renewed\n")
            with raw_connect(front, "reauth", b"tok-good") as sock:
                # AUTH and PINGREQ in one write: the front must split them, consume the AUTH and
                # answer it before the PINGREQ reaches mosquitto (which would drop a connection
                # that sent an AUTH without having connected with a method).
                sock.sendall(raw_reauth(b"tok-renewed") + b"\xc0\x00")
                expect(reason_of(raw_read(sock)), (0xF0, 0x00), "re-authentication: AUTH Success")
                expect(raw_read(sock), (0xD0, b""), "PINGRESP after the re-authentication")
                sock.sendall(raw_reauth(b"tok-unknown"))
                expect(reason_of(raw_read(sock)), (0xE0, 0x87),
                       "re-authentication with an unknown token: DISCONNECT Not authorized")
                expect(raw_read(sock), None, "closed after DISCONNECT Not authorized")
            with raw_connect(front, "reauth-method", b"tok-good") as sock:
                sock.sendall(raw_reauth(b"tok-renewed", method="OAUTH2-JWT"))
                expect(reason_of(raw_read(sock)), (0xE0, 0x8C),
                       "re-authentication with another method: DISCONNECT Bad authentication method")
                expect(raw_read(sock), None, "closed after DISCONNECT Bad authentication method")
            soon, later = time.time() + 2, time.time() + 4
            with open(tokens, "a") as f:
                f.write("soon tok-soon %f\nlater tok-later %f\n" % (soon, later))
            with raw_connect(front, "reauth-expiry", b"tok-soon") as sock:
                sock.sendall(raw_reauth(b"tok-later"))
                expect(reason_of(raw_read(sock)), (0xF0, 0x00), "re-authenticated before expiry")
                expect(raw_read(sock), None, "connection cut when the renewed token expires")
            with open(record) as f:
                lines = [json.loads(line) for line in f]
            expect([(e["event"], e["client_id"], e["label"]) for e in lines if e.get("reauth")],
                   [("accepted", "reauth", "renewed"), ("not_authorized", "reauth", None),
                    ("bad_method", "reauth-method", None), ("accepted", "reauth-expiry", "later")],
                   "re-authentications recorded")
            cut = [e for e in lines if e["event"] == "expired" and e["client_id"] == "reauth-expiry"]
            expect([(e["label"], e["time"] >= later) for e in cut], [("later", True)],
                   "the renewed token's expiry replaced the first one's")
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
