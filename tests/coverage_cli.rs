//! pv-coverage on the hand-computed fixtures of `testdata/coverage/` (the
//! arithmetic is in its README.md), on the Jämtland 2022 health-dialogue
//! totals, and on bad input.

mod common;

use common::{
    SECRET_ID, Table, TempDir, assert_no_patient_id, parse_csv, parse_delimited, pv_coverage,
    testdata_in,
};

fn data(name: &str) -> String {
    testdata_in("coverage", name)
}

/// Runs pv-coverage with CSV output; panics unless it succeeds.
fn run_csv(args: &[&str]) -> (Table, String) {
    let run = pv_coverage(args).args(&["-f", "csv"]).run();
    (parse_csv(run.ok()), run.stderr)
}

/// numerator, denominator, value, status of one row.
fn cells(table: &Table, indicator: &str, level: &str, unit: &str, group: &str) -> [String; 4] {
    let row = table.indicator_row(indicator, level, unit, group);
    ["numerator", "denominator", "value", "status"].map(|c| table.get(&row, c).to_string())
}

#[track_caller]
fn expect(table: &Table, key: (&str, &str, &str, &str), want: [&str; 4]) {
    let (indicator, level, unit, group) = key;
    assert_eq!(
        cells(table, indicator, level, unit, group),
        want.map(str::to_string),
        "{indicator} {level} {unit} {group:?}"
    );
}

fn unit(
    indicator: &'static str,
    unit: &'static str,
) -> (&'static str, &'static str, &'static str, &'static str) {
    (indicator, "unit", unit, "")
}

fn area(
    indicator: &'static str,
    area: &'static str,
) -> (&'static str, &'static str, &'static str, &'static str) {
    (indicator, "area", area, "")
}

fn all(indicator: &'static str) -> (&'static str, &'static str, &'static str, &'static str) {
    (indicator, "all", "ALL", "")
}

// ---------------------------------------------------------------- care

#[test]
fn care_counts_visits_at_the_listing_unit_over_all_outpatient_visits() {
    let (table, stderr) = run_csv(&[
        "care",
        "--listing",
        &data("listing.csv"),
        "--units",
        &data("units.csv"),
        &data("visits.csv"),
    ]);
    let c = "coverage";
    // P01 (Alfa) at Alfa, Beta and Ortopeden; P02 at Alfa twice; P03 at Ortopeden.
    expect(&table, unit(c, "VC Alfa"), ["3", "6", "50", "not_met"]);
    expect(&table, unit(c, "VC Beta"), ["1", "3", "33.3333", "not_met"]);
    // Gamma's patients only went elsewhere: 0 %, not missing.
    expect(&table, unit(c, "VC Gamma"), ["0", "2", "0", "not_met"]);
    // Delta's patients made no visits: a row, with no value.
    expect(&table, unit(c, "VC Delta"), ["0", "0", "", ""]);
    expect(&table, area(c, "Söder"), ["4", "9", "44.4444", "not_met"]);
    expect(&table, area(c, "Norr"), ["0", "2", "0", "not_met"]);
    expect(&table, all(c), ["4", "11", "36.3636", "not_met"]);
    assert_eq!(table.rows.len(), 7);
    assert!(
        table
            .rows
            .iter()
            .all(|r| table.get(r, "period") == "2024-01-01/2024-12-31"),
        "the default period is the span of the visits"
    );
    assert!(
        stderr
            .contains("visits: read 15 rows = 11 used + 4 excluded by rule + 0 skipped as invalid"),
        "{stderr}"
    );
    assert!(stderr.contains("2 contact type not counted"), "{stderr}");
    assert!(stderr.contains("1 profession not counted"), "{stderr}");
    assert!(stderr.contains("1 patient not in the listing"), "{stderr}");
}

