"""Kafka wire format for kafka_security_front.py: framing, the primitives, request headers, and
the response rewriting that keeps clients on the front (ApiVersions patched, broker addresses in
Metadata v0-v4 and FindCoordinator v0-v2 replaced). Python 3 standard library only."""

import struct

API_PRODUCE, API_METADATA, API_FIND_COORDINATOR = 0, 3, 10
API_SASL_HANDSHAKE, API_API_VERSIONS, API_SASL_AUTHENTICATE = 17, 18, 36
ERR_UNSUPPORTED_SASL_MECHANISM, ERR_ILLEGAL_SASL_STATE = 33, 34
ERR_UNSUPPORTED_VERSION, ERR_SASL_AUTHENTICATION_FAILED = 35, 58
# The versions whose broker addresses BrokerMap.rewrite understands (non-flexible encodings).
MAX_REWRITTEN_VERSION = {API_METADATA: 4, API_FIND_COORDINATOR: 2}


class ProtocolError(Exception):
    pass


class Reader:
    """Big-endian Kafka primitive reader over one message."""

    def __init__(self, data, pos=0):
        self.data, self.pos = data, pos

    def take(self, n):
        if self.pos + n > len(self.data):
            raise ProtocolError("message too short")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def int16(self):
        return struct.unpack(">h", self.take(2))[0]

    def int32(self):
        return struct.unpack(">i", self.take(4))[0]

    def uvarint(self):
        shift, value = 0, 0
        while True:
            b = self.take(1)[0]
            value |= (b & 0x7F) << shift
            if not b & 0x80:
                return value
            shift += 7

    def string(self):
        n = self.int16()
        return None if n < 0 else self.take(n).decode("utf-8")

    def bytes32(self):
        n = self.int32()
        return b"" if n < 0 else self.take(n)

    def skip_tags(self):
        for _ in range(self.uvarint()):
            self.uvarint()
            self.take(self.uvarint())


def enc_string(s):
    if s is None:
        return struct.pack(">h", -1)
    b = s.encode("utf-8")
    return struct.pack(">h", len(b)) + b


def enc_bytes(b):
    return struct.pack(">i", len(b)) + b


def uvarint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def request_header_is_flexible(api_key, version):
    # Request header v2 (tagged fields) for the flexible versions of the APIs parsed here.
    return {API_PRODUCE: 9, API_METADATA: 9, API_FIND_COORDINATOR: 3, API_API_VERSIONS: 3,
            API_SASL_AUTHENTICATE: 2}.get(api_key, 1 << 15) <= version


def parse_request(payload):
    """(api_key, api_version, correlation_id, body Reader)."""
    r = Reader(payload)
    api_key, version, correlation_id = r.int16(), r.int16(), r.int32()
    r.string()  # client_id
    if request_header_is_flexible(api_key, version):
        r.skip_tags()
    return api_key, version, correlation_id, r


def produce_expects_response(version, body):
    if version >= 3:
        body.string()  # transactional_id
    return body.int16() != 0  # acks


async def read_frame(reader):
    size = struct.unpack(">i", await reader.readexactly(4))[0]
    if size < 0 or size > 100 * 1024 * 1024:
        raise ProtocolError("bad frame size %d" % size)
    return await reader.readexactly(size)


def write_frame(writer, payload):
    writer.write(struct.pack(">i", len(payload)) + payload)


def response(correlation_id, body):
    return struct.pack(">i", correlation_id) + body


# ---------------------------------------------------------------- response rewriting


def patch_api_versions(payload, version, sasl):
    """ApiVersions response (header v0 at every version) with SASL keys added and the rewritten
    APIs capped; unchanged when it carries an error (the client then retries another version)."""
    r = Reader(payload, 4)
    error = r.int16()
    if error != 0:
        return payload
    flexible = version >= 3
    count = (r.uvarint() - 1) if flexible else r.int32()
    keys = {}
    for _ in range(count):
        key, lo, hi = r.int16(), r.int16(), r.int16()
        if flexible:
            r.skip_tags()
        keys[key] = (lo, hi)
    rest = payload[r.pos:]  # throttle_time_ms (v1+) and trailing tagged fields
    for key, cap in MAX_REWRITTEN_VERSION.items():
        if key in keys:
            keys[key] = (keys[key][0], min(keys[key][1], cap))
    if sasl:
        keys[API_SASL_HANDSHAKE] = (0, 1)
        keys[API_SASL_AUTHENTICATE] = (0, 1)
    out = bytearray(payload[:4]) + struct.pack(">h", 0)
    out += uvarint(len(keys) + 1) if flexible else struct.pack(">i", len(keys))
    for key in sorted(keys):
        out += struct.pack(">hhh", key, *keys[key])
        if flexible:
            out += b"\x00"
    return bytes(out + rest)


class BrokerMap:
    """Backend node id -> this front's listener port."""

    def __init__(self, advertised_host):
        self.host = advertised_host
        self.ports = {}

    def rewrite_broker(self, r, out):
        node_id = r.int32()
        host = r.string()
        port = r.int32()
        if node_id in self.ports:
            host, port = self.host, self.ports[node_id]
        out += struct.pack(">i", node_id) + enc_string(host) + struct.pack(">i", port)
        return node_id

    def rewrite(self, api_key, version, payload):
        r = Reader(payload, 4)
        out = bytearray(payload[:4])
        if api_key == API_METADATA:
            if version >= 3:
                out += r.take(4)  # throttle_time_ms
            count = r.int32()
            out += struct.pack(">i", count)
            for _ in range(count):
                self.rewrite_broker(r, out)
                if version >= 1:
                    out += enc_string(r.string())  # rack
        else:  # FindCoordinator
            if version >= 1:
                out += r.take(4)  # throttle_time_ms
            out += r.take(2)  # error_code
            if version >= 1:
                out += enc_string(r.string())  # error_message
            self.rewrite_broker(r, out)
        return bytes(out + payload[r.pos:])
