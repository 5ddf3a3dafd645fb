#!/usr/bin/python3
"""Renders charts/dataflow-engine with chart-render (Go text/template + sprig + helm's include,
tpl, required, toYaml: helm's template engine, not helm) and checks what comes out.

usage: chart_render_check.py SOURCE_DIR CHART_RENDER DATAFLOW_EXE

Every built-in object's fields are checked against the Kubernetes API types (k8s_fields.py).
Cases: default values; serviceMonitor on; every optional value set (every-branch-values.yaml); two operator replicas; an existing ServiceAccount; no
RBAC; serviceAccount.create=false or engineServiceAccount.create=false without a name, and
engine.spool.storageClass without engine.spool.size (must fail). For every rendering: each document is
YAML with apiVersion, kind and a DNS-label name; every object carries the standard labels; the
Deployment's selector matches its pod labels, the Service selects those pods on a named container
port; the restricted security context holds; ServiceAccounts, Roles and RoleBindings refer to one
another; the Roles grant exactly the rules below; the container args are flags `dataflow` accepts
(when the subcommand exists in DATAFLOW_EXE). Exit 0 when all hold; 1 with every failure listed.
"""
import os
import re
import subprocess
import sys

import yaml

from k8s_fields import unknown_fields

source, renderer, dataflow = sys.argv[1], sys.argv[2], sys.argv[3]
chart = os.path.join(source, "charts", "dataflow-engine")
failures = []
notices = set()
RELEASE, NAMESPACE = "edge", "iot-dataflows"
GROUP = "connectivity.iotoperations.azure.com"
KINDS = ("dataflows", "dataflowendpoints", "dataflowprofiles")
CRUD = ("get", "list", "watch", "create", "update", "patch", "delete")


def triples(rules):
    return {(g, r, v) for rule in rules for g in rule["apiGroups"] for r in rule["resources"]
            for v in rule["verbs"]}


# Least privilege: what the operator and the `run --kubernetes` pods need, nothing more.
EXPECTED_RULES = {
    "operator": triples([
        {"apiGroups": [GROUP], "resources": KINDS, "verbs": ["get", "list", "watch"]},
        {"apiGroups": [GROUP], "resources": ["dataflowprofiles/status"],
         "verbs": ["get", "patch", "update"]},
        {"apiGroups": [GROUP], "resources": ["dataflowprofiles/finalizers"], "verbs": ["update"]},
        {"apiGroups": ["apps"], "resources": ["statefulsets"], "verbs": CRUD},
        {"apiGroups": [""], "resources": ["services"], "verbs": CRUD},
        {"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch"]},
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
         "verbs": ["get", "create", "update"]}]),
    "engine": triples([
        {"apiGroups": [GROUP], "resources": KINDS, "verbs": ["get", "list", "watch"]},
        {"apiGroups": [GROUP], "resources": [k + "/status" for k in KINDS],
         "verbs": ["get", "patch", "update"]},
        {"apiGroups": [""], "resources": ["secrets", "configmaps"],
         "verbs": ["get", "list", "watch"]}]),
}
STANDARD_LABELS = ("helm.sh/chart", "app.kubernetes.io/name", "app.kubernetes.io/instance",
                   "app.kubernetes.io/version", "app.kubernetes.io/managed-by",
                   "app.kubernetes.io/part-of")


def fail(case, message):
    failures.append("%s: %s" % (case, message))


def render(*sets, notes=False):
    """Each of sets is a.b=value, or @FILE for a values file."""
    command = [renderer, "--chart", chart, "--name", RELEASE, "--namespace", NAMESPACE]
    for s in sets:
        command += ["--values", s[1:]] if s.startswith("@") else ["--set", s]
    if notes:
        command.append("--notes")
    return subprocess.run(command, capture_output=True, text=True)


def documents(case, *sets):
    result = render(*sets)
    if result.returncode != 0:
        fail(case, "rendering failed: " + result.stderr.strip())
        return []
    try:
        return [d for d in yaml.safe_load_all(result.stdout) if d is not None]
    except yaml.YAMLError as e:
        fail(case, "rendered output is not YAML: %s" % e)
        return []


