#!/usr/bin/env python3
"""Summarise an EspBenchmark JMH JSON result (-rf json -rff FILE) as a Markdown table.

    python3 dataplane-native/src/jmh/summarise.py esp.json [--no-targets]

One row per suite and inner packet size: the engine's encapsulation and decapsulation in packets/s and Gbit/s of
inner bytes, the bare JDK ceiling doing the same cipher work, the engine's share of the ceiling, and, when the run
used -prof gc, bytes allocated per packet (gc.alloc.rate.norm) for each of the four benchmarks.
Accepts Throughput (ops/s, ops/ms, ...) and AverageTime/SampleTime (ns/op, us/op, ...) results. Python 3 stdlib only.
"""
import json
import math
import sys

BENCHMARKS = ("encapsulate", "jdkCeilingSeal", "decapsulate", "jdkCeilingOpen")
SUITE_ORDER = ("aes-gcm-128", "aes-cbc-128-hmac-sha1-96")
# The targets: engine / ceiling at these inner sizes.
TARGETS = {1400: 85.0, 64: 70.0}

TIME_UNITS_S = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0, "m": 60.0, "hr": 3600.0}


def ops_per_second(metric):
    """Score and error in ops/s, whatever the mode and unit JMH used."""
    score, error, unit = metric["score"], metric.get("scoreError"), metric.get("scoreUnit", "ops/s")
    error = None if error is None else float(error)                         # "NaN" with a single iteration
    error = None if math.isnan(error or 0.0) else error
    top, _, bottom = unit.partition("/")
    if top == "ops":                                                       # throughput: ops per time unit
        factor = 1.0 / TIME_UNITS_S[bottom]
        return score * factor, None if error is None else error * factor
    if bottom == "op":                                                     # time per op
        seconds = score * TIME_UNITS_S[top]
        value = 1.0 / seconds
        return value, None if error is None else value * (error / score)
    raise ValueError("unknown score unit " + unit)


def allocation(result):
    for name, metric in result.get("secondaryMetrics", {}).items():
        if name.lstrip("\u00b7").endswith("gc.alloc.rate.norm"):
            return metric["score"]
    return None


def load(path):
    with open(path, encoding="utf-8") as handle:
        results = json.load(handle)
    table = {}
    for result in results:
        method = result["benchmark"].rsplit(".", 1)[-1]
        if method not in BENCHMARKS:
            continue
        params = result.get("params", {})
        key = (params.get("suite", "?"), int(params.get("size", 0)))
        rate, error = ops_per_second(result["primaryMetric"])
        table.setdefault(key, {})[method] = {"rate": rate, "error": error, "alloc": allocation(result)}
    return table


def rate_text(cell):
    if cell is None:
        return "-"
    rate = cell["rate"]
    text = "%.2f M" % (rate / 1e6) if rate >= 1e6 else "%.0f k" % (rate / 1e3)
    if cell["error"] is not None and rate > 0:
        text += " ±%.0f%%" % (100.0 * cell["error"] / rate)
    return text


def gbits(cell, size):
    return "-" if cell is None else "%.2f" % (cell["rate"] * size * 8 / 1e9)


def ratio(engine, ceiling):
    if engine is None or ceiling is None or ceiling["rate"] <= 0:
        return None
    return 100.0 * engine["rate"] / ceiling["rate"]


def ratio_text(value):
    return "-" if value is None else "%.0f %%" % value


def alloc_text(cell):
    if cell is None or cell["alloc"] is None:
        return "-"
    value = cell["alloc"]
    return "%.1f" % value if value < 10 else "%.0f" % value


def suite_key(suite):
    return (SUITE_ORDER.index(suite) if suite in SUITE_ORDER else len(SUITE_ORDER), suite)


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    if len(args) != 1:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    if hasattr(sys.stdout, "reconfigure"):          # the table has a few non-ASCII signs; Markdown is UTF-8
        sys.stdout.reconfigure(encoding="utf-8")
    table = load(args[0])
    if not table:
        print("no EspBenchmark results in " + args[0], file=sys.stderr)
        return 1
    with_alloc = any(c["alloc"] is not None for row in table.values() for c in row.values())

    header = ["suite", "inner B", "encap pkt/s", "encap Gbit/s", "ceiling seal pkt/s", "encap/ceiling",
              "decap pkt/s", "decap Gbit/s", "ceiling open pkt/s", "decap/ceiling"]
    if with_alloc:
        header += ["B/op encap", "B/op seal", "B/op decap", "B/op open"]
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" if i < 2 else "---:" for i in range(len(header))) + "|")
    checks = []
    for suite, size in sorted(table, key=lambda k: (suite_key(k[0]), k[1])):
        row = table[(suite, size)]
        encap, seal, decap, open_ = (row.get(name) for name in BENCHMARKS)
        encap_ratio, decap_ratio = ratio(encap, seal), ratio(decap, open_)
        cells = [suite, str(size), rate_text(encap), gbits(encap, size), rate_text(seal), ratio_text(encap_ratio),
                 rate_text(decap), gbits(decap, size), rate_text(open_), ratio_text(decap_ratio)]
        if with_alloc:
            cells += [alloc_text(encap), alloc_text(seal), alloc_text(decap), alloc_text(open_)]
        print("| " + " | ".join(cells) + " |")
        if size in TARGETS:
            for what, value in (("encap", encap_ratio), ("decap", decap_ratio)):
                if value is not None:
                    checks.append((suite, size, what, value, TARGETS[size]))

    if checks and "--no-targets" not in argv:
        print()
        print("Targets (engine / bare-JDK ceiling): %s." % ", ".join(
            ">= %.0f %% at %d B" % (TARGETS[s], s) for s in sorted(TARGETS, reverse=True)))
        print()
        for suite, size, what, value, target in checks:
            verdict = "met" if value >= target else "MISSED"
            print("- %s %d B %s: %.0f %% (target %.0f %%): %s" % (suite, size, what, value, target, verdict))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