#[test]
fn care_scope_primary_care_takes_care_levels_from_visits_or_units() {
    let listing = data("listing.csv");
    let c = "coverage";
    // Care levels from the visits: Privatläkaren has none, so it is not primary care.
    let (table, stderr) = run_csv(&[
        "care",
        "--listing",
        &listing,
        "--scope",
        "primary-care",
        &data("visits.csv"),
    ]);
    expect(&table, unit(c, "VC Alfa"), ["4", "6", "66.6667", "met"]);
    expect(&table, unit(c, "VC Beta"), ["2", "3", "66.6667", "met"]);
    expect(&table, unit(c, "VC Gamma"), ["1", "2", "50", "not_met"]);
    expect(&table, all(c), ["7", "11", "63.6364", "met"]);
    assert!(
        stderr.contains("1 visits at units of unknown care level"),
        "{stderr}"
    );
    // --units fills the empty care level: Privatläkaren is primary care.
    for visits in ["visits.csv", "visits-no-level.csv"] {
        let (table, stderr) = run_csv(&[
            "care",
            "--listing",
            &listing,
            "--scope",
            "primary-care",
            "--units",
            &data("units.csv"),
            &data(visits),
        ]);
        expect(&table, unit(c, "VC Beta"), ["3", "3", "100", "met"]);
        expect(&table, area(c, "Söder"), ["7", "9", "77.7778", "met"]);
        expect(&table, all(c), ["8", "11", "72.7273", "met"]);
        assert!(!stderr.contains("unknown care level"), "{stderr}");
    }
    // Neither: a usage error that says what is missing.
    let run = pv_coverage(&[
        "care",
        "--listing",
        &listing,
        "--scope",
        "primary-care",
        &data("visits-no-level.csv"),
    ])
    .run();
    run.expect_code(2);
    assert!(
        run.stderr.contains("care_level") && run.stderr.contains("--units"),
        "{}",
        run.stderr
    );
}

#[test]
fn care_period_boundaries_are_inclusive() {
    let (table, stderr) = run_csv(&[
        "care",
        "--listing",
        &data("listing.csv"),
        "--from",
        "2024-03-05",
        "--to",
        "2024-12-30",
        &data("visits.csv"),
    ]);
    let c = "coverage";
    // 2024-03-05 (P01 at Ortopeden) is in, 2024-12-31 (P02 at Alfa) is out.
    expect(&table, unit(c, "VC Alfa"), ["1", "3", "33.3333", "not_met"]);
    expect(&table, unit(c, "VC Beta"), ["1", "3", "33.3333", "not_met"]);
    expect(&table, all(c), ["2", "8", "25", "not_met"]);
    assert_eq!(table.get(&table.rows[0], "period"), "2024-03-05/2024-12-30");
    // P01's visits of 01-01 and 02-10 and P02's of 12-31 are outside.
    assert!(stderr.contains("3 outside the period"), "{stderr}");
}

#[test]
fn care_professions_and_contact_types_can_be_changed() {
    let listing = data("listing.csv");
    let visits = data("visits.csv");
    // Every profession: P02's psychologist visit at Alfa counts.
    let (table, _) = run_csv(&[
        "care",
        "--listing",
        &listing,
        "--professions",
        "all",
        &visits,
    ]);
    expect(
        &table,
        unit("coverage", "VC Alfa"),
        ["4", "7", "57.1429", "not_met"],
    );
    // Doctors only, phone contacts too: P01's phone call at Alfa counts.
    let (table, _) = run_csv(&[
        "care",
        "--listing",
        &listing,
        "--professions",
        "läkare",
        "--contact-types",
        "besök,telefon",
        &visits,
    ]);
    // Alfa: rows 1, 3, 4, 16 → at Alfa 1, 4, 16.
    expect(&table, unit("coverage", "VC Alfa"), ["3", "4", "75", "met"]);
    // Without a profession column only 'all' works.
    let no_profession = "patient_id,date,unit\nP01,2024-01-01,VC Alfa\n";
    let run = pv_coverage(&["care", "--listing", &listing])
        .stdin(no_profession)
        .run();
    run.expect_code(2);
    assert!(run.stderr.contains("profession column"), "{}", run.stderr);
    let run = pv_coverage(&[
        "care",
        "--listing",
        &listing,
        "--professions",
        "all",
        "-f",
        "csv",
    ])
    .stdin(no_profession)
    .run();
    let table = parse_csv(run.ok());
    expect(
        &table,
        unit("coverage", "VC Alfa"),
        ["1", "1", "100", "met"],
    );
}

// ---------------------------------------------------------------- reach

#[test]
fn reach_counts_listed_patients_with_a_visit_at_their_unit() {
    let (table, stderr) = run_csv(&[
        "reach",
        "--listing",
        &data("listing.csv"),
        "--units",
        &data("units.csv"),
        &data("visits.csv"),
    ]);
    let v = "visited_share";
    // P01 and P02 visited Alfa (P02's psychologist visit counts too), P03 did not.
    expect(&table, unit(v, "VC Alfa"), ["2", "3", "66.6667", ""]);
    expect(&table, unit(v, "VC Beta"), ["1", "2", "50", ""]);
    // Nobody visited Gamma or Delta: 0 %, not missing.
    expect(&table, unit(v, "VC Gamma"), ["0", "2", "0", ""]);
    expect(&table, unit(v, "VC Delta"), ["0", "2", "0", ""]);
    expect(&table, area(v, "Söder"), ["3", "5", "60", ""]);
    expect(&table, area(v, "Norr"), ["0", "4", "0", ""]);
    expect(&table, all(v), ["3", "9", "33.3333", ""]);
    assert!(
        stderr.contains("3 of 9 listed patients visited"),
        "{stderr}"
    );
}

