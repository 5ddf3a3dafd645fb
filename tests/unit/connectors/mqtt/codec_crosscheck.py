#!/usr/bin/python3
"""Prints packets encoded by python3-paho-mqtt (Debian 12: 1.6.1) as C++ byte arrays.

The codec test (codec_test.cc, "Paho" tests) embeds this output so the C++ codec is checked
against an independent encoder, not only against itself. Re-run after changing a case here and
paste the output over the arrays marked "from codec_crosscheck.py":
    /usr/bin/python3 tests/unit/connectors/mqtt/codec_crosscheck.py
No network: the client's socket is a stand-in and its send queue is captured.
"""
import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCodes
from paho.mqtt.subscribeoptions import SubscribeOptions


class NoSocket:
    """Enough of a socket for the client to believe it is connected, and to close it."""

    def close(self):
        pass


class Capture(mqtt.Client):
    """A client whose packets land in a list instead of on a socket."""

    def __init__(self):
        super().__init__(client_id="bridge-1", protocol=mqtt.MQTTv5)
        self.packets = []
        self._sock = NoSocket()  # only checked for None before sending

    def _packet_queue(self, command, packet, mid, qos, info=None):
        self.packets.append(bytes(packet))
        return mqtt.MQTT_ERR_SUCCESS


def connect_basic():
    c = Capture()
    c._clean_start = True
    c.username_pw_set("user", "secret")
    p = Properties(PacketTypes.CONNECT)
    p.SessionExpiryInterval = 3600
    p.ReceiveMaximum = 100
    c._connect_properties = p
    c._send_connect(30)
    return c.packets[-1]


def connect_all():
    c = Capture()
    c._clean_start = False
    c.username_pw_set("user", b"\x00\xffpw")
    p = Properties(PacketTypes.CONNECT)
    p.SessionExpiryInterval = 7
    p.ReceiveMaximum = 1000
    p.MaximumPacketSize = 1 << 20
    p.TopicAliasMaximum = 10
    p.RequestResponseInformation = 1
    p.RequestProblemInformation = 0
    p.AuthenticationMethod = "SCRAM-SHA-1"
    p.AuthenticationData = b"\x01\x02"
    p.UserProperty = ("k", "v")
    c._connect_properties = p
    c._send_connect(60)
    return c.packets[-1]


def publish_qos1_props():
    c = Capture()
    p = Properties(PacketTypes.PUBLISH)
    p.PayloadFormatIndicator = 1
    p.MessageExpiryInterval = 60
    p.ContentType = "text/plain"
    p.ResponseTopic = "reply/to"
    p.CorrelationData = b"\x00\x01"
    p.UserProperty = ("a", "1")
    p.UserProperty = ("a", "2")
    c._send_publish(7, b"sensors/t1", b"21.5", qos=1, retain=True, properties=p)
    return c.packets[-1]


def publish_qos0():
    c = Capture()
    c._send_publish(0, b"a/b", b"hi", qos=0)
    return c.packets[-1]


def subscribe():
    c = Capture()
    p = Properties(PacketTypes.SUBSCRIBE)
    p.SubscriptionIdentifier = 7
    opts = SubscribeOptions(qos=1, noLocal=True, retainAsPublished=True,
                            retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB)
    c._send_subscribe(False, [(b"sensors/#", opts), (b"$share/g/x/+", SubscribeOptions(qos=2))],
                      properties=p)
    return c.packets[-1]


def unsubscribe():
    c = Capture()
    c._send_unsubscribe(False, [b"sensors/#", b"a/b"])
    return c.packets[-1]


def disconnect_with_will():
    c = Capture()
    p = Properties(PacketTypes.DISCONNECT)
    p.SessionExpiryInterval = 0
    c._send_disconnect(ReasonCodes(PacketTypes.DISCONNECT, "Disconnect with will message"), p)
    return c.packets[-1]


def puback():
    c = Capture()
    c._send_puback(1)
    return c.packets[-1]


def pubrel():
    c = Capture()
    c._send_pubrel(513)
    return c.packets[-1]


def pingreq():
    c = Capture()
    c._send_pingreq()
    return c.packets[-1]


def as_cpp(name, data):
    body = ", ".join("0x%02X" % b for b in data)
    return "// from codec_crosscheck.py: %s\nconstexpr uint8_t kPaho%s[] = {%s};" % (
        name, "".join(w.capitalize() for w in name.split("_")), body)


if __name__ == "__main__":
    for fn in (connect_basic, connect_all, publish_qos1_props, publish_qos0, subscribe,
               unsubscribe, disconnect_with_will, puback, pubrel, pingreq):
        print(as_cpp(fn.__name__, fn()))
