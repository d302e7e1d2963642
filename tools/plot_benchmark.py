#!/usr/bin/python3
"""Draws bench_models' Google Benchmark JSON as joule-shootout's chart: per model and batch, energy
per inference against latency per run, one marker per policy/threads, the Pareto front as a line,
the least-energy candidate ringed, and the energy axis titled "measured" or "estimated" from the
benchmarks' labels.

Usage:
  build/release/bench/bench_models --benchmark_filter='batch:1/' --benchmark_out=models.json
  /usr/bin/python3 tools/plot_benchmark.py models.json models.png     # or models.svg

Needs Debian's python3-matplotlib (apt-get install python3-matplotlib); matplotlib draws the same
chart as the C++ tool's cairo code (include/joule/choose/chart_cairo.hpp): same colours, same axes
rules (log scale when the values span more than a factor of 4), same Pareto front.
"""
import argparse
import json
import math
import re
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator  # noqa: E402

COLOURS = {  # policy_colour() in include/joule/choose/chart.hpp
    "scalar": (0.50, 0.50, 0.50),
    "simd": (0.12, 0.47, 0.71),
    "blas": (0.84, 0.15, 0.16),
    "eigen": (0.17, 0.63, 0.17),
    "cuda": (0.58, 0.40, 0.74),
}
FRONT = (0.93, 0.55, 0.10)
NAME = re.compile(r"^models/(?P<model>[^/]+)/batch:(?P<batch>\d+)/(?P<policy>[^/]+)/threads:(?P<threads>\d+)")
TO_SECONDS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}


def read_points(path):
    """{(model, batch): [point]} from a Google Benchmark JSON file; skipped benchmarks listed apart."""
    with open(path) as f:
        doc = json.load(f)
    panels, skipped = {}, []
    for b in doc.get("benchmarks", []):
        if b.get("run_type", "iteration") != "iteration":
            continue  # aggregates (mean, median, stddev) of --benchmark_repetitions
        m = NAME.match(b["name"])
        if b.get("error_occurred"):
            skipped.append(f'{b["name"]}: {b.get("error_message", "error")}')
            continue
        if not m or "J/iter" not in b:
            continue
        batch = int(m["batch"])
        label = b.get("label", "")
        kind = "measured" if "energy=measured" in label else "estimated"
        meter = re.search(r"energy=\w+ \(([^)]*)\)", label)
        panels.setdefault((m["model"], batch), []).append({
            "label": f'{m["policy"]}/{m["threads"]}',
            "policy": m["policy"],
            "latency_ms": b["real_time"] * TO_SECONDS[b.get("time_unit", "ns")] * 1e3,
            "joules": b["J/iter"] / batch,
            "kind": kind,
            "meter": meter.group(1) if meter else "",
        })
    return panels, skipped, doc.get("context", {})


def pareto(points):
    """Marks points that no other point beats in both latency and energy; returns them by latency."""
    for p in points:
        p["pareto"] = not any(
            q is not p and q["latency_ms"] <= p["latency_ms"] and q["joules"] <= p["joules"]
            and (q["latency_ms"] < p["latency_ms"] or q["joules"] < p["joules"]) for q in points)
    return sorted((p for p in points if p["pareto"]), key=lambda p: p["latency_ms"])


def set_scale(set_scale_of, axis, values):
    """Log scale when the values span more than a factor of 4, ticks at 1, 2, 5 x 10^k (as make_axis)."""
    lo, hi = min(values), max(values)
    if not (lo > 0 and hi / lo > 4):
        return False
    set_scale_of("log")
    subs = (1.0,) if math.log10(hi / lo) > 3 else (1.0, 2.0, 5.0)
    axis.set_major_locator(LogLocator(base=10, subs=subs))
    return True


