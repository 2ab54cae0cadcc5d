#!/usr/bin/env python3
"""Check that pv-listing-diff and its peer computed the same unit table.

Usage: listing_diff_compare.py PV_OUT.csv PEER.csv

PV_OUT.csv is `pv-listing-diff -f csv` output: only level=unit rows are
compared (area and region rows have no peer). PEER.csv has
`unit,listed_before,listed_after,net,moved_in,moved_out,new_in_region,left_region`.
The tables agree when they have the same units and every count is equal.
Prints what differs (at most 20 lines) and exits 1 on any difference;
standard library only.
"""

import csv
import sys

COUNTS = ["listed_before", "listed_after", "net", "moved_in", "moved_out", "new_in_region", "left_region"]


def load(path: str, only_units: bool) -> dict:
    table = {}
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if only_units and row["level"] != "unit":
                continue
            if row["unit"] in table:
                raise SystemExit(f"{path}: unit {row['unit']!r} appears twice")
            table[row["unit"]] = tuple(int(row[c]) for c in COUNTS)
    return table


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    ours, peer = load(sys.argv[1], True), load(sys.argv[2], False)
    if not ours:
        print(f"compare: {sys.argv[1]} has no unit rows", file=sys.stderr)
        return 1
    found = []
    for unit in sorted(ours.keys() - peer.keys()):
        found.append(f"{unit}: only in pv-listing-diff {ours[unit]}")
    for unit in sorted(peer.keys() - ours.keys()):
        found.append(f"{unit}: missing from pv-listing-diff, peer has {peer[unit]}")
    for unit in sorted(ours.keys() & peer.keys()):
        if ours[unit] != peer[unit]:
            found.append(f"{unit}: pv-listing-diff {ours[unit]} vs peer {peer[unit]}")
    if found:
        print(f"compare: {len(found)} differences", file=sys.stderr)
        for line in found[:20]:
            print(f"  {line}", file=sys.stderr)
        return 1
    print(f"compare: {len(ours)} units agree", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
