#!/usr/bin/python3
"""Writes the seed corpus of fuzz_mqtt_codec: one valid packet per file, of every type.

Most come from python3-paho-mqtt through the unit test's cross-check script; the packets paho's
client never sends (CONNACK, SUBACK, AUTH, a server's PUBLISH and DISCONNECT) are written by
hand from the specification. Re-run from anywhere: /usr/bin/python3 tests/fuzz/mqtt/make_corpus.py
"""
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "unit", "connectors", "mqtt"))
import codec_crosscheck as paho  # noqa: E402

HAND = {
    # CONNACK: session present, Success, Receive Maximum 20, Maximum QoS 1, a Reason String.
    "connack": bytes([0x20, 0x0F, 0x01, 0x00, 0x0C, 0x21, 0x00, 0x14, 0x24, 0x01,
                      0x1F, 0x00, 0x04]) + b"okay",
    # SUBACK for two filters: Granted QoS 1, Not authorized.
    "suback": bytes([0x90, 0x05, 0x00, 0x01, 0x00, 0x01, 0x87]),
    "unsuback": bytes([0xB0, 0x04, 0x00, 0x02, 0x00, 0x11]),
    # A server's QoS 2 PUBLISH with a Topic Alias and two Subscription Identifiers.
    "publish_server": bytes([0x34, 0x11, 0x00, 0x03]) + b"a/b" +
    bytes([0x00, 0x05, 0x08, 0x23, 0x00, 0x01, 0x0B, 0x01, 0x0B, 0x80, 0x01]) + b"x",
    # PUBACK with a Reason Code and a Reason String.
    "puback_reason": bytes([0x40, 0x08, 0x00, 0x01, 0x97, 0x04, 0x1F, 0x00, 0x01]) + b"q",
    # A server's DISCONNECT with a Server Reference.
    "disconnect_server": bytes([0xE0, 0x06, 0x9C, 0x04, 0x1C, 0x00, 0x01]) + b"s",
    "auth": bytes([0xF0, 0x09, 0x18, 0x07, 0x15, 0x00, 0x01]) + b"m" + bytes([0x16, 0x00, 0x00]),
    "pingresp": bytes([0xD0, 0x00]),
}


def main():
    corpus = os.path.join(here, "corpus")
    os.makedirs(corpus, exist_ok=True)
    packets = {fn.__name__: fn() for fn in (
        paho.connect_basic, paho.connect_all, paho.publish_qos1_props, paho.publish_qos0,
        paho.subscribe, paho.unsubscribe, paho.disconnect_with_will, paho.puback, paho.pubrel,
        paho.pingreq)}
    packets.update(HAND)
    for name, data in packets.items():
        with open(os.path.join(corpus, name), "wb") as f:
            f.write(data)
    # Two packets back to back, as they arrive on a socket.
    with open(os.path.join(corpus, "stream"), "wb") as f:
        f.write(packets["publish_qos1_props"] + packets["pubrel"])


if __name__ == "__main__":
    main()