#[test]
fn reach_follows_the_period() {
    let listing = data("listing.csv");
    let visits = data("visits.csv");
    let v = "visited_share";
    let cases: [(&[&str], &str, [&str; 2]); 3] = [
        // P01's only Alfa visit (01-01) falls out; P02 (04-01) and P04 (06-01) stay.
        (
            &["--from", "2024-02-01", "--to", "2024-12-30"],
            "2024-02-01/2024-12-30",
            ["1", "1"],
        ),
        // Three months ending 2024-06-30 start on 04-01, P02's visit.
        (
            &["--as-of", "2024-06-30", "--months", "3"],
            "2024-04-01/2024-06-30",
            ["1", "1"],
        ),
        // Six months up to the latest visit: P02 came back on 12-31, P04 did not.
        (&["--months", "6"], "2024-07-01/2024-12-31", ["1", "0"]),
    ];
    for (period, label, [alfa, beta]) in cases {
        let mut args = vec!["reach", "--listing", &listing];
        args.extend_from_slice(period);
        args.push(&visits);
        let (table, _) = run_csv(&args);
        assert_eq!(
            cells(&table, v, "unit", "VC Alfa", "")[0],
            alfa,
            "{period:?}"
        );
        assert_eq!(
            cells(&table, v, "unit", "VC Beta", "")[0],
            beta,
            "{period:?}"
        );
        assert_eq!(table.get(&table.rows[0], "period"), label);
    }
}

#[test]
fn reach_with_a_fixed_period_and_no_visits_is_zero_everywhere() {
    let run = pv_coverage(&[
        "reach",
        "--listing",
        &data("listing.csv"),
        "--from",
        "2024-01-01",
        "--to",
        "2024-12-31",
        "-f",
        "csv",
    ])
    .stdin("patient_id,date,unit\n")
    .run();
    let table = parse_csv(run.ok());
    expect(&table, all("visited_share"), ["0", "9", "0", ""]);
    // Without a period and without visits there is nothing to report.
    let run = pv_coverage(&["care", "--listing", &data("listing.csv"), "-f", "csv"])
        .stdin("patient_id,date,unit,profession\n")
        .run();
    assert_eq!(parse_csv(run.ok()).rows.len(), 0);
    assert!(
        run.stderr.contains("no visits, so no period"),
        "{}",
        run.stderr
    );
}

#[test]
fn one_visit_row() {
    let run = pv_coverage(&["care", "--listing", &data("listing.csv"), "-f", "csv"])
        .stdin("patient_id,date,unit,profession\nP05,2024-02-29,VC Beta,ssk\n")
        .run();
    let table = parse_csv(run.ok());
    expect(
        &table,
        unit("coverage", "VC Beta"),
        ["1", "1", "100", "met"],
    );
    expect(&table, unit("coverage", "VC Alfa"), ["0", "0", "", ""]);
    assert_eq!(table.get(&table.rows[0], "period"), "2024-02-29/2024-02-29");
}

// ---------------------------------------------------------------- named doctor

#[test]
fn named_doctor_reads_names_hsa_ids_and_yes_no_words() {
    let (table, stderr) = run_csv(&[
        "named-doctor",
        "--units",
        &data("units.csv"),
        "--as-of",
        "2024-12-31",
        &data("listing.csv"),
    ]);
    let n = "named_doctor_share";
    // Alfa: an HSA-id, empty, Ja. Beta: nej, a name. Gamma: 0, empty. Delta: true, an HSA-id.
    expect(&table, unit(n, "VC Alfa"), ["2", "3", "66.6667", "met"]);
    expect(&table, unit(n, "VC Beta"), ["1", "2", "50", "not_met"]);
    expect(&table, unit(n, "VC Gamma"), ["0", "2", "0", "not_met"]);
    expect(&table, unit(n, "VC Delta"), ["2", "2", "100", "met"]);
    expect(&table, area(n, "Söder"), ["3", "5", "60", "met"]);
    expect(&table, area(n, "Norr"), ["2", "4", "50", "not_met"]);
    expect(&table, all(n), ["5", "9", "55.5556", "met"]);
    assert_eq!(table.get(&table.rows[0], "period"), "2024-12-31");
    assert!(stderr.contains("5 with a named doctor"), "{stderr}");
}

