#!/usr/bin/env python3
"""pv-coc's unit-level COC table (with a listing), computed by a polars lazy query.

Usage: coc_polars.py VISITS.csv LISTING.csv [OUT.csv]

Set POLARS_MAX_THREADS (bench.sh sets 2) before polars is imported. The peer a
region statistician would write in polars: scan both CSVs from scratch with
an explicit schema, take the as-of date as the latest visit date, keep
physical/home visits with a provider inside the 18-month window at the unit
where the patient is listed, compute the Bice-Boxerman COC per patient and
its mean per (unit, profession) over patients with at least 3 visits, run on
the streaming engine. Writes `unit,group,denominator,value` to OUT.csv
or stdout.
"""

import argparse
import sys

import polars as pl

VISITS_SCHEMA = {
    "patient_id": pl.String,
    "date": pl.Date,
    "unit": pl.String,
    "provider_id": pl.String,
    "profession": pl.String,
    "contact_type": pl.String,
    "care_level": pl.String,
}
LISTING_SCHEMA = {
    "patient_id": pl.String,
    "unit": pl.String,
    "listed_since": pl.String,
    "birth_date": pl.String,
    "sex": pl.String,
    "active_choice": pl.String,
    "named_doctor": pl.String,
}


def coc_table(visits_path: str, listing_path: str) -> pl.DataFrame:
    visits = pl.scan_csv(visits_path, schema=VISITS_SCHEMA)
    listing = pl.scan_csv(listing_path, schema=LISTING_SCHEMA).select("patient_id", "unit")

    # 18 calendar months ending on the latest visit date, both inclusive
    # (offset_by clamps a missing day to the end of the month).
    last_day = pl.col("date").max()
    first_day = last_day.dt.offset_by("1d").dt.offset_by("-18mo")

    per_patient = (
        visits.select("patient_id", "date", "unit", "provider_id", "profession", "contact_type")
        .filter(pl.col("date").is_between(first_day, last_day))
        .filter(
            pl.col("contact_type").is_in(["physical", "home"])
            & pl.col("provider_id").is_not_null()
            & (pl.col("provider_id") != "")
        )
        .join(listing, on=["patient_id", "unit"], how="semi")
        .group_by("unit", "profession", "patient_id", "provider_id")
        .agg(n_j=pl.len())
        .group_by("unit", "profession", "patient_id")
        .agg(n=pl.col("n_j").sum(), sum_sq=(pl.col("n_j") * pl.col("n_j")).sum())
    )
    eligible = pl.col("n") >= 3
    coc = (pl.col("sum_sq") - pl.col("n")) / (pl.col("n") * (pl.col("n") - 1))
    return (
        per_patient.group_by("unit", "profession")
        .agg(
            denominator=eligible.sum(),
            value=coc.filter(eligible).mean(),
        )
        .rename({"profession": "group"})
        .sort("unit", "group")
        .collect(engine="streaming")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("visits")
    parser.add_argument("listing")
    parser.add_argument("out", nargs="?", help="output CSV (default: stdout)")
    args = parser.parse_args()
    table = coc_table(args.visits, args.listing)
    if args.out:
        table.write_csv(args.out, float_precision=12)
    else:
        sys.stdout.write(table.write_csv(float_precision=12))


if __name__ == "__main__":
    main()
