#!/usr/bin/env python3
"""Turns Google Benchmark JSON from joule's bench/ programs into a markdown table: one row per
benchmark (name without the policy), one column per policy, cells "GFLOP/s (time)" from the
median aggregate when repetitions were run, else the single run.

Usage: tools/bench_table.py bench.json [more.json ...] [--counter GFLOP/s]
Benchmarks are named <op>/<shape>/<policy>[/real_time]; standard library only.
"""
import argparse
import json
import re
from collections import OrderedDict


def load(paths, counter):
    rows, policies = OrderedDict(), []
    for path in paths:
        data = json.load(open(path))
        runs = data["benchmarks"]
        have_median = any(b.get("aggregate_name") == "median" for b in runs)
        for b in runs:
            if have_median and b.get("aggregate_name") != "median":
                continue
            name = re.sub(r"/real_time.*$", "", b.get("run_name", b["name"]))
            head, policy = name.rsplit("/", 1)
            if policy.startswith("threads:"):  # bench_models: .../<policy>/threads:N
                head, base = head.rsplit("/", 1)
                policy = f"{base}/{policy.split(':')[1]}"
            if policy not in policies:
                policies.append(policy)
            unit = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[b.get("time_unit", "ns")]
            ms = b["real_time"] * unit
            rate = b.get(counter)
            rows.setdefault(head, {})[policy] = (rate / 1e9 if rate and rate > 1e6 else rate, ms)
    return rows, policies


def fmt_time(ms):
    return f"{ms * 1e3:.0f} us" if ms < 1 else (f"{ms:.2f} ms" if ms < 1000 else f"{ms / 1e3:.2f} s")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("json", nargs="+")
    ap.add_argument("--counter", default="GFLOP/s")
    a = ap.parse_args()
    rows, policies = load(a.json, a.counter)
    print("| benchmark | " + " | ".join(policies) + " |")
    print("|---|" + "---|" * len(policies))
    for head, cells in rows.items():
        out = []
        for p in policies:
            if p not in cells:
                out.append("")
                continue
            rate, ms = cells[p]
            best = min(c[1] for c in cells.values())
            text = f"{rate:.1f} ({fmt_time(ms)})" if rate is not None else fmt_time(ms)
            out.append(f"**{text}**" if ms == best and len(cells) > 1 else text)
        print(f"| {head} | " + " | ".join(out) + " |")


if __name__ == "__main__":
    main()
