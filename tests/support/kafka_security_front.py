#!/usr/bin/env python3
"""A TLS- and SASL-terminating front for a plaintext Kafka cluster (librdkafka's mock cluster),
so that tests can check Kafka clients against a server that really verifies certificates and
credentials. Python 3 standard library only.

    kafka_security_front.py CONFIG.json

CONFIG.json (every key but "backend" optional):
  {
    "backend": ["127.0.0.1:PORT", ...],      # any broker(s) of the cluster; node ids and the
                                             # full broker list come from its Metadata
    "advertised_host": "127.0.0.1",          # host put into rewritten Metadata/FindCoordinator
    "tls": {"cert": "server.pem",            # PEM chain (leaf first), served as is
            "key": "server.key",
            "client_ca": "ca.pem",           # verify client certificates against this bundle
            "require_client_cert": true},    # refuse a handshake without a valid client cert
    "sasl": {"mechanisms": ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"],
             "plain": {"user": "password"},
             "scram": {"user": "password"},  # stored salted (4096 iterations), never in clear
             "oauthbearer_tokens_file": "tokens.txt"}  # re-read at every authentication; one
                                             # "TOKEN [EXPIRY_EPOCH_SECONDS]" per line
  }

Stdout, one JSON object per line (flushed):
  {"event": "ready", "bootstrap": "127.0.0.1:P1,...", "listeners": [{"node_id": 1,
   "port": P1, "backend": "127.0.0.1:B1"}, ...]}                      once, when listening
  {"event": "authenticated", "mechanism": M, "user": U, "port": P}
  {"event": "auth_failed", "mechanism": M, "user": U, "port": P, "reason": R}
  {"event": "tls_failed", "port": P, "reason": R}
  {"event": "refused_before_auth", "api_key": K, "port": P}
  {"event": "session_expired", "user": U, "port": P}
No secret (password, proof, token) is ever written.

Protocol (Kafka wire format, what librdkafka 2.0.2 speaks):
  - One listener per backend broker on 127.0.0.1, port 0. Requests go to that broker; Metadata
    v0-v4 and FindCoordinator v0-v2 responses get each broker's host/port replaced by the
    listener of the same node id, so clients never reach the plaintext cluster directly.
  - ApiVersions is forwarded and its answer patched: Metadata capped at v4, FindCoordinator at v2
    (the versions rewritten here) and, with SASL, SaslHandshake {0,1} and SaslAuthenticate {0,1}.
  - With SASL, only ApiVersions, SaslHandshake v1 and SaslAuthenticate v0/v1 are served before
    authentication; any other request closes the connection (as Kafka does).
  - PLAIN (RFC 4616); SCRAM-SHA-256/512 (RFC 5802: real proof check and server signature; the
    client-final nonce is checked with endsWith, as Kafka 3.8.1-3.9 do, because librdkafka < 2.6.1
    repeats the client nonce); OAUTHBEARER (RFC 7628 with the failure round trip: error 0 with a
    JSON status, the client's 0x01, then error 58). Bad credentials: error 58 with a message.
  - An OAUTHBEARER token with an expiry: the first request at or after it closes the connection
    (Kafka's behaviour for clients that do not re-authenticate; librdkafka 2.0.2 does not).
"""

import asyncio
import base64
import hashlib
import hmac
import json
import os
import ssl
import struct
import sys
import time

API_PRODUCE, API_METADATA, API_FIND_COORDINATOR = 0, 3, 10
API_SASL_HANDSHAKE, API_API_VERSIONS, API_SASL_AUTHENTICATE = 17, 18, 36
ERR_UNSUPPORTED_SASL_MECHANISM, ERR_ILLEGAL_SASL_STATE = 33, 34
ERR_UNSUPPORTED_VERSION, ERR_SASL_AUTHENTICATION_FAILED = 35, 58
SCRAM_ITERATIONS = 4096
SCRAM_HASHES = {"SCRAM-SHA-256": hashlib.sha256, "SCRAM-SHA-512": hashlib.sha512}
# The versions whose broker addresses rewrite_brokers understands (non-flexible encodings).
MAX_REWRITTEN_VERSION = {API_METADATA: 4, API_FIND_COORDINATOR: 2}


