#!/usr/bin/python3
"""Checks of charts/dataflow-engine that need neither helm nor rendering.

usage: chart_static_check.py SOURCE_DIR DATAFLOW_EXE

- The chart's crds/ holds exactly the files of the repository's crds/, byte for byte, and both are
  what `dataflow crds --output-dir` writes today (so a stale copy fails here, not in a cluster).
- Chart.yaml, values.yaml and every CRD parse as YAML; Chart.yaml has what `helm lint` requires
  (apiVersion v2, name = folder, SemVer version) and its appVersion is the engine's version as
  `dataflow version` prints it and CMakeLists.txt declares it.
- Every template file has an extension helm lint accepts (.yaml .yml .tpl .txt).
- Every .Values.a.b path a template reads is defined in values.yaml, and every leaf of values.yaml
  is read by some template (itself or an ancestor), so no value is declared and ignored.
Exit 0 when all hold; 1 with every failure listed.
"""
import filecmp
import os
import re
import subprocess
import sys
import tempfile

import yaml

source, dataflow = sys.argv[1], sys.argv[2]
chart = os.path.join(source, "charts", "dataflow-engine")
failures = []


def fail(message):
    failures.append(message)


def yaml_files(folder):
    return sorted(f for f in os.listdir(folder) if f.endswith(".yaml"))


def compare_folders(expected_dir, actual_dir, what):
    expected, actual = yaml_files(expected_dir), yaml_files(actual_dir)
    if expected != actual:
        fail("%s: files %s, expected %s" % (what, actual, expected))
    for name in set(expected) & set(actual):
        if not filecmp.cmp(os.path.join(expected_dir, name), os.path.join(actual_dir, name),
                           shallow=False):
            fail("%s: %s differs from %s" % (what, name, os.path.join(expected_dir, name)))


def check_crds():
    repo_crds = os.path.join(source, "crds")
    compare_folders(repo_crds, os.path.join(chart, "crds"),
                    "charts/dataflow-engine/crds (copy crds/*.yaml into it)")
    with tempfile.TemporaryDirectory() as generated:
        subprocess.run([dataflow, "crds", "--output-dir", generated], check=True)
        compare_folders(generated, repo_crds, "crds/ against `dataflow crds --output-dir`")
    if len(yaml_files(repo_crds)) != 3:
        fail("crds/: expected 3 CRDs, found %s" % yaml_files(repo_crds))
    for name in yaml_files(repo_crds):
        docs = load_all(os.path.join(chart, "crds", name))
        if [d.get("kind") for d in docs] != ["CustomResourceDefinition"]:
            fail("%s: expected one CustomResourceDefinition" % name)


def load_all(path):
    try:
        with open(path) as f:
            return [d for d in yaml.safe_load_all(f) if d is not None]
    except yaml.YAMLError as e:
        fail("%s: not YAML: %s" % (path, e))
        return []


def engine_version():
    out = subprocess.run([dataflow, "version"], check=True, capture_output=True, text=True).stdout
    match = re.fullmatch(r"dataflow (\S+)\n", out)
    if not match:
        fail("`dataflow version` printed %r" % out)
        return None
    with open(os.path.join(source, "CMakeLists.txt")) as f:
        declared = re.search(r"project\(dataflow VERSION (\S+)", f.read()).group(1)
    if declared != match.group(1):
        fail("CMakeLists.txt declares %s, `dataflow version` prints %s" % (declared, match.group(1)))
    return match.group(1)


def check_chart_yaml():
    docs = load_all(os.path.join(chart, "Chart.yaml"))
    if len(docs) != 1:
        fail("Chart.yaml: expected one document")
        return
    meta = docs[0]
    if meta.get("apiVersion") != "v2":
        fail("Chart.yaml: apiVersion %r, expected v2" % meta.get("apiVersion"))
    if meta.get("name") != "dataflow-engine":
        fail("Chart.yaml: name %r, expected the folder's name dataflow-engine" % meta.get("name"))
    semver = r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?"
    if not re.fullmatch(semver, str(meta.get("version", ""))):
        fail("Chart.yaml: version %r is not SemVer 2" % meta.get("version"))
    if not isinstance(meta.get("appVersion"), str):
        fail("Chart.yaml: appVersion must be a string (quote it)")
    version = engine_version()
    if version is not None and meta.get("appVersion") != version:
        fail("Chart.yaml: appVersion %r, the engine is %s" % (meta.get("appVersion"), version))


def leaves(value, prefix=()):
    """Paths of the leaves of a values mapping; an empty mapping or a list is a leaf."""
    if isinstance(value, dict) and value:
        for k, v in value.items():
            yield from leaves(v, prefix + (k,))
    else:
        yield prefix


def defined(values, path):
    node = values
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


def check_values():
    docs = load_all(os.path.join(chart, "values.yaml"))
    if len(docs) != 1 or not isinstance(docs[0], dict):
        fail("values.yaml: expected one mapping")
        return
    values = docs[0]
    used = set()
    templates = os.path.join(chart, "templates")
    for name in sorted(os.listdir(templates)):
        if os.path.splitext(name)[1] not in (".yaml", ".yml", ".tpl", ".txt"):
            fail("templates/%s: helm lint accepts only .yaml, .yml, .tpl and .txt" % name)
        with open(os.path.join(templates, name)) as f:
            text = f.read()
        for match in re.finditer(r"\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)", text):
            path = tuple(match.group(1).split(".")[1:])
            used.add(path)
            if not defined(values, path):
                line = text.count("\n", 0, match.start()) + 1
                fail("templates/%s:%d: .Values.%s is not defined in values.yaml" %
                     (name, line, ".".join(path)))
    if not used:
        fail("templates/: no .Values reference found")
    for leaf in leaves(values):
        if not any(leaf[:len(u)] == u for u in used):
            fail("values.yaml: %s is not read by any template" % ".".join(leaf))


check_crds()
check_chart_yaml()
check_values()
for f in failures:
    print("FAIL:", f)
if failures:
    sys.exit(1)
print("chart static checks: crds/ identical (chart, repository, `dataflow crds`), Chart.yaml, "
      "values.yaml and CRDs parse, every template value defined and every value used")
