#!/usr/bin/python3
"""A test double of a broker's enhanced authentication (MQTT v5 CONNECT Authentication Method and
Authentication Data), as the AIO MQTT broker does K8S-SAT and Azure Event Grid OAUTH2-JWT: a TCP
proxy in front of a plain MQTT broker (mosquitto).

For each connection it reads the CONNECT and checks it:
  - Authentication Method absent or not --method: CONNACK 0x8C (Bad authentication method), close;
  - Authentication Data not an accepted token: CONNACK 0x87 (Not authorized), close;
  - otherwise the CONNECT is forwarded upstream without the two properties, and bytes are piped
    both ways. A token with an expiry is cut off when it expires: the connection is closed without
    a DISCONNECT, as the AIO broker does.
The accepted tokens are re-read from --tokens FILE at every CONNECT; each line is
"LABEL TOKEN [EXPIRES_UNIX_SECONDS]". Each decision is appended to --record FILE as one JSON line
{"event": "accepted"|"bad_method"|"not_authorized"|"expired", "client_id": ..., "label": ...,
"time": ...}: labels, never token values.
Only MQTT v5 CONNECTs (protocol level 5) are accepted; anything else is closed.
"""
import argparse
import json
import socket
import threading
import time

AUTH_METHOD = 0x15
AUTH_DATA = 0x16
# CONNECT property identifiers and their value kinds (MQTT v5 section 3.1.2.11).
PROPERTY_KINDS = {
    0x11: "u32", 0x21: "u16", 0x27: "u32", 0x22: "u16", 0x19: "u8", 0x17: "u8",
    0x26: "pair", AUTH_METHOD: "str", AUTH_DATA: "bin",
}


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


def parse_connect(body):
    """(variable header before properties, properties without auth, method, data, rest)."""
    name, at = read_string(body, 0)
    if name != b"MQTT" or body[at] != 5:
        raise ValueError("not an MQTT v5 CONNECT")
    at += 1 + 1 + 2  # level, flags, keep alive
    head = body[:at]
    props_len, props_at = decode_varint(body, at)
    end = props_at + props_len
    kept, method, data = bytearray(), None, None
    i = props_at
    while i < end:
        ident = body[i]
        kind = PROPERTY_KINDS.get(ident)
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
            raise ValueError("unknown CONNECT property 0x%02x" % ident)
        if ident not in (AUTH_METHOD, AUTH_DATA):
            kept += body[start:i]
    client_id, _ = read_string(body, end)
    return head, bytes(kept), method, data, body[end:], client_id.decode("utf-8", "replace")


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


class Front:
    def __init__(self, args):
        self.args = args
        self.record_lock = threading.Lock()

    def record(self, event, client_id, label=None):
        line = {"event": event, "client_id": client_id, "label": label, "time": time.time()}
        with self.record_lock, open(self.args.record, "a", encoding="utf-8") as f:
            f.write(json.dumps(line) + "\n")
            f.flush()

    def refuse(self, client, reason):
        client.sendall(bytes([0x20, 3, 0, reason, 0]))
        client.close()

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
        token = accepted_tokens(self.args.tokens).get(data or b"")
        if token is None or (token[1] is not None and token[1] <= time.time()):
            self.record("not_authorized", client_id)
            self.refuse(client, 0x87)
            return
        label, expires = token
        upstream = socket.create_connection(("127.0.0.1", self.args.upstream_port))
        new_body = head + encode_varint(len(props)) + props + rest
        upstream.sendall(bytes([0x10]) + encode_varint(len(new_body)) + new_body)
        self.record("accepted", client_id, label)
        closed = threading.Event()
        if expires is not None:
            threading.Thread(target=self.expire, args=(client, upstream, expires, closed,
                                                       client_id, label), daemon=True).start()
        threading.Thread(target=pipe, args=(upstream, client, closed), daemon=True).start()
        pipe(client, upstream, closed)

    def expire(self, client, upstream, expires, closed, client_id, label):
        if closed.wait(max(0.0, expires - time.time())):
            return
        self.record("expired", client_id, label)
        for s in (client, upstream):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def pipe(source, target, closed):
    try:
        while True:
            chunk = source.recv(65536)
            if not chunk:
                break
            target.sendall(chunk)
    except OSError:
        pass
    closed.set()
    for s in (source, target):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


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
