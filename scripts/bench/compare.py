#!/usr/bin/env python3
"""Check that pv-coc and its peers computed the same unit-level COC table.

Usage: compare.py PVCOC_OUT.csv NAME=PEER.csv [NAME=PEER.csv ...]

PVCOC_OUT.csv is `pv-coc -f csv` output: only rows with indicator=coc and
level=unit are compared (the level=all rows have no peer). Each PEER.csv has
`unit,group,denominator,value`. The tables agree when they have the same
(unit, group) keys, equal denominators, and values within 1e-6 (pv-coc writes
6 decimals), an empty value going with a zero denominator. Prints what
differs (at most 20 lines per peer) and exits 1 on any difference; standard
library only.
"""

import csv
import math
import sys

TOLERANCE = 1e-6


def number(text: str):
    return None if text.strip() == "" else float(text)


def load_pvcoc(path: str) -> dict:
    table = {}
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["indicator"] != "coc" or row["level"] != "unit":
                continue
            key = (row["unit"], row["group"])
            if key in table:
                raise SystemExit(f"{path}: (unit, group) {key} appears twice")
            table[key] = (number(row["denominator"]), number(row["value"]))
    return table


def load_peer(path: str) -> dict:
    table = {}
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            key = (row["unit"], row["group"])
            if key in table:
                raise SystemExit(f"{path}: (unit, group) {key} appears twice")
            table[key] = (number(row["denominator"]), number(row["value"]))
    return table


def differences(reference: dict, other: dict) -> list:
    found = []
    for key in sorted(reference.keys() - other.keys()):
        found.append(f"{key}: only in pv-coc {reference[key]}")
    for key in sorted(other.keys() - reference.keys()):
        found.append(f"{key}: missing from pv-coc, peer has {other[key]}")
    for key in sorted(reference.keys() & other.keys()):
        (den_a, val_a), (den_b, val_b) = reference[key], other[key]
        if (den_a or 0) != (den_b or 0):
            found.append(f"{key}: denominator pv-coc {den_a} vs peer {den_b}")
        elif (val_a is None) != (val_b is None):
            found.append(f"{key}: value pv-coc {val_a} vs peer {val_b}")
        elif val_a is not None and not math.isclose(val_a, val_b, rel_tol=0, abs_tol=TOLERANCE):
            found.append(f"{key}: value pv-coc {val_a} vs peer {val_b} (diff {abs(val_a - val_b):.3g})")
    return found


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    reference = load_pvcoc(sys.argv[1])
    if not reference:
        print(f"compare: {sys.argv[1]} has no coc unit rows", file=sys.stderr)
        return 1
    failed = False
    for spec in sys.argv[2:]:
        name, _, path = spec.partition("=")
        found = differences(reference, load_peer(path))
        if found:
            failed = True
            print(f"compare: pv-coc and {name} DISAGREE on {len(found)} (unit, group) rows:", file=sys.stderr)
            for line in found[:20]:
                print(f"  {line}", file=sys.stderr)
        else:
            eligible = sum(int(d or 0) for d, _ in reference.values())
            print(f"compare: pv-coc and {name} agree on {len(reference)} (unit, group) rows, {eligible} eligible patients")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
