#!/usr/bin/env python3
"""Check that pv-coverage care and its peers computed the same täckningsgrad.

Usage: coverage_compare.py PVCOVERAGE_OUT.csv NAME=PEER.csv [NAME=PEER.csv ...]

PVCOVERAGE_OUT.csv is `pv-coverage care -f csv` output: only rows with
indicator=coverage and level=unit are compared. Each PEER.csv has
`unit,numerator,denominator,value` (value in percent). The tables agree when
they have the same units, equal numerators and denominators, and values
within 1e-4 (pv-coverage writes 4 decimals), an empty value going with a
zero denominator. Prints what differs (at most 20 lines per peer) and exits
1 on any difference; standard library only.
"""

import csv
import sys

TOLERANCE = 1e-4


def number(text: str):
    return None if text.strip() == "" else float(text)


def load(path: str, only_coverage_units: bool) -> dict:
    table = {}
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if only_coverage_units and (row["indicator"] != "coverage" or row["level"] != "unit"):
                continue
            if row["unit"] in table:
                raise SystemExit(f"{path}: unit {row['unit']!r} appears twice")
            table[row["unit"]] = tuple(number(row[c]) for c in ("numerator", "denominator", "value"))
    return table


def differences(reference: dict, other: dict) -> list:
    found = []
    for unit in sorted(reference.keys() - other.keys()):
        found.append(f"{unit}: only in pv-coverage {reference[unit]}")
    for unit in sorted(other.keys() - reference.keys()):
        found.append(f"{unit}: missing from pv-coverage, peer has {other[unit]}")
    for unit in sorted(reference.keys() & other.keys()):
        (num_a, den_a, val_a), (num_b, den_b, val_b) = reference[unit], other[unit]
        if (num_a or 0) != (num_b or 0) or (den_a or 0) != (den_b or 0):
            found.append(f"{unit}: pv-coverage {num_a}/{den_a} vs peer {num_b}/{den_b}")
        elif (val_a is None) != (val_b is None):
            found.append(f"{unit}: value pv-coverage {val_a} vs peer {val_b}")
        elif val_a is not None and abs(val_a - val_b) > TOLERANCE:
            found.append(f"{unit}: value pv-coverage {val_a} vs peer {val_b}")
    return found


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    reference = load(sys.argv[1], True)
    failed = False
    for spec in sys.argv[2:]:
        name, _, path = spec.partition("=")
        found = differences(reference, load(path, False))
        if found:
            failed = True
            print(f"{name} disagrees with pv-coverage on {len(found)} units:", file=sys.stderr)
            for line in found[:20]:
                print(f"  {line}", file=sys.stderr)
        else:
            print(f"{name} agrees with pv-coverage on {len(reference)} units", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
