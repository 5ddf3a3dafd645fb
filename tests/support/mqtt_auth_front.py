#!/usr/bin/python3
"""A test double of a broker's enhanced authentication (MQTT v5 CONNECT Authentication Method and
Authentication Data), as the AIO MQTT broker does K8S-SAT and Azure Event Grid OAUTH2-JWT: a TCP
proxy in front of a plain MQTT broker (mosquitto).

For each connection it reads the CONNECT and checks it:
  - Authentication Method absent or not --method: CONNACK 0x8C (Bad authentication method), close;
  - Authentication Data not an accepted token: CONNACK 0x87 (Not authorized), close;
  - otherwise the CONNECT is forwarded upstream without the two properties, and packets are piped
    both ways. A token with an expiry is cut off when it expires: the connection is closed without
    a DISCONNECT, as the AIO broker does.
After the CONNECT both directions are framed into whole MQTT packets (fixed header and Remaining
Length), so that the front's own packets never land inside another packet. Broker packets reach
the client unchanged. Client packets reach the broker unchanged, except AUTH, which the front
consumes (single-step re-authentication, MQTT v5 section 4.12.1; the broker never sees an AUTH):
  - not a well-formed AUTH with Reason Code 0x19 (Re-authenticate): DISCONNECT 0x82 (Protocol
    Error), both sides closed;
  - Authentication Method absent or not --method: DISCONNECT 0x8C (Bad authentication method),
    both sides closed;
  - Authentication Data not an accepted token: DISCONNECT 0x87 (Not authorized), both sides closed;
  - otherwise AUTH 0x00 (Success), sent as the two bytes F0 00 (Reason Code and Property Length
    left out, 3.15.2.1), and the new token's expiry (or none) replaces the connection's cut-off.
The accepted tokens are re-read from --tokens FILE at every CONNECT and every AUTH; each line is
"LABEL TOKEN [EXPIRES_UNIX_SECONDS]". Each decision is appended to --record FILE as one JSON line
{"event": "accepted"|"bad_method"|"not_authorized"|"expired"|"protocol_error", "client_id": ...,
"label": ..., "time": ...}: labels, never token values; the decisions on an AUTH end with
"reauth": true ("expired" labels the token the connection last authenticated with).
Only MQTT v5 CONNECTs (protocol level 5) are accepted; anything else is closed.
"""
import argparse
import json
import socket
import threading
import time

AUTH_METHOD = 0x15
AUTH_DATA = 0x16
AUTH = 0xF0  # AUTH fixed header byte (packet type 15, flags 0)
RE_AUTHENTICATE = 0x19
AUTH_SUCCESS = bytes([AUTH, 0])
# CONNECT property identifiers and their value kinds (MQTT v5 section 3.1.2.11).
PROPERTY_KINDS = {
    0x11: "u32", 0x21: "u16", 0x27: "u32", 0x22: "u16", 0x19: "u8", 0x17: "u8",
    0x26: "pair", AUTH_METHOD: "str", AUTH_DATA: "bin",
}
# AUTH property identifiers and their value kinds (MQTT v5 section 3.15.2.2).
AUTH_PROPERTY_KINDS = {AUTH_METHOD: "str", AUTH_DATA: "bin", 0x1F: "str", 0x26: "pair"}


def disconnect(reason):
    """A server DISCONNECT: Reason Code, then a Property Length of 0."""
    return bytes([0xE0, 2, reason, 0])


def encode_varint(n):
    out = bytearray()
    while True:
        byte = n % 128
        n //= 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def decode_varint(buf, at):
    value, shift = 0, 0
    for i in range(4):
        byte = buf[at + i]
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at + i + 1
    raise ValueError("malformed variable byte integer")


def recv_exact(sock, n):
    data = bytearray()
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return bytes(data)


def read_packet(sock):
    first = recv_exact(sock, 1)
    length_bytes = bytearray()
    while True:
        b = recv_exact(sock, 1)
        length_bytes += b
        if not b[0] & 0x80:
            break
        if len(length_bytes) == 4:
            raise ValueError("malformed remaining length")
    length, _ = decode_varint(bytes(length_bytes), 0)
    return first[0], recv_exact(sock, length)


def read_string(buf, at):
    n = int.from_bytes(buf[at:at + 2], "big")
    return buf[at + 2:at + 2 + n], at + 2 + n