#[test]
fn named_doctor_by_active_choice() {
    let (table, _) = run_csv(&[
        "named-doctor",
        "--by",
        "active-choice",
        &data("listing.csv"),
    ]);
    let n = "named_doctor_share";
    let key = |level, unit, group| (n, level, unit, group);
    expect(
        &table,
        key("unit", "VC Alfa", "true"),
        ["1", "1", "100", "met"],
    );
    expect(
        &table,
        key("unit", "VC Alfa", "false"),
        ["1", "2", "50", "not_met"],
    );
    expect(
        &table,
        key("unit", "VC Beta", "true"),
        ["1", "2", "50", "not_met"],
    );
    expect(&table, key("unit", "VC Beta", "false"), ["0", "0", "", ""]);
    expect(&table, key("all", "ALL", "true"), ["3", "4", "75", "met"]);
    expect(
        &table,
        key("all", "ALL", "false"),
        ["2", "5", "40", "not_met"],
    );
    assert_eq!(table.rows.len(), 10);
    assert_eq!(table.get(&table.rows[0], "period"), "");
}

#[test]
fn named_doctor_needs_its_columns_and_yes_no_choices() {
    let run = pv_coverage(&["named-doctor", &data("activities.csv")]).run();
    run.expect_code(1);
    assert!(
        run.stderr
            .contains("missing listing column \"named_doctor\""),
        "{}",
        run.stderr
    );
    let run = pv_coverage(&["named-doctor", "--by", "active-choice"])
        .stdin(format!(
            "pnr;enhet;fast läkare;aktivt val\n{SECRET_ID};VC A;Ja;kanske\n"
        ))
        .run();
    run.expect_code(1);
    assert!(
        run.stderr.contains("line 2") && run.stderr.contains("aktivt val"),
        "{}",
        run.stderr
    );
    assert_no_patient_id(&run.stderr, SECRET_ID);
}

#[test]
fn a_patient_listed_twice_is_an_error_naming_both_lines() {
    let run = pv_coverage(&["named-doctor"])
        .stdin(format!(
            "patient_id,unit,named_doctor\n{SECRET_ID},VC A,\nP2,VC A,\n{SECRET_ID},VC B,Ja\n"
        ))
        .run();
    run.expect_code(1);
    assert!(
        run.stderr.contains("line 4") && run.stderr.contains("line 2"),
        "{}",
        run.stderr
    );
    assert_no_patient_id(&run.stderr, SECRET_ID);
}

// ---------------------------------------------------------------- doctors

#[test]
fn doctors_read_decimal_commas_and_warn_about_units_without_doctors() {
    let run = pv_coverage(&[
        "doctors",
        "-q",
        "-f",
        "csv",
        "--units",
        &data("units.csv"),
        "--staffing",
        &data("staffing-sv.csv"),
        &data("listing.csv"),
    ])
    .run();
    let table = parse_csv(run.ok());
    let d = "listed_per_doctor";
    // 3 listed / 2,5 FTE.
    expect(&table, unit(d, "VC Alfa"), ["3", "2.5000", "1.2000", "met"]);
    // FTE 0, empty FTE, no staffing row: no value.
    expect(&table, unit(d, "VC Beta"), ["2", "0", "", ""]);
    expect(&table, unit(d, "VC Gamma"), ["2", "0", "", ""]);
    expect(&table, unit(d, "VC Delta"), ["2", "0", "", ""]);
    // In the staffing file only: nobody listed.
    expect(&table, unit(d, "VC Epsilon"), ["0", "1", "0", "met"]);
    expect(&table, area(d, "Söder"), ["5", "2.5000", "2", "met"]);
    expect(&table, area(d, "Norr"), ["4", "0", "", ""]);
    expect(&table, all(d), ["9", "3.5000", "2.5714", "met"]);
    // The warning shows even with -q.
    for text in [
        "warning: no doctor FTE for 3 units",
        "VC Beta (doctor_fte 0)",
        "VC Gamma (empty doctor_fte)",
        "VC Delta (not in the staffing file)",
    ] {
        assert!(run.stderr.contains(text), "{}", run.stderr);
    }
}

