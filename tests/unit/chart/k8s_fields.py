"""Strict field check of Kubernetes objects against the typed models of the official Python client
(Debian python3-kubernetes, API 1.22: every kind the chart renders is stable there).

unknown_fields(obj) lists, as dotted paths, every key the API would reject as unknown with
`kubectl apply --validate=strict` and every scalar of the wrong type (str, int, bool); 'object'
fields (IntOrString, quantities, RawExtension) accept any scalar. Kinds the client does not model
(custom resources such as ServiceMonitor) raise KeyError.
"""
import re

from kubernetes.client import models

MODELS = {
    ("apps/v1", "Deployment"): "V1Deployment",
    ("v1", "Service"): "V1Service",
    ("v1", "ServiceAccount"): "V1ServiceAccount",
    ("rbac.authorization.k8s.io/v1", "Role"): "V1Role",
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): "V1RoleBinding",
}
SCALARS = {"str": str, "int": int, "bool": bool}


def unknown_fields(obj):
    model = MODELS[(obj.get("apiVersion"), obj.get("kind"))]
    return list(_check(obj, model, obj["kind"]))


def _check(value, type_name, path):
    if type_name == "object":
        return
    if type_name in SCALARS:
        # bool is an int in Python: an int field must not accept true/false.
        if not isinstance(value, SCALARS[type_name]) or (type_name == "int" and
                                                          isinstance(value, bool)):
            yield "%s: %r is not %s" % (path, value, type_name)
        return
    match = re.fullmatch(r"list\[(.+)\]", type_name)
    if match:
        if not isinstance(value, list):
            yield "%s: not a list" % path
            return
        for i, item in enumerate(value):
            yield from _check(item, match.group(1), "%s[%d]" % (path, i))
        return
    match = re.fullmatch(r"dict\(str, (.+)\)", type_name)
    if match:
        if not isinstance(value, dict):
            yield "%s: not a mapping" % path
            return
        for k, v in value.items():
            yield from _check(v, match.group(1), "%s.%s" % (path, k))
        return
    cls = getattr(models, type_name)
    if not isinstance(value, dict):
        yield "%s: not a %s object" % (path, type_name)
        return
    by_json = {json: python for python, json in cls.attribute_map.items()}
    for key, item in value.items():
        if key not in by_json:
            yield "%s.%s: unknown field of %s" % (path, key, type_name)
            continue
        yield from _check(item, cls.openapi_types[by_json[key]], "%s.%s" % (path, key))
