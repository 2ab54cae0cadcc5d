#!/usr/bin/env python3
"""pv-coverage care's unit-level täckningsgrad, computed by DuckDB SQL.

Usage: coverage_duckdb.py [--threads N] VISITS.csv LISTING.csv [OUT.csv]

The peer a region statistician would write in DuckDB: one SQL statement that
reads both CSVs from scratch (explicit column types), keeps the visits to a
doctor, nurse or physio that are physical or home visits, joins them to the
listing on patient_id, and per listing unit counts the visits made at that
unit (numerator) over all of them (denominator). Every listing unit gets a
row, with an empty value when its patients made no visits. The period is
pv-coverage's default, the whole span of the visits, so no visit falls
outside it. Writes `unit,numerator,denominator,value` (value in percent) to
OUT.csv or stdout.
"""

import argparse
import sys

import duckdb

VISIT_COLUMNS = {
    "patient_id": "VARCHAR",
    "date": "DATE",
    "unit": "VARCHAR",
    "provider_id": "VARCHAR",
    "profession": "VARCHAR",
    "contact_type": "VARCHAR",
    "care_level": "VARCHAR",
}
LISTING_COLUMNS = {
    "patient_id": "VARCHAR",
    "unit": "VARCHAR",
    "listed_since": "VARCHAR",
    "birth_date": "VARCHAR",
    "sex": "VARCHAR",
    "active_choice": "VARCHAR",
    "named_doctor": "VARCHAR",
}

QUERY = """
WITH listing AS (
    SELECT patient_id, unit
    FROM read_csv($listing, header = true, auto_detect = false, columns = $listing_columns)
),
counted AS (
    SELECT l.unit AS listed_unit, (v.unit = l.unit)::INTEGER AS at_unit
    FROM read_csv($visits, header = true, auto_detect = false, columns = $visit_columns) v
    JOIN listing l ON l.patient_id = v.patient_id
    WHERE v.contact_type IN ('physical', 'home')
      AND v.profession IN ('doctor', 'nurse', 'physio')
),
per_unit AS (
    SELECT listed_unit, sum(at_unit) AS numerator, count(*) AS denominator
    FROM counted
    GROUP BY listed_unit
)
SELECT u.unit,
       coalesce(p.numerator, 0) AS numerator,
       coalesce(p.denominator, 0) AS denominator,
       100.0 * p.numerator / nullif(p.denominator, 0) AS value
FROM (SELECT DISTINCT unit FROM listing) u
LEFT JOIN per_unit p ON p.listed_unit = u.unit
ORDER BY u.unit
"""


def coverage_table(visits: str, listing: str, threads: int) -> list:
    con = duckdb.connect()
    con.execute(f"SET threads = {int(threads)}")
    params = {
        "visits": visits,
        "listing": listing,
        "visit_columns": VISIT_COLUMNS,
        "listing_columns": LISTING_COLUMNS,
    }
    return con.execute(QUERY, params).fetchall()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("visits")
    parser.add_argument("listing")
    parser.add_argument("out", nargs="?", help="output CSV (default: stdout)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    rows = coverage_table(args.visits, args.listing, args.threads)
    lines = ["unit,numerator,denominator,value\n"]
    for unit, numerator, denominator, value in rows:
        shown = "" if value is None else repr(float(value))
        lines.append(f"{unit},{numerator},{denominator},{shown}\n")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as out:
            out.writelines(lines)
    else:
        sys.stdout.writelines(lines)


if __name__ == "__main__":
    main()