#[test]
fn doctors_from_listed_counts_are_judged_against_1100_lower_is_better() {
    let (table, _) = run_csv(&[
        "doctors",
        "--units",
        &data("units.csv"),
        "--staffing",
        &data("staffing.csv"),
        "--listed",
        &data("listed.csv"),
    ]);
    let d = "listed_per_doctor";
    expect(&table, unit(d, "VC Alfa"), ["5500", "5", "1100", "met"]);
    expect(
        &table,
        unit(d, "VC Beta"),
        ["3300", "2.5000", "1320", "not_met"],
    );
    expect(
        &table,
        unit(d, "VC Gamma"),
        ["2200", "2.7500", "800", "met"],
    );
    expect(
        &table,
        unit(d, "VC Delta"),
        ["1100", "0.7500", "1466.6667", "not_met"],
    );
    expect(
        &table,
        area(d, "Söder"),
        ["8800", "7.5000", "1173.3333", "not_met"],
    );
    expect(
        &table,
        area(d, "Norr"),
        ["3300", "3.5000", "942.8571", "met"],
    );
    expect(&table, all(d), ["12100", "11", "1100", "met"]);
    let (table, _) = run_csv(&[
        "doctors",
        "--target",
        "1000",
        "--staffing",
        &data("staffing.csv"),
        "--listed",
        &data("listed.csv"),
    ]);
    expect(
        &table,
        unit(d, "VC Gamma"),
        ["2200", "2.7500", "800", "met"],
    );
    expect(&table, unit(d, "VC Alfa"), ["5500", "5", "1100", "not_met"]);
}

#[test]
fn doctors_refuse_a_bad_fte_and_a_repeated_unit() {
    let listing = data("listing.csv");
    let dir = TempDir::new("staffing");
    let bad = dir.write("bad.csv", "unit;doctor_fte\nVC Alfa;två\n");
    let run = pv_coverage(&["doctors", "--staffing", &bad, &listing]).run();
    run.expect_code(1);
    assert!(
        run.stderr.contains("line 2")
            && run.stderr.contains("doctor_fte")
            && run.stderr.contains("två"),
        "{}",
        run.stderr
    );
    let twice = dir.write(
        "twice.csv",
        "unit,doctor_fte\nVC Alfa,1\nVC Beta,1\nVC Alfa,2\n",
    );
    let run = pv_coverage(&["doctors", "--staffing", &twice, &listing]).run();
    run.expect_code(1);
    assert!(
        run.stderr.contains("line 4") && run.stderr.contains("line 2"),
        "{}",
        run.stderr
    );
}

// ---------------------------------------------------------------- health dialogues

#[test]
fn health_dialogues_for_the_2024_cohort() {
    let (table, stderr) = run_csv(&[
        "health-dialogue",
        "--units",
        &data("units.csv"),
        "--listing",
        &data("listing.csv"),
        "--year",
        "2024",
        &data("activities.csv"),
    ]);
    let (o, d) = ("health_dialogue_offered", "health_dialogue_done");
    // Cohort: P01 (born 1984-12-31) and P03 at Alfa, P05 at Beta, P06 at Gamma, P08 at Delta.
    expect(&table, unit(o, "VC Alfa"), ["1", "2", "50", ""]);
    expect(&table, unit(d, "VC Alfa"), ["1", "2", "50", ""]);
    // A completed registration alone (Genomförd) is also an offer.
    expect(&table, unit(o, "VC Beta"), ["1", "1", "100", ""]);
    expect(&table, unit(d, "VC Beta"), ["1", "1", "100", ""]);
    // Offered twice on 2024-12-31 (OFFERED, offered): once.
    expect(&table, unit(o, "VC Gamma"), ["1", "1", "100", ""]);
    expect(&table, unit(d, "VC Gamma"), ["0", "1", "0", ""]);
    expect(&table, unit(o, "VC Delta"), ["0", "1", "0", ""]);
    expect(&table, area(o, "Söder"), ["2", "3", "66.6667", ""]);
    expect(&table, area(d, "Norr"), ["0", "2", "0", ""]);
    expect(&table, all(o), ["3", "5", "60", ""]);
    expect(&table, all(d), ["2", "5", "40", ""]);
    assert_eq!(table.get(&table.rows[0], "period"), "2024-01-01/2024-12-31");
    for text in [
        "5 listed patients, 3 offered, 2 completed",
        "activities: read 11 rows = 5 used + 6 excluded by rule + 0 skipped as invalid",
        "2 dated in another year",
        "1 another code",
        "1 patient not in the listing",
        "1 patient without a birth date",
        "1 patient not in the cohort",
    ] {
        assert!(stderr.contains(text), "{text}: {stderr}");
    }
}