def read_properties(body, i, end, kinds, packet):
    """Walks the properties in body[i:end] (identifier -> kind in `kinds`): (method, data, the
    properties other than the two auth ones, as bytes). ValueError if malformed."""
    kept, method, data = bytearray(), None, None
    while i < end:
        ident = body[i]
        kind = kinds.get(ident)
        start = i
        i += 1
        if kind == "u8":
            i += 1
        elif kind == "u16":
            i += 2
        elif kind == "u32":
            i += 4
        elif kind in ("str", "bin"):
            value, i = read_string(body, i)
            if ident == AUTH_METHOD:
                method = value.decode("utf-8")
            elif ident == AUTH_DATA:
                data = value
        elif kind == "pair":
            _, i = read_string(body, i)
            _, i = read_string(body, i)
        else:
            raise ValueError("unknown %s property 0x%02x" % (packet, ident))
        if ident not in (AUTH_METHOD, AUTH_DATA):
            kept += body[start:i]
    if i != end:
        raise ValueError("%s properties overrun" % packet)
    return method, data, bytes(kept)


def parse_connect(body):
    """(variable header before properties, properties without auth, method, data, rest)."""
    name, at = read_string(body, 0)
    if name != b"MQTT" or body[at] != 5:
        raise ValueError("not an MQTT v5 CONNECT")
    at += 1 + 1 + 2  # level, flags, keep alive
    head = body[:at]
    props_len, props_at = decode_varint(body, at)
    end = props_at + props_len
    method, data, kept = read_properties(body, props_at, end, PROPERTY_KINDS, "CONNECT")
    client_id, _ = read_string(body, end)
    return head, kept, method, data, body[end:], client_id.decode("utf-8", "replace")


def parse_auth(packet):
    """(reason code, method, data) of a whole client AUTH packet; ValueError if malformed."""
    if packet[0] != AUTH:
        raise ValueError("AUTH flags not 0")
    _, at = decode_varint(packet, 1)
    body = packet[at:]
    if not body:
        return 0x00, None, None  # Success, no properties (3.15.2.1)
    reason = body[0]
    if len(body) == 1:
        return reason, None, None
    props_len, i = decode_varint(body, 1)
    end = i + props_len
    if end != len(body):
        raise ValueError("AUTH property length does not match the packet")
    method, data, _ = read_properties(body, i, end, AUTH_PROPERTY_KINDS, "AUTH")
    return reason, method, data


def packet_size(buf):
    """Size of the whole packet at the start of buf, or None while its fixed header is partial."""
    for i in range(1, 5):
        if i >= len(buf):
            return None
        if not buf[i] & 0x80:
            length, at = decode_varint(buf, 1)
            return at + length
    raise ValueError("malformed remaining length")


def frames(sock):
    """Yields, as bytes arrive on sock, the list of whole packets they complete; ends at EOF."""
    buf = bytearray()
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return
        buf += chunk
        packets = []
        while True:
            size = packet_size(buf)
            if size is None or size > len(buf):
                break
            packets.append(bytes(buf[:size]))
            del buf[:size]
        if packets:
            yield packets


def accepted_tokens(path):
    tokens = {}
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2:
                    expires = float(parts[2]) if len(parts) > 2 else None
                    tokens[parts[1].encode("utf-8")] = (parts[0], expires)
    except FileNotFoundError:
        pass
    return tokens


class Connection:
    """One accepted client and its upstream. The client-reading thread is the only writer
    upstream; writes to the client, from both directions, hold client_lock so that packets stay
    whole. The cut-off state (label, expires, closed) is guarded by changed."""

    def __init__(self, client, upstream, client_id, label, expires):
        self.client, self.upstream = client, upstream
        self.client_id, self.label, self.expires = client_id, label, expires
        self.client_lock = threading.Lock()
        self.changed = threading.Condition()
        self.closed = False

    def send_client(self, data):
        with self.client_lock:
            self.client.sendall(data)

    def close(self):
        with self.changed:
            self.closed = True
            self.changed.notify_all()
        for s in (self.client, self.upstream):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def refuse(self, reason):
        """DISCONNECT reason to the client as its last packet, then both sides closed."""
        with self.client_lock:
            try:
                self.client.sendall(disconnect(reason))
            except OSError:
                pass
            self.close()

    def renew(self, label, expires):
        """False if the connection was already closed (e.g. cut off meanwhile)."""
        with self.changed:
            if self.closed:
                return False
            self.label, self.expires = label, expires
            self.changed.notify_all()
            return True


