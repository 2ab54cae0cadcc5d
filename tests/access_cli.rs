//! pv-access end to end: the built binary on `testdata/access/` (expected
//! numbers worked out by hand, see `testdata/access/README.md`) and on
//! inline CSV.

mod common;

use common::{
    Run, SECRET_ID, Table, TempDir, access_data, assert_no_patient_id, parse_csv, pv_access,
};

const HEADER: &str = "indicator,level,unit,period,group,numerator,denominator,value,target,status";

/// Lines of a file under `testdata/access/`.
fn expected_lines(name: &str) -> Vec<String> {
    std::fs::read_to_string(access_data(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .lines()
        .map(str::to_string)
        .collect()
}

fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::to_string).collect()
}

/// Runs `pv-access ARGS` (exit 0 expected) and parses its CSV.
#[track_caller]
fn table(args: &[&str]) -> Table {
    parse_csv(pv_access(args).run().ok())
}

/// Runs `pv-access SUBCOMMAND ARGS` on `stdin` (exit 0) and parses its CSV.
#[track_caller]
fn table_of(subcommand: &str, args: &[&str], stdin: &str) -> Table {
    parse_csv(pv_access(&[subcommand]).args(args).stdin(stdin).run().ok())
}

/// numerator, denominator, value, target and status of the one row with
/// these keys.
#[track_caller]
fn cells(
    t: &Table,
    indicator: &str,
    level: &str,
    unit: &str,
    period: &str,
    group: &str,
) -> [String; 5] {
    let found: Vec<&Vec<String>> = t
        .rows
        .iter()
        .filter(|r| {
            t.get(r, "indicator") == indicator
                && t.get(r, "level") == level
                && t.get(r, "unit") == unit
                && t.get(r, "period") == period
                && t.get(r, "group") == group
        })
        .collect();
    assert_eq!(
        found.len(),
        1,
        "rows for {indicator}/{level}/{unit}/{period}/{group} in {t:?}"
    );
    ["numerator", "denominator", "value", "target", "status"]
        .map(|c| t.get(found[0], c).to_string())
}

/// `numerator/denominator` of one row.
#[track_caller]
fn ratio(t: &Table, indicator: &str, level: &str, unit: &str, period: &str, group: &str) -> String {
    let [numerator, denominator, ..] = cells(t, indicator, level, unit, period, group);
    format!("{numerator}/{denominator}")
}