#[test]
fn health_dialogue_cohorts_turn_on_dec_31_and_jan_1() {
    let listing = data("listing.csv");
    let activities = data("activities.csv");
    let o = "health_dialogue_offered";
    // 2025: P02 (born 1985-01-01) turns 40 and is in; P01 (1984-12-31) turns 41 and is out.
    let (table, _) = run_csv(&[
        "health-dialogue",
        "--listing",
        &listing,
        "--year",
        "2025",
        &activities,
    ]);
    expect(&table, unit(o, "VC Alfa"), ["0", "1", "0", ""]);
    expect(&table, all(o), ["0", "1", "0", ""]);
    // --ages 41 in 2024: P04 (born 1983-12-31) alone.
    let (table, _) = run_csv(&[
        "health-dialogue",
        "--listing",
        &listing,
        "--year",
        "2024",
        "--ages",
        "41",
        &activities,
    ]);
    expect(&table, unit(o, "VC Beta"), ["0", "1", "0", ""]);
    expect(&table, all(o), ["0", "1", "0", ""]);
}

#[test]
fn health_dialogues_by_age_and_with_a_regions_own_codes() {
    let listing = data("listing.csv");
    let (table, _) = run_csv(&[
        "health-dialogue",
        "--listing",
        &listing,
        "--year",
        "2024",
        "--by",
        "age",
        &data("activities.csv"),
    ]);
    let o = "health_dialogue_offered";
    expect(&table, (o, "unit", "VC Alfa", "40"), ["1", "1", "100", ""]);
    expect(&table, (o, "unit", "VC Alfa", "60"), ["0", "1", "0", ""]);
    expect(&table, (o, "unit", "VC Alfa", "70"), ["0", "0", "", ""]);
    expect(&table, (o, "all", "ALL", "50"), ["1", "2", "50", ""]);
    // Four ages × four units × two indicators, and four all rows each.
    assert_eq!(table.rows.len(), 2 * (16 + 4));

    let kva =
        "pnr,datum,kvå\nP01,2024-02-02,DV 132\nP03,2024-02-02,dv-133\nP06,2024-02-02,offered\n";
    let run = pv_coverage(&[
        "health-dialogue",
        "--listing",
        &listing,
        "--year",
        "2024",
        "--offered-codes",
        "DV132",
        "--completed-codes",
        "DV133",
        "-f",
        "csv",
    ])
    .stdin(kva)
    .run();
    // Codes fold like headers: 'DV 132' is not 'DV132', 'dv-133' is 'DV 133'.
    let table = parse_csv(run.ok());
    expect(&table, all("health_dialogue_offered"), ["0", "5", "0", ""]);
    let run = pv_coverage(&[
        "health-dialogue",
        "--listing",
        &listing,
        "--year",
        "2024",
        "--offered-codes",
        "DV 132",
        "--completed-codes",
        "DV 133",
        "-f",
        "csv",
    ])
    .stdin(kva)
    .run();
    let table = parse_csv(run.ok());
    expect(&table, all("health_dialogue_offered"), ["2", "5", "40", ""]);
    expect(&table, all("health_dialogue_done"), ["1", "5", "20", ""]);

    let run = pv_coverage(&[
        "health-dialogue",
        "--listing",
        &listing,
        "--year",
        "2024",
        "--offered-codes",
        "x,Booked",
        "--completed-codes",
        "booked",
    ])
    .stdin("patient_id,date,code\n")
    .run();
    run.expect_code(2);
    assert!(run.stderr.contains("\"booked\""), "{}", run.stderr);
}