def emit(**event):
    sys.stdout.write(json.dumps(event, sort_keys=True) + "\n")
    sys.stdout.flush()


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


# ---------------------------------------------------------------- SASL mechanisms


class Credentials:
    def __init__(self, sasl_config):
        self.mechanisms = list(sasl_config.get("mechanisms", []))
        self.plain = dict(sasl_config.get("plain", {}))
        self.tokens_file = sasl_config.get("oauthbearer_tokens_file")
        self.scram = {}  # (mechanism, user) -> (salt, StoredKey, ServerKey)
        for user, password in sasl_config.get("scram", {}).items():
            for mechanism, h in SCRAM_HASHES.items():
                salt = os.urandom(16)
                salted = hashlib.pbkdf2_hmac(h().name, password.encode(), salt, SCRAM_ITERATIONS)
                client_key = hmac.new(salted, b"Client Key", h).digest()
                server_key = hmac.new(salted, b"Server Key", h).digest()
                self.scram[(mechanism, user)] = (salt, h(client_key).digest(), server_key)

    def tokens(self):
        """{token: expiry epoch seconds or None}, read now (the file may have been rotated)."""
        out = {}
        if not self.tokens_file:
            return out
        try:
            with open(self.tokens_file, encoding="utf-8") as f:
                for line in f:
                    fields = line.split()
                    if fields:
                        out[fields[0]] = float(fields[1]) if len(fields) > 1 else None
        except OSError:
            pass
        return out


class AuthFailed(Exception):
    pass


class Plain:
    def __init__(self, credentials):
        self.credentials, self.user = credentials, None

    def step(self, data):
        parts = data.split(b"\x00")
        if len(parts) != 3:
            raise AuthFailed("Authentication failed: malformed PLAIN message")
        self.user = parts[1].decode("utf-8", "replace")
        expected = self.credentials.plain.get(self.user)
        if expected is None or not hmac.compare_digest(expected.encode(), parts[2]):
            raise AuthFailed("Authentication failed: Invalid username or password")
        return b"", True


def scram_attributes(text):
    out = {}
    for part in text.split(","):
        if len(part) >= 2 and part[1] == "=":
            out[part[0]] = part[2:]
    return out


class Scram:
    def __init__(self, credentials, mechanism):
        self.credentials, self.mechanism = credentials, mechanism
        self.hash = SCRAM_HASHES[mechanism]
        self.user, self.state = None, 0

    def fail(self):
        raise AuthFailed("Authentication failed during authentication due to invalid credentials "
                         "with SASL mechanism " + self.mechanism)

    def step(self, data):
        text = data.decode("utf-8", "replace")
        if self.state == 0:
            if not text.startswith("n,"):
                raise AuthFailed("Authentication failed: invalid SCRAM client-first message")
            self.gs2_header = text[:text.index(",", 2) + 1]
            self.client_first_bare = text[len(self.gs2_header):]
            attributes = scram_attributes(self.client_first_bare)
            self.user = attributes.get("n", "").replace("=2C", ",").replace("=3D", "=")
            self.stored = self.credentials.scram.get((self.mechanism, self.user))
            if self.stored is None:
                self.fail()
            self.nonce = attributes.get("r", "") + base64.b64encode(os.urandom(18)).decode()
            salt = base64.b64encode(self.stored[0]).decode()
            self.server_first = "r=%s,s=%s,i=%d" % (self.nonce, salt, SCRAM_ITERATIONS)
            self.state = 1
            return self.server_first.encode(), False
        if self.state == 1:
            without_proof, _, proof = text.rpartition(",p=")
            attributes = scram_attributes(without_proof)
            expected_channel = base64.b64encode(self.gs2_header.encode()).decode()
            # endsWith: librdkafka < 2.6.1 sends the client nonce twice (see module docstring).
            if attributes.get("c") != expected_channel or \
                    not attributes.get("r", "").endswith(self.nonce):
                self.fail()
            auth_message = ",".join([self.client_first_bare, self.server_first, without_proof])
            _, stored_key, server_key = self.stored
            signature = hmac.new(stored_key, auth_message.encode(), self.hash).digest()
            try:
                proof_bytes = base64.b64decode(proof, validate=True)
            except ValueError:
                self.fail()
            if len(proof_bytes) != len(signature):
                self.fail()
            client_key = bytes(a ^ b for a, b in zip(proof_bytes, signature))
            if not hmac.compare_digest(self.hash(client_key).digest(), stored_key):
                self.fail()
            server_signature = hmac.new(server_key, auth_message.encode(), self.hash).digest()
            self.state = 2
            return b"v=" + base64.b64encode(server_signature), True
        raise AuthFailed("Authentication failed: unexpected SCRAM message")


