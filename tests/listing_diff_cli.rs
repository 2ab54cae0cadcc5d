//! pv-listing-diff end to end: the built binary on `testdata/listing/`
//! (expected output worked out by hand, see `testdata/listing/README.md`)
//! and on inline CSV.

mod common;

use std::path::Path;

use common::{SECRET_ID, Table, TempDir, assert_no_patient_id, parse_csv, parse_delimited};

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/listing")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

fn read_fixture(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn diff<S: AsRef<str>>(args: &[S]) -> common::Cmd {
    common::pv_listing_diff(args)
}

/// The counts of the row with this level, unit and group.
fn counts(table: &Table, level: &str, unit: &str, group: &str) -> [i64; 7] {
    let found: Vec<&Vec<String>> = table
        .rows
        .iter()
        .filter(|r| {
            table.get(r, "level") == level
                && table.get(r, "unit") == unit
                && (group.is_empty() || table.get(r, "group") == group)
        })
        .collect();
    assert_eq!(found.len(), 1, "rows for {level}/{unit}/{group}: {found:?}");
    [
        "listed_before",
        "listed_after",
        "net",
        "moved_in",
        "moved_out",
        "new_in_region",
        "left_region",
    ]
    .map(|c| table.get(found[0], c).parse().unwrap())
}

/// Every row: after = before + in + new − out − left, net = after − before.
#[track_caller]
fn assert_invariants(table: &Table) {
    for row in &table.rows {
        let n = |c: &str| table.get(row, c).parse::<i64>().unwrap();
        let (before, after) = (n("listed_before"), n("listed_after"));
        assert_eq!(
            after,
            before + n("moved_in") + n("new_in_region") - n("moved_out") - n("left_region"),
            "{row:?}"
        );
        assert_eq!(n("net"), after - before, "{row:?}");
    }
}

#[test]
fn units_areas_and_region_match_the_hand_computed_table() {
    let out = diff(&[
        "--units",
        &fixture("units.csv"),
        &fixture("old.csv"),
        &fixture("new.csv"),
    ])
    .run();
    assert_eq!(out.ok(), read_fixture("expected.csv"));
    let table = parse_csv(&out.stdout);
    assert_invariants(&table);
    // A new vårdcentral (only in NEW) and a closed one (merged into VC Norr).
    assert_eq!(
        counts(&table, "unit", "VC Backa", ""),
        [0, 4, 4, 3, 0, 1, 0]
    );
    assert_eq!(
        counts(&table, "unit", "VC Gamla", ""),
        [3, 0, -3, 0, 3, 0, 0]
    );
    assert_eq!(counts(&table, "area", "Söder", ""), [5, 8, 3, 4, 2, 2, 1]);
    let all = counts(&table, "all", "ALL", "");
    assert_eq!(all, [14, 15, 1, 7, 7, 3, 2]);
    // Over the region moves cancel and net = new − left.
    assert_eq!(all[3], all[4]);
    assert_eq!(all[2], all[5] - all[6]);
    assert_eq!(
        out.stderr.trim(),
        format!(
            "pv-listing-diff: OLD {}: 14 patients at 4 units; OLD: read 14 rows = 14 used + 0 \
             excluded by rule + 0 skipped as invalid; NEW {}: 15 patients at 4 units; NEW: read 15 \
             rows = 15 used + 0 excluded by rule + 0 skipped as invalid; 7 moved between units, 3 \
             new in the region, 2 left it, net +1",
            fixture("old.csv"),
            fixture("new.csv")
        )
    );
}

#[test]
fn without_units_there_are_no_area_rows_and_no_total_drops_the_region() {
    let out = diff(&["-q", &fixture("old.csv"), &fixture("new.csv")]).run();
    let table = parse_csv(out.ok());
    assert!(table.rows.iter().all(|r| table.get(r, "level") != "area"));
    assert_eq!(table.rows.len(), 6);
    let out = diff(&["-q", "--no-total", &fixture("old.csv"), &fixture("new.csv")]).run();
    let table = parse_csv(out.ok());
    assert_eq!(table.rows.len(), 5);
    assert!(table.rows.iter().all(|r| table.get(r, "level") == "unit"));
}

#[test]
fn flows_between_units_and_between_areas() {
    let out = diff(&["-q", "--flows", &fixture("old.csv"), &fixture("new.csv")]).run();
    assert_eq!(out.ok(), read_fixture("expected_flows.csv"));
    let units = fixture("units.csv");
    let out = diff(&[
        "-q",
        "--flows",
        "--level",
        "area",
        "--units",
        &units,
        &fixture("old.csv"),
        &fixture("new.csv"),
    ])
    .run();
    assert_eq!(out.ok(), read_fixture("expected_flows_area.csv"));
}

#[test]
fn swedish_exports_and_mixed_delimiters_give_the_same_report() {
    let units = fixture("units.csv");
    let english = diff(&[
        "-q",
        "--units",
        &units,
        &fixture("old.csv"),
        &fixture("new.csv"),
    ])
    .run();
    let swedish = diff(&[
        "-q",
        "--units",
        &units,
        &fixture("sv/gammal.csv"),
        &fixture("sv/ny.csv"),
    ])
    .run();
    let mixed = diff(&[
        "-q",
        "--units",
        &units,
        &fixture("old.csv"),
        &fixture("sv/ny.csv"),
    ])
    .run();
    assert_eq!(swedish.ok(), english.ok());
    assert_eq!(mixed.ok(), english.ok());
    // Swedish values (K/M, Ja/Nej) mean the same as the English ones.
    for by in ["sex", "active-choice"] {
        let en = diff(&["-q", "--by", by, &fixture("old.csv"), &fixture("new.csv")]).run();
        let sv = diff(&[
            "-q",
            "--by",
            by,
            &fixture("sv/gammal.csv"),
            &fixture("sv/ny.csv"),
        ])
        .run();
        assert_eq!(sv.ok(), en.ok(), "--by {by}");
    }
}

#[test]
fn age_bands_on_the_as_of_date_and_on_news_latest_listing_date() {
    let old = fixture("old.csv");
    let new = fixture("new.csv");
    let on_new_year = diff(&[
        "-q",
        "--by",
        "age-band",
        "--as-of",
        "2024-12-31",
        &old,
        &new,
    ])
    .run();
    let table = parse_csv(on_new_year.ok());
    assert_invariants(&table);
    assert_eq!(counts(&table, "all", "ALL", "0-5"), [0, 1, 1, 0, 0, 1, 0]);
    assert_eq!(counts(&table, "all", "ALL", "6-17"), [2, 2, 0, 0, 0, 0, 0]);
    assert_eq!(counts(&table, "all", "ALL", "18-64"), [6, 7, 1, 5, 5, 2, 1]);
    assert_eq!(counts(&table, "all", "ALL", "65-79"), [2, 2, 0, 1, 1, 0, 0]);
    assert_eq!(counts(&table, "all", "ALL", "80+"), [3, 2, -1, 1, 1, 0, 1]);
    assert_eq!(
        counts(&table, "all", "ALL", "unknown"),
        [1, 1, 0, 0, 0, 0, 0]
    );
    // P17 (born 2018-12-31, stayed at VC Söder) turns 6 on 2024-12-31.
    assert_eq!(
        counts(&table, "unit", "VC Söder", "6-17"),
        [2, 2, 0, 0, 0, 0, 0]
    );

    // Default: NEW's latest listed_since, 2024-12-30, a day before four birthdays.
    let by_default = diff(&["--by", "age-band", &old, &new]).run();
    let table = parse_csv(by_default.ok());
    assert_eq!(counts(&table, "all", "ALL", "0-5"), [1, 2, 1, 0, 0, 1, 0]);
    assert_eq!(counts(&table, "all", "ALL", "6-17"), [2, 2, 0, 1, 1, 0, 0]);
    assert_eq!(counts(&table, "all", "ALL", "18-64"), [6, 7, 1, 5, 5, 2, 1]);
    assert_eq!(counts(&table, "all", "ALL", "65-79"), [2, 2, 0, 1, 1, 0, 0]);
    assert_eq!(counts(&table, "all", "ALL", "80+"), [2, 1, -1, 0, 0, 0, 1]);
    assert!(
        by_default
            .stderr
            .contains("ages on 2024-12-30 (the latest listed_since in NEW)"),
        "{}",
        by_default.stderr
    );
    // Groups with nobody in them are left out: VC Backa has no 80+.
    assert!(
        !table
            .rows
            .iter()
            .any(|r| table.get(r, "unit") == "VC Backa" && table.get(r, "group") == "80+")
    );
}

#[test]
fn sex_and_active_choice_breakdowns() {
    let old = fixture("old.csv");
    let new = fixture("new.csv");
    let table = parse_csv(diff(&["-q", "--by", "sex", &old, &new]).run().ok());
    assert_invariants(&table);
    assert_eq!(
        counts(&table, "all", "ALL", "female"),
        [7, 7, 0, 2, 2, 1, 1]
    );
    assert_eq!(counts(&table, "all", "ALL", "male"), [7, 7, 0, 5, 5, 1, 1]);
    assert_eq!(
        counts(&table, "all", "ALL", "unknown"),
        [0, 1, 1, 0, 0, 1, 0]
    );
    let table = parse_csv(
        diff(&["-q", "--by", "active-choice", &old, &new])
            .run()
            .ok(),
    );
    assert_invariants(&table);
    assert_eq!(
        counts(&table, "all", "ALL", "active"),
        [8, 8, 0, 5, 5, 1, 1]
    );
    assert_eq!(
        counts(&table, "all", "ALL", "assigned"),
        [6, 7, 1, 2, 2, 2, 1]
    );
    // Flows broken down too: P08 and P09 (Söder → Backa) are female and male.
    let flows = parse_csv(
        diff(&["-q", "--flows", "--by", "sex", &old, &new])
            .run()
            .ok(),
    );
    assert_eq!(flows.header, ["from_unit", "to_unit", "group", "patients"]);
    let find = |from: &str, to: &str, group: &str| {
        flows
            .rows
            .iter()
            .find(|r| r[0] == from && r[1] == to && r[2] == group)
            .map(|r| r[3].clone())
    };
    assert_eq!(find("VC Söder", "VC Backa", "female").as_deref(), Some("1"));
    assert_eq!(find("VC Söder", "VC Backa", "male").as_deref(), Some("1"));
    assert_eq!(find("VC Gamla", "VC Norr", "male").as_deref(), Some("1"));
}

#[test]
fn a_breakdown_column_missing_from_a_snapshot_is_a_usage_error() {
    let dir = TempDir::new("by-missing");
    let old = dir.write("old.csv", "patient_id,unit\n191212121212,A\n");
    let out = diff(&["--by", "sex", &old, &fixture("new.csv")]).run();
    out.expect_code(2);
    assert!(
        out.stderr.contains("--by sex needs the column sex in ")
            && out.stderr.contains("kön")
            && out.stderr.contains("--col sex=HEADER"),
        "{}",
        out.stderr
    );
    let out = diff(&["--by", "age-band", &fixture("old.csv"), &old]).run();
    out.expect_code(2);
    assert!(out.stderr.contains("give --as-of DATE"), "{}", out.stderr);
}

#[test]
fn options_that_do_not_fit_together_are_usage_errors() {
    let (old, new) = (fixture("old.csv"), fixture("new.csv"));
    for args in [
        vec!["--as-of", "2024-12-31", &old, &new],
        vec!["--as-of", "2024-12-31", "--by", "sex", &old, &new],
        vec!["--flows", "--level", "area", &old, &new],
        vec!["--level", "area", &old, &new],
        vec!["--flows", "--no-total", &old, &new],
        vec!["-", "-"],
        vec!["--min-cell", "3", &old, &new],
        vec!["--dedupe", "middle", &old, &new],
        vec![&old],
    ] {
        let out = diff(&args).run();
        out.expect_code(2);
        assert!(out.stderr.contains("error"), "{args:?}: {}", out.stderr);
    }
}

#[test]
fn either_snapshot_can_come_from_stdin() {
    let expected = diff(&["-q", &fixture("old.csv"), &fixture("new.csv")]).run();
    let from_stdin_new = diff(&["-q", &fixture("old.csv"), "-"])
        .stdin(read_fixture("new.csv"))
        .run();
    let from_stdin_old = diff(&["-q", "-", &fixture("new.csv")])
        .stdin(read_fixture("old.csv"))
        .run();
    assert_eq!(from_stdin_new.ok(), expected.ok());
    assert_eq!(from_stdin_old.ok(), expected.ok());
}

#[test]
fn a_patient_twice_in_new_names_both_lines_and_never_the_id() {
    let out = diff(&[&fixture("old.csv"), &fixture("new_dup.csv")]).run();
    out.expect_code(1);
    assert!(
        out.stderr.contains(
            "new_dup.csv: line 17, column \"patient_id\": the same patient is listed twice in \
             this snapshot (other row: line 11)"
        ),
        "{}",
        out.stderr
    );
    assert_no_patient_id(&out.stderr, "200002299805");
    assert!(out.stdout.is_empty());
}

#[test]
fn a_patient_twice_in_old_names_both_lines() {
    let out = diff(&[&fixture("old_dup.csv"), &fixture("new.csv")]).run();
    out.expect_code(1);
    assert!(
        out.stderr
            .contains("old_dup.csv: line 16, column \"patient_id\": the same patient is listed twice in this snapshot (other row: line 14)"),
        "{}",
        out.stderr
    );
    assert_no_patient_id(&out.stderr, "201001019807");
}

#[test]
fn dedupe_keeps_the_first_or_the_last_row_and_says_how_many_it_dropped() {
    let units = fixture("units.csv");
    let (old, dup) = (fixture("old.csv"), fixture("new_dup.csv"));
    let first = diff(&["--dedupe", "first", "--units", &units, &old, &dup]).run();
    assert_eq!(first.ok(), read_fixture("expected.csv"));
    assert!(
        first
            .stderr
            .contains("NEW excluded by rule: 2 repeated patient rows dropped (kept the first)"),
        "{}",
        first.stderr
    );
    let last = diff(&["-q", "--dedupe", "last", "--units", &units, &old, &dup]).run();
    assert_eq!(last.ok(), read_fixture("expected_dedupe_last.csv"));
    // In OLD: keeping the last P07 row lists them at VC Fri, so they moved.
    let old_last = diff(&[
        "--dedupe",
        "last",
        &fixture("old_dup.csv"),
        &fixture("new.csv"),
    ])
    .run();
    let table = parse_csv(old_last.ok());
    assert_eq!(counts(&table, "unit", "VC Fri", ""), [3, 2, -1, 0, 2, 1, 0]);
    assert_eq!(
        counts(&table, "unit", "VC Söder", ""),
        [4, 4, 0, 2, 2, 1, 1]
    );
    assert!(
        old_last
            .stderr
            .contains("1 repeated patient rows dropped (kept the last)"),
        "{}",
        old_last.stderr
    );
}

#[test]
fn dedupe_is_the_same_on_every_thread_count_and_chunk_size() {
    let units = fixture("units.csv");
    let (old, dup) = (fixture("old.csv"), fixture("new_dup.csv"));
    for keep in ["first", "last"] {
        let want = diff(&[
            "-q",
            "--threads",
            "1",
            "--dedupe",
            keep,
            "--units",
            &units,
            &old,
            &dup,
        ])
        .run();
        for threads in ["2", "3"] {
            let got = diff(&[
                "-q",
                "--threads",
                threads,
                "--dedupe",
                keep,
                "--units",
                &units,
                &old,
                &dup,
            ])
            .env("PVKIT_BLOCK_SIZE", "64")
            .run();
            assert_eq!(got.ok(), want.ok(), "--dedupe {keep} --threads {threads}");
        }
    }
    // Without --dedupe the error names the same lines however the file is split.
    for threads in ["1", "2", "3"] {
        let out = diff(&["--threads", threads, &old, &dup])
            .env("PVKIT_BLOCK_SIZE", "64")
            .run();
        out.expect_code(1);
        assert!(
            out.stderr.contains("line 17") && out.stderr.contains("other row: line 11"),
            "--threads {threads}: {}",
            out.stderr
        );
    }
}

#[test]
fn skip_invalid_rejects_bad_rows_and_repeats_verbatim() {
    let dir = TempDir::new("skip");
    let mut new = read_fixture("new.csv");
    new.push_str(&format!("{SECRET_ID},,2024-01-01,1950-01-01,F,true\n"));
    new.push_str("200002299805,VC Söder,2024-11-01,2000-02-29,F,true\n");
    new.push_str("199909099999,VC Norr,2024-11-01,1999-13-01,F,true\n");
    let new = dir.write("new.csv", new);
    let rejects = dir.path("rejects.csv");
    let rejects_arg = rejects.to_string_lossy().into_owned();
    let out = diff(&[
        "--skip-invalid",
        "--rejects",
        &rejects_arg,
        "--by",
        "age-band",
        "--as-of",
        "2024-12-31",
        "--no-total",
        &fixture("old.csv"),
        &new,
    ])
    .env("PVKIT_BLOCK_SIZE", "64")
    .run();
    let with_skips = out.ok().to_string();
    let clean = diff(&[
        "-q",
        "--by",
        "age-band",
        "--as-of",
        "2024-12-31",
        "--no-total",
        &fixture("old.csv"),
        &fixture("new.csv"),
    ])
    .run();
    assert_eq!(with_skips, clean.ok());
    assert!(
        out.stderr.contains("skipped 3 invalid rows"),
        "{}",
        out.stderr
    );
    assert_no_patient_id(&out.stderr, SECRET_ID);
    let log = parse_csv(&std::fs::read_to_string(&rejects).unwrap());
    let lines: Vec<(&str, &str)> = log
        .rows
        .iter()
        .map(|r| (log.get(r, "line"), log.get(r, "column")))
        .collect();
    assert_eq!(
        lines,
        [("17", "unit"), ("18", "patient_id"), ("19", "birth_date")]
    );
    assert!(
        log.rows[1][3].contains("other row: line 11"),
        "{:?}",
        log.rows[1]
    );
    assert_eq!(
        log.rows[1][4],
        "200002299805,VC Söder,2024-11-01,2000-02-29,F,true"
    );
}

#[test]
fn bad_values_are_errors_with_file_line_and_column() {
    let dir = TempDir::new("bad");
    let new = dir.write(
        "new.csv",
        "patient_id,unit,birth_date,active_choice\n191212121212,A,1950-01-01,ja\n191212121213,A,19501301,nej\n",
    );
    let old = dir.write(
        "old.csv",
        "patient_id,unit,birth_date,active_choice\n191212121212,A,1950-01-01,kanske\n",
    );
    let out = diff(&[
        "--by",
        "age-band",
        "--as-of",
        "2024-12-31",
        &fixture("old.csv"),
        &new,
    ])
    .run();
    out.expect_code(1);
    assert!(
        out.stderr.contains(
            "new.csv: line 3, column \"birth_date\": cannot parse \"19501301\" as a date"
        ),
        "{}",
        out.stderr
    );
    let out = diff(&["--by", "active-choice", &old, &new]).run();
    out.expect_code(1);
    assert!(
        out.stderr.contains(
            "old.csv: line 2, column \"active_choice\": cannot parse \"kanske\" as a yes/no value"
        ),
        "{}",
        out.stderr
    );
    let empty_unit = dir.write(
        "empty-unit.csv",
        format!("patient_id,unit\n{SECRET_ID}, \n"),
    );
    let out = diff(&[&fixture("old.csv"), &empty_unit]).run();
    out.expect_code(1);
    assert!(
        out.stderr
            .contains("line 2, column \"unit\": empty value where one is required"),
        "{}",
        out.stderr
    );
    assert_no_patient_id(&out.stderr, SECRET_ID);
    let no_id = dir.write("no-id.csv", "person,enhet\n191212121212,A\n");
    let out = diff(&[&fixture("old.csv"), &no_id]).run();
    out.expect_code(1);
    assert!(
        out.stderr.contains("missing listing column \"patient_id\""),
        "{}",
        out.stderr
    );
    let out = diff(&["--col", "patient_id=person", &fixture("old.csv"), &no_id]).run();
    out.ok();
}

#[test]
fn empty_and_one_row_snapshots() {
    let dir = TempDir::new("edges");
    let header_only = dir.write("empty.csv", "patient_id,unit\n");
    let one = dir.write("one.csv", "patient_id,unit\n191212121212,A\n");
    let out = diff(&["-q", &header_only, &one]).run();
    assert_eq!(
        out.ok(),
        "level,unit,listed_before,listed_after,net,moved_in,moved_out,new_in_region,left_region\n\
         unit,A,0,1,1,0,0,1,0\nall,ALL,0,1,1,0,0,1,0\n"
    );
    let out = diff(&["-q", &one, &header_only]).run();
    assert_eq!(
        out.ok(),
        "level,unit,listed_before,listed_after,net,moved_in,moved_out,new_in_region,left_region\n\
         unit,A,1,0,-1,0,0,0,1\nall,ALL,1,0,-1,0,0,0,1\n"
    );
    let out = diff(&["-q", &header_only, &header_only]).run();
    assert_eq!(
        out.ok(),
        "level,unit,listed_before,listed_after,net,moved_in,moved_out,new_in_region,left_region\n\
         all,ALL,0,0,0,0,0,0,0\n"
    );
    let out = diff(&["-q", "--flows", &one, &one]).run();
    assert_eq!(out.ok(), "from_unit,to_unit,patients\n");
    let nothing = dir.write("nothing.csv", "");
    let out = diff(&[&one, &nothing]).run();
    out.expect_code(1);
    assert!(out.stderr.contains("the input is empty"), "{}", out.stderr);
}

#[test]
fn output_formats() {
    let (old, new, units) = (fixture("old.csv"), fixture("new.csv"), fixture("units.csv"));
    let csv = parse_csv(diff(&["-q", "--units", &units, &old, &new]).run().ok());
    let tsv = diff(&["-q", "-f", "tsv", "--units", &units, &old, &new]).run();
    assert_eq!(parse_delimited(tsv.ok(), b'\t'), csv);
    let semicolons = diff(&["-q", "--decimal-comma", "--units", &units, &old, &new]).run();
    assert_eq!(parse_delimited(semicolons.ok(), b';'), csv);
    let json = diff(&["-q", "-f", "json", "--units", &units, &old, &new]).run();
    let lines: Vec<serde_json::Value> = json
        .ok()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), csv.rows.len());
    assert_eq!(lines[0]["unit"], "VC Backa");
    assert_eq!(lines[2]["net"], serde_json::json!(-3));
}

