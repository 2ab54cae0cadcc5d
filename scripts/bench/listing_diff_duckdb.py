#!/usr/bin/env python3
"""pv-listing-diff's unit rows, computed by DuckDB SQL.

Usage: listing_diff_duckdb.py [--threads N] OLD.csv NEW.csv [OUT.csv]

The peer a region statistician would write in DuckDB: one SQL statement that
reads both listing snapshots from scratch (explicit column types), joins them
on patient_id (full outer join: patients in only one snapshot are new in the
region or left it), counts patients per (OLD unit, NEW unit) pair and sums
those pairs per unit. Writes
`unit,listed_before,listed_after,net,moved_in,moved_out,new_in_region,left_region`
sorted by unit to OUT.csv or stdout.
"""

import argparse
import sys

import duckdb

LISTING_COLUMNS = {
    "patient_id": "VARCHAR",
    "unit": "VARCHAR",
    "listed_since": "VARCHAR",
    "birth_date": "VARCHAR",
    "sex": "VARCHAR",
    "active_choice": "VARCHAR",
    "named_doctor": "VARCHAR",
}


def snapshot(parameter: str) -> str:
    return f"read_csv(${parameter}, header = true, auto_detect = false, columns = $columns)"


QUERY = f"""
WITH old AS (
    SELECT patient_id, unit FROM {snapshot("old")}
),
new AS (
    SELECT patient_id, unit FROM {snapshot("new")}
),
pairs AS (
    SELECT o.unit AS old_unit, n.unit AS new_unit, count(*) AS patients
    FROM old o FULL OUTER JOIN new n ON o.patient_id = n.patient_id
    GROUP BY ALL
),
sides AS (
    SELECT old_unit AS unit,
           patients AS listed_before,
           0 AS listed_after,
           0 AS moved_in,
           CASE WHEN new_unit IS NOT NULL AND new_unit <> old_unit THEN patients ELSE 0 END AS moved_out,
           0 AS new_in_region,
           CASE WHEN new_unit IS NULL THEN patients ELSE 0 END AS left_region
    FROM pairs WHERE old_unit IS NOT NULL
    UNION ALL
    SELECT new_unit,
           0,
           patients,
           CASE WHEN old_unit IS NOT NULL AND old_unit <> new_unit THEN patients ELSE 0 END,
           0,
           CASE WHEN old_unit IS NULL THEN patients ELSE 0 END,
           0
    FROM pairs WHERE new_unit IS NOT NULL
)
SELECT unit,
       sum(listed_before) AS listed_before,
       sum(listed_after) AS listed_after,
       sum(listed_after) - sum(listed_before) AS net,
       sum(moved_in) AS moved_in,
       sum(moved_out) AS moved_out,
       sum(new_in_region) AS new_in_region,
       sum(left_region) AS left_region
FROM sides
GROUP BY unit
ORDER BY unit
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("out", nargs="?", help="output CSV (default: stdout)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    con = duckdb.connect()
    con.execute(f"SET threads = {int(args.threads)}")
    rows = con.execute(QUERY, {"old": args.old, "new": args.new, "columns": LISTING_COLUMNS}).fetchall()
    lines = ["unit,listed_before,listed_after,net,moved_in,moved_out,new_in_region,left_region\n"]
    lines.extend(",".join(str(v) for v in row) + "\n" for row in rows)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as out:
            out.writelines(lines)
    else:
        sys.stdout.writelines(lines)


if __name__ == "__main__":
    main()