class OAuthBearer:
    def __init__(self, credentials):
        self.credentials, self.user, self.expiry = credentials, None, None
        self.failure = None

    def step(self, data):
        if self.failure is not None:  # the client's 0x01 after our error status
            raise AuthFailed(self.failure)
        parts = data.split(b"\x01")
        fields = dict(p.split(b"=", 1) for p in parts[1:] if b"=" in p)
        auth = fields.get(b"auth", b"").decode("utf-8", "replace")
        token = auth[len("Bearer "):] if auth.startswith("Bearer ") else ""
        tokens = self.credentials.tokens()
        self.user = "token#%s" % hashlib.sha256(token.encode()).hexdigest()[:8]
        if token in tokens and (tokens[token] is None or tokens[token] > time.time()):
            self.expiry = tokens[token]
            return b"", True
        self.failure = ("Authentication failed: the OAUTHBEARER token has expired"
                        if token in tokens else
                        "Authentication failed: the OAUTHBEARER token is not accepted")
        return json.dumps({"status": "invalid_token"}).encode(), False


def new_mechanism(credentials, name):
    if name == "PLAIN":
        return Plain(credentials)
    if name in SCRAM_HASHES:
        return Scram(credentials, name)
    return OAuthBearer(credentials)


# ---------------------------------------------------------------- connections


class PlainStream:
    def __init__(self, reader, writer):
        self.reader, self.writer = reader, writer

    async def readexactly(self, n):
        return await self.reader.readexactly(n)

    def write(self, data):
        self.writer.write(data)

    async def drain(self):
        await self.writer.drain()

    def close(self):
        self.writer.close()


class TlsStream:
    """Server-side TLS over an asyncio stream through memory BIOs, rather than asyncio's own TLS,
    because asyncio drops the TLS alert of a failed handshake: a refused client certificate must
    reach the client as the alert a real broker sends, not as a bare end of stream."""

    def __init__(self, context, reader, writer):
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = context.wrap_bio(self.incoming, self.outgoing, server_side=True)
        self.reader, self.writer = reader, writer
        self.buffer = bytearray()

    def flush(self):
        data = self.outgoing.read()
        if data:
            self.writer.write(data)

    async def receive(self):
        self.flush()
        await self.writer.drain()
        data = await self.reader.read(65536)
        if not data:
            self.incoming.write_eof()
            return False
        self.incoming.write(data)
        return True

    async def handshake(self):
        while True:
            try:
                self.tls.do_handshake()
                self.flush()
                await self.writer.drain()
                return
            except ssl.SSLWantReadError:
                if not await self.receive():
                    raise ConnectionError("the client closed the connection during the handshake")
            except ssl.SSLError:
                self.flush()  # the alert that tells the client why
                await self.writer.drain()
                raise

    async def readexactly(self, n):
        while len(self.buffer) < n:
            try:
                chunk = self.tls.read(65536)
                if not chunk:
                    raise asyncio.IncompleteReadError(bytes(self.buffer), n)
                self.buffer += chunk
            except ssl.SSLWantReadError:
                if not await self.receive():
                    raise asyncio.IncompleteReadError(bytes(self.buffer), n)
        out = bytes(self.buffer[:n])
        del self.buffer[:n]
        return out

    def write(self, data):
        self.tls.write(data)
        self.flush()

    async def drain(self):
        await self.writer.drain()

    def close(self):
        self.writer.close()