/// Jämtland 2022 (seed 001, 2.4.21): 6 096 listed patients turning 40, 50,
/// 60 or 70, 4 300 offered a dialogue, 1 091 completed. The fixture spreads
/// them over 28 hälsocentraler, five of which offered none ("alla utom fem
/// hälsocentraler har haft möjlighet att erbjuda detta"), with noise that
/// must not count: other ages, other years, other codes, repeats.
fn jamtland(dir: &TempDir) -> (String, String) {
    let mut listing = String::from("personnummer;hälsocentral;födelsedatum\n");
    let mut activities = String::from("personnummer;datum;hälsocentral;kvå\n");
    let ages = [40, 50, 60, 70];
    let mut offered = 0;
    let mut completed = 0;
    for i in 0..6096 {
        let unit = i % 28;
        let born = 2022 - ages[(i / 28) % 4];
        // Birthdays on the year's first and last days too.
        let birthday = match i % 3 {
            0 => format!("{born}-01-01"),
            1 => format!("{born}-12-31"),
            _ => format!("{born}-06-{:02}", 1 + i % 28),
        };
        listing.push_str(&format!("J{i:05};HC {unit:02};{birthday}\n"));
        if unit >= 23 || offered == 4300 {
            continue;
        }
        offered += 1;
        let id = format!("J{i:05}");
        if completed < 1091 {
            completed += 1;
            // Some completed dialogues have no offer registered.
            if completed % 10 != 0 {
                activities.push_str(&format!("{id};2022-03-01;HC {unit:02};offered\n"));
            }
            activities.push_str(&format!("{id};2022-04-01;HC {unit:02};completed\n"));
        } else {
            activities.push_str(&format!("{id};2022-12-31;HC {unit:02};offered\n"));
            if i % 7 == 0 {
                // Reminded: offered again.
                activities.push_str(&format!("{id};2022-11-15;HC {unit:02};offered\n"));
            }
        }
        if i % 5 == 0 {
            activities.push_str(&format!("{id};2021-12-31;HC {unit:02};completed\n"));
            activities.push_str(&format!("{id};2022-05-05;HC {unit:02};DV200\n"));
        }
    }
    assert_eq!((offered, completed), (4300, 1091));
    // Not in the cohort: 39, 41 and 45 years old in 2022.
    for (k, born) in [1983, 1981, 1977].into_iter().enumerate() {
        for j in 0..50 {
            let id = format!("N{k}{j:03}");
            listing.push_str(&format!("{id};HC {:02};{born}-12-31\n", j % 28));
            activities.push_str(&format!("{id};2022-06-01;HC {:02};offered\n", j % 28));
        }
    }
    (
        dir.write("listning.csv", listing),
        dir.write("aktiviteter.csv", activities),
    )
}

#[test]
fn jamtland_2022_gives_70_5_percent_offered_and_17_9_percent_completed() {
    let dir = TempDir::new("jamtland");
    let (listing, activities) = jamtland(&dir);
    let args = [
        "health-dialogue",
        "--listing",
        &listing,
        "--year",
        "2022",
        &activities,
    ];
    let (table, stderr) = run_csv(&args);
    expect(
        &table,
        all("health_dialogue_offered"),
        ["4300", "6096", "70.5381", ""],
    );
    expect(
        &table,
        all("health_dialogue_done"),
        ["1091", "6096", "17.8970", ""],
    );
    assert!(
        stderr.contains("6096 listed patients, 4300 offered, 1091 completed"),
        "{stderr}"
    );
    // Five units offered nothing.
    let silent = table
        .rows
        .iter()
        .filter(|r| {
            table.get(r, "indicator") == "health_dialogue_offered"
                && table.get(r, "level") == "unit"
                && table.get(r, "numerator") == "0"
        })
        .count();
    assert_eq!(silent, 5);
    // As a Swedish reader sees it.
    let run = pv_coverage(&args)
        .args(&["-f", "tsv", "--decimal-comma"])
        .run();
    let table = parse_delimited(run.ok(), b'\t');
    assert_eq!(
        cells(&table, "health_dialogue_offered", "all", "ALL", "")[2],
        "70,5381"
    );
    let run = pv_coverage(&args).args(&["-f", "table"]).run();
    let total_lines: Vec<&str> = run.ok().lines().filter(|l| l.contains("ALL")).collect();
    assert!(total_lines[0].contains("70.5"), "{total_lines:?}");
    assert!(total_lines[1].contains("17.9"), "{total_lines:?}");
}

// ---------------------------------------------------------------- input and output

#[test]
fn bad_visit_rows_name_line_and_column_and_can_be_skipped() {
    let dir = TempDir::new("bad-visits");
    let visits = format!(
        "patient_id,date,unit,profession\nP01,2024-01-01,VC Alfa,läkare\n{SECRET_ID},2024-13-01,VC Alfa,läkare\n{SECRET_ID},2024-01-02,,läkare\n"
    );
    let listing = data("listing.csv");
    let run = pv_coverage(&["care", "--listing", &listing])
        .stdin(visits.clone())
        .run();
    run.expect_code(1);
    assert!(
        run.stderr.contains("line 3")
            && run.stderr.contains("\"date\"")
            && run.stderr.contains("2024-13-01"),
        "{}",
        run.stderr
    );
    assert_no_patient_id(&run.stderr, SECRET_ID);
    let rejects = dir.path("rejects.csv");
    let rejects_arg = rejects.to_string_lossy().into_owned();
    let run = pv_coverage(&[
        "care",
        "--listing",
        &listing,
        "--skip-invalid",
        "--rejects",
        &rejects_arg,
        "-f",
        "csv",
    ])
    .stdin(visits)
    .run();
    let table = parse_csv(run.ok());
    expect(
        &table,
        unit("coverage", "VC Alfa"),
        ["1", "1", "100", "met"],
    );
    assert!(
        run.stderr.contains("skipped 2 invalid rows"),
        "{}",
        run.stderr
    );
    assert_no_patient_id(&run.stderr, SECRET_ID);
    let written = std::fs::read_to_string(rejects).unwrap();
    assert_eq!(written.lines().count(), 3, "{written}");
}

