#!/usr/bin/env python3
"""pv-coc's unit-level COC table (with a listing), computed by DuckDB SQL.

Usage: coc_duckdb.py [--threads N] [--two-step] VISITS.csv LISTING.csv [OUT.csv]

The peer a region statistician would write in DuckDB: one SQL statement that
reads both CSVs from scratch (explicit column types), takes the as-of date as
the latest visit date, keeps physical/home visits with a provider, inside the
18-month window, at the unit where the patient is listed, and computes the
Bice-Boxerman COC per patient and its mean per (unit, profession) over
patients with at least 3 visits. Writes `unit,group,denominator,value` to
OUT.csv or stdout.

--two-step first asks for the latest visit date (one scan of the visits),
then runs the same query with the window as constants, which DuckDB pushes
into the CSV scan: the file is read twice, but the visits are never held in
memory (about half the peak RSS of the one-statement form).
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

VISITS = "read_csv($visits, header = true, auto_detect = false, columns = $visit_columns)"
LISTING = "read_csv($listing, header = true, auto_detect = false, columns = $listing_columns)"

# Everything after the window: counted visits, n_j per provider, N and
# sum n_j^2 per patient, then the mean COC of eligible patients per unit and
# profession. Expects a CTE `visits`; {window_join} and {in_window} say how
# the window applies.
TAIL = """
listing AS (
    SELECT patient_id, unit FROM """ + LISTING + """
),
counted AS (
    SELECT v.unit, v.profession, v.patient_id, v.provider_id
    FROM visits v
    JOIN listing l ON l.patient_id = v.patient_id AND l.unit = v.unit
    {window_join}
    WHERE {in_window}
      AND v.contact_type IN ('physical', 'home')
      AND v.provider_id IS NOT NULL AND v.provider_id <> ''
),
per_provider AS (
    SELECT unit, profession, patient_id, count(*) AS n_j
    FROM counted
    GROUP BY unit, profession, patient_id, provider_id
),
per_patient AS (
    SELECT unit, profession, patient_id, sum(n_j) AS n, sum(n_j * n_j) AS sum_sq
    FROM per_provider
    GROUP BY unit, profession, patient_id
)
SELECT unit,
       profession AS "group",
       count(*) FILTER (WHERE n >= 3) AS denominator,
       avg((sum_sq - n) / (n * (n - 1.0))) FILTER (WHERE n >= 3) AS value
FROM per_patient
GROUP BY unit, profession
ORDER BY unit, profession
"""

# 18 calendar months ending on the latest visit date, both inclusive (DuckDB
# clamps a day that does not exist in the month to the month's last day).
ONE_STATEMENT = f"""
WITH visits AS MATERIALIZED (
    SELECT patient_id, date, unit, provider_id, profession, contact_type
    FROM {VISITS}
),
window_ AS (
    SELECT CAST(max(date) + INTERVAL 1 DAY - INTERVAL 18 MONTH AS DATE) AS first_day,
           max(date) AS last_day
    FROM visits
),
""" + TAIL.format(window_join="CROSS JOIN window_ w", in_window="v.date BETWEEN w.first_day AND w.last_day")

LATEST = f"SELECT max(date) FROM {VISITS}"
WITH_CONSTANT_WINDOW = f"""
WITH visits AS (
    SELECT patient_id, date, unit, provider_id, profession, contact_type
    FROM {VISITS}
),
""" + TAIL.format(
    window_join="",
    in_window="v.date BETWEEN CAST($last_day::DATE + INTERVAL 1 DAY - INTERVAL 18 MONTH AS DATE) AND $last_day::DATE",
)


def coc_table(visits: str, listing: str, threads: int, two_step: bool) -> list:
    con = duckdb.connect()
    con.execute(f"SET threads = {int(threads)}")
    params = {
        "visits": visits,
        "listing": listing,
        "visit_columns": VISIT_COLUMNS,
        "listing_columns": LISTING_COLUMNS,
    }
    if not two_step:
        return con.execute(ONE_STATEMENT, params).fetchall()
    (last_day,) = con.execute(LATEST, {k: params[k] for k in ("visits", "visit_columns")}).fetchone()
    if last_day is None:
        return []
    return con.execute(WITH_CONSTANT_WINDOW, {**params, "last_day": last_day}).fetchall()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("visits")
    parser.add_argument("listing")
    parser.add_argument("out", nargs="?", help="output CSV (default: stdout)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--two-step", action="store_true", help="latest date first, then the query")
    args = parser.parse_args()

    rows = coc_table(args.visits, args.listing, args.threads, args.two_step)
    lines = ["unit,group,denominator,value\n"]
    for unit, group, denominator, value in rows:
        shown = "" if value is None else repr(float(value))
        lines.append(f"{unit},{group},{denominator},{shown}\n")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as out:
            out.writelines(lines)
    else:
        sys.stdout.writelines(lines)


if __name__ == "__main__":
    main()