def by_kind(docs, kind):
    return [d for d in docs if d.get("kind") == kind]


def check_common(case, docs):
    for d in docs:
        if d.get("kind") != "ServiceMonitor":
            for problem in unknown_fields(d):
                fail(case, problem)
        name = d.get("metadata", {}).get("name", "")
        if not d.get("apiVersion") or not d.get("kind"):
            fail(case, "a document lacks apiVersion or kind: %s" % d)
        if not re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", name):
            fail(case, "%s name %r is not a DNS label" % (d.get("kind"), name))
        labels = d["metadata"].get("labels", {})
        missing = [k for k in STANDARD_LABELS if k not in labels]
        if missing:
            fail(case, "%s/%s lacks labels %s" % (d.get("kind"), name, missing))
        if labels.get("app.kubernetes.io/instance") != RELEASE:
            fail(case, "%s/%s: instance label is not the release" % (d.get("kind"), name))


def check_security(case, pod):
    context = pod.get("securityContext", {})
    if context.get("runAsNonRoot") is not True:
        fail(case, "pod securityContext.runAsNonRoot is not true")
    if context.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        fail(case, "pod seccompProfile is not RuntimeDefault")
    for c in pod["containers"]:
        sc = c.get("securityContext", {})
        expected = {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                    "runAsNonRoot": True}
        for key, value in expected.items():
            if sc.get(key) is not value:
                fail(case, "container %s: securityContext.%s is not %s" % (c["name"], key, value))
        if sc.get("capabilities", {}).get("drop") != ["ALL"] or sc["capabilities"].get("add"):
            fail(case, "container %s: capabilities are not drop [ALL]" % c["name"])
        mounts = [m["mountPath"] for m in c.get("volumeMounts", [])]
        if "/tmp" not in mounts:
            fail(case, "container %s: no writable /tmp under a read-only root" % c["name"])


def check_engine_values(case, args):
    """--log-level/--log-format also reach the engine pods: `dataflow run` must accept them."""
    run_help = subprocess.run([dataflow, "run", "--help"], capture_output=True, text=True).stdout
    formats = re.search(r"--log-format TEXT:\{([a-z,]+)\}", run_help)
    given = dict(a.split("=", 1) for a in args if a.startswith("--log-"))
    if not formats or given.get("--log-format") not in formats.group(1).split(","):
        fail(case, "--log-format=%s is not one `dataflow run` accepts" % given.get("--log-format"))
    level = given.get("--log-level", "").split(",")[0]
    if level not in ("trace", "debug", "info", "warn", "error", "off"):
        fail(case, "--log-level=%s is not a level `dataflow run` accepts" % level)


def check_args(case, container):
    args = container.get("args", [])
    check_engine_values(case, args)
    if not args or args[0] != "operator":
        fail(case, "the container does not run `dataflow operator`: %s" % args)
        return
    help_run = subprocess.run([dataflow, "operator", "--help"], capture_output=True, text=True)
    # CLI11 answers an unknown subcommand's --help with the top-level help (and exit 0).
    if help_run.returncode != 0 or not re.search(r"^Usage: \S+ operator\b", help_run.stdout, re.M):
        notices.add("`dataflow operator` does not exist in %s yet: the Deployment's operator "
                    "flags are not checked against it" % dataflow)
        return
    for arg in args[1:]:
        flag = arg.split("=")[0]
        if not flag.startswith("--") or not re.search(re.escape(flag) + r"\b", help_run.stdout):
            fail(case, "`dataflow operator --help` does not list %s" % flag)