class Front:
    def __init__(self, args):
        self.args = args
        self.record_lock = threading.Lock()

    def record(self, event, client_id, label=None, reauth=False):
        line = {"event": event, "client_id": client_id, "label": label, "time": time.time()}
        if reauth:
            line["reauth"] = True
        with self.record_lock, open(self.args.record, "a", encoding="utf-8") as f:
            f.write(json.dumps(line) + "\n")
            f.flush()

    def refuse(self, client, reason):
        client.sendall(bytes([0x20, 3, 0, reason, 0]))
        client.close()

    def token(self, data):
        """(label, expires) of an accepted, unexpired token, else None."""
        token = accepted_tokens(self.args.tokens).get(data or b"")
        if token is None or (token[1] is not None and token[1] <= time.time()):
            return None
        return token

    def handle(self, client):
        try:
            kind, body = read_packet(client)
            if kind >> 4 != 1:
                client.close()
                return
            head, props, method, data, rest, client_id = parse_connect(body)
        except (ValueError, ConnectionError, IndexError, OSError):
            client.close()
            return
        if method != self.args.method:
            self.record("bad_method", client_id)
            self.refuse(client, 0x8C)
            return
        token = self.token(data)
        if token is None:
            self.record("not_authorized", client_id)
            self.refuse(client, 0x87)
            return
        label, expires = token
        upstream = socket.create_connection(("127.0.0.1", self.args.upstream_port))
        new_body = head + encode_varint(len(props)) + props + rest
        upstream.sendall(bytes([0x10]) + encode_varint(len(new_body)) + new_body)
        self.record("accepted", client_id, label)
        conn = Connection(client, upstream, client_id, label, expires)
        threading.Thread(target=self.expire, args=(conn,), daemon=True).start()
        threading.Thread(target=broker_to_client, args=(conn,), daemon=True).start()
        self.client_to_broker(conn)

    def client_to_broker(self, conn):
        try:
            for packets in frames(conn.client):
                pending = []
                for packet in packets:
                    if packet[0] >> 4 != AUTH >> 4:
                        pending.append(packet)
                        continue
                    if pending:
                        conn.upstream.sendall(b"".join(pending))
                        pending = []
                    if not self.reauthenticate(conn, packet):
                        return
                if pending:
                    conn.upstream.sendall(b"".join(pending))
        except (ValueError, OSError):
            pass
        conn.close()

    def reauthenticate(self, conn, packet):
        """Consumes one client AUTH; False once the connection is closed."""
        try:
            reason, method, data = parse_auth(packet)
        except (ValueError, IndexError):
            reason, method, data = None, None, None
        if reason != RE_AUTHENTICATE:
            self.record("protocol_error", conn.client_id, reauth=True)
            conn.refuse(0x82)
            return False
        if method != self.args.method:
            self.record("bad_method", conn.client_id, reauth=True)
            conn.refuse(0x8C)
            return False
        token = self.token(data)
        if token is None:
            self.record("not_authorized", conn.client_id, reauth=True)
            conn.refuse(0x87)
            return False
        label, expires = token
        if not conn.renew(label, expires):
            return False
        self.record("accepted", conn.client_id, label, reauth=True)
        conn.send_client(AUTH_SUCCESS)
        return True

    def expire(self, conn):
        with conn.changed:
            while not conn.closed:
                if conn.expires is None:
                    conn.changed.wait()
                elif conn.expires <= time.time():
                    break
                else:
                    conn.changed.wait(conn.expires - time.time())
            if conn.closed:
                return
            conn.closed = True  # decided: a renewal racing this cut-off loses
            label = conn.label
        self.record("expired", conn.client_id, label)
        conn.close()


def broker_to_client(conn):
    try:
        for packets in frames(conn.upstream):
            conn.send_client(b"".join(packets))
    except (ValueError, OSError):
        pass
    conn.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="listen on 127.0.0.1:PORT")
    parser.add_argument("--upstream-port", type=int, required=True)
    parser.add_argument("--method", default="K8S-SAT")
    parser.add_argument("--tokens", required=True)
    parser.add_argument("--record", required=True)
    args = parser.parse_args()
    front = Front(args)
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", args.port))
    server.listen(64)
    print("listening on 127.0.0.1:%d" % args.port, flush=True)
    while True:
        client, _ = server.accept()
        threading.Thread(target=front.handle, args=(client,), daemon=True).start()


if __name__ == "__main__":
    main()