class Connection:
    def __init__(self, front, port, backend, client):
        self.front, self.port, self.backend = front, port, backend
        self.client = client  # PlainStream or TlsStream
        self.backend_reader = self.backend_writer = None
        self.pending = {}  # correlation id -> (api_key, version) of forwarded requests
        self.mechanism = None
        self.authenticated = not front.credentials.mechanisms
        self.expiry = None
        self.user = None

    async def run(self):
        try:
            host, port = self.backend.rsplit(":", 1)
            self.backend_reader, self.backend_writer = await asyncio.open_connection(host,
                                                                                     int(port))
            pump = asyncio.ensure_future(self.pump_responses())
            try:
                while True:
                    payload = await read_frame(self.client)
                    if not await self.handle_request(payload):
                        break
            finally:
                pump.cancel()
        except (asyncio.IncompleteReadError, ConnectionError, ProtocolError, ssl.SSLError):
            pass
        finally:
            self.client.close()
            if self.backend_writer is not None:
                self.backend_writer.close()

    async def pump_responses(self):
        try:
            while True:
                payload = await read_frame(self.backend_reader)
                correlation_id = struct.unpack(">i", payload[:4])[0]
                api_key, version = self.pending.pop(correlation_id, (None, None))
                if api_key == API_API_VERSIONS:
                    payload = patch_api_versions(payload, version,
                                                 bool(self.front.credentials.mechanisms))
                elif api_key in MAX_REWRITTEN_VERSION and \
                        version <= MAX_REWRITTEN_VERSION[api_key]:
                    payload = self.front.brokers.rewrite(api_key, version, payload)
                write_frame(self.client, payload)
                await self.client.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ProtocolError, ssl.SSLError):
            self.client.close()

    async def forward(self, payload, api_key, version, correlation_id, body):
        if api_key != API_PRODUCE or produce_expects_response(version, body):
            self.pending[correlation_id] = (api_key, version)
        write_frame(self.backend_writer, payload)
        await self.backend_writer.drain()

    async def reply(self, correlation_id, body):
        write_frame(self.client, response(correlation_id, body))
        await self.client.drain()

    async def handle_request(self, payload):
        """False to close the connection."""
        api_key, version, correlation_id, body = parse_request(payload)
        if self.authenticated:
            if self.expiry is not None and time.time() >= self.expiry:
                emit(event="session_expired", user=self.user, port=self.port)
                return False
            await self.forward(payload, api_key, version, correlation_id, body)
            return True
        if api_key == API_API_VERSIONS:
            await self.forward(payload, api_key, version, correlation_id, body)
            return True
        if api_key == API_SASL_HANDSHAKE:
            return await self.handshake(version, correlation_id, body)
        if api_key == API_SASL_AUTHENTICATE and self.mechanism is not None:
            return await self.authenticate(version, correlation_id, body)
        emit(event="refused_before_auth", api_key=api_key, port=self.port)
        return False

    async def handshake(self, version, correlation_id, body):
        mechanisms = self.front.credentials.mechanisms
        listed = struct.pack(">i", len(mechanisms)) + b"".join(enc_string(m) for m in mechanisms)
        if version != 1:  # v0 means unframed SASL tokens, which this front does not speak
            await self.reply(correlation_id, struct.pack(">h", ERR_UNSUPPORTED_VERSION) + listed)
            return False
        name = body.string()
        if name not in mechanisms:
            emit(event="auth_failed", mechanism=name, user=None, port=self.port,
                 reason="mechanism not enabled")
            await self.reply(correlation_id,
                             struct.pack(">h", ERR_UNSUPPORTED_SASL_MECHANISM) + listed)
            return False
        self.mechanism = new_mechanism(self.front.credentials, name)
        self.mechanism_name = name
        await self.reply(correlation_id, struct.pack(">h", 0) + listed)
        return True

    async def authenticate(self, version, correlation_id, body):
        if version > 1:
            await self.reply(correlation_id, struct.pack(">h", ERR_UNSUPPORTED_VERSION) +
                             enc_string("SaslAuthenticate v%d is not supported" % version) +
                             enc_bytes(b""))
            return False
        lifetime = b"" if version == 0 else struct.pack(">q", 0)
        data = body.bytes32()
        try:
            answer, done = self.mechanism.step(data)
        except AuthFailed as failure:
            emit(event="auth_failed", mechanism=self.mechanism_name, user=self.mechanism.user,
                 port=self.port, reason=str(failure))
            await self.reply(correlation_id, struct.pack(">h", ERR_SASL_AUTHENTICATION_FAILED) +
                             enc_string(str(failure)) + enc_bytes(b"") + lifetime)
            return False
        if done:
            self.authenticated = True
            self.user = self.mechanism.user
            self.expiry = getattr(self.mechanism, "expiry", None)
            if version == 1 and self.expiry is not None:
                remaining_ms = max(0, int((self.expiry - time.time()) * 1000))
                lifetime = struct.pack(">q", remaining_ms)
            emit(event="authenticated", mechanism=self.mechanism_name, user=self.user,
                 port=self.port)
        await self.reply(correlation_id, struct.pack(">h", 0) + enc_string(None) +
                         enc_bytes(answer) + lifetime)
        return True


