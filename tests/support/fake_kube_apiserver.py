#!/usr/bin/env python3
"""A fake Kubernetes API server for tests: what `dataflow run --kubernetes` and kubectl v1.32 use.

HTTP/1.1 on 127.0.0.1 (HTTPS with --tls-cert and --tls-key), JSON only. Without --token-file there
is no authentication (a bearer token, when sent, is recorded so a test can check it); with it,
every request but the test controls must carry `Authorization: Bearer <the file's content>`, read
at each request so a test can rotate it, else 401 Unauthorized as the apiserver answers. Serves:
  - discovery, legacy form: /api, /api/v1, /apis, /apis/GROUP/VERSION (kubectl falls back to it
    when the answer is plain application/json);
  - /openapi/v3 and one document per group/version whose PATCH operations list the
    fieldValidation query parameter, so kubectl's default `--validate=strict` asks the server to
    validate (unknown fields are dropped, as with fieldValidation=Ignore: nothing here checks
    schemas);
  - per namespaced resource: list (fieldSelector metadata.name=, labelSelector a=b,
    resourceVersion ignored), watch (watch=true|1, resourceVersion, allowWatchBookmarks,
    timeoutSeconds; a chunked stream of one JSON event per line; a resourceVersion older than the
    oldest event kept answers one ERROR event with a 410 Status, as the real apiserver does),
    create (POST), get/replace/delete (GET/PUT/DELETE NAME; a PUT or PATCH whose body carries a
    metadata.resourceVersion other than the current one answers 409 Conflict, as the apiserver's
    optimistic concurrency does), patch (merge-patch+json; strategic
    merge for built-in kinds, applied as a merge patch; 415 for it on custom resources, as the
    apiserver answers), and the status subresource (GET/PUT/PATCH
    NAME/status, which changes only .status);
  - server-set fields: uid, resourceVersion (one counter), generation (bumped when anything but
    metadata and status changes), creationTimestamp;
  - StatefulSets as the apiserver has them: each volumeClaimTemplate defaulted (apiVersion v1,
    kind PersistentVolumeClaim, spec.volumeMode Filesystem, status.phase Pending), and an update
    that changes a spec field other than replicas, ordinals, template, updateStrategy,
    persistentVolumeClaimRetentionPolicy and minReadySeconds answers its 422 Invalid (Forbidden);
  - a list asked for as a meta.k8s.io Table (what `kubectl get` asks for) gets the custom
    resource's additionalPrinterColumns from the repository's crds/ (simple .a.b paths only),
    after Name, as the apiserver's CRD table convertor does.
Test controls: POST /_test/expire drops the event history (every open watch gets a 410 ERROR and
ends); GET /_test/requests lists "METHOD PATH" of every request; GET /_test/tokens the bearer
tokens seen. `--state FILE` keeps the objects and the counter across a restart (written after
every change), so a restarted server continues where it stopped.

Usage: fake_kube_apiserver.py [--port N] [--state FILE] [--tls-cert PEM --tls-key PEM]
[--token-file FILE]; prints "listening on PORT" when ready.
"""
import argparse
import base64
import copy
import datetime
import json
import os
import ssl
import sys
import threading
import time
import uuid
from pathlib import Path
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

CR_GROUP = "connectivity.iotoperations.azure.com"
# (group, version, plural, kind, singular)
RESOURCES = [
    (CR_GROUP, v, plural, kind, kind.lower())
    for v in ("v1", "v1beta1")
    for plural, kind in (("dataflows", "Dataflow"), ("dataflowendpoints", "DataflowEndpoint"),
                         ("dataflowprofiles", "DataflowProfile"))
] + [
    ("", "v1", "secrets", "Secret", "secret"),
    ("", "v1", "configmaps", "ConfigMap", "configmap"),
    ("", "v1", "services", "Service", "service"),
    ("apps", "v1", "statefulsets", "StatefulSet", "statefulset"),
    ("coordination.k8s.io", "v1", "leases", "Lease", "lease"),
]
VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]
HISTORY = 1000  # events kept for watches that resume from a resourceVersion
CRDS_DIR = Path(__file__).resolve().parents[2] / "crds"


