#!/usr/bin/env python3
"""Turn bench.sh's raw timings into the markdown report.

Usage: report.py --raw RAW.tsv --machine MACHINE.txt --commands COMMANDS.tsv
                 [--ratio=SPEC ...]

RAW.tsv has `suite size case run wall_s user_s sys_s rss_kb` (run 0 is the
warm-up and agreement run, not counted). Medians are over the timed runs.
A ratio SPEC is `SUITE|LABEL|METRIC|NUMERATOR|DENOMINATOR|OP|TARGET` with
METRIC wall, cpu or rss, OP >=, <= or - (no target); DENOMINATOR `scaling`
compares NUMERATOR at the largest size with the smallest, and its TARGET is
a factor of the size ratio. Targets are judged at the largest size. Standard
library only.
"""

import argparse
import csv
import statistics
from collections import defaultdict


def load(path):
    runs = defaultdict(list)  # (suite, size, case) -> [(wall, cpu, rss_mib)]
    order = []
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            key = (row["suite"], int(row["size"]), row["case"])
            if key not in order:
                order.append(key)
            if row["run"] == "0":
                continue
            wall = float(row["wall_s"])
            cpu = float(row["user_s"]) + float(row["sys_s"])
            rss = int(row["rss_kb"]) / 1024
            runs[key].append((wall, cpu, rss))
    return runs, order


def medians(samples):
    walls, cpus, rsss = zip(*samples)
    return {
        "wall": statistics.median(walls),
        "cpu": statistics.median(cpus),
        "rss": statistics.median(rsss),
        "wall_min": min(walls),
        "wall_max": max(walls),
        "n": len(samples),
    }


def size_label(n):
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000} M"
    if n % 1_000 == 0:
        return f"{n // 1_000} k"
    return str(n)


def met(value, op, target):
    return value >= target if op == ">=" else value <= target


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--raw", required=True)
    parser.add_argument("--machine", required=True)
    parser.add_argument("--commands", required=True)
    parser.add_argument("--ratio", action="append", default=[])
    args = parser.parse_args()

    runs, order = load(args.raw)
    stats = {key: medians(samples) for key, samples in runs.items() if samples}
    out = []
    with open(args.machine, encoding="utf-8") as f:
        machine = [line.rstrip("\n") for line in f if line.strip()]
    out.append("### Machine and run")
    out.append("")
    out.extend(f"- {line}" for line in machine)
    out.append("")
    out.append("### Commands (`<N>` = visits in the data set)")
    out.append("")
    with open(args.commands, encoding="utf-8") as f:
        for line in f:
            suite, name, command = line.rstrip("\n").split("\t", 2)
            out.append(f"- `{name}` ({suite}): `{command}`")
    out.append("")

    suites = list(dict.fromkeys(suite for suite, _, _ in order))
    for suite in suites:
        sizes = sorted({size for s, size, _ in order if s == suite})
        cases = list(dict.fromkeys(case for s, _, case in order if s == suite))
        out.append(f"### Suite `{suite}`: medians")
        out.append("")
        out.append("| visits | case | wall s (median) | wall min–max | CPU s (user+sys) | peak RSS MiB | runs |")
        out.append("|---:|---|---:|---:|---:|---:|---:|")
        for size in sizes:
            for case in cases:
                s = stats.get((suite, size, case))
                if not s:
                    continue
                out.append(
                    f"| {size_label(size)} | {case} | {s['wall']:.3f} | {s['wall_min']:.3f}–{s['wall_max']:.3f} "
                    f"| {s['cpu']:.3f} | {s['rss']:.1f} | {s['n']} |"
                )
        out.append("")

        specs = [spec.split("|") for spec in args.ratio]
        specs = [spec for spec in specs if spec[0] == suite]
        if not specs:
            continue
        largest, smallest = sizes[-1], sizes[0]
        out.append(f"### Suite `{suite}`: ratios of medians (target judged at {size_label(largest)})")
        out.append("")
        out.append("| ratio | " + " | ".join(size_label(s) for s in sizes) + " | target | met |")
        out.append("|---|" + "---:|" * len(sizes) + "---|---|")
        for _, label, metric, num, den, op, target in specs:
            if den == "scaling":
                a, b = stats.get((suite, largest, num)), stats.get((suite, smallest, num))
                if not a or not b or largest == smallest:
                    continue
                factor = largest / smallest
                value = a[metric] / b[metric]
                cells = [""] * (len(sizes) - 1) + [f"{value:.2f} (data ×{factor:g})"]
                if op == "-":
                    verdict, shown = "", ""
                else:
                    limit = float(target) * factor
                    verdict = "yes" if met(value, op, limit) else "**no**"
                    shown = f"{op} {limit:g}"
                out.append(f"| {label} | " + " | ".join(cells) + f" | {shown} | {verdict} |")
                continue
            cells, last = [], None
            for size in sizes:
                a, b = stats.get((suite, size, num)), stats.get((suite, size, den))
                if a and b and b[metric] > 0:
                    last = a[metric] / b[metric]
                    cells.append(f"{last:.2f}")
                else:
                    last = None
                    cells.append("–")
            if op == "-" or last is None:
                verdict, shown = "", "" if op == "-" else f"{op} {target}"
            else:
                verdict = "yes" if met(last, op, float(target)) else "**no**"
                shown = f"{op} {target}"
            out.append(f"| {label} | " + " | ".join(cells) + f" | {shown} | {verdict} |")
        out.append("")
    print("\n".join(out))


if __name__ == "__main__":
    main()