def check_deployment(case, docs, service_accounts):
    deployments = by_kind(docs, "Deployment")
    if len(deployments) != 1:
        fail(case, "expected one Deployment, got %d" % len(deployments))
        return None
    d = deployments[0]
    pod = d["spec"]["template"]
    selector = d["spec"]["selector"]["matchLabels"]
    if not selector.items() <= pod["metadata"]["labels"].items():
        fail(case, "Deployment selector %s does not match its pod labels" % selector)
    check_security(case, pod["spec"])
    container = pod["spec"]["containers"][0]
    check_args(case, container)
    ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
    if ports.get("metrics") != 9600:
        fail(case, "the container's metrics port is %s, expected 9600" % ports.get("metrics"))
    for probe in ("livenessProbe", "readinessProbe"):
        port = container.get(probe, {}).get("httpGet", {}).get("port")
        if port not in ports:
            fail(case, "%s port %r is not a container port" % (probe, port))
    account = pod["spec"].get("serviceAccountName")
    if service_accounts is not None and account not in service_accounts:
        fail(case, "serviceAccountName %r is not a rendered ServiceAccount" % account)
    for svc in by_kind(docs, "Service"):
        if not svc["spec"]["selector"].items() <= pod["metadata"]["labels"].items():
            fail(case, "Service %s does not select the operator pods" % svc["metadata"]["name"])
        for p in svc["spec"]["ports"]:
            if p["targetPort"] not in ports:
                fail(case, "Service port %s targets no container port" % p["name"])
    return d


def check_rbac(case, docs, subject_names):
    roles = {r["metadata"]["name"]: r for r in by_kind(docs, "Role")}
    bindings = by_kind(docs, "RoleBinding")
    if len(roles) != 2 or len(bindings) != 2:
        fail(case, "expected 2 Roles and 2 RoleBindings, got %d and %d" % (len(roles), len(bindings)))
    for b in bindings:
        role = roles.get(b["roleRef"]["name"])
        if b["roleRef"]["kind"] != "Role" or role is None:
            fail(case, "RoleBinding %s refers to no rendered Role" % b["metadata"]["name"])
            continue
        which = "operator" if b["metadata"]["name"].endswith("-operator") else "engine"
        granted = triples(role["rules"])
        if granted != EXPECTED_RULES[which]:
            fail(case, "Role %s: extra %s, missing %s" % (
                role["metadata"]["name"], sorted(granted - EXPECTED_RULES[which]),
                sorted(EXPECTED_RULES[which] - granted)))
        for s in b["subjects"]:
            if s["kind"] != "ServiceAccount" or s["namespace"] != NAMESPACE \
                    or s["name"] != subject_names[which]:
                fail(case, "RoleBinding %s: subject %s, expected ServiceAccount %s/%s" % (
                    b["metadata"]["name"], s, NAMESPACE, subject_names[which]))


def engine_account(container):
    flag = "--engine-service-account="
    return next((a[len(flag):] for a in container["args"] if a.startswith(flag)), None)


def check_case(case, sets, kinds, operator_account=None, tag=None):
    docs = documents(case, *sets)
    if not docs:
        return []
    check_common(case, docs)
    got = sorted(d["kind"] for d in docs)
    if got != sorted(kinds):
        fail(case, "rendered kinds %s, expected %s" % (got, sorted(kinds)))
    accounts = {a["metadata"]["name"] for a in by_kind(docs, "ServiceAccount")}
    if operator_account:
        accounts.add(operator_account)
    deployment = check_deployment(case, docs, accounts)
    if deployment:
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        names = {"operator": deployment["spec"]["template"]["spec"]["serviceAccountName"],
                 "engine": engine_account(container)}
        if names["engine"] not in accounts:
            fail(case, "--engine-service-account %r is not rendered" % names["engine"])
        if container["image"] != "dataflow-engine:" + (tag or app_version):
            fail(case, "image %s, expected the appVersion tag" % container["image"])
        check_rbac(case, docs, names)
    return docs


if not os.access(renderer, os.X_OK):
    sys.exit("chart-render is not built (%s): scripts/install-deps.sh installs Go and sprig" % renderer)
with open(os.path.join(chart, "Chart.yaml")) as f:
    app_version = yaml.safe_load(f)["appVersion"]
base = ["Deployment", "Service", "ServiceAccount", "ServiceAccount", "Role", "Role", "RoleBinding",
        "RoleBinding"]
docs = check_case("defaults", [], base)
args = docs and by_kind(docs, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]["args"]
# Leader election stays on (the operator's default): even one replica runs twice during a rollout.
if docs and any(a.startswith("--leader-elect=") and a != "--leader-elect=true" for a in args):
    fail("defaults", "the operator must elect a leader")