def printer_columns():
    """plural -> additionalPrinterColumns of its storage version, from crds/."""
    import yaml  # Debian's python3-yaml
    columns = {}
    for path in CRDS_DIR.glob("*.yaml"):
        crd = yaml.safe_load(path.read_text())
        for version in crd["spec"]["versions"]:
            if version.get("storage"):
                columns[crd["spec"]["names"]["plural"]] = version.get(
                    "additionalPrinterColumns", [])
    return columns


def json_path(obj, path):
    """The value at a simple JSONPath like .status.state, or None."""
    for part in path.strip(".").split("."):
        if not isinstance(obj, dict) or part not in obj:
            return None
        obj = obj[part]
    return obj


def api_version(group, version):
    return f"{group}/{version}" if group else version


def status_body(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


STATEFULSET_MUTABLE = ("replicas", "ordinals", "template", "updateStrategy",
                       "persistentVolumeClaimRetentionPolicy", "minReadySeconds")


def default_statefulset(obj):
    """The apiserver's defaults for a StatefulSet's volumeClaimTemplates (the ones a client that
    compares them with what it sent must expect)."""
    for claim in (obj.get("spec") or {}).get("volumeClaimTemplates") or []:
        claim.setdefault("apiVersion", "v1")
        claim.setdefault("kind", "PersistentVolumeClaim")
        claim.setdefault("spec", {}).setdefault("volumeMode", "Filesystem")
        claim.setdefault("status", {"phase": "Pending"})


def fold_string_data(obj):
    """A Secret's stringData goes into data, base64-encoded, as the apiserver stores it."""
    if obj.get("kind") == "Secret" and "stringData" in obj:
        data = obj.setdefault("data", {})
        for key, value in obj.pop("stringData").items():
            data[key] = base64.b64encode(value.encode()).decode()


def merge_patch(target, patch):
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


class Store:
    """Objects by (group, plural, namespace, name); one resourceVersion counter; event history."""

    def __init__(self, state_file):
        self.lock = threading.Condition()
        self.objects = {}
        self.rv = 0
        self.events = []  # (rv, group, plural, namespace, type, object)
        self.oldest = 0   # watches from before this resourceVersion get 410
        self.expiries = 0  # expire() calls: a watch open across one ends with 410
        self.state_file = state_file
        if state_file and os.path.exists(state_file):
            with open(state_file) as f:
                saved = json.load(f)
            self.rv = saved["rv"]
            self.oldest = self.rv  # history is gone with the old process, as after a restart
            for entry in saved["objects"]:
                self.objects[tuple(entry["key"])] = entry["object"]

    def save(self):
        if not self.state_file:
            return
        tmp = self.state_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"rv": self.rv, "objects": [{"key": list(k), "object": o}
                                                  for k, o in self.objects.items()]}, f)
        os.replace(tmp, self.state_file)

    def record(self, group, plural, namespace, event_type, obj):
        """Lock held."""
        self.events.append((self.rv, group, plural, namespace, event_type, copy.deepcopy(obj)))
        if len(self.events) > HISTORY:
            self.oldest = self.events[0][0]
            del self.events[0]
        self.save()
        self.lock.notify_all()

    def next_rv(self):
        self.rv += 1
        return str(self.rv)

    def expire(self):
        with self.lock:
            self.events.clear()
            self.oldest = self.rv + 1
            self.expiries += 1
            self.lock.notify_all()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    store = None
    columns = {}
    requests = []
    tokens = []
    token_file = ""

    def log_message(self, fmt, *args):  # quiet: the test logs what it needs
        pass

    # --- plumbing -------------------------------------------------------------------------------

    def send_json(self, code, body, content_type="application/json"):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def fail(self, code, reason, message):
        self.send_json(code, status_body(code, reason, message))

    def body(self):
        """The request body as JSON (read by route(): a body left unread would be taken for the
        next request on a kept-alive connection)."""
        return json.loads(self.raw_body) if self.raw_body else {}

    def route(self, method):
        length = int(self.headers.get("Content-Length") or 0)
        self.raw_body = self.rfile.read(length) if length else b""
        content_type = self.headers.get("Content-Type", "")
        if self.raw_body and "protobuf" in content_type:
            # kubectl's typed commands (`create secret`) send protobuf; `apply -f` sends JSON.
            return self.fail(415, "UnsupportedMediaType",
                             "this test server speaks JSON only (use kubectl apply -f)")
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        Handler.requests.append(f"{method} {url.path}")
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            Handler.tokens.append(auth[len("Bearer "):])
        parts = [p for p in url.path.split("/") if p]
        try:
            if parts[:1] == ["_test"]:
                return self.test_control(method, parts[1:])
            if Handler.token_file and auth != "Bearer " + Path(Handler.token_file).read_text().strip():
                return self.fail(401, "Unauthorized", "Unauthorized")
            if method == "GET" and self.discovery(parts):
                return None
            if method == "GET" and parts[:1] == ["openapi"]:
                return self.openapi(parts[1:])
            target = self.resource_path(parts)
            if target is None:
                return self.fail(404, "NotFound", "the server could not find the requested resource")
            return self.serve(method, query, *target)
        except (BrokenPipeError, ConnectionResetError):
            return None

    do_GET = lambda self: self.route("GET")  # noqa: E731
    do_POST = lambda self: self.route("POST")  # noqa: E731
    do_PUT = lambda self: self.route("PUT")  # noqa: E731
    do_PATCH = lambda self: self.route("PATCH")  # noqa: E731
    do_DELETE = lambda self: self.route("DELETE")  # noqa: E731

    def test_control(self, method, parts):
        if method == "POST" and parts == ["expire"]:
            Handler.store.expire()
            return self.send_json(200, {"expired": True})
        if parts == ["requests"]:
            return self.send_json(200, list(Handler.requests))
        if parts == ["tokens"]:
            return self.send_json(200, list(Handler.tokens))
        return self.fail(404, "NotFound", "no such test control")

    # --- discovery and OpenAPI ------------------------------------------------------------------

    def resources_of(self, group, version):
        out = []
        for g, v, plural, kind, singular in RESOURCES:
            if g == group and v == version:
                out.append({"name": plural, "singularName": singular, "namespaced": True,
                            "kind": kind, "verbs": VERBS})
                out.append({"name": plural + "/status", "singularName": "", "namespaced": True,
                            "kind": kind, "verbs": ["get", "patch", "update"]})
        return out

    def discovery(self, parts):
        if parts == ["api"]:
            self.send_json(200, {"kind": "APIVersions", "versions": ["v1"],
                                 "serverAddressByClientCIDRs": []})
        elif parts == ["api", "v1"]:
            self.send_json(200, {"kind": "APIResourceList", "groupVersion": "v1",
                                 "resources": self.resources_of("", "v1")})
        elif parts == ["apis"]:
            groups = {}
            for g, v, *_ in RESOURCES:
                if g:
                    groups.setdefault(g, [])
                    if v not in groups[g]:
                        groups[g].append(v)
            self.send_json(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs],
                 "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]}}
                for g, vs in groups.items()]})
        elif len(parts) == 3 and parts[0] == "apis":
            resources = self.resources_of(parts[1], parts[2])
            if not resources:
                return False
            self.send_json(200, {"kind": "APIResourceList", "apiVersion": "v1",
                                 "groupVersion": f"{parts[1]}/{parts[2]}", "resources": resources})
        else:
            return False
        return True

    def openapi(self, parts):
        gvs = sorted({(g, v) for g, v, *_ in RESOURCES})
        def gv_path(g, v):
            return f"apis/{g}/{v}" if g else f"api/{v}"
        if parts == ["v3"]:
            return self.send_json(200, {"paths": {gv_path(g, v): {
                "serverRelativeURL": f"/openapi/v3/{gv_path(g, v)}?hash=1"} for g, v in gvs}})
        wanted = "/".join(parts[1:])
        for g, v in gvs:
            if gv_path(g, v) != wanted:
                continue
            paths = {}
            for rg, rv, plural, kind, _ in RESOURCES:
                if (rg, rv) != (g, v):
                    continue
                gvk = {"group": g, "version": v, "kind": kind}
                paths[f"/{gv_path(g, v)}/namespaces/{{namespace}}/{plural}/{{name}}"] = {"patch": {
                    "x-kubernetes-group-version-kind": gvk,
                    "parameters": [{"name": "fieldValidation", "in": "query",
                                    "schema": {"type": "string"}}],
                    "requestBody": {"content": {"application/merge-patch+json": {},
                                                "application/json-patch+json": {},
                                                "application/apply-patch+yaml": {}}}}}
            return self.send_json(200, {"openapi": "3.0.0",
                                        "info": {"title": "fake", "version": v}, "paths": paths})
        return self.fail(404, "NotFound", "no OpenAPI document for " + wanted)

    # --- resources ------------------------------------------------------------------------------

    def resource_path(self, parts):
        """(group, version, plural, kind, namespace, name, subresource) or None."""
        if parts[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            return None
        if len(rest) < 3 or rest[0] != "namespaces":
            return None
        namespace, plural = rest[1], rest[2]
        name = rest[3] if len(rest) > 3 else None
        sub = rest[4] if len(rest) > 4 else None
        for g, v, p, kind, _ in RESOURCES:
            if (g, v, p) == (group, version, plural) and sub in (None, "status"):
                return group, version, plural, kind, namespace, name, sub
        return None

    def serve(self, method, query, group, version, plural, kind, namespace, name, sub):
        store = Handler.store
        if name is None:
            if method == "GET" and query.get("watch") in ("true", "1"):
                return self.watch(query, group, version, plural, kind, namespace)
            if method == "GET":
                return self.list(query, group, version, plural, kind, namespace)
            if method == "POST":
                return self.create(group, version, plural, kind, namespace)
            return self.fail(405, "MethodNotAllowed", method + " is not allowed on a collection")
        key = (group, plural, namespace, name)
        with store.lock:
            current = store.objects.get(key)
            if method == "GET":
                if current is None:
                    return self.not_found(group, plural, name)
                return self.send_json(200, self.as_version(current, group, version))
            if method == "DELETE":
                if current is None:
                    return self.not_found(group, plural, name)
                del store.objects[key]
                current["metadata"]["resourceVersion"] = store.next_rv()
                store.record(group, plural, namespace, "DELETED", current)
                return self.send_json(200, self.as_version(current, group, version))
            if method not in ("PUT", "PATCH"):
                return self.fail(405, "MethodNotAllowed", method + " is not allowed")
            if current is None:
                return self.not_found(group, plural, name)
            if method == "PATCH":
                content_type = self.headers.get("Content-Type", "").split(";")[0].strip()
                # Built-in kinds also take strategic merge patches (kubectl sends them for Secrets
                # and ConfigMaps); for their maps of data it merges as a merge patch does.
                strategic = content_type == "application/strategic-merge-patch+json"
                if content_type != "application/merge-patch+json" and not (
                        strategic and group != CR_GROUP):
                    return self.fail(415, "UnsupportedMediaType",
                                     "the body of the request was in an unknown format - accepted "
                                     "media types include: application/merge-patch+json")
                body = self.body()
                updated = merge_patch(current, body)
            else:
                body = updated = self.body()
            # Optimistic concurrency: a resourceVersion in the body must be the current one.
            wanted = (body.get("metadata") or {}).get("resourceVersion")
            if wanted and wanted != current["metadata"]["resourceVersion"]:
                resource = f"{plural}.{group}" if group else plural
                return self.fail(409, "Conflict",
                                 f'Operation cannot be fulfilled on {resource} "{name}": the object '
                                 "has been modified; please apply your changes to the latest "
                                 "version and try again")
            return self.update(key, current, updated, sub, group, version)

    def as_version(self, obj, group, version):
        out = copy.deepcopy(obj)
        out["apiVersion"] = api_version(group, version)
        return out

    def not_found(self, group, plural, name):
        resource = f"{plural}.{group}" if group else plural
        return self.fail(404, "NotFound", f'{resource} "{name}" not found')

    def matches(self, obj, query):
        selector = query.get("fieldSelector", "")
        if selector.startswith("metadata.name="):
            if obj["metadata"]["name"] != selector[len("metadata.name="):]:
                return False
        for term in filter(None, query.get("labelSelector", "").split(",")):
            label, _, value = term.partition("=")
            if obj["metadata"].get("labels", {}).get(label) != value:
                return False
        return True

    def list(self, query, group, version, plural, kind, namespace):
        store = Handler.store
        with store.lock:
            items = [self.as_version(o, group, version) for (g, p, ns, _), o in
                     sorted(store.objects.items()) if (g, p, ns) == (group, plural, namespace)
                     and self.matches(o, query)]
            rv = str(store.rv)
        if "as=Table" in self.headers.get("Accept", "") and plural in Handler.columns:
            return self.send_table(plural, items, rv)
        self.send_json(200, {"kind": kind + "List", "apiVersion": api_version(group, version),
                             "metadata": {"resourceVersion": rv}, "items": items})

    def send_table(self, plural, items, rv):
        columns = Handler.columns[plural]
        definitions = [{"name": "Name", "type": "string", "format": "name", "description": "",
                        "priority": 0}] + [
            {"name": c["name"], "type": c["type"], "format": c.get("format", ""),
             "description": c.get("description", ""), "priority": c.get("priority", 0)}
            for c in columns]
        rows = [{"cells": [o["metadata"]["name"]] + [json_path(o, c["jsonPath"]) for c in columns],
                 "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                            "metadata": o["metadata"]}} for o in items]
        self.send_json(200, {"kind": "Table", "apiVersion": "meta.k8s.io/v1",
                             "metadata": {"resourceVersion": rv},
                             "columnDefinitions": definitions, "rows": rows},
                       "application/json;as=Table;v=v1;g=meta.k8s.io")

    def create(self, group, version, plural, kind, namespace):
        store = Handler.store
        obj = self.body()
        meta = obj.setdefault("metadata", {})
        name = meta.get("name")
        if not name:
            return self.fail(422, "Invalid", f"{kind} is invalid: metadata.name: Required value")
        key = (group, plural, namespace, name)
        with store.lock:
            if key in store.objects:
                resource = f"{plural}.{group}" if group else plural
                return self.fail(409, "AlreadyExists", f'{resource} "{name}" already exists')
            meta.update({"namespace": namespace, "uid": str(uuid.uuid4()), "generation": 1,
                         "creationTimestamp": datetime.datetime.now(datetime.timezone.utc)
                         .strftime("%Y-%m-%dT%H:%M:%SZ"),
                         "resourceVersion": store.next_rv()})
            obj["kind"] = kind
            obj["apiVersion"] = api_version(group, version)
            obj.pop("status", None)
            fold_string_data(obj)
            if plural == "statefulsets":
                default_statefulset(obj)
            store.objects[key] = obj
            store.record(group, plural, namespace, "ADDED", obj)
            return self.send_json(201, self.as_version(obj, group, version))

    def update(self, key, current, updated, sub, group, version):
        """Lock held. The status subresource changes only .status; the main resource all but it."""
        store = Handler.store
        updated = copy.deepcopy(updated)
        updated.setdefault("kind", current.get("kind"))
        fold_string_data(updated)
        result = copy.deepcopy(current)
        if sub == "status":
            if "status" in updated:
                result["status"] = updated["status"]
        else:
            for field, value in updated.items():
                if field not in ("metadata", "status", "kind", "apiVersion"):
                    result[field] = value
            for field in [f for f in result if f not in updated and
                          f not in ("metadata", "status", "kind", "apiVersion")]:
                del result[field]
            for field in ("labels", "annotations"):
                if field in updated.get("metadata", {}):
                    result["metadata"][field] = updated["metadata"][field]
            if key[1] == "statefulsets":
                default_statefulset(result)
                frozen = [{k: v for k, v in (o.get("spec") or {}).items()
                           if k not in STATEFULSET_MUTABLE} for o in (result, current)]
                if frozen[0] != frozen[1]:
                    return self.fail(
                        422, "Invalid",
                        f'StatefulSet.apps "{key[3]}" is invalid: spec: Forbidden: updates to '
                        "statefulset spec for fields other than 'replicas', 'ordinals', "
                        "'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' "
                        "and 'minReadySeconds' are forbidden")
            changed = {k: v for k, v in result.items() if k not in ("metadata", "status")} != \
                {k: v for k, v in current.items() if k not in ("metadata", "status")}
            if changed:
                result["metadata"]["generation"] = current["metadata"].get("generation", 1) + 1
        if result == current:
            return self.send_json(200, self.as_version(current, group, version))
        result["metadata"]["resourceVersion"] = store.next_rv()
        store.objects[key] = result
        store.record(key[0], key[1], key[2], "MODIFIED", result)
        return self.send_json(200, self.as_version(result, group, version))

    def watch(self, query, group, version, plural, kind, namespace):
        store = Handler.store
        deadline = time.monotonic() + float(query.get("timeoutSeconds", "1800"))
        bookmarks = query.get("allowWatchBookmarks") == "true"
        since = query.get("resourceVersion", "")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def send(event):
            data = (json.dumps(event) + "\n").encode()
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        with store.lock:
            if since in ("", "0"):
                # No starting point: the current objects as ADDED, then what follows.
                for (g, p, ns, _), o in sorted(store.objects.items()):
                    if (g, p, ns) == (group, plural, namespace) and self.matches(o, query):
                        send({"type": "ADDED", "object": self.as_version(o, group, version)})
                position = store.rv
            else:
                position = int(since)
            expiries = store.expiries
        last_bookmark = time.monotonic()
        while time.monotonic() < deadline:
            with store.lock:
                # Too old to resume from, or open when the history was dropped (even an up-to-date
                # watch: the real apiserver ends them all when its watch cache is reset).
                if position < store.oldest - 1 or store.expiries != expiries:
                    send({"type": "ERROR", "object": status_body(
                        410, "Expired", f"too old resource version: {position} ({store.oldest})")})
                    break
                pending = [e for e in store.events if e[0] > position]
                if not pending:
                    store.lock.wait(timeout=min(1.0, max(0.0, deadline - time.monotonic())))
                    pending = [e for e in store.events if e[0] > position]
                    if position < store.oldest - 1 or store.expiries != expiries:
                        continue
                current_rv = store.rv
            for rv, g, p, ns, event_type, obj in pending:
                position = rv
                if (g, p, ns) == (group, plural, namespace) and self.matches(obj, query):
                    send({"type": event_type, "object": self.as_version(obj, group, version)})
            if bookmarks and time.monotonic() - last_bookmark >= 1.0:
                position = max(position, current_rv)
                send({"type": "BOOKMARK", "object": {"kind": kind,
                      "apiVersion": api_version(group, version),
                      "metadata": {"resourceVersion": str(position)}}})
                last_bookmark = time.monotonic()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
        self.close_connection = True


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--state", default="")
    parser.add_argument("--tls-cert", default="")
    parser.add_argument("--tls-key", default="")
    parser.add_argument("--token-file", default="")
    args = parser.parse_args()
    Handler.store = Store(args.state)
    Handler.columns = printer_columns()
    Handler.token_file = args.token_file
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    print(f"listening on {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
