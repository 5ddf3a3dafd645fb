#!/usr/bin/python3
"""The Containerfile's run stage installs exactly the runtime libraries the built `dataflow` needs.

usage: containerfile_check.py SOURCE_DIR DATAFLOW_EXE BINARY_DIR

No container engine runs here, so this checks what can be checked on this Debian bookworm host:
- every shared library DATAFLOW_EXE links directly (ELF NEEDED) is provided, per `dpkg -S`, by a
  package the run stage's apt-get install names; and every named package provides one of them,
  except ca-certificates (data: the CA bundle TLS connections verify against);
- the build stage builds the Release configuration of the target `dataflow` only, and copies the
  binary from where CMake puts it (cli/dataflow under the build folder);
- the image runs as uid 65532 (the chart's podSecurityContext.runAsUser) with
  ENTRYPOINT ["/usr/local/bin/dataflow"].
Exit 0 when all hold; 1 with every failure listed.
"""
import os
import re
import subprocess
import sys

import yaml

source, dataflow, binary_dir = sys.argv[1], sys.argv[2], sys.argv[3]
failures = []
DATA_PACKAGES = {"ca-certificates"}

with open("/etc/debian_version") as f:
    if not f.read().startswith("12."):
        failures.append("this host is not Debian 12 (bookworm), the image's base: its package "
                        "names prove nothing about the image")
with open(os.path.join(source, "Containerfile")) as f:
    text = f.read()
stages = re.split(r"^FROM ", text, flags=re.M)[1:]
if len(stages) != 2:
    sys.exit("FAIL: expected a build stage and a run stage, found %d FROM lines" % len(stages))
build, run = stages
if not build.startswith("docker.io/library/debian:bookworm AS build"):
    failures.append("the build stage is not debian:bookworm")
if not run.startswith("docker.io/library/debian:bookworm-slim"):
    failures.append("the run stage is not debian:bookworm-slim")

install = re.search(r"apt-get install -y --no-install-recommends((?:[^&]|\\\n)*?)&&", run)
packages = set(install.group(1).replace("\\", " ").split()) if install else set()
if not packages:
    failures.append("the run stage installs no packages with apt-get install")

needed = subprocess.run(["objdump", "-p", dataflow], check=True, capture_output=True,
                        text=True).stdout
libraries = re.findall(r"^\s*NEEDED\s+(\S+)$", needed, re.M)
if not libraries:
    failures.append("objdump found no NEEDED library in %s" % dataflow)
# One dpkg -S for all (it is slow to start): each library under both halves of merged /usr.
folders = ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu")
owned = subprocess.run(["dpkg", "-S"] + [os.path.join(d, l) for l in libraries for d in folders],
                       capture_output=True, text=True).stdout
providers = {}
for line in owned.splitlines():
    owner, path = line.split(": ", 1)
    providers.setdefault(os.path.basename(path), set()).update(
        o.split(":")[0] for o in owner.split(", "))
for library in libraries:
    if library not in providers:
        failures.append("no Debian package provides %s (dpkg -S)" % library)
for library, owners in sorted(providers.items()):
    if not owners & packages:
        failures.append("%s (package %s) is not installed by the run stage" %
                        (library, ", ".join(sorted(owners))))
provided = set().union(*providers.values()) if providers else set()
for package in sorted(packages - provided - DATA_PACKAGES):
    failures.append("the run stage installs %s, which provides no library dataflow links" % package)

if not re.search(r"-DCMAKE_BUILD_TYPE=Release\b", build) or \
        not re.search(r"cmake --build /build --target dataflow\b", build):
    failures.append("the build stage does not build the Release `dataflow` target alone")
relative = os.path.relpath(dataflow, binary_dir)
if "COPY --from=build /build/%s /usr/local/bin/dataflow" % relative not in run:
    failures.append("the run stage does not copy /build/%s (where CMake puts dataflow)" % relative)
if 'ENTRYPOINT ["/usr/local/bin/dataflow"]' not in run:
    failures.append("ENTRYPOINT is not [\"/usr/local/bin/dataflow\"]")
with open(os.path.join(source, "charts", "dataflow-engine", "values.yaml")) as f:
    uid = yaml.safe_load(f)["podSecurityContext"]["runAsUser"]
if not re.search(r"^USER %d:%d$" % (uid, uid), run, re.M) or "--uid %d" % uid not in run:
    failures.append("the image's user is not uid %d, the chart's runAsUser" % uid)

for f in failures:
    print("FAIL:", f)
if failures:
    sys.exit(1)
print("Containerfile: run stage packages %s provide the %d libraries dataflow links"
      % (" ".join(sorted(packages)), len(libraries)))
