//! pv-far end to end: the built binary on `testdata/far/` (expected output
//! worked out by hand, see `testdata/far/README.md`), on seed 002's Örebro
//! 2024 table, and on inline CSV.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{SECRET_ID, Table, TempDir, assert_no_patient_id, parse_csv, pv_far, testdata_in};

const HEADER: &str = "indicator,level,unit,period,group,numerator,denominator,value,target,status";
const YEAR: [&str; 4] = ["--from", "2024-01-01", "--to", "2024-12-31"];

fn far(name: &str) -> String {
    testdata_in("far", name)
}

fn orebro(name: &str) -> String {
    testdata_in("far/orebro2024", name)
}

fn expected(name: &str) -> String {
    std::fs::read_to_string(far(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// `--listed listed.csv` and `extra`, on `activities.csv`.
fn run_fixture(extra: &[&str]) -> common::Run {
    pv_far(&["--listed".to_string(), far("listed.csv")])
        .args(extra)
        .arg(far("activities.csv"))
        .run()
}

/// (unit, period) → (numerator, value, status) of the rows of `indicator`
/// at `level`.
fn cells(table: &Table, indicator: &str, level: &str) -> BTreeMap<(String, String), [String; 3]> {
    table
        .rows
        .iter()
        .filter(|r| table.get(r, "indicator") == indicator && table.get(r, "level") == level)
        .map(|r| {
            let get = |name: &str| table.get(r, name).to_string();
            (
                (get("unit"), get("period")),
                [get("numerator"), get("value"), get("status")],
            )
        })
        .collect()
}

fn units_with_status(table: &Table, indicator: &str, status: &str) -> BTreeSet<String> {
    cells(table, indicator, "unit")
        .into_iter()
        .filter(|(_, [_, _, s])| s == status)
        .map(|((unit, _), _)| unit)
        .collect()
}

#[track_caller]
fn assert_stderr_has(run: &common::Run, needles: &[&str]) {
    for needle in needles {
        assert!(
            run.stderr.contains(needle),
            "stderr lacks {needle:?}:\n{}",
            run.stderr
        );
    }
}

// ---------------------------------------------------------------------------
// The hand-computed example

#[test]
fn far_in_2024_at_the_target_edges_with_areas_and_payment() {
    let run = run_fixture(&[
        "--from",
        "2024-01-01",
        "--to",
        "2024-12-31",
        "--units",
        &far("units.csv"),
        "--payment-per-listed",
        "11.70",
    ]);
    assert_eq!(run.ok(), expected("expected_far_2024.csv"));
    assert_stderr_has(
        &run,
        &[
            "34 registrations of DV200, 32 in the period",
            "2 outside the period",
            "1 without a code",
            "Zeta (2)",
            "4502 listed at 5 units",
        ],
    );
}

#[test]
fn tobacco_in_2024_with_its_payment() {
    let run = run_fixture(
        &[
            &YEAR[..],
            &["--measure", "tobacco", "--payment-per-listed", "10,70"],
        ]
        .concat(),
    );
    assert_eq!(run.ok(), expected("expected_tobacco_2024.csv"));
    assert_stderr_has(&run, &["12 registrations of DV113"]);
}

#[test]
fn distinct_patients_count_each_patient_once() {
    let run = run_fixture(&[&YEAR[..], &["--distinct-patients"]].concat());
    assert_eq!(run.ok(), expected("expected_distinct_2024.csv"));
    assert_stderr_has(&run, &["counted 28 distinct patients"]);
}

#[test]
fn the_default_period_is_the_input_span() {
    let run = run_fixture(&[]);
    assert_eq!(run.ok(), expected("expected_span.csv"));
    assert_stderr_has(&run, &["period 2023-12-31/2025-01-01"]);
}

#[test]
fn annualized_half_year() {
    let run = run_fixture(&["--from", "2024-01-01", "--to", "2024-06-30", "--annualize"]);
    assert_eq!(run.ok(), expected("expected_h1_annualized.csv"));
    assert_stderr_has(&run, &["2024-01-01/2024-06-30 x 366/182 = 2.0110"]);
}

#[test]
fn a_whole_year_annualized_is_unchanged() {
    let plain = run_fixture(&YEAR);
    let annualized = run_fixture(&[&YEAR[..], &["--annualize"]].concat());
    assert_eq!(annualized.ok(), plain.ok());
    assert_stderr_has(&annualized, &["x 366/366 = 1.0000"]);
}

#[test]
fn months_add_up_to_the_year_and_patients_count_once_per_month() {
    let by_month = parse_csv(run_fixture(&[&YEAR[..], &["--by", "month"]].concat()).ok());
    let months = cells(&by_month, "far_per_1000", "unit");
    let alfa: Vec<&str> = months
        .iter()
        .filter(|((unit, _), [n, _, _])| unit == "Alfa" && n != "0")
        .map(|((_, period), _)| period.as_str())
        .collect();
    assert_eq!(
        alfa,
        [
            "2024-01", "2024-02", "2024-03", "2024-04", "2024-06", "2024-07", "2024-09", "2024-12"
        ]
    );
    // Every unit has a row in each of the 12 months, Zeta included.
    assert_eq!(months.len(), 6 * 12);
    let all = cells(&by_month, "far_per_1000", "all");
    assert_eq!(
        all[&("ALL".to_string(), "2024-01".to_string())][0],
        "4",
        "A1, B1, G1 and D1"
    );
    let year = parse_csv(run_fixture(&YEAR).ok());
    let yearly = cells(&year, "far_per_1000", "unit");
    for ((unit, _), [n, _, _]) in &yearly {
        let sum: u64 = months
            .iter()
            .filter(|((u, _), _)| u == unit)
            .map(|(_, [n, _, _])| n.parse::<u64>().unwrap())
            .sum();
        assert_eq!(sum.to_string(), *n, "{unit}");
    }

    // G1 had a FaR in January and in June: one patient in the year, one in
    // each of the two months.
    let distinct_months = parse_csv(
        run_fixture(&[&YEAR[..], &["--by", "month", "--distinct-patients"]].concat()).ok(),
    );
    let gamma: u64 = cells(&distinct_months, "far_per_1000", "unit")
        .iter()
        .filter(|((u, _), _)| u == "Gamma")
        .map(|(_, [n, _, _])| n.parse::<u64>().unwrap())
        .sum();
    assert_eq!(gamma, 8);
    let distinct_year =
        parse_csv(run_fixture(&[&YEAR[..], &["--distinct-patients"]].concat()).ok());
    assert_eq!(
        distinct_year.indicator_row("far_per_1000", "unit", "Gamma", "")[5],
        "7"
    );
}

#[test]
fn monthly_annualized_factors_are_stated() {
    let run = run_fixture(&[
        "--from",
        "2024-01-01",
        "--to",
        "2024-03-31",
        "--by",
        "month",
        "--annualize",
    ]);
    let table = parse_csv(run.ok());
    assert_stderr_has(
        &run,
        &[
            "2024-01 x 365/31 = 11.7742",
            "2024-02 x 366/29 = 12.6207",
            "2024-03 x 366/31 = 11.8065",
        ],
    );
    // Alfa's one February registration: 1 × 366/29 per 1000 listed.
    let alfa = &cells(&table, "far_per_1000", "unit")[&("Alfa".into(), "2024-02".into())];
    assert_eq!(alfa[0], "12.6207");
    assert_eq!(alfa[2], "met");
}

#[test]
fn a_mistyped_year_is_questioned_and_its_factors_are_not_all_listed() {
    let dir = TempDir::new("far-typo");
    let listed = dir.write("listed.csv", "unit,listed\nVC1,1000\n");
    let activities = dir.write(
        "activities.csv",
        "patient_id,date,unit,code\nP1,1024-08-08,VC1,DV200\nP2,2024-03-01,VC1,DV200\n",
    );
    let run = pv_far(&[
        "--listed",
        &listed,
        "--by",
        "month",
        "--annualize",
        &activities,
    ])
    .run();
    run.ok();
    assert_stderr_has(
        &run,
        &[
            "period 1024-08-08/2024-03-01",
            "warning: the period spans 1000 years; is a date mistyped?",
            "1024-08 x 366/24 = 15.2500",
            "… 11972 more, 2024-03 x 366/1 = 366.0000",
        ],
    );
    assert!(
        run.stderr.len() < 4000,
        "{} bytes of stderr",
        run.stderr.len()
    );
}

#[test]
fn as_of_alone_ends_twelve_months_and_months_alone_end_on_the_latest_date() {
    let table = parse_csv(run_fixture(&["--as-of", "2024-06-30"]).ok());
    assert!(table.rows.iter().all(|r| r[3] == "2023-07-01/2024-06-30"));
    let table = parse_csv(run_fixture(&["--months", "6"]).ok());
    assert!(table.rows.iter().all(|r| r[3] == "2024-07-02/2025-01-01"));
}

#[test]
fn a_listing_snapshot_gives_the_same_rows_as_counts() {
    let dir = TempDir::new("far-listing");
    let mut listing = String::from("personnummer,vårdcentral\n");
    for (unit, listed) in [
        ("Alfa", 1000),
        ("Beta", 1000),
        ("Gamma", 1001),
        ("Delta", 1001),
        ("Epsilon", 500),
    ] {
        for i in 0..listed {
            listing.push_str(&format!("{unit}-{i},{unit}\n"));
        }
    }
    let listing = dir.write("listing.csv", listing);
    let from_listing = pv_far(&["--listing", &listing])
        .args(&YEAR)
        .args(&[
            "--payment-per-listed",
            "11.70",
            "--units",
            &far("units.csv"),
        ])
        .arg(far("activities.csv"))
        .run();
    assert_eq!(from_listing.ok(), expected("expected_far_2024.csv"));
    assert_stderr_has(&from_listing, &["listing snapshot: 4502 listed at 5 units"]);
}

#[test]
fn suppression_hides_small_units_but_not_what_the_others_earn() {
    let table = parse_csv(
        run_fixture(
            &[
                &YEAR[..],
                &["--min-cell", "1000", "--payment-per-listed", "11.70"],
            ]
            .concat(),
        )
        .ok(),
    );
    let epsilon = table.indicator_row("far_per_1000", "unit", "Epsilon", "");
    assert_eq!(
        (&epsilon[5][..], &epsilon[7][..], &epsilon[9][..]),
        ("", "", "suppressed")
    );
    let alfa = table.indicator_row("far_payment", "unit", "Alfa", "");
    assert_eq!(alfa[5], "11700");
    let gamma = table.indicator_row("far_payment", "unit", "Gamma", "");
    assert_eq!(gamma[5], "5855.85");
}

#[test]
fn a_general_target_moves_the_rate_not_the_payment() {
    let table = parse_csv(
        run_fixture(
            &[
                &YEAR[..],
                &["--target", "7", "--half", "6", "--payment-per-listed", "1"],
            ]
            .concat(),
        )
        .ok(),
    );
    let beta = table.indicator_row("far_per_1000", "unit", "Beta", "");
    assert_eq!((&beta[8][..], &beta[9][..]), ("7", "met"));
    let delta = table.indicator_row("far_per_1000", "unit", "Delta", "");
    assert_eq!(delta[9], "half");
    let payment = table.indicator_row("far_payment", "unit", "Beta", "");
    assert_eq!(
        (&payment[5][..], &payment[8][..], &payment[9][..]),
        ("1000", "", "")
    );
    let delta_payment = table.indicator_row("far_payment", "unit", "Delta", "");
    assert_eq!(delta_payment[5], "500.50");
}

// ---------------------------------------------------------------------------
// Any codes

#[test]
fn any_codes_make_a_rate_of_their_own() {
    let run = run_fixture(
        &[
            &YEAR[..],
            &[
                "--code",
                " dv113",
                "--code",
                "DV200,Dv112",
                "--name",
                "lifestyle_per_1000",
                "--target",
                "lifestyle_per_1000=12",
                "--payment-per-listed",
                "2",
            ],
        ]
        .concat(),
    );
    let table = parse_csv(run.ok());
    // Alfa: 8 DV200 + 3 DV113 + 1 DV112 = 12 per 1000: met, 2 × 1000 kr.
    let alfa = table.indicator_row("lifestyle_per_1000", "unit", "Alfa", "");
    assert_eq!(
        (&alfa[5][..], &alfa[8][..], &alfa[9][..]),
        ("12", "12", "met")
    );
    let epsilon = table.indicator_row("lifestyle_per_1000", "unit", "Epsilon", "");
    assert_eq!((&epsilon[5][..], &epsilon[9][..]), ("1", "not_met"));
    let paid = table.indicator_row("lifestyle_payment", "unit", "Alfa", "");
    assert_eq!(paid[5], "2000");
    // Rates come before payments.
    assert_eq!(table.rows[0][0], "lifestyle_per_1000");
    assert_eq!(table.rows.last().unwrap()[0], "lifestyle_payment");
    assert_stderr_has(&run, &["registrations of DV112, DV113, DV200"]);

    let explained = pv_far(&[
        "--code",
        "DV112",
        "--name",
        "dv112",
        "--explain",
        "dv112_payment",
    ])
    .run();
    assert!(explained.ok().contains("KVÅ DV112"), "{}", explained.stdout);
}

#[test]
fn code_and_name_go_together_and_names_must_be_new() {
    let listed = far("listed.csv");
    for args in [
        vec!["--code", "DV112"],
        vec!["--name", "x_per_1000"],
        vec!["--measure", "tobacco", "--code", "DV112", "--name", "x"],
        vec!["--code", "DV112", "--name", "coc"],
        vec!["--code", "DV112", "--name", "far"],
        vec!["--code", "DV112", "--name", "Bad-Name"],
        vec!["--payment-per-listed", "-3"],
        vec!["--target", "nope=3"],
        vec!["--target", "coc=3"],
    ] {
        let run = pv_far(&args)
            .args(&["--listed", &listed])
            .arg(far("activities.csv"))
            .run();
        run.expect_code(2);
        assert!(run.stdout.is_empty(), "{args:?}");
    }
}

// ---------------------------------------------------------------------------
// The listed population is required, once

#[test]
fn exactly_one_of_listing_and_listed() {
    let run = pv_far(&[far("activities.csv")]).run();
    run.expect_code(2);
    assert_stderr_has(&run, &["--listing FILE", "--listed FILE"]);
    let both = pv_far(&[
        "--listing",
        &far("listed.csv"),
        "--listed",
        &far("listed.csv"),
    ])
    .arg(far("activities.csv"))
    .run();
    both.expect_code(2);
    // The catalogue needs neither.
    let listed = pv_far(&["--list-indicators", "-f", "csv"]).run();
    let table = parse_csv(listed.ok());
    let ids: Vec<&str> = table.rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        ids,
        [
            "far_per_1000",
            "tobacco_qualified_per_1000",
            "far_payment",
            "tobacco_qualified_payment"
        ]
    );
    assert!(
        pv_far(&["--explain", "far_per_1000"])
            .run()
            .ok()
            .contains("DV200")
    );
}

// ---------------------------------------------------------------------------
// Edge cases and bad input

#[test]
fn empty_input_gives_zeros_in_a_fixed_period_and_nothing_without_one() {
    let header = "patient_id,date,unit,code\n";
    let fixed = pv_far(&["--listed", &far("listed.csv")])
        .args(&YEAR)
        .stdin(header)
        .run();
    let table = parse_csv(fixed.ok());
    assert_eq!(table.rows.len(), 6, "five units and ALL");
    assert!(table.rows.iter().all(|r| r[5] == "0"));
    let span = pv_far(&["--listed", &far("listed.csv")])
        .stdin(header)
        .run();
    assert_eq!(span.ok(), format!("{HEADER}\n"));
    assert_stderr_has(&span, &["no period"]);
}

#[test]
fn one_row_with_a_timestamp_and_a_swedish_export() {
    let run = pv_far(&["--listed", &far("listed.csv"), "--decimal-comma", "--no-total"])
        .stdin("\u{feff}Personnummer;Datum;Vårdenhet;KVÅ\r\n19121212-1212;2024-03-05 10:15;Gamma;dv200\r\n")
        .run();
    let table = common::parse_delimited(run.ok(), b';');
    assert_eq!(table.rows.len(), 5);
    let gamma = table.indicator_row("far_per_1000", "unit", "Gamma", "");
    assert_eq!(
        (&gamma[3][..], &gamma[5][..], &gamma[7][..]),
        ("2024-03-05/2024-03-05", "1", "0,9990")
    );
    assert_no_patient_id(&run.stderr, SECRET_ID);
}

#[test]
fn a_bad_date_names_line_and_column_and_can_be_skipped() {
    let input = format!(
        "patient_id,date,unit,code\nA1,2024-01-05,Alfa,DV200\n{SECRET_ID},2024-13-01,Alfa,DV200\n\
         A2,2024-02-05,Alfa,\n{SECRET_ID},{SECRET_ID},Beta,DV200\n"
    );
    let run = pv_far(&["--listed", &far("listed.csv")])
        .stdin(input.clone())
        .run();
    run.expect_code(1);
    assert_stderr_has(&run, &["line 3", "column \"date\"", "2024-13-01"]);
    assert_no_patient_id(&run.stderr, SECRET_ID);

    let dir = TempDir::new("far-rejects");
    let rejects = dir.path("rejects.csv");
    let skipped = pv_far(&[
        "--listed",
        &far("listed.csv"),
        "--skip-invalid",
        "--rejects",
    ])
    .arg(rejects.to_string_lossy())
    .stdin(input)
    .run();
    let table = parse_csv(skipped.ok());
    assert_eq!(
        table.indicator_row("far_per_1000", "unit", "Alfa", "")[5],
        "1"
    );
    assert_stderr_has(&skipped, &["skipped 2 invalid rows", "1 without a code"]);
    assert_no_patient_id(&skipped.stderr, SECRET_ID);
    let written = std::fs::read_to_string(rejects).unwrap();
    assert_eq!(written.lines().count(), 3, "{written}");
}

#[test]
fn an_empty_unit_is_an_error_whatever_the_code() {
    let run = pv_far(&["--listed", &far("listed.csv")])
        .stdin("patient_id,date,unit,code\nA1,2024-01-05,,DV112\n")
        .run();
    run.expect_code(1);
    assert_stderr_has(&run, &["line 2", "column \"unit\"", "empty"]);
}

#[test]
fn distinct_patients_need_a_patient_column() {
    let run = pv_far(&["--listed", &far("listed.csv"), "--distinct-patients"])
        .stdin("date,unit,code\n2024-01-05,Alfa,DV200\n")
        .run();
    run.expect_code(2);
    assert_stderr_has(&run, &["patient_id"]);
    // Registrations need no patient column.
    let run = pv_far(&["--listed", &far("listed.csv")])
        .stdin("date,unit,code\n2024-01-05,Alfa,DV200\n")
        .run();
    let table = parse_csv(run.ok());
    assert_eq!(
        table.indicator_row("far_per_1000", "unit", "Alfa", "")[5],
        "1"
    );
}

#[test]
fn quiet_means_no_stderr() {
    let run = run_fixture(&["-q"]);
    run.ok();
    assert_eq!(run.stderr, "");
}

// ---------------------------------------------------------------------------
// Seed 002: Region Örebro län, Hälsoval 2024

fn orebro_run(extra: &[&str]) -> Table {
    let run = pv_far(&[
        "--listed",
        &orebro("listed.csv"),
        "--units",
        &orebro("units.csv"),
    ])
    .args(&YEAR)
    .args(extra)
    .arg(orebro("activities.csv"))
    .run();
    parse_csv(run.ok())
}

fn set(units: &[&str]) -> BTreeSet<String> {
    units.iter().map(|u| u.to_string()).collect()
}

/// The fixture is what `testdata/far/README.md` says: per unit,
/// ceil(rate × listed / 1000) registrations, Backa's own counts.
#[test]
fn the_orebro_fixture_follows_the_seed_table() {
    let table = parse_csv(&std::fs::read_to_string(orebro("table.csv")).unwrap());
    let activities = parse_csv(&std::fs::read_to_string(orebro("activities.csv")).unwrap());
    let mut counted: BTreeMap<(String, String), u64> = BTreeMap::new();
    for row in &activities.rows {
        *counted.entry((row[2].clone(), row[3].clone())).or_default() += 1;
    }
    let mut listed_total = 0;
    for row in &table.rows {
        let listed: u64 = table.get(row, "listed").parse().unwrap();
        listed_total += listed;
        for (code, column) in [("DV200", "far_per_1000"), ("DV113", "dv113_per_1000")] {
            let printed = table.get(row, column);
            let want = match printed.strip_suffix('*') {
                Some(count) => count.parse().unwrap(),
                None => (printed.parse::<u64>().unwrap() * listed).div_ceil(1000),
            };
            let unit = table.get(row, "unit").to_string();
            let got = counted
                .get(&(unit.clone(), code.to_string()))
                .copied()
                .unwrap_or(0);
            assert_eq!(got, want, "{unit} {code}");
        }
    }
    assert_eq!(listed_total, 308_470, "the report's December total");
}

#[test]
fn orebro_2024_eleven_units_reach_the_far_target() {
    let table = orebro_run(&["--payment-per-listed", "11.70"]);
    assert_eq!(
        units_with_status(&table, "far_per_1000", "met"),
        set(&[
            "Adolfsberg",
            "Askersund",
            "Brickebacken",
            "Capio vårdcentral Lekeberg",
            "Lillån",
            "Lindesberg",
            "Nora",
            "Skebäck",
            "Varberga",
            "Vivalla/Lundby vårdcentral",
            "Ängen",
        ])
    );
    assert_eq!(
        units_with_status(&table, "far_per_1000", "half"),
        set(&[
            "Baggängen",
            "Capio vårdcentral Hallsberg",
            "Kopparberg",
            "Kumla",
            "Mikaeli"
        ])
    );
    let backa = table.indicator_row(
        "far_per_1000",
        "unit",
        "Praktikertjänst Backa vårdcentral",
        "",
    );
    assert_eq!(
        (&backa[5][..], &backa[7][..], &backa[9][..]),
        ("11", "4.5568", "not_met")
    );
    // 11.70 kr per listed: 11.70 × 13 155; half: 5.85 × 22 262; nothing below.
    let paid = |unit: &str| table.indicator_row("far_payment", "unit", unit, "")[5].clone();
    assert_eq!(paid("Lindesberg"), "153913.50");
    assert_eq!(paid("Kumla"), "130232.70");
    assert_eq!(paid("Praktikertjänst Backa vårdcentral"), "0");
    // 11.70 × 124 096 + 5.85 × 60 157 (testdata/far/README.md).
    assert_eq!(
        table.indicator_row("far_payment", "all", "ALL", "")[5],
        "1803841.65"
    );
    let all = table.indicator_row("far_per_1000", "all", "ALL", "");
    assert_eq!((&all[5][..], &all[6][..]), ("2030", "308470"));
    // Area sums: Söder = Askersund (full) + Hallsberg and Kumla (half).
    assert_eq!(
        table.indicator_row("far_payment", "area", "Söder", "")[5],
        format!("{:.2}", 11.70 * 9848.0 + 5.85 * (14765.0 + 22262.0))
    );
}

#[test]
fn orebro_2024_ten_units_reach_the_dv113_target() {
    let table = orebro_run(&["--measure", "tobacco", "--payment-per-listed", "10.70"]);
    assert_eq!(
        units_with_status(&table, "tobacco_qualified_per_1000", "met"),
        set(&[
            "Baggängen",
            "Capio vårdcentral Lekeberg",
            "Kopparberg",
            "Laxå",
            "Lillån",
            "Mikaeli",
            "Odensbacken",
            "Skebäck",
            "Varberga",
            "Vivalla/Lundby vårdcentral",
        ])
    );
    assert!(units_with_status(&table, "tobacco_qualified_per_1000", "half").is_empty());
    let paid =
        |unit: &str| table.indicator_row("tobacco_qualified_payment", "unit", unit, "")[5].clone();
    // Kopparberg: 13 registrations / 4161 = 3.12 per 1000; 10.70 × 4161.
    assert_eq!(paid("Kopparberg"), "44522.70");
    assert_eq!(paid("Kumla"), "0");
    assert_eq!(
        table.indicator_row("tobacco_qualified_payment", "all", "ALL", "")[5],
        "963845.30"
    );
}

#[test]
fn the_output_does_not_depend_on_threads_or_chunks() {
    for extra in [vec![], vec!["--distinct-patients", "--by", "month"]] {
        let mut outputs = Vec::new();
        for threads in ["1", "2"] {
            let run = pv_far(&["--listed", &orebro("listed.csv"), "--threads", threads])
                .args(&extra)
                .arg(orebro("activities.csv"))
                .env("PVKIT_BLOCK_SIZE", "2048")
                .run();
            outputs.push(run.ok().to_string());
        }
        let whole = pv_far(&["--listed", &orebro("listed.csv")])
            .args(&extra)
            .arg(orebro("activities.csv"))
            .run();
        assert!(outputs[0] == outputs[1], "--threads 1 and 2 differ");
        assert!(outputs[0] == whole.ok(), "small chunks change the output");
    }
}