/// Exit 1, every needle on stderr, no panic, no patient id.
#[track_caller]
fn assert_data_error(run: &Run, needles: &[&str]) {
    run.expect_code(1);
    for needle in needles {
        assert!(
            run.stderr.contains(needle),
            "stderr lacks {needle:?}:\n{}",
            run.stderr
        );
    }
    assert!(run.stderr.contains("pv-access: error: "), "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert_no_patient_id(&run.stderr, SECRET_ID);
}

/// Exit 2 with `needle` on stderr.
#[track_caller]
fn assert_usage_error(run: &Run, needle: &str) {
    run.expect_code(2);
    assert!(
        run.stderr.contains(needle),
        "stderr lacks {needle:?}:\n{}",
        run.stderr
    );
}

// ---------------------------------------------------------------------------
// Phone: the hand-computed example

const SPAN: &str = "2024-01-02/2024-02-29";

#[test]
fn phone_matches_the_hand_computed_example() {
    let run = pv_access(&[
        "phone",
        "--units",
        &access_data("units.csv"),
        &access_data("calls.csv"),
    ])
    .run();
    assert_eq!(lines(run.ok()), expected_lines("expected_phone.csv"));
    for needle in [
        "period 2024-01-02/2024-02-29",
        "calls: read 25 rows = 22 used + 3 excluded by rule + 0 skipped as invalid",
        "calls excluded by rule: 3 closed (not counted)",
        "counted 22 calls (8 answered, 10 callback, 2 full, 2 abandoned), 14 reached the same day",
        "without contact_at: 2 answered (same day), 1 callback (not same day)",
    ] {
        assert!(
            run.stderr.contains(needle),
            "{needle:?} not in {}",
            run.stderr
        );
    }
}

#[test]
fn swedish_exports_give_the_same_rows() {
    let expected = expected_lines("expected_phone.csv");
    let bom = pv_access(&[
        "phone",
        "--units",
        &access_data("units.csv"),
        &access_data("sv/samtal.csv"),
    ])
    .run();
    assert_eq!(lines(bom.ok()), expected);
    let windows = pv_access(&[
        "phone",
        "--encoding",
        "windows-1252",
        "--units",
        &access_data("sv/enheter-1252.csv"),
        &access_data("sv/samtal-1252.csv"),
    ])
    .run();
    assert_eq!(lines(windows.ok()), expected);
}

#[test]
fn phone_by_month_counts_each_call_in_the_month_it_was_received() {
    let t = table(&[
        "phone",
        "--by",
        "month",
        "--units",
        &access_data("units.csv"),
        &access_data("calls.csv"),
    ]);
    let same_day =
        |level: &str, unit: &str, month: &str| ratio(&t, "phone_same_day", level, unit, month, "");
    // The 23:59 call of 31 January called back at 00:01 counts in January, not same day.
    assert_eq!(same_day("unit", "VC Askersund", "2024-01"), "3/5");
    assert_eq!(same_day("unit", "VC Askersund", "2024-02"), "2/5");
    assert_eq!(same_day("unit", "VC Kumla", "2024-01"), "3/4");
    assert_eq!(same_day("unit", "VC Kumla", "2024-02"), "2/3");
    assert_eq!(same_day("unit", "VC Hällefors", "2024-01"), "2/3");
    assert_eq!(same_day("area", "Söder", "2024-01"), "6/9");
    assert_eq!(same_day("area", "Söder", "2024-02"), "4/8");
    assert_eq!(same_day("all", "ALL", "2024-01"), "8/12");
    assert_eq!(same_day("all", "ALL", "2024-02"), "6/10");
    assert_eq!(
        cells(&t, "phone_same_day", "unit", "VC Hällefors", "2024-02", ""),
        ["2", "2", "100", "90", "met"].map(String::from)
    );
    assert_eq!(
        cells(&t, "phone_same_day", "unit", "VC Kumla", "2024-02", "")[2],
        "66.6667"
    );
    let outcome = |unit: &str, month: &str, group: &str| {
        ratio(&t, "phone_outcome", "unit", unit, month, group)
    };
    assert_eq!(outcome("VC Askersund", "2024-01", "callback"), "3/6");
    assert_eq!(outcome("VC Askersund", "2024-02", "closed"), "1/6");
    assert_eq!(outcome("VC Kumla", "2024-02", "full"), "0/4");
    // One phone_same_day and five phone_outcome rows per unit, area and all, per month.
    assert_eq!(t.rows.len(), 6 * 6 * 2);
}

#[test]
fn count_chooses_the_outcomes_in_the_denominator() {
    for list in ["answered,callback", "Besvarat,Klart"] {
        let t = table(&["phone", "--count", list, &access_data("calls.csv")]);
        assert_eq!(
            cells(&t, "phone_same_day", "unit", "VC Askersund", SPAN, ""),
            ["5", "8", "62.5000", "90", "not_met"].map(String::from)
        );
        // The outcome shares do not depend on --count.
        assert_eq!(
            ratio(&t, "phone_outcome", "unit", "VC Askersund", SPAN, "full"),
            "1/12"
        );
    }
    // Counting closed calls too: Askersund's two closed calls join the denominator.
    let t = table(&[
        "phone",
        "--count",
        "answered,callback,full,abandoned,stängt",
        &access_data("calls.csv"),
    ]);
    assert_eq!(
        ratio(&t, "phone_same_day", "unit", "VC Askersund", SPAN, ""),
        "5/12"
    );
    let run = pv_access(&[
        "phone",
        "--count",
        "answered,maybe",
        &access_data("calls.csv"),
    ])
    .run();
    assert_usage_error(&run, "unknown outcome \"maybe\"");
}

#[test]
fn same_day_rules_at_midnight_and_without_contact() {
    let calls = "unit,received_at,outcome,contact_at\n\
        A,2024-03-01 23:59,callback,2024-03-02 00:01\n\
        B,2024-03-01 23:59,callback,2024-03-01 23:59:30\n\
        C,2024-03-01 10:00,answered,\n\
        D,2024-03-01 10:00,callback,\n\
        E,2024-03-01 10:00,callback,2024-03-04 08:00\n\
        F,2024-03-01 10:00,answered,2024-03-01\n\
        G,2024-03-01,callback,2024-03-01 16:00\n";
    let t = table_of("phone", &[], calls);
    let period = "2024-03-01/2024-03-01";
    for (unit, expected) in [
        ("A", "0/1"),
        ("B", "1/1"),
        ("C", "1/1"),
        ("D", "0/1"),
        ("E", "0/1"),
        ("F", "1/1"),
        ("G", "1/1"),
    ] {
        assert_eq!(
            ratio(&t, "phone_same_day", "unit", unit, period, ""),
            expected,
            "{unit}"
        );
    }
    assert_eq!(ratio(&t, "phone_same_day", "all", "ALL", period, ""), "4/7");
}

#[test]
fn closed_calls_are_shown_but_not_counted() {
    let calls = "unit,received_at,outcome,contact_at\nA,2024-03-01 18:00,Stängt,\nA,2024-03-01 19:00,closed,\n";
    let run = pv_access(&["phone"]).stdin(calls).run();
    let t = parse_csv(run.ok());
    let period = "2024-03-01/2024-03-01";
    // No counted call: no value, so no status either.
    assert_eq!(
        cells(&t, "phone_same_day", "unit", "A", period, ""),
        ["0", "0", "", "90", ""].map(String::from)
    );
    assert_eq!(
        cells(&t, "phone_outcome", "unit", "A", period, "closed")[..3],
        ["2", "2", "100"]
    );
    assert!(
        run.stderr.contains("2 closed (not counted)"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_explicit_period_drops_calls_outside_it() {
    let run = pv_access(&[
        "phone",
        "--from",
        "2024-02-01",
        "--to",
        "2024-02-29",
        &access_data("calls.csv"),
    ])
    .run();
    let t = parse_csv(run.ok());
    let period = "2024-02-01/2024-02-29";
    assert_eq!(
        ratio(&t, "phone_same_day", "unit", "VC Askersund", period, ""),
        "2/5"
    );
    assert_eq!(
        ratio(&t, "phone_same_day", "unit", "VC Hällefors", period, ""),
        "2/2"
    );
    // January: Askersund A1–A6, Kumla K1–K4, Hällefors H1–H3.
    assert!(
        run.stderr.contains("13 outside the period"),
        "{}",
        run.stderr
    );
    // --as-of alone: the 12 months ending on it.
    let t = table(&["phone", "--as-of", "2024-01-31", &access_data("calls.csv")]);
    assert_eq!(
        ratio(
            &t,
            "phone_same_day",
            "all",
            "ALL",
            "2023-02-01/2024-01-31",
            ""
        ),
        "8/12"
    );
    // --months alone ends on the latest call day.
    let t = table(&["phone", "--months", "1", &access_data("calls.csv")]);
    assert_eq!(
        ratio(
            &t,
            "phone_same_day",
            "all",
            "ALL",
            "2024-02-01/2024-02-29",
            ""
        ),
        "6/10"
    );
}

#[test]
fn empty_and_single_row_inputs() {
    let run = pv_access(&["phone"])
        .stdin("unit,received_at,outcome,contact_at\n")
        .run();
    assert_eq!(run.ok(), format!("{HEADER}\n"));
    assert!(
        run.stderr.contains("no calls, so no period"),
        "{}",
        run.stderr
    );
    let t = table_of(
        "phone",
        &[],
        "unit,received_at,outcome,contact_at\nA,2024-12-31 23:59,answered,2024-12-31 23:59\n",
    );
    assert_eq!(
        cells(
            &t,
            "phone_same_day",
            "unit",
            "A",
            "2024-12-31/2024-12-31",
            ""
        ),
        ["1", "1", "100", "90", "met"].map(String::from)
    );
    let run = pv_access(&["assessment"])
        .stdin("unit,contact_date,assessment_date\n")
        .run();
    assert_eq!(run.ok(), format!("{HEADER}\n"));
    assert!(
        run.stderr.contains("no contacts, so no period"),
        "{}",
        run.stderr
    );
}

#[test]
fn without_a_unit_column_the_input_is_one_unit() {
    let run = pv_access(&["phone"])
        .stdin("received_at,outcome\n2024-03-01 10:00,answered\n2024-03-01 11:00,full\n")
        .run();
    let t = parse_csv(run.ok());
    assert!(t.rows.iter().all(|r| t.get(r, "level") == "all"), "{t:?}");
    assert_eq!(
        ratio(
            &t,
            "phone_same_day",
            "all",
            "ALL",
            "2024-03-01/2024-03-01",
            ""
        ),
        "1/2"
    );
    assert!(run.stderr.contains("no unit column"), "{}", run.stderr);
}

#[test]
fn targets_without_an_id_are_the_same_day_levels() {
    let t = table(&[
        "phone",
        "--target",
        "75",
        "--half",
        "60",
        &access_data("calls.csv"),
    ]);
    assert_eq!(
        cells(&t, "phone_same_day", "unit", "VC Hällefors", SPAN, "")[3..],
        ["75".to_string(), "met".to_string()]
    );
    assert_eq!(
        cells(&t, "phone_same_day", "unit", "VC Kumla", SPAN, "")[4],
        "half"
    );
    assert_eq!(
        cells(&t, "phone_outcome", "unit", "VC Kumla", SPAN, "answered")[3..],
        ["", ""]
    );
    let t = table(&[
        "phone",
        "--target",
        "phone_outcome=35",
        &access_data("calls.csv"),
    ]);
    assert_eq!(
        cells(&t, "phone_outcome", "unit", "VC Kumla", SPAN, "answered")[4],
        "met"
    );
    let run = pv_access(&["phone", "--target", "coc=0.5", &access_data("calls.csv")]).run();
    assert_usage_error(&run, "coc is not an indicator of pv-access");
}

#[test]
fn bad_outcomes_name_the_line_column_and_value() {
    let run = pv_access(&["phone", &access_data("calls-bad-outcome.csv")]).run();
    assert_data_error(
        &run,
        &[
            "calls-bad-outcome.csv: line 4, column \"outcome\"",
            "cannot parse \"Kanske\" as a call outcome",
            "answered/besvarat",
        ],
    );
    let dir = TempDir::new("access-rejects");
    let rejects = dir.path("rejects.csv");
    let run = pv_access(&[
        "phone",
        "--skip-invalid",
        "--rejects",
        rejects.to_str().unwrap(),
        &access_data("calls-bad-outcome.csv"),
    ])
    .run();
    let t = parse_csv(run.ok());
    assert_eq!(
        ratio(
            &t,
            "phone_same_day",
            "unit",
            "VC Kumla",
            "2024-01-15/2024-01-15",
            ""
        ),
        "2/2"
    );
    assert!(
        run.stderr.contains("skipped 1 invalid rows"),
        "{}",
        run.stderr
    );
    let written = std::fs::read_to_string(&rejects).unwrap();
    assert!(
        written.contains("Kanske") && written.contains(",4,outcome,"),
        "{written}"
    );
}

#[test]
fn phone_data_errors() {
    let run = pv_access(&["phone"])
        .stdin(format!(
            "unit,received_at,outcome\nA,2024-03-01 10:00,{SECRET_ID}\n"
        ))
        .run();
    assert_data_error(&run, &["line 2, column \"outcome\"", "value not shown"]);
    let run = pv_access(&["phone"])
        .stdin(
            "unit,received_at,outcome,contact_at\nA,2024-03-01 10:00,callback,2024-03-01 09:59\n",
        )
        .run();
    assert_data_error(
        &run,
        &[
            "line 2, column \"contact_at\"",
            "earlier than the call was received",
        ],
    );
    let run = pv_access(&["phone"])
        .stdin("unit,received_at,outcome\nA,2024-13-01 10:00,answered\n")
        .run();
    assert_data_error(
        &run,
        &["line 2, column \"received_at\"", "\"2024-13-01 10:00\""],
    );
    let run = pv_access(&["phone"])
        .stdin("unit,when,outcome\nA,2024-03-01,answered\n")
        .run();
    assert_data_error(
        &run,
        &[
            "missing calls column \"received_at\"",
            "--col received_at=HEADER",
        ],
    );
    let run = pv_access(&["phone"])
        .stdin("unit,received_at,outcome\n,2024-03-01,answered\n")
        .run();
    assert_data_error(&run, &["line 2, column \"unit\"", "empty value"]);
}

#[test]
fn output_does_not_depend_on_threads_or_chunks() {
    let file = access_data("orebro-2024/calls.csv");
    let mut outputs = Vec::new();
    for threads in ["1", "2"] {
        let run = pv_access(&["phone", "--by", "month", "--threads", threads, "-q", &file])
            .env("PVKIT_BLOCK_SIZE", "64")
            .run();
        outputs.push(run.ok().to_string());
    }
    outputs.push(
        pv_access(&["phone", "--by", "month", "-q", &file])
            .run()
            .ok()
            .to_string(),
    );
    assert!(outputs[0] == outputs[1] && outputs[1] == outputs[2]);
}

// ---------------------------------------------------------------------------
// Phone: the Örebro 2024 payment

/// The phone_payment rows of the Örebro run, with extra options.
fn orebro_payments(extra: &[&str]) -> Vec<String> {
    let dir = |name: &str| access_data(&format!("orebro-2024/{name}"));
    let mut args = vec![
        "phone".to_string(),
        "--by".into(),
        "month".into(),
        "--listed".into(),
        dir("listed.csv"),
        "--payment-per-listed".into(),
        "83".into(),
        "--from".into(),
        "2024-01-01".into(),
        "--to".into(),
        "2024-12-31".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.push(dir("calls.csv"));
    let run = pv_access(&args).run();
    let mut payments = vec![HEADER.to_string()];
    payments.extend(
        run.ok()
            .lines()
            .filter(|l| l.starts_with("phone_payment,"))
            .map(str::to_string),
    );
    payments
}

#[test]
fn orebro_2024_payment_with_changing_monthly_levels() {
    let targets = access_data("orebro-2024/targets-2024.csv");
    let payments = orebro_payments(&["--targets", &targets]);
    assert_eq!(payments, expected_lines("orebro-2024/expected_payment.csv"));
    let yearly: Vec<&String> = payments
        .iter()
        .filter(|l| l.contains("2024-01-01/2024-12-31"))
        .collect();
    assert_eq!(
        yearly,
        [
            "phone_payment,unit,Vårdcentralen Lekeberg,2024-01-01/2024-12-31,,62250,1200,62250,,",
            "phone_payment,unit,Vårdcentralen Pilgården,2024-01-01/2024-12-31,,176375,3000,176375,,",
            "phone_payment,all,ALL,2024-01-01/2024-12-31,,238625,4200,238625,,",
        ]
    );
    // Suppression hides small monthly rates; it does not change what a unit earned.
    assert_eq!(
        orebro_payments(&["--targets", &targets, "--min-cell", "20"]),
        payments
    );
}

#[test]
fn flat_levels_pay_less() {
    let payments = orebro_payments(&[]);
    assert!(
        payments.contains(
            &"phone_payment,unit,Vårdcentralen Lekeberg,2024-01-01/2024-12-31,,49800,1200,49800,,"
                .to_string()
        )
    );
    assert!(payments.contains(&"phone_payment,unit,Vårdcentralen Pilgården,2024-01-01/2024-12-31,,124500,3000,124500,,".to_string()));
    assert!(payments.contains(
        &"phone_payment,unit,Vårdcentralen Lekeberg,2024-05,,4150,1200,4150,,".to_string()
    ));
}

#[test]
fn months_missing_from_the_targets_file_keep_the_other_levels() {
    let dir = TempDir::new("access-targets");
    // May only, in Swedish headers and a decimal comma; no half level in May.
    let targets = dir.write("mal.csv", "Månad;Mål;Halv\n2024-05;79,5;\n");
    let t = parse_csv(
        pv_access(&[
            "phone",
            "--by",
            "month",
            "--targets",
            &targets,
            "--target",
            "85",
            &access_data("orebro-2024/calls.csv"),
        ])
        .run()
        .ok(),
    );
    let lekeberg = |month: &str| {
        cells(
            &t,
            "phone_same_day",
            "unit",
            "Vårdcentralen Lekeberg",
            month,
            "",
        )[2..]
            .to_vec()
    };
    assert_eq!(lekeberg("2024-05"), ["80", "79.5000", "met"]);
    assert_eq!(lekeberg("2024-02"), ["80", "85", "half"]);
    assert_eq!(lekeberg("2024-12"), ["90", "85", "met"]);
    // An empty half: no half level that month, whatever --half says.
    let strict = dir.write("strict.csv", "month,target,half\n2024-05,85,\n");
    let t = parse_csv(
        pv_access(&[
            "phone",
            "--by",
            "month",
            "--targets",
            &strict,
            "--half",
            "70",
            &access_data("orebro-2024/calls.csv"),
        ])
        .run()
        .ok(),
    );
    let status = |month: &str| {
        cells(
            &t,
            "phone_same_day",
            "unit",
            "Vårdcentralen Lekeberg",
            month,
            "",
        )[4]
        .clone()
    };
    assert_eq!(status("2024-05"), "not_met");
    assert_eq!(status("2024-03"), "half");
}

#[test]
fn targets_file_errors() {
    let dir = TempDir::new("access-targets-bad");
    let calls = access_data("orebro-2024/calls.csv");
    let run_with = |name: &str, text: &str| {
        let path = dir.write(name, text);
        pv_access(&["phone", "--by", "month", "--targets", &path, &calls]).run()
    };
    let run = run_with(
        "twice.csv",
        "month,target,half\n2024-05,80,70\n2024-06,90,80\n2024-05,85,75\n",
    );
    assert_data_error(
        &run,
        &[
            "twice.csv: line 4",
            "phone_same_day has levels for 2024-05 twice",
            "other row: line 2",
        ],
    );
    let run = run_with("month.csv", "month,target,half\n2024-13,80,70\n");
    assert_data_error(
        &run,
        &["line 2, column \"month\"", "\"2024-13\"", "YYYY-MM"],
    );
    let run = run_with("half.csv", "month,target,half\n2024-05,80,85\n");
    assert_data_error(&run, &["line 2, column \"half\"", "easier to reach"]);
    let run = run_with("other.csv", "month,target,indicator\n2024-05,80,coc\n");
    assert_usage_error(&run, "coc is not an indicator of pv-access");
}

#[test]
fn payment_needs_months_and_listed_patients() {
    let calls = access_data("orebro-2024/calls.csv");
    let listed = access_data("orebro-2024/listed.csv");
    let run = pv_access(&[
        "phone",
        "--payment-per-listed",
        "83",
        "--listed",
        &listed,
        &calls,
    ])
    .run();
    assert_usage_error(&run, "use --payment-per-listed with --by month");
    let run = pv_access(&[
        "phone",
        "--by",
        "month",
        "--payment-per-listed",
        "83",
        &calls,
    ])
    .run();
    assert_usage_error(&run, "--listing FILE or --listed FILE");
    let run = pv_access(&["phone", "--by", "month", "--listed", &listed, &calls]).run();
    assert_usage_error(&run, "add --payment-per-listed");
    let run = pv_access(&["phone", "--targets", &listed, &calls]).run();
    assert_usage_error(&run, "use it with --by month");
    let run = pv_access(&[
        "phone",
        "--by",
        "month",
        "--payment-per-listed",
        "-3",
        "--listed",
        &listed,
        &calls,
    ])
    .run();
    run.expect_code(2);
}

#[test]
fn units_without_listed_patients_earn_nothing_and_are_named() {
    let dir = TempDir::new("access-listed");
    let listed = dir.write("listed.csv", "unit,listed\nVårdcentralen Lekeberg,1 200\n");
    let run = pv_access(&[
        "phone",
        "--by",
        "month",
        "--listed",
        &listed,
        "--payment-per-listed",
        "83,00",
        &access_data("orebro-2024/calls.csv"),
    ])
    .run();
    let t = parse_csv(run.ok());
    assert_eq!(
        ratio(
            &t,
            "phone_payment",
            "unit",
            "Vårdcentralen Pilgården",
            "2024-05",
            ""
        ),
        "0/0"
    );
    assert_eq!(
        ratio(
            &t,
            "phone_payment",
            "unit",
            "Vårdcentralen Lekeberg",
            "2024-05",
            ""
        ),
        "4150/1200"
    );
    assert!(
        run.stderr.contains(
            "1 units with calls have no listed patients and earn nothing: Vårdcentralen Pilgården"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn a_listing_snapshot_gives_the_listed_patients() {
    let dir = TempDir::new("access-listing");
    let listing = dir.write(
        "listing.csv",
        "patient_id,unit\n191212121212,Vårdcentralen Lekeberg\n191212121213,Vårdcentralen Lekeberg\n191212121214,Vårdcentralen Pilgården\n",
    );
    let t = table(&[
        "phone",
        "--by",
        "month",
        "--listing",
        &listing,
        "--payment-per-listed",
        "120",
        &access_data("orebro-2024/calls.csv"),
    ]);
    // 120 × 2 / 12 = 20 kr in a full month, 10 at half.
    assert_eq!(
        ratio(
            &t,
            "phone_payment",
            "unit",
            "Vårdcentralen Lekeberg",
            "2024-01",
            ""
        ),
        "20/2"
    );
    assert_eq!(
        ratio(
            &t,
            "phone_payment",
            "unit",
            "Vårdcentralen Lekeberg",
            "2024-02",
            ""
        ),
        "10/2"
    );
}

// ---------------------------------------------------------------------------
// Assessment

const CONTACTS: &str = "2024-02-29/2024-04-10";

#[test]
fn assessment_matches_the_hand_computed_example() {
    let run = pv_access(&[
        "assessment",
        "--units",
        &access_data("units.csv"),
        &access_data("assessments.csv"),
    ])
    .run();
    assert_eq!(lines(run.ok()), expected_lines("expected_assessment.csv"));
    for needle in [
        "period 2024-02-29/2024-04-10, as of 2024-04-11",
        "assessments: read 16 rows = 11 used + 5 excluded by rule + 0 skipped as invalid",
        "counted contacts: 0 days 14, 3 days 11, 7 days 10",
        "2 patient-chosen waits (PvV)",
        "pending (not yet assessed, limit not passed): 0 days 0, 3 days 3, 7 days 4",
        "not yet assessed, counted as outside: 0 days 5, 3 days 2, 7 days 1",
    ] {
        assert!(
            run.stderr.contains(needle),
            "{needle:?} not in {}",
            run.stderr
        );
    }
    let run = pv_access(&[
        "assessment",
        "--by",
        "profession",
        "--no-total",
        &access_data("assessments.csv"),
    ])
    .run();
    assert_eq!(
        lines(run.ok()),
        expected_lines("expected_assessment_profession.csv")
    );
}

#[test]
fn skr_example_three_days_from_the_fifth_of_march() {
    let t = table_of(
        "assessment",
        &[],
        "unit,contact_date,assessment_date\nA,2024-03-05,2024-03-08\nB,2024-03-05,2024-03-09\n",
    );
    let period = "2024-03-05/2024-03-05";
    assert_eq!(ratio(&t, "assessment_3d", "unit", "A", period, ""), "1/1");
    assert_eq!(ratio(&t, "assessment_3d", "unit", "B", period, ""), "0/1");
    assert_eq!(ratio(&t, "assessment_7d", "unit", "B", period, ""), "1/1");
    assert_eq!(ratio(&t, "assessment_0d", "unit", "A", period, ""), "0/1");
}

#[test]
fn assessment_by_month_counts_the_contact_month() {
    let t = table(&[
        "assessment",
        "--by",
        "month",
        &access_data("assessments.csv"),
    ]);
    let askersund = |id: &str, month: &str| ratio(&t, id, "unit", "VC Askersund", month, "");
    assert_eq!(askersund("assessment_0d", "2024-02"), "0/1");
    assert_eq!(askersund("assessment_3d", "2024-02"), "1/1");
    assert_eq!(askersund("assessment_0d", "2024-03"), "1/5");
    assert_eq!(askersund("assessment_3d", "2024-03"), "2/5");
    assert_eq!(askersund("assessment_7d", "2024-03"), "3/5");
    assert_eq!(
        ratio(&t, "assessment_3d", "all", "ALL", "2024-04", ""),
        "3/5"
    );
    assert_eq!(
        ratio(&t, "assessment_0d", "all", "ALL", "2024-04", ""),
        "1/8"
    );
    // Both breakdowns at once.
    let t = table(&[
        "assessment",
        "--by",
        "month,profession",
        &access_data("assessments.csv"),
    ]);
    assert_eq!(
        ratio(
            &t,
            "assessment_3d",
            "unit",
            "VC Askersund",
            "2024-03",
            "doctor"
        ),
        "1/3"
    );
    assert_eq!(
        ratio(&t, "assessment_3d", "all", "ALL", "2024-04", "nurse"),
        "1/1"
    );
}

#[test]
fn pending_contacts_around_the_as_of_day() {
    let t = table(&[
        "assessment",
        "--as-of",
        "2024-04-13",
        "--months",
        "3",
        &access_data("assessments.csv"),
    ]);
    let period = "2024-01-14/2024-04-13";
    assert_eq!(
        ratio(&t, "assessment_3d", "unit", "VC Kumla", period, ""),
        "2/5"
    );
    // K4 is exactly 7 days old: still pending at 7 days.
    assert_eq!(
        ratio(&t, "assessment_7d", "unit", "VC Kumla", period, ""),
        "3/3"
    );
    assert_eq!(
        ratio(&t, "assessment_3d", "unit", "VC Hällefors", period, ""),
        "1/2"
    );
    // A day the export was taken, a week later: nothing is pending.
    let run = pv_access(&[
        "assessment",
        "--as-of",
        "2024-04-20",
        &access_data("assessments.csv"),
    ])
    .run();
    let t = parse_csv(run.ok());
    let period = "2023-04-21/2024-04-20";
    assert_eq!(
        ratio(&t, "assessment_3d", "unit", "VC Kumla", period, ""),
        "2/5"
    );
    assert_eq!(
        ratio(&t, "assessment_7d", "unit", "VC Kumla", period, ""),
        "3/5"
    );
    assert!(
        run.stderr
            .contains("pending (not yet assessed, limit not passed): 0 days 0, 3 days 0, 7 days 0"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_explicit_period_keeps_the_latest_date_as_the_as_of_day() {
    let run = pv_access(&[
        "assessment",
        "--from",
        "2024-04-01",
        "--to",
        "2024-04-30",
        &access_data("assessments.csv"),
    ])
    .run();
    let t = parse_csv(run.ok());
    assert_eq!(
        ratio(
            &t,
            "assessment_3d",
            "unit",
            "VC Kumla",
            "2024-04-01/2024-04-30",
            ""
        ),
        "2/4"
    );
    assert!(run.stderr.contains("as of 2024-04-11"), "{}", run.stderr);
    assert!(
        run.stderr.contains("7 outside the period"),
        "{}",
        run.stderr
    );
}

#[test]
fn swedish_assessment_export() {
    let text = "\u{feff}Vårdenhet;Kontaktdatum;Bedömningsdatum;Yrkeskategori;PVV\r\n\
        VC Kumla;2024-03-05;2024-03-08;Läkare;Nej\r\n\
        VC Kumla;2024-03-05;2024-03-20;Läkare;Ja\r\n\
        VC Kumla;20240306;20240306;Distriktssköterska;\r\n";
    let t = table_of("assessment", &["--by", "profession"], text);
    let period = "2024-03-05/2024-03-06";
    assert_eq!(
        ratio(&t, "assessment_3d", "unit", "VC Kumla", period, "doctor"),
        "1/1"
    );
    assert_eq!(
        ratio(&t, "assessment_0d", "unit", "VC Kumla", period, "nurse"),
        "1/1"
    );
}

#[test]
fn an_assessment_before_its_contact_is_a_data_error() {
    let text =
        "unit,contact_date,assessment_date\nA,2024-03-05,2024-03-06\nA,2024-03-05,2024-03-04\n";
    let run = pv_access(&["assessment"]).stdin(text).run();
    assert_data_error(
        &run,
        &[
            "line 3, column \"assessment_date\"",
            "(2024-03-04) is dated before the contact (2024-03-05)",
        ],
    );
    let run = pv_access(&["assessment", "--skip-invalid"])
        .stdin(text)
        .run();
    let t = parse_csv(run.ok());
    assert_eq!(
        ratio(
            &t,
            "assessment_3d",
            "unit",
            "A",
            "2024-03-05/2024-03-05",
            ""
        ),
        "1/1"
    );
    assert!(
        run.stderr
            .contains("1 had the assessment dated before the contact"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("skipped 1 invalid rows"),
        "{}",
        run.stderr
    );
}

#[test]
fn assessment_input_errors() {
    let run = pv_access(&["assessment", "--by", "profession"])
        .stdin("unit,contact_date,assessment_date\nA,2024-03-05,2024-03-06\n")
        .run();
    assert_usage_error(&run, "--by profession needs a profession column");
    let run = pv_access(&["assessment"])
        .stdin("unit,contact_date,assessment_date,pvv\nA,2024-03-05,2024-03-06,kanske\n")
        .run();
    assert_data_error(
        &run,
        &["line 2, column \"pvv\"", "\"kanske\" as a yes/no value"],
    );
    let run = pv_access(&["assessment"])
        .stdin(format!(
            "unit,contact_date,assessment_date\nA,{SECRET_ID},2024-03-06\n"
        ))
        .run();
    assert_data_error(
        &run,
        &["line 2, column \"contact_date\"", "value not shown"],
    );
    let run = pv_access(&["assessment"])
        .stdin("unit,contact_date\nA,2024-03-05\n")
        .run();
    assert_data_error(&run, &["missing assessments column \"assessment_date\""]);
}

#[test]
fn min_cell_hides_small_counts() {
    let t = table(&[
        "assessment",
        "--min-cell",
        "6",
        &access_data("assessments.csv"),
    ]);
    assert_eq!(
        cells(&t, "assessment_3d", "unit", "VC Kumla", CONTACTS, ""),
        ["", "4", "", "", "suppressed"].map(String::from)
    );
    assert_eq!(
        ratio(&t, "assessment_3d", "unit", "VC Askersund", CONTACTS, ""),
        "3/6"
    );
}

#[test]
fn assessment_targets_apply_to_every_limit_unless_named() {
    let t = table(&[
        "assessment",
        "--target",
        "50",
        "--target",
        "assessment_7d=90",
        &access_data("assessments.csv"),
    ]);
    assert_eq!(
        cells(&t, "assessment_3d", "unit", "VC Askersund", CONTACTS, "")[3..],
        ["50", "met"]
    );
    assert_eq!(
        cells(&t, "assessment_0d", "unit", "VC Askersund", CONTACTS, "")[3..],
        ["50", "not_met"]
    );
    assert_eq!(
        cells(&t, "assessment_7d", "unit", "VC Askersund", CONTACTS, "")[3..],
        ["90", "not_met"]
    );
}

// ---------------------------------------------------------------------------
// The command itself

#[test]
fn catalogue_and_help() {
    let t = table(&["phone", "--list-indicators", "-f", "csv"]);
    let ids: Vec<&str> = t.rows.iter().map(|r| t.get(r, "id")).collect();
    assert_eq!(
        ids,
        [
            "phone_same_day",
            "phone_outcome",
            "phone_payment",
            "assessment_3d",
            "assessment_0d",
            "assessment_7d"
        ]
    );
    let explained = pv_access(&["assessment", "--explain", "assessment_3d"]).run();
    assert!(explained.ok().contains("within 0-3 calendar days"));
    let run = pv_access::<&str>(&[]).run();
    run.expect_code(2);
    assert!(
        run.stderr.contains("phone") && run.stderr.contains("assessment"),
        "{}",
        run.stderr
    );
    let help = pv_access(&["phone", "--help"]).run();
    for needle in [
        "--payment-per-listed",
        "--targets",
        "received_at",
        "Examples:",
    ] {
        assert!(help.ok().contains(needle), "{needle}");
    }
    let help = pv_access(&["assessment", "--help"]).run();
    for needle in ["--by", "patient_chosen_wait", "judged on"] {
        assert!(help.ok().contains(needle), "{needle}");
    }
}