#[test]
fn the_table_shows_areas_with_their_units_and_signed_changes() {
    let out = diff(&[
        "-q",
        "-f",
        "table",
        "--units",
        &fixture("units.csv"),
        &fixture("old.csv"),
        &fixture("new.csv"),
    ])
    .run();
    let cells: Vec<Vec<String>> = out
        .ok()
        .lines()
        .filter(|l| l.starts_with('│'))
        .map(|l| {
            l.trim_matches('│')
                .split('┆')
                .map(|c| c.trim_end().to_string())
                .collect()
        })
        .collect();
    let first_two: Vec<(String, String)> = cells
        .iter()
        .map(|c| {
            (
                c[0].trim_start_matches(' ').to_string(),
                c[3].trim().to_string(),
            )
        })
        .collect();
    assert_eq!(
        first_two[1..],
        [
            ("Norr", "-2"),
            ("VC Gamla", "-3"),
            ("VC Norr", "+1"),
            ("Söder", "+3"),
            ("VC Backa", "+4"),
            ("VC Söder", "-1"),
            ("VC Fri", "0"),
            ("ALL", "+1"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    // Units are indented under their area; an area-less unit is not.
    assert!(cells[2][0].starts_with("   VC Gamla"), "{:?}", cells[2]);
    assert!(cells[7][0].starts_with(" VC Fri"), "{:?}", cells[7]);
    assert_eq!(cells[0][0].trim(), "unit");
}

#[test]
fn output_does_not_depend_on_threads_or_chunks() {
    let (old, new, units) = (fixture("old.csv"), fixture("new.csv"), fixture("units.csv"));
    for by in ["sex", "age-band", "active-choice"] {
        let want = diff(&[
            "-q",
            "--threads",
            "1",
            "--by",
            by,
            "--units",
            &units,
            &old,
            &new,
        ])
        .run();
        let got = diff(&[
            "-q",
            "--threads",
            "3",
            "--by",
            by,
            "--units",
            &units,
            &old,
            &new,
        ])
        .env("PVKIT_BLOCK_SIZE", "64")
        .run();
        assert_eq!(got.ok(), want.ok(), "--by {by}");
    }
}

#[test]
fn a_repeat_before_a_bad_row_is_the_error_reported() {
    let dir = TempDir::new("order");
    let mut new = read_fixture("new.csv");
    new.push_str("200002299805,VC Söder,2024-11-01,2000-02-29,F,true\n");
    new.push_str("199909099999,VC Norr,2024-11-01,1999-13-01,F,true\n");
    let new = dir.write("new.csv", new);
    for threads in ["1", "2"] {
        let out = diff(&[
            "--threads",
            threads,
            "--by",
            "age-band",
            "--as-of",
            "2024-12-31",
            &fixture("old.csv"),
            &new,
        ])
        .run();
        out.expect_code(1);
        assert!(
            out.stderr.contains("line 17, column \"patient_id\"")
                && out.stderr.contains("other row: line 11"),
            "--threads {threads}: {}",
            out.stderr
        );
    }
}

#[test]
fn windows_1252_exports_are_read_with_encoding() {
    let dir = TempDir::new("cp1252");
    let encode = |name: &str| {
        let text = read_fixture(name);
        let text = text.trim_start_matches('\u{feff}');
        let (bytes, _, unmappable) = encoding_rs::WINDOWS_1252.encode(text);
        assert!(!unmappable);
        bytes.into_owned()
    };
    let old = dir.write("gammal-1252.csv", encode("sv/gammal.csv"));
    let new = dir.write("ny-1252.csv", encode("sv/ny.csv"));
    let units = fixture("units.csv");
    let out = diff(&["-q", "--encoding", "windows-1252", &old, &new]).run();
    let want = diff(&["-q", &fixture("old.csv"), &fixture("new.csv")]).run();
    assert_eq!(out.ok(), want.ok());
    // Without --encoding the Windows-1252 bytes are not UTF-8: a clear error.
    let out = diff(&["--units", &units, &old, &new]).run();
    out.expect_code(1);
    assert!(out.stderr.contains("windows-1252"), "{}", out.stderr);
}