class Front:
    def __init__(self, config):
        self.config = config
        self.credentials = Credentials(config.get("sasl", {}))
        self.brokers = BrokerMap(config.get("advertised_host", "127.0.0.1"))
        self.ssl_context = self.make_ssl_context(config.get("tls"))

    @staticmethod
    def make_ssl_context(tls):
        if not tls:
            return None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls["cert"], tls["key"])
        if tls.get("client_ca"):
            context.load_verify_locations(cafile=tls["client_ca"])
            context.verify_mode = (ssl.CERT_REQUIRED if tls.get("require_client_cert", True)
                                   else ssl.CERT_OPTIONAL)
        return context

    async def backend_brokers(self):
        """[(node_id, "host:port")] from a Metadata v1 request (no topics) to the backend."""
        host, port = self.config["backend"][0].rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        request = struct.pack(">hhi", API_METADATA, 1, 1) + enc_string("front") + \
            struct.pack(">i", 0)
        write_frame(writer, request)
        await writer.drain()
        r = Reader(await read_frame(reader), 4)
        writer.close()
        brokers = []
        for _ in range(r.int32()):
            node_id, host, port = r.int32(), r.string(), r.int32()
            r.string()  # rack
            brokers.append((node_id, "%s:%d" % (host, port)))
        return sorted(brokers)

    async def serve(self):
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(self.on_loop_exception)
        listeners = []
        self.servers = []
        for node_id, backend in await self.backend_brokers():
            server = await asyncio.start_server(
                lambda r, w, b=backend: self.accept(r, w, b), "127.0.0.1", 0)
            port = server.sockets[0].getsockname()[1]
            self.brokers.ports[node_id] = port
            self.servers.append(server)
            listeners.append({"node_id": node_id, "port": port, "backend": backend})
        emit(event="ready", listeners=listeners,
             bootstrap=",".join("127.0.0.1:%d" % l["port"] for l in listeners))
        await asyncio.gather(*(s.serve_forever() for s in self.servers))

    async def accept(self, reader, writer, backend):
        port = writer.get_extra_info("sockname")[1]
        client = PlainStream(reader, writer)
        if self.ssl_context is not None:
            client = TlsStream(self.ssl_context, reader, writer)
            try:
                await client.handshake()
            except (ssl.SSLError, ConnectionError) as failure:
                emit(event="tls_failed", port=port, reason=str(failure))
                writer.close()
                return
        await Connection(self, port, backend, client).run()

    @staticmethod
    def on_loop_exception(loop, context):
        exception = context.get("exception")
        transport = context.get("transport")
        port = None
        if transport is not None:
            sockname = transport.get_extra_info("sockname")
            port = sockname[1] if sockname else None
        if isinstance(exception, (ssl.SSLError, ConnectionError, OSError)):
            emit(event="tls_failed", port=port, reason=str(exception))
            return
        emit(event="error", reason=context.get("message", ""), detail=repr(exception))


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: kafka_security_front.py CONFIG.json\n")
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        config = json.load(f)
    try:
        asyncio.run(Front(config).serve())
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