# By default the engine pods spool to an emptyDir: no claim asked for, not every dataflow spooled.
if docs and [a for a in args if a.startswith("--engine-spool")]:
    fail("defaults", "spool flags without spool values: %s" % args)

docs = check_case("serviceMonitor", ["serviceMonitor.enabled=true", "serviceMonitor.labels.release=kps"],
                  base + ["ServiceMonitor"])
for monitor in by_kind(docs, "ServiceMonitor"):
    services = [s for s in by_kind(docs, "Service")
                if monitor["spec"]["selector"]["matchLabels"].items() <= s["metadata"]["labels"].items()]
    if len(services) != 1 or monitor["spec"]["endpoints"][0]["port"] not in \
            [p["name"] for p in services[0]["spec"]["ports"]]:
        fail("serviceMonitor", "the ServiceMonitor selects no Service port named metrics")
    if monitor["metadata"]["labels"].get("release") != "kps":
        fail("serviceMonitor", "serviceMonitor.labels are not on the ServiceMonitor")
    if monitor["spec"]["namespaceSelector"]["matchNames"] != [NAMESPACE]:
        fail("serviceMonitor", "the ServiceMonitor does not watch the release namespace")

# Several operator replicas elect a leader: two render as two.
docs = check_case("replicas", ["replicaCount=2"], base)
if docs and by_kind(docs, "Deployment")[0]["spec"]["replicas"] != 2:
    fail("replicas", "replicaCount=2 did not render two replicas")

check_case("existingServiceAccount", ["serviceAccount.create=false", "serviceAccount.name=ops"],
           [k for k in base if k != "ServiceAccount"] + ["ServiceAccount"], operator_account="ops")

every_branch = os.path.join(os.path.dirname(os.path.abspath(__file__)), "every-branch-values.yaml")
docs = check_case("everyBranch", ["@" + every_branch], base + ["ServiceMonitor"],
                  tag="0.1.0-rc1")
for d in by_kind(docs, "Deployment"):
    pod = d["spec"]["template"]
    wanted = {"tolerations": 1, "nodeSelector": 1, "imagePullSecrets": 1, "affinity": 1}
    if [k for k in wanted if not pod["spec"].get(k)] or pod["metadata"]["labels"].get("team") \
            != "edge" or "--resync-seconds=10" not in pod["spec"]["containers"][0]["args"] \
            or not pod["metadata"].get("annotations"):
        fail("everyBranch", "optional values did not reach the pod: %s" % pod)
    spool = [a for a in pod["spec"]["containers"][0]["args"] if a.startswith("--engine-spool")]
    if spool != ["--engine-spool-size=5Gi", "--engine-spool-storage-class=fast-ssd",
                 "--engine-spool-all"]:
        fail("everyBranch", "engine.spool values did not become the operator's flags: %s" % spool)
accounts = [a for a in by_kind(docs, "ServiceAccount") if a["metadata"].get("annotations")]
if len(accounts) != 2:
    fail("everyBranch", "ServiceAccount annotations missing")

docs = documents("noRbac", "rbac.create=false")
if sorted(d["kind"] for d in docs) != sorted(k for k in base if not k.startswith("Role")):
    fail("noRbac", "rbac.create=false still renders %s" % sorted(d["kind"] for d in docs))

for account in ("serviceAccount", "engineServiceAccount"):
    result = render(account + ".create=false")
    if result.returncode == 0 or account + ".name is required" not in result.stderr:
        fail(account + "WithoutName", "rendering did not fail with the required message: %s"
             % result.stderr.strip())

result = render("engine.spool.storageClass=fast-ssd")
if result.returncode == 0 or "engine.spool.storageClass needs engine.spool.size" not in result.stderr:
    fail("spoolClassWithoutSize", "rendering did not fail with the required message: %s"
         % result.stderr.strip())

result = render(notes=True)
if result.returncode != 0 or "kubectl apply -f" not in result.stdout or NAMESPACE not in result.stdout:
    fail("notes", "NOTES.txt did not render: %s" % result.stderr.strip())

for n in sorted(notices):
    print("NOTICE:", n)
for f in failures:
    print("FAIL:", f)
if failures:
    sys.exit(1)
print("chart rendered with chart-render (helm's template engine, not helm) in 10 cases: all checks hold")
