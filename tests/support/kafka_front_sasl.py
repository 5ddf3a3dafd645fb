"""SASL mechanisms for kafka_security_front.py, server side: PLAIN (RFC 4616), SCRAM-SHA-256/512
(RFC 5802/7677) and OAUTHBEARER (RFC 7628). Each mechanism's step(client bytes) returns
(server bytes, done) or raises AuthFailed with the message a broker sends with error 58. No secret
ever appears in a message. Python 3 standard library only."""

import base64
import hashlib
import hmac
import json
import os
import time

SCRAM_ITERATIONS = 4096
SCRAM_HASHES = {"SCRAM-SHA-256": hashlib.sha256, "SCRAM-SHA-512": hashlib.sha512}


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
        if parts[0] and parts[0] != parts[1]:  # Kafka: the authorization id is empty or the user
            raise AuthFailed("Authentication failed: Client requested an authorization id that "
                             "is different from username")
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
