#!/usr/bin/env python3
"""A TLS- and SASL-terminating front for a plaintext Kafka cluster (librdkafka's mock cluster),
so that tests can check Kafka clients against a server that really verifies certificates and
credentials. Python 3 standard library only.

    kafka_security_front.py CONFIG.json

(kafka_front_wire.py and kafka_front_sasl.py beside it hold the wire format and the mechanisms.)

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
  - With SASL, only ApiVersions, SaslHandshake v0/v1 and SaslAuthenticate v0/v1 are served before
    authentication (after SaslHandshake v0 the tokens come as bare size-prefixed frames, as
    kafka-python 2.0.2 sends them); any other request closes the connection (as Kafka does).
  - PLAIN (RFC 4616); SCRAM-SHA-256/512 (RFC 5802: real proof check and server signature; the
    client-final nonce is checked with endsWith, as Kafka 3.8.1-3.9 do, because librdkafka < 2.6.1
    repeats the client nonce); OAUTHBEARER (RFC 7628 with the failure round trip: error 0 with a
    JSON status, the client's 0x01, then error 58). Bad credentials: error 58 with a message.
  - The front exits when its parent process does.
  - An OAUTHBEARER token with an expiry: the first request at or after it closes the connection
    (Kafka's behaviour for clients that do not re-authenticate; librdkafka 2.0.2 does not).
"""

import asyncio
import json
import os
import ssl
import struct
import sys
import time

from kafka_front_sasl import AuthFailed, Credentials, new_mechanism
from kafka_front_wire import (API_API_VERSIONS, API_METADATA, API_PRODUCE, API_SASL_AUTHENTICATE,
                              API_SASL_HANDSHAKE, ERR_SASL_AUTHENTICATION_FAILED,
                              ERR_UNSUPPORTED_SASL_MECHANISM, ERR_UNSUPPORTED_VERSION,
                              MAX_REWRITTEN_VERSION, BrokerMap, ProtocolError, Reader, enc_bytes,
                              enc_string, parse_request, patch_api_versions,
                              produce_expects_response, read_frame, response, write_frame)


def emit(**event):
    sys.stdout.write(json.dumps(event, sort_keys=True) + "\n")
    sys.stdout.flush()


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
        self.mechanism = self.mechanism_name = None
        self.legacy_sasl = False
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
        except ProtocolError as error:  # e.g. a TLS ClientHello sent to a plaintext listener
            emit(event="protocol_error", port=self.port, reason=str(error))
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
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
        if self.legacy_sasl and not self.authenticated:
            return await self.legacy_step(payload)
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
        if version > 1:
            await self.reply(correlation_id, struct.pack(">h", ERR_UNSUPPORTED_VERSION) + listed)
            return False
        # v0 (Kafka < 1.0 clients, e.g. kafka-python 2.0.2): the SASL tokens follow as bare
        # size-prefixed frames instead of SaslAuthenticate requests.
        self.legacy_sasl = version == 0
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

    def logged_in(self):
        self.authenticated = True
        self.user = self.mechanism.user
        self.expiry = getattr(self.mechanism, "expiry", None)
        emit(event="authenticated", mechanism=self.mechanism_name, user=self.user, port=self.port)

    async def legacy_step(self, data):
        """One bare SASL token after SaslHandshake v0. A refusal closes the connection, which is
        how Kafka tells such a client."""
        if self.mechanism is None:
            return False
        try:
            answer, done = self.mechanism.step(data)
        except AuthFailed as failure:
            emit(event="auth_failed", mechanism=self.mechanism_name, user=self.mechanism.user,
                 port=self.port, reason=str(failure))
            return False
        if done:
            self.logged_in()
        write_frame(self.client, answer)
        await self.client.drain()
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
            self.logged_in()
            if version == 1 and self.expiry is not None:
                remaining_ms = max(0, int((self.expiry - time.time()) * 1000))
                lifetime = struct.pack(">q", remaining_ms)
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
        await asyncio.gather(self.watch_parent(), *(s.serve_forever() for s in self.servers))

    @staticmethod
    async def watch_parent():
        """Ends the front when the process that started it is gone (a test that crashed), so no
        front outlives its test."""
        parent = os.getppid()
        while os.getppid() == parent:
            await asyncio.sleep(0.5)
        os._exit(0)

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
        """Anything a connection task did not handle: reported, never fatal to the front."""
        emit(event="error", reason=context.get("message", ""),
             detail=repr(context.get("exception")))


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
