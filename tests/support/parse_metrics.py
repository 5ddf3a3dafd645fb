#!/usr/bin/env python3
"""Scrapes a Prometheus endpoint and parses it with the reference Python parser
(python3-prometheus-client), an implementation independent of the engine's.

Usage: parse_metrics.py URL
Prints one JSON object per sample: {"family", "type", "name", "labels", "value"}, "name" as written
on the wire (the parser reports a counter sample written without `_total` with `_total` added,
as OpenMetrics names it; AIO's counters have no `_total`, so the name is mapped back); exits 1 with the
parser's error when the exposition is not valid text format 0.0.4, 2 when the scrape fails or the
Content-Type is not text/plain; version=0.0.4.
"""
import json
import sys
import urllib.request

from prometheus_client.parser import text_string_to_metric_families


def main() -> int:
    try:
        with urllib.request.urlopen(sys.argv[1], timeout=10) as response:
            content_type = response.headers.get("Content-Type", "")
            text = response.read().decode("utf-8")
    except OSError as e:
        print(f"scrape failed: {e}", file=sys.stderr)
        return 2
    if not content_type.startswith("text/plain; version=0.0.4"):
        print(f"unexpected Content-Type: {content_type}", file=sys.stderr)
        return 2
    on_wire = {line.split("{")[0].split(" ")[0]
               for line in text.splitlines() if line and not line.startswith("#")}
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                name = sample.name
                if name not in on_wire and name.endswith("_total") and name[:-6] in on_wire:
                    name = name[:-6]
                print(json.dumps({"family": family.name, "type": family.type,
                                  "name": name, "labels": sample.labels,
                                  "value": sample.value}))
    except ValueError as e:
        print(f"not valid exposition format: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
