#!/usr/bin/python3
"""The CRD schemas agree with the engine.

Every example manifest must validate against the openAPIV3Schema of its kind's CRD, and every
manifest of the invalid corpus whose first line is `# schema: reject` (a shape error: unknown key,
wrong type, range, enum, required field, wrong settings object) must be rejected by it. Cases marked
`# schema: accept` are semantic errors only the engine sees (references, topic rules, ...); the
schema must accept them, so the two stay honest about which checks live where.

Unknown keys: like `kubectl apply --validate=strict`, an object schema without
x-kubernetes-preserve-unknown-fields rejects undeclared properties.
"""
import glob
import os
import sys

import jsonschema
import yaml

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "../../..")


def strict(schema):
    """Adds additionalProperties: false to every object schema that declares properties."""
    if isinstance(schema, dict):
        out = {k: strict(v) for k, v in schema.items()}
        if "properties" in out and out.get("type") == "object" and not out.get(
                "x-kubernetes-preserve-unknown-fields"):
            out.setdefault("additionalProperties", False)
        return out
    if isinstance(schema, list):
        return [strict(v) for v in schema]
    return schema


schemas = {}
for path in glob.glob(os.path.join(root, "crds", "*.yaml")):
    with open(path) as f:
        crd = yaml.safe_load(f)
    kind = crd["spec"]["names"]["kind"]
    for version in crd["spec"]["versions"]:
        api = crd["spec"]["group"] + "/" + version["name"]
        schema = strict(version["schema"]["openAPIV3Schema"])
        # The API server itself requires metadata.name (a CRD may not constrain metadata).
        schema["properties"]["metadata"] = {"type": "object", "required": ["name"]}
        schema["required"] = sorted(set(schema.get("required", [])) | {"metadata"})
        schemas[(api, kind)] = schema
if len(schemas) != 6:
    sys.exit("expected 3 CRDs with 2 versions each in crds/, found %d schemas" % len(schemas))


def errors_of(path):
    """Schema violations of every dataflow document in the file (None when YAML doesn't parse)."""
    try:
        with open(path) as f:
            documents = [d for d in yaml.safe_load_all(f) if d is not None]
    except yaml.YAMLError:
        return None
    found = []
    for d in documents:
        if not isinstance(d, dict):
            found.append("document is not a mapping")
            continue
        schema = schemas.get((d.get("apiVersion"), d.get("kind")))
        if schema is None:
            # kubectl refuses a kind/version of the group that no CRD serves ("no matches for kind").
            if str(d.get("apiVersion", "")).startswith("connectivity.iotoperations.azure.com/"):
                found.append("no CRD serves %s %s" % (d.get("apiVersion"), d.get("kind")))
            continue
        for e in jsonschema.Draft7Validator(schema).iter_errors(d):
            found.append("%s: %s" % ("/".join(str(p) for p in e.absolute_path), e.message))
    return found


failures = []
examples = sorted(glob.glob(os.path.join(root, "examples", "**", "*.yaml"), recursive=True))
for path in examples:
    errs = errors_of(path)
    if errs:
        failures.append("%s: a valid example is rejected by the CRD schema: %s" % (path, errs[0]))

rejects = accepts = 0
for path in sorted(glob.glob(os.path.join(root, "tests", "data", "invalid*", "*.yaml"))):
    with open(path) as f:
        marker = f.readline().strip()
    errs = errors_of(path)
    if marker == "# schema: reject":
        rejects += 1
        if errs is not None and not errs:
            failures.append("%s: a shape error the engine rejects is accepted by the CRD schema" % path)
    elif marker == "# schema: accept":
        accepts += 1
        if errs:
            failures.append("%s: marked as a semantic error, but the CRD schema rejects it: %s"
                            % (path, errs[0]))
    else:
        failures.append("%s: first line must be '# schema: reject' or '# schema: accept'" % path)

for f in failures:
    print("FAIL", f)
print("%d examples, %d shape-invalid, %d semantic-invalid manifests checked against the CRDs"
      % (len(examples), rejects, accepts))
print("%d passed, %d failed" % (len(examples) + rejects + accepts - len(failures), len(failures)))
sys.exit(1 if failures or not examples or rejects == 0 else 0)
