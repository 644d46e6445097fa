#!/usr/bin/env python3
"""Checks fstun's operator outputs; used by the tests, handy by hand.

  fstun status --json | status_check.py schema        # JSON matches schema 2
  fstun metrics | status_check.py metrics             # valid Prometheus text
  status_check.py agree STATUS.json METRICS.txt       # same counters in both

Exits 0 when the check passes, 1 with a message otherwise. The schema below
is the one documented in docs/operations.md ("fstun status --json").
"""
import json
import math
import re
import sys

NUMBER = (int, float)
COUNTERS = {"tx_frames": int, "tx_bytes": int, "rx_frames": int, "rx_bytes": int, "drops": dict}
PEER = {
    "id": str,
    "addresses": list,
    "session": str,
    "last_seen_unix": (NUMBER, None),
    "last_seen_seconds_ago": (NUMBER, None),
    "details": "details",
    "backlog_bytes": int,
    "counters": COUNTERS,
}
STATUS = {
    "schema": int,
    "version": str,
    "pid": int,
    "interface": str,
    "role": str,
    "transport": str,
    "addresses": list,
    "mtu": int,
    "now_unix": NUMBER,
    "started_unix": NUMBER,
    "uptime_seconds": NUMBER,
    "totals": {"tx_frames": int, "tx_bytes": int, "rx_frames": int, "rx_bytes": int, "drops": int},
    "counters": {"device": COUNTERS, "transport": COUNTERS, "pump": COUNTERS},
    "peers": [PEER],
}


def check_value(where, spec, value):
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            raise ValueError(f"{where}: want an object, got {value!r}")
        missing = set(spec) - set(value)
        if missing:
            raise ValueError(f"{where}: missing {sorted(missing)}")
        # Schema 1 only ever gains fields; unknown ones are allowed.
        for key, sub in spec.items():
            check_value(f"{where}.{key}", sub, value[key])
        return
    if isinstance(spec, list):
        if not isinstance(value, list):
            raise ValueError(f"{where}: want a list, got {value!r}")
        for i, item in enumerate(value):
            check_value(f"{where}[{i}]", spec[0], item)
        return
    if spec == "details":  # transport-specific facts: key -> text
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise ValueError(f"{where}: want an object of strings, got {value!r}")
        return
    if isinstance(spec, tuple) and None in spec:
        if value is None:
            return
        spec = spec[0]
    if spec is int and isinstance(value, bool) or not isinstance(value, spec):
        raise ValueError(f"{where}: want {spec}, got {value!r}")
    if spec is dict:  # drops: reason -> count
        for reason, n in value.items():
            if not isinstance(n, int) or n < 0:
                raise ValueError(f"{where}.{reason}: want a count, got {n!r}")
    if spec is list:  # addresses: CIDR strings
        for item in value:
            if not isinstance(item, str) or "/" not in item:
                raise ValueError(f"{where}: want CIDR strings, got {item!r}")


def check_schema(doc):
    check_value("status", STATUS, doc)
    if doc["schema"] != 2:
        raise ValueError(f"schema {doc['schema']} is not 2")


METRIC_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(rf"^({METRIC_NAME})(?:\{{({LABEL}(?:,{LABEL})*)?\}})? (\S+)(?: (-?\d+))?$")


def parse_metrics(text):
    """Strict parser of the text exposition format 0.0.4 (what fstun emits).

    Returns {(name, frozenset(labels.items())): value}."""
    families = {}  # name -> type
    helped = set()
    samples = {}
    if not text.endswith("\n"):
        raise ValueError("metrics do not end with a newline")
    for number, line in enumerate(text.split("\n")[:-1], 1):
        if line.startswith("# HELP "):
            name = line.split(" ")[2]
            if name in helped:
                raise ValueError(f"line {number}: second HELP for {name}")
            helped.add(name)
            continue
        if line.startswith("# TYPE "):
            parts = line.split(" ")
            if len(parts) != 4 or parts[3] not in ("counter", "gauge", "untyped", "summary", "histogram"):
                raise ValueError(f"line {number}: bad TYPE line {line!r}")
            if parts[2] in families:
                raise ValueError(f"line {number}: second TYPE for {parts[2]}")
            families[parts[2]] = parts[3]
            continue
        if line.startswith("#") or not line:
            raise ValueError(f"line {number}: unexpected {line!r}")
        m = SAMPLE.match(line)
        if not m:
            raise ValueError(f"line {number}: not a sample: {line!r}")
        name, labels_text, value = m.group(1), m.group(2) or "", m.group(3)
        if name not in families:
            raise ValueError(f"line {number}: {name} has no TYPE line before it")
        if families[name] == "counter" and not name.endswith("_total"):
            raise ValueError(f"line {number}: counter {name} does not end in _total")
        labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', labels_text))
        v = float(value)
        if math.isnan(v) or (families[name] == "counter" and v < 0):
            raise ValueError(f"line {number}: bad value {value}")
        key = (name, frozenset(labels.items()))
        if key in samples:
            raise ValueError(f"line {number}: duplicate series {line!r}")
        samples[key] = v
    return samples


def metric(samples, name, **labels):
    for (n, ls), v in samples.items():
        if n == name and all(dict(ls).get(k) == want for k, want in labels.items()):
            return v
    raise ValueError(f"no sample {name}{labels}")


def check_agree(doc, samples):
    """The counters of `fstun status --json` and `fstun metrics`, read at the
    same moment with no traffic, are the same numbers."""
    iface = doc["interface"]
    pairs = []
    for kind in ("tx_frames", "tx_bytes", "rx_frames", "rx_bytes"):
        pairs.append((f"fstun_transport_{kind}_total", {}, doc["counters"]["transport"][kind]))
        pairs.append((f"fstun_tun_{kind}_total", {}, doc["counters"]["device"][kind]))
        for p in doc["peers"]:
            pairs.append((f"fstun_peer_{kind}_total", {"peer": p["id"]}, p["counters"][kind]))
    for component, key in (("tun", "device"), ("transport", "transport"), ("pump", "pump")):
        for reason, n in doc["counters"][key]["drops"].items():
            pairs.append(("fstun_drops_total", {"component": component, "reason": reason}, n))
    pairs.append(("fstun_peers", {}, len(doc["peers"])))
    pairs.append(("fstun_mtu_bytes", {}, doc["mtu"]))
    for name, labels, want in pairs:
        got = metric(samples, name, interface=iface, **labels)
        if got != want:
            raise ValueError(f"{name}{labels}: metrics say {got}, status says {want}")
    if metric(samples, "fstun_info", interface=iface, role=doc["role"], transport=doc["transport"]) != 1:
        raise ValueError("fstun_info disagrees with status")


def main(argv):
    try:
        if argv[1:2] == ["schema"]:
            check_schema(json.load(sys.stdin))
        elif argv[1:2] == ["metrics"]:
            samples = parse_metrics(sys.stdin.read())
            print(f"{len(samples)} samples")
        elif argv[1:2] == ["agree"] and len(argv) == 4:
            with open(argv[2]) as f:
                doc = json.load(f)
            with open(argv[3]) as f:
                samples = parse_metrics(f.read())
            check_agree(doc, samples)
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except (ValueError, KeyError) as e:
        print(f"FAIL: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