#[test]
fn a_bad_birth_date_is_a_listing_error() {
    let dir = TempDir::new("birth");
    let listing = dir.write(
        "listing.csv",
        format!("patient_id,unit,birth_date\nP1,VC A,1984-02-30\n{SECRET_ID},VC A,\n"),
    );
    let run = pv_coverage(&["health-dialogue", "--listing", &listing, "--year", "2024"])
        .stdin("patient_id,date,code\n")
        .run();
    run.expect_code(1);
    assert!(
        run.stderr.contains("line 2") && run.stderr.contains("birth_date"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_output_does_not_depend_on_threads_or_chunks() {
    for args in [
        vec![
            "care",
            "--listing",
            &data("listing.csv"),
            &data("visits.csv"),
        ],
        vec![
            "reach",
            "--listing",
            &data("listing.csv"),
            &data("visits.csv"),
        ],
        vec!["named-doctor", &data("listing.csv")],
        vec![
            "health-dialogue",
            "--listing",
            &data("listing.csv"),
            "--year",
            "2024",
            &data("activities.csv"),
        ],
    ] {
        let mut outputs = Vec::new();
        for (threads, block) in [("1", None), ("2", Some("64")), ("3", Some("16"))] {
            let mut cmd = pv_coverage(&args).args(&["-f", "csv", "--threads", threads]);
            if let Some(block) = block {
                cmd = cmd.env("PVKIT_BLOCK_SIZE", block);
            }
            outputs.push(cmd.run().ok().to_string());
        }
        assert!(
            outputs.windows(2).all(|w| w[0] == w[1]),
            "{args:?}: {outputs:?}"
        );
    }
}

#[test]
fn visits_from_stdin_with_swedish_headers_and_decimal_comma_output() {
    let visits = std::fs::read_to_string(data("visits.csv"))
        .unwrap()
        .replacen(
            "patient_id,date,unit,profession,contact_type,care_level",
            "Personnummer;Besöksdatum;Vårdenhet;Yrkeskategori;Kontakttyp;Vårdnivå",
            1,
        )
        .replace(',', ";");
    let run = pv_coverage(&[
        "care",
        "--listing",
        &data("listing.csv"),
        "--decimal-comma",
        "-f",
        "csv",
        "--no-total",
    ])
    .stdin(format!("\u{feff}{visits}"))
    .run();
    let table = parse_delimited(run.ok(), b';');
    expect(
        &table,
        unit("coverage", "VC Beta"),
        ["1", "3", "33,3333", "not_met"],
    );
    assert!(table.rows.iter().all(|r| table.get(r, "level") == "unit"));
}

#[test]
fn catalogue_flags_work_on_the_tool_and_each_subcommand() {
    let run = pv_coverage(&["--list-indicators"]).run();
    for id in [
        "coverage",
        "visited_share",
        "named_doctor_share",
        "listed_per_doctor",
        "health_dialogue_offered",
        "health_dialogue_done",
    ] {
        assert!(run.ok().contains(id), "{id}");
    }
    let run = pv_coverage(&["care", "--explain", "coverage"]).run();
    assert!(run.ok().contains("Täckningsgrad"));
    let run = pv_coverage(&["doctors", "--explain", "listed_per_doctor"]).run();
    assert!(run.ok().contains("lower is better"));
    let run = pv_coverage(&["care", "--explain", "coc"]).run();
    assert!(
        run.ok().contains("pv-coc"),
        "explains any catalogue indicator"
    );
    let run = pv_coverage(&["care", "--explain", "nope", "--listing", "x"]).run();
    run.expect_code(2);
    let run = pv_coverage(&["care", "--target", "coc=1", "--listing", "x"]).run();
    run.expect_code(2);
    assert!(
        run.stderr.contains("not an indicator of pv-coverage"),
        "{}",
        run.stderr
    );
    let run = pv_coverage::<&str>(&[]).run();
    run.expect_code(2);
    assert!(run.stderr.contains("care"), "{}", run.stderr);
}