def place_labels(ax, fig, points, best):
    """Labels beside their markers where they overlap no other label or marker, else further out
    with a leader line: the same greedy placement as chart_cairo.hpp."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    to_px = ax.transData.transform
    bounds = ax.get_window_extent()
    taken = []
    for p in points:
        x, y = to_px((p["latency_ms"], p["joules"]))
        taken.append((x - 7, y - 7, x + 7, y + 7))
    # Markers within a few pixels of each other share one label ("blas/2, eigen/2").
    groups = []
    for p in sorted(points, key=lambda p: p is not best):
        x, y = to_px((p["latency_ms"], p["joules"]))
        for g in groups:
            if math.hypot(g["x"] - x, g["y"] - y) < 6 * fig.dpi / 72:
                g["labels"].append(p["label"])
                break
        else:
            groups.append({"x": x, "y": y, "point": p, "labels": [p["label"]]})
    for g in groups:
        p = g["point"]
        text = ", ".join(g["labels"]) + (" (least energy)" if p is best else "")
        x, y = g["x"], g["y"]
        probe = ax.text(0, 0, text, fontsize=9, fontweight="bold" if p is best else "normal", transform=None)
        extent = probe.get_window_extent(renderer)
        probe.remove()
        w, h = extent.width + 2, extent.height
        spot, far = None, False
        for d in (1.0, 2.2, 3.6, 5.2):
            r = (13 if p is best else 9) * d * fig.dpi / 72
            for dx, dy in ((r, -h / 2), (-r - w, -h / 2), (-w / 2, r), (-w / 2, -r - h),
                           (0.7 * r, 0.7 * r), (0.7 * r, -0.7 * r - h), (-0.7 * r - w, 0.7 * r),
                           (-0.7 * r - w, -0.7 * r - h)):
                box = (x + dx, y + dy, x + dx + w, y + dy + h)
                inside = box[0] >= bounds.x0 and box[2] <= bounds.x1 and box[1] >= bounds.y0 and box[3] <= bounds.y1
                if inside and not any(box[0] < t[2] and t[0] < box[2] and box[1] < t[3] and t[1] < box[3]
                                      for t in taken):
                    spot, far = box, d > 1
                    break
            if spot:
                break
        if spot is None:
            spot = (x + 9, y - h / 2, x + 9 + w, y + h / 2)
        taken.append(spot)
        # Offsets in points from the marker to the label's lower-left corner.
        ox, oy = (spot[0] - x) * 72 / fig.dpi, (spot[1] - y) * 72 / fig.dpi
        ax.annotate(text, (p["latency_ms"], p["joules"]), xytext=(ox, oy), textcoords="offset points",
                    fontsize=9, fontweight="bold" if p is best else "normal", ha="left", va="bottom",
                    arrowprops=dict(arrowstyle="-", color=(0.3, 0.3, 0.3), lw=0.8, shrinkA=0, shrinkB=3)
                    if far else None)


def plain(v, _pos=None):
    return f"{v:g}"


def draw(panels, out, context):
    keys = sorted(panels, key=lambda k: (["resnet50", "mobilenet_v2", "bert-base"].index(k[0])
                                         if k[0] in ("resnet50", "mobilenet_v2", "bert-base") else 9, k[1]))
    columns = min(max(len(keys), 1), 3)
    rows = math.ceil(max(len(keys), 1) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(6.0 * columns, 4.7 * rows), squeeze=False)
    host = context.get("host_name", "this machine")
    fig.suptitle(f"joule bench_models on {host}: energy per inference against latency, lower left is better",
                 x=0.01, ha="left", fontsize=12, fontweight="bold")
    for ax in axes.flat[len(keys):]:
        ax.set_visible(False)
    for ax, key in zip(axes.flat, keys):
        points = panels[key]
        kind = "estimated" if any(p["kind"] == "estimated" for p in points) else "measured"
        meter = points[0]["meter"]
        front = pareto(points)
        best = min(points, key=lambda p: p["joules"])
        xlog = set_scale(ax.set_xscale, ax.xaxis, [p["latency_ms"] for p in points])
        ylog = set_scale(ax.set_yscale, ax.yaxis, [p["joules"] for p in points])
        if len(front) > 1:
            ax.plot([p["latency_ms"] for p in front], [p["joules"] for p in front], color=FRONT, lw=2.5, zorder=1,
                    label="Pareto front")
        for p in points:
            edge = FRONT if p["pareto"] else "white"
            ax.scatter(p["latency_ms"], p["joules"], s=70, color=COLOURS.get(p["policy"], (0.55, 0.34, 0.29)),
                       edgecolors=[edge], linewidths=1.5, zorder=3)
            if p is best:
                ax.scatter(p["latency_ms"], p["joules"], s=260, facecolors="none", edgecolors="black", linewidths=2,
                           zorder=4)
        ax.set_title(f"{key[0]}, batch {key[1]}\nenergy {kind} ({meter})", fontsize=11)
        ax.set_xlabel("latency per run, median (ms" + (", log scale)" if xlog else ")"))
        ax.set_ylabel(f"energy per inference (J, {kind}" + (", log scale)" if ylog else ")"))
        ax.xaxis.set_major_formatter(FuncFormatter(plain))
        ax.yaxis.set_major_formatter(FuncFormatter(plain))
        ax.grid(True, color=(0.88, 0.88, 0.88), zorder=0)
        ax.set_facecolor((0.985, 0.985, 0.985))
        ax.margins(0.12)
        handles = [plt.Line2D([], [], marker="o", ls="", color=COLOURS.get(n, (0.55, 0.34, 0.29)), label=n)
                   for n in dict.fromkeys(p["policy"] for p in points)]
        handles.append(plt.Line2D([], [], color=FRONT, lw=2.5, label="Pareto front"))
        handles.append(plt.Line2D([], [], marker="o", ls="", markersize=12, markerfacecolor="none",
                                  markeredgecolor="black", label="least energy"))
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=len(handles), fontsize=8,
                  frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    for ax, key in zip(axes.flat, keys):
        place_labels(ax, fig, panels[key], min(panels[key], key=lambda p: p["joules"]))
    fig.savefig(out, dpi=150)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("json", help="Google Benchmark output (--benchmark_out=FILE, JSON format)")
    ap.add_argument("out", help="the chart: FILE.png or FILE.svg")
    args = ap.parse_args()
    panels, skipped, context = read_points(args.json)
    for s in skipped:
        print(f"not shown: {s}", file=sys.stderr)
    if not panels:
        sys.exit(f"{args.json}: no models/<model>/batch:<b>/<policy>/threads:<t> benchmark with a J/iter counter")
    draw(panels, args.out, context)
    print(f"chart: {args.out} ({len(panels)} panel(s))")


if __name__ == "__main__":
    main()
