//! pv-coc end to end: the built binary on `testdata/coc/` (expected output
//! worked out by hand, see `testdata/coc/README.md`) and on inline CSV.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;

use common::{
    SECRET_ID, Table, TempDir, assert_no_patient_id, parse_csv, parse_delimited, pv_coc,
    read_testdata, testdata,
};

const HEADER: &str = "indicator,level,unit,period,group,numerator,denominator,value,target,status";
const PERIOD: &str = "2023-07-01/2024-12-31";

/// `--listing listing.csv --units units.csv`, the README's options.
fn listed() -> Vec<String> {
    vec![
        "--listing".into(),
        testdata("listing.csv"),
        "--units".into(),
        testdata("units.csv"),
    ]
}

/// The README's command with extra options, on `visits.csv`.
fn readme_run(extra: &[&str]) -> common::Run {
    pv_coc(&listed())
        .args(extra)
        .arg(testdata("visits.csv"))
        .run()
}

/// Lines of an expected file, header included.
fn expected_lines(name: &str) -> Vec<String> {
    read_testdata(name).lines().map(str::to_string).collect()
}

/// The number reported next to `phrase` on stderr ("2 empty provider"),
/// looking inside the `;`, `,` and `:` separated parts of the summary.
fn reported(stderr: &str, phrase: &str) -> Option<u64> {
    stderr
        .split([';', ',', ':', '\n'])
        .find(|part| part.contains(phrase))
        .and_then(|part| {
            part.split(|c: char| !c.is_ascii_digit())
                .find(|s| !s.is_empty())
                .and_then(|digits| digits.parse().ok())
        })
}

/// No listed patient id of the example appears on stderr.
#[track_caller]
fn assert_no_example_ids(stderr: &str) {
    for id in [
        "P01", "P02", "P03", "P04", "P05", "P06", "P07", "P08", "P09", "P10", "P11", "P99",
    ] {
        assert_no_patient_id(stderr, id);
    }
}

/// Asserts a data error: exit 1, every `needles` on stderr, no patient id.
#[track_caller]
fn assert_data_error(run: &common::Run, needles: &[&str]) {
    run.expect_code(1);
    for needle in needles {
        assert!(
            run.stderr.contains(needle),
            "stderr lacks {needle:?}:\n{}",
            run.stderr
        );
    }
    assert!(run.stderr.contains("pv-coc: error: "), "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert_no_patient_id(&run.stderr, SECRET_ID);
}

// ---------------------------------------------------------------------------
// The hand-computed example

#[test]
fn readme_command_gives_the_hand_computed_coc() {
    let run = readme_run(&[]);
    assert_eq!(run.ok(), read_testdata("expected_coc.csv"));
    // 58 rows = 48 counted + 1 outside + 2 phone/video + 3 not listed + 2 at
    // another unit + 2 empty provider (testdata/coc/README.md).
    assert_eq!(
        reported(&run.stderr, "empty provider"),
        Some(2),
        "{}",
        run.stderr
    );
    assert_eq!(reported(&run.stderr, "outside"), Some(1), "{}", run.stderr);
    assert_eq!(
        reported(&run.stderr, "not in the listing"),
        Some(3),
        "{}",
        run.stderr
    );
    assert_eq!(
        reported(&run.stderr, "contact type"),
        Some(2),
        "{}",
        run.stderr
    );
    assert_eq!(
        reported(&run.stderr, "another unit"),
        Some(2),
        "{}",
        run.stderr
    );
    assert_no_example_ids(&run.stderr);
}

#[test]
fn explicit_as_of_gives_the_same_as_the_latest_date() {
    let run = readme_run(&["--as-of", "2024-12-31"]);
    assert_eq!(run.ok(), read_testdata("expected_coc.csv"));
}

#[test]
fn every_index_at_unit_area_and_all_levels() {
    let run = readme_run(&["--index", "all"]);
    assert_eq!(run.ok(), read_testdata("expected_all.csv"));
    let listed_one_by_one = readme_run(&["--index", "coc,upc,secon,mmci,hhi"]);
    assert_eq!(listed_one_by_one.ok(), read_testdata("expected_all.csv"));
}

#[test]
fn each_index_alone_is_its_slice_of_the_expected_file() {
    let all = expected_lines("expected_all.csv");
    for index in ["coc", "upc", "secon", "mmci", "hhi"] {
        let run = readme_run(&["--index", index]);
        let mut expected = vec![HEADER.to_string()];
        expected.extend(
            all.iter()
                .filter(|l| l.starts_with(&format!("{index},")))
                .cloned(),
        );
        assert_eq!(expected.len(), 15, "{index}");
        assert_eq!(run.ok().lines().collect::<Vec<_>>(), expected, "{index}");
    }
}

#[test]
fn visits_just_outside_both_window_ends_do_not_count() {
    // visits-2025-01.csv holds one visit on 2025-01-01; with --as-of
    // 2024-12-31 it is one day late and changes nothing.
    let run = pv_coc(&listed())
        .args(&["--index", "all", "--as-of", "2024-12-31"])
        .arg(testdata("visits.csv"))
        .arg(testdata("visits-2025-01.csv"))
        .run();
    assert_eq!(run.ok(), read_testdata("expected_all.csv"));
    assert_eq!(reported(&run.stderr, "outside"), Some(2), "{}", run.stderr);
}

#[test]
fn default_as_of_is_the_latest_date_of_all_inputs() {
    // Latest date 2025-01-01 → window 2023-07-02/2025-01-01: P03 loses
    // AL3 on 2023-07-01 and gains AL2 on 2025-01-01: AL3 AL1 AL1 AL1 AL2,
    // n = (3,1,1), COC = (9+1+1-5)/20 = 3/10. Askersund doctor:
    // 1 + 1/3 + 3/10 = 49/30 = 1.633333 over 3 = 0.544444.
    let run = pv_coc(&listed())
        .arg(testdata("visits.csv"))
        .arg(testdata("visits-2025-01.csv"))
        .run();
    let table = parse_csv(run.ok());
    let row = table.indicator_row("coc", "unit", "Askersund", "doctor");
    assert_eq!(
        row,
        [
            "coc",
            "unit",
            "Askersund",
            "2023-07-02/2025-01-01",
            "doctor",
            "1.633333",
            "3",
            "0.544444",
            "",
            ""
        ]
    );
}

#[test]
fn per_patient_rows() {
    let run = pv_coc(&["--listing", &testdata("listing.csv")])
        .args(&["--index", "all", "--per-patient"])
        .arg(testdata("visits.csv"))
        .run();
    assert_eq!(run.ok(), read_testdata("expected_per_patient.csv"));
}

#[test]
fn same_output_with_one_or_two_threads_and_tiny_blocks() {
    for threads in ["1", "2", "3"] {
        let run = pv_coc(&listed())
            .args(&["--index", "all", "--threads", threads])
            .arg(testdata("visits.csv"))
            .env("PVKIT_BLOCK_SIZE", "64")
            .run();
        assert_eq!(
            run.ok(),
            read_testdata("expected_all.csv"),
            "--threads {threads}"
        );
        let run = pv_coc(&["--listing", &testdata("listing.csv")])
            .args(&["--index", "all", "--per-patient", "--threads", threads])
            .arg(testdata("visits.csv"))
            .env("PVKIT_BLOCK_SIZE", "64")
            .run();
        assert_eq!(
            run.ok(),
            read_testdata("expected_per_patient.csv"),
            "--threads {threads}"
        );
    }
}

#[test]
fn swedish_utf8_export_with_bom_and_semicolons() {
    let run = pv_coc(&listed())
        .args(&["--index", "all"])
        .arg(testdata("sv/besok.csv"))
        .run();
    assert_eq!(run.ok(), read_testdata("expected_all.csv"));
}

#[test]
fn swedish_windows_1252_export() {
    let bytes = std::fs::read(testdata("sv/besok-1252.csv")).unwrap();
    assert!(
        std::str::from_utf8(&bytes).is_err(),
        "the file must be 1252 bytes"
    );
    assert!(bytes.windows(2).any(|w| w == b"\r\n"), "CRLF line ends");
    for label in ["windows-1252", "latin1", "cp1252"] {
        let run = pv_coc(&[
            "--encoding",
            label,
            "--listing",
            &testdata("sv/listning-1252.csv"),
            "--units",
            &testdata("sv/enheter-1252.csv"),
            "--index",
            "all",
            &testdata("sv/besok-1252.csv"),
        ])
        .run();
        assert_eq!(run.ok(), read_testdata("expected_all.csv"), "{label}");
    }
}

#[test]
fn windows_1252_without_encoding_suggests_the_flag() {
    let run = pv_coc(&listed()).arg(testdata("sv/besok-1252.csv")).run();
    assert_data_error(&run, &["line 1", "--encoding windows-1252"]);
}

#[test]
fn without_a_listing_each_visit_counts_at_its_own_unit() {
    // P99 (not listed) counts at Kumla with COC 1; P02 at Kumla and P07 at
    // Askersund have one visit there each. testdata/coc/README.md, "Variants".
    let run = pv_coc(&["--units", &testdata("units.csv"), &testdata("visits.csv")]).run();
    let table = parse_csv(run.ok());
    assert!(run.stderr.contains("--listing"), "{}", run.stderr);
    let cell = |level: &str, unit: &str, group: &str| {
        let row = table.indicator_row("coc", level, unit, group);
        (row[5].clone(), row[6].clone(), row[7].clone())
    };
    let s = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
    assert_eq!(
        cell("unit", "Kumla", "doctor"),
        s("1.654762", "3", "0.551587")
    );
    assert_eq!(
        cell("unit", "Askersund", "doctor"),
        s("1.733333", "3", "0.577778")
    );
    assert_eq!(
        cell("area", "Söder", "doctor"),
        s("3.388095", "6", "0.564683")
    );
    assert_eq!(cell("all", "ALL", "doctor"), s("3.554762", "8", "0.444345"));
    assert_eq!(table.rows.len(), 14);
}

// ---------------------------------------------------------------------------
// Options

#[test]
fn explicit_from_to_period() {
    // Calendar year 2024, worked out by hand:
    // Askersund doctor: P01 AL1 AL1 AL1 → 1; P02 AL1 AL2 AL2 → 1/3;
    //   P03 AL3 AL1 AL1 AL1 → 1/2; sum 11/6 over 3.
    // Askersund nurse: P04 has one counted visit (AS2) → a row with no
    //   eligible patient: numerator 0, denominator 0, no value.
    // Hällefors doctor: P08 HL3 HL4 HL5 → 0; P09 HL1 HL2 HL3 → 0; P10 N = 2.
    // Hällefors nurse: P08 HS1 HS2 HS1 → 1/3.
    // Kumla doctor: P06 KL1 KL2 KL2 KL1 KL3 → (4+4+1-5)/20 = 1/5; P05 and
    //   P07 have two visits. Kumla physio: P06 KF1 KF2 KF1 → 1/3.
    let expected = "\
indicator,level,unit,period,group,numerator,denominator,value,target,status
coc,unit,Askersund,2024-01-01/2024-12-31,doctor,1.833333,3,0.611111,,
coc,unit,Askersund,2024-01-01/2024-12-31,nurse,0,0,,,
coc,unit,Hällefors,2024-01-01/2024-12-31,doctor,0,2,0,,
coc,unit,Hällefors,2024-01-01/2024-12-31,nurse,0.333333,1,0.333333,,
coc,unit,Kumla,2024-01-01/2024-12-31,doctor,0.200000,1,0.200000,,
coc,unit,Kumla,2024-01-01/2024-12-31,physio,0.333333,1,0.333333,,
coc,area,Norr,2024-01-01/2024-12-31,doctor,0,2,0,,
coc,area,Norr,2024-01-01/2024-12-31,nurse,0.333333,1,0.333333,,
coc,area,Söder,2024-01-01/2024-12-31,doctor,2.033333,4,0.508333,,
coc,area,Söder,2024-01-01/2024-12-31,nurse,0,0,,,
coc,area,Söder,2024-01-01/2024-12-31,physio,0.333333,1,0.333333,,
coc,all,ALL,2024-01-01/2024-12-31,doctor,2.033333,6,0.338889,,
coc,all,ALL,2024-01-01/2024-12-31,nurse,0.333333,1,0.333333,,
coc,all,ALL,2024-01-01/2024-12-31,physio,0.333333,1,0.333333,,
";
    let run = readme_run(&["--from", "2024-01-01", "--to", "2024-12-31"]);
    assert_eq!(run.ok(), expected);
}

#[test]
fn months_and_as_of_give_the_same_as_from_to() {
    let a = readme_run(&["--as-of", "2024-12-31", "--months", "12", "--index", "all"]);
    let b = readme_run(&[
        "--from",
        "2024-01-01",
        "--to",
        "2024-12-31",
        "--index",
        "all",
    ]);
    assert_eq!(a.ok(), b.ok());
}

#[test]
fn min_visits_one_leaves_single_visits_out_of_coc_secon_mmci() {
    let run = pv_coc(&["--listing", &testdata("listing.csv")])
        .args(&["--index", "all", "--per-patient", "--min-visits", "1"])
        .arg(testdata("visits.csv"))
        .run();
    let lines: Vec<&str> = run.ok().lines().collect();
    // P04's one doctor visit: UPC = HHI = 1, the others undefined (empty).
    assert!(
        lines.contains(&"Askersund,doctor,P04,1,1,,1,,,1"),
        "{lines:#?}"
    );
    // P05: KL1 KL2; P10: HL2 HL2 (the empty provider does not count).
    assert!(
        lines.contains(&"Kumla,doctor,P05,2,2,0,0.500000,0,0.090909,0.500000"),
        "{lines:#?}"
    );
    assert!(
        lines.contains(&"Hällefors,doctor,P10,2,1,1,1,1,1,1"),
        "{lines:#?}"
    );
    assert_eq!(lines.len(), 1 + 10 + 3);

    let run = readme_run(&["--index", "all", "--min-visits", "1"]);
    let table = parse_csv(run.ok());
    let nums = |index: &str| {
        let row = table.indicator_row(index, "unit", "Askersund", "doctor");
        (row[5].clone(), row[6].clone(), row[7].clone())
    };
    let s = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
    // Never counted as 0: the denominators of coc/secon/mmci stay at 3.
    assert_eq!(nums("coc"), s("1.733333", "3", "0.577778"));
    assert_eq!(nums("secon"), s("2.416667", "3", "0.805556"));
    assert_eq!(nums("mmci"), s("2.433517", "3", "0.811172"));
    // UPC and HHI are 1 for N = 1: (2.1 + 1)/4 and (2.02 + 1)/4.
    assert_eq!(nums("upc"), s("3.100000", "4", "0.775000"));
    assert_eq!(nums("hhi"), s("3.020000", "4", "0.755000"));
    let kumla = table.indicator_row("coc", "unit", "Kumla", "doctor");
    assert_eq!(kumla[5..8], ["0.654762", "3", "0.218254"]);
    let hallefors = table.indicator_row("mmci", "unit", "Hällefors", "doctor");
    assert_eq!(hallefors[5..8], ["1.379229", "3", "0.459743"]);
    // Reported: one patient with a single visit.
    let single = run
        .stderr
        .split(';')
        .find(|part| part.contains("single"))
        .unwrap_or_else(|| panic!("no single-visit report:\n{}", run.stderr));
    assert!(single.trim_start().starts_with('1'), "{}", run.stderr);
}

#[test]
fn profession_filter_in_swedish() {
    let all = expected_lines("expected_all.csv");
    let only = |groups: &[&str]| -> String {
        let mut lines = vec![all[0].clone()];
        lines.extend(
            all[1..]
                .iter()
                .filter(|l| {
                    let group = l.split(',').nth(4).unwrap();
                    groups.contains(&group)
                })
                .cloned(),
        );
        lines.join("\n") + "\n"
    };
    let run = readme_run(&["--index", "all", "--profession", "läkare"]);
    assert_eq!(run.ok(), only(&["doctor"]));
    let run = readme_run(&["--index", "all", "--profession", "Läkare"]);
    assert_eq!(run.ok(), only(&["doctor"]));
    let run = readme_run(&["--index", "all", "--profession", "ssk,sjukgymnast"]);
    assert_eq!(run.ok(), only(&["nurse", "physio"]));
}

#[test]
fn contact_types_can_include_phone_and_video() {
    // P01 becomes AL1 AL1 AL2 AL1 AL3 AL1: COC = (16+1+1-6)/30 = 2/5, so
    // Askersund doctor = 1/3 + 2/5 + 2/5 = 17/15 over 3.
    let english = readme_run(&["--contact-types", "physical,home,phone,video"]);
    let table = parse_csv(english.ok());
    let row = table.indicator_row("coc", "unit", "Askersund", "doctor");
    assert_eq!(row[5..8], ["1.133333", "3", "0.377778"]);
    let row = table.indicator_row("coc", "all", "ALL", "doctor");
    assert_eq!(row[5..8], ["1.954762", "7", "0.279252"]);
    // Every other row is as before.
    let expected = parse_csv(&read_testdata("expected_coc.csv"));
    let changed: Vec<usize> = (0..table.rows.len())
        .filter(|&i| table.rows[i] != expected.rows[i])
        .collect();
    assert_eq!(changed.len(), 3, "Askersund, Söder and ALL doctor rows");

    let swedish = readme_run(&["--contact-types", "Besök,Hembesök,Telefon,Videobesök"]);
    assert_eq!(swedish.ok(), english.ok());
    // Only physical visits: P02's and P06's home visits drop out, so the
    // default (physical,home) differs from physical alone.
    let physical = readme_run(&["--contact-types", "physical"]);
    assert_ne!(physical.ok(), read_testdata("expected_coc.csv"));
    let both = readme_run(&["--contact-types", "besök,hembesök"]);
    assert_eq!(both.ok(), read_testdata("expected_coc.csv"));
}

#[test]
fn min_cell_suppresses_small_denominators() {
    let run = readme_run(&["--index", "all", "--min-cell", "2"]);
    let mut expected = parse_csv(&read_testdata("expected_all.csv"));
    for row in &mut expected.rows {
        if row[6].parse::<f64>().unwrap() < 2.0 {
            row[5].clear();
            row[7].clear();
            row[9] = "suppressed".into();
        }
    }
    let got = parse_csv(run.ok());
    assert_eq!(got, expected);
    assert!(got.rows.iter().any(|r| r[9] == "suppressed"));
    assert!(got.rows.iter().any(|r| r[9].is_empty()));
}

#[test]
fn targets_give_status() {
    let run = readme_run(&["--target", "0.4"]);
    let mut expected = parse_csv(&read_testdata("expected_coc.csv"));
    for row in &mut expected.rows {
        let value: f64 = row[7].parse().unwrap();
        row[8] = "0.400000".into();
        row[9] = if value >= 0.4 { "met" } else { "not_met" }.into();
    }
    assert_eq!(parse_csv(run.ok()), expected);

    let run = readme_run(&["--target", "coc=0.5", "--half", "coc=0.3"]);
    let got = parse_csv(run.ok());
    let status = |unit: &str, level: &str, group: &str| {
        got.indicator_row("coc", level, unit, group)[9].clone()
    };
    assert_eq!(status("Askersund", "unit", "doctor"), "met"); // 0.577778
    assert_eq!(status("Askersund", "unit", "nurse"), "half"); // 0.333333
    assert_eq!(status("Hällefors", "unit", "doctor"), "not_met"); // 0.083333
    assert_eq!(status("Hällefors", "unit", "nurse"), "met"); // 0.5 exactly
    assert_eq!(status("ALL", "all", "doctor"), "half"); // 0.364966

    // A target for another index leaves coc without one.
    let run = readme_run(&["--index", "coc,upc", "--target", "upc=0.6"]);
    let got = parse_csv(run.ok());
    for row in &got.rows {
        match row[0].as_str() {
            "coc" => assert_eq!(row[8..10], ["", ""]),
            "upc" => {
                let value: f64 = row[7].parse().unwrap();
                let want = if value >= 0.6 { "met" } else { "not_met" };
                assert_eq!(row[8..10], ["0.600000", want]);
            }
            other => panic!("unexpected indicator {other}"),
        }
    }
}

#[test]
fn decimal_comma_uses_semicolons() {
    let run = readme_run(&["--index", "all", "--decimal-comma"]);
    let expected: String = read_testdata("expected_all.csv")
        .replace(',', ";")
        .replace('.', ",");
    assert_eq!(run.ok(), expected);
    assert!(run.stdout.contains(";1,733333;3;0,577778;;"));
}

#[test]
fn tsv_output() {
    let run = readme_run(&["--index", "all", "-f", "tsv"]);
    assert_eq!(
        run.ok(),
        read_testdata("expected_all.csv").replace(',', "\t")
    );
}

#[test]
fn json_lines_output() {
    let run = readme_run(&["--index", "all", "--format", "json"]);
    let expected = parse_csv(&read_testdata("expected_all.csv"));
    let lines: Vec<&str> = run.ok().lines().collect();
    assert_eq!(lines.len(), expected.rows.len());
    for (line, row) in lines.iter().zip(&expected.rows) {
        let object: serde_json::Value = serde_json::from_str(line).expect(line);
        for (i, name) in expected.header.iter().enumerate() {
            let got = &object[name.as_str()];
            match name.as_str() {
                "numerator" | "denominator" | "value" => {
                    let want: f64 = row[i].parse().unwrap();
                    let got = got.as_f64().unwrap_or_else(|| panic!("{name} in {line}"));
                    assert!(
                        (got - want).abs() < 1e-9,
                        "{name}: {got} vs {want} in {line}"
                    );
                }
                "target" => assert!(got.is_null(), "{line}"),
                _ => assert_eq!(got.as_str(), Some(row[i].as_str()), "{name} in {line}"),
            }
        }
    }
}

#[test]
fn no_total_leaves_out_the_all_rows() {
    let run = readme_run(&["--index", "all", "--no-total"]);
    let expected: Vec<String> = expected_lines("expected_all.csv")
        .into_iter()
        .filter(|l| !l.contains(",all,ALL,"))
        .collect();
    assert_eq!(run.ok().lines().collect::<Vec<_>>(), expected);
    assert_eq!(expected.len(), 1 + 5 * 11);
}

#[test]
fn list_indicators_and_explain() {
    let run = pv_coc(&["--list-indicators"]).run();
    let table = parse_csv(run.ok());
    let ids: Vec<&str> = table.rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(ids, ["coc", "upc", "secon", "mmci", "hhi"]);
    assert_eq!(table.header[0], "id");
    assert!(table.header.contains(&"name_sv".to_string()));
    let coc = &table.rows[0];
    assert_eq!(table.get(coc, "name_sv"), "Kontinuitetsindex (COC)");
    assert_eq!(table.get(coc, "scale"), "index");

    let run = pv_coc(&["--explain", "coc"]).run();
    let text = run.ok();
    assert!(text.contains("Kontinuitetsindex"), "{text}");
    assert!(text.contains("Bice-Boxerman"), "{text}");
    assert!(text.contains("N(N - 1)"), "{text}");
    assert!(text.contains("index"), "{text}");

    let run = pv_coc(&["--explain", "no_such_index"]).run();
    run.expect_code(2);
    assert!(
        run.stderr.contains("coc"),
        "lists the known ids: {}",
        run.stderr
    );
}

#[test]
fn single_clinic_export_without_unit_and_profession_columns() {
    // As-of = latest date 2024-06-30 → window 2023-01-01/2024-06-30.
    // A1: Z on 2022-12-31 is a day early; X X Y → COC 1/3.
    // A2: X Y Z X → (4+1+1-4)/12 = 1/6. A3: two visits, not eligible.
    let dir = TempDir::new("single-clinic");
    let file = dir.write(
        "clinic.csv",
        "patient_id,date,provider_id\n\
         A1,2022-12-31,Z\n\
         A1,2023-01-01,X\n\
         A1,2023-06-15,X\n\
         A1,2024-06-30,Y\n\
         A2,2023-03-01,X\n\
         A2,2023-04-01,Y\n\
         A2,2023-05-01,Z\n\
         A2,2024-01-10,X\n\
         A3,2024-02-02,Y\n\
         A3,2024-03-03,Y\n",
    );
    let run = pv_coc(&[file.as_str()]).run();
    assert_eq!(
        run.ok(),
        format!("{HEADER}\ncoc,all,ALL,2023-01-01/2024-06-30,,0.500000,2,0.250000,,\n")
    );
    assert!(run.stderr.contains("unit column"), "{}", run.stderr);
    assert!(run.stderr.contains("profession column"), "{}", run.stderr);
    // The pooled row is the only row, so --no-total keeps it.
    let run = pv_coc(&["--no-total", file.as_str()]).run();
    assert_eq!(run.ok().lines().count(), 2);
}

#[test]
fn several_files_are_read_in_order() {
    let dir = TempDir::new("several");
    let text = read_testdata("visits.csv");
    let lines: Vec<&str> = text.lines().collect();
    let first = dir.write("a.csv", lines[..30].join("\n") + "\n");
    let mut second_lines = vec![lines[0]];
    second_lines.extend(&lines[30..]);
    let second = dir.write("b.csv", second_lines.join("\n") + "\n");
    let run = pv_coc(&listed())
        .args(&["--index", "all", &first, &second])
        .run();
    assert_eq!(run.ok(), read_testdata("expected_all.csv"));

    // A bad row in the second file is reported by that file's line number.
    let mut bad = second_lines.clone();
    let bad_row = format!("{SECRET_ID},2024-13-01,Kumla,KL1,doctor,physical");
    bad.insert(4, &bad_row);
    let bad_file = dir.write("c.csv", bad.join("\n") + "\n");
    let run = pv_coc(&listed()).args(&[&first, &bad_file]).run();
    assert_data_error(&run, &["c.csv: line 5, column \"date\""]);

    // Files must share a header.
    let other = dir.write(
        "d.csv",
        "date,patient_id,unit,provider_id,profession,contact_type\n2024-01-01,P01,Askersund,AL1,doctor,physical\n",
    );
    let run = pv_coc(&listed()).args(&[&first, &other]).run();
    assert_data_error(&run, &["d.csv", "header"]);
}

#[test]
fn reads_stdin_without_a_file_or_with_dash() {
    let input = std::fs::read(testdata("visits.csv")).unwrap();
    let run = pv_coc(&listed()).stdin(input.clone()).run();
    assert_eq!(run.ok(), read_testdata("expected_coc.csv"));
    let run = pv_coc(&listed()).arg("-").stdin(input.clone()).run();
    assert_eq!(run.ok(), read_testdata("expected_coc.csv"));
    // Stdin through the parallel reader in small chunks.
    let run = pv_coc(&listed())
        .args(&["--threads", "2", "-"])
        .env("PVKIT_BLOCK_SIZE", "64")
        .stdin(input.clone())
        .run();
    assert_eq!(run.ok(), read_testdata("expected_coc.csv"));
    // Stdin between files, in order: the late file then stdin.
    let run = pv_coc(&listed())
        .args(&[
            "--as-of",
            "2024-12-31",
            &testdata("visits-2025-01.csv"),
            "-",
        ])
        .stdin(input)
        .run();
    assert_eq!(run.ok(), read_testdata("expected_coc.csv"));
}

#[test]
fn col_maps_odd_header_names() {
    let dir = TempDir::new("col");
    let text = read_testdata("visits.csv");
    let body = text.split_once('\n').unwrap().1;
    let file = dir.write(
        "odd.csv",
        format!("LopNr,Datum för besök,Vårdenhet,Signerande HSA,Yrke,Kontakttyp\n{body}"),
    );
    let run = pv_coc(&listed())
        .args(&[
            "--col",
            "patient_id=LopNr",
            "--col",
            "date=datum för besök",
            "--col",
            "provider_id=Signerande HSA",
            &file,
        ])
        .run();
    assert_eq!(run.ok(), read_testdata("expected_coc.csv"));

    let run = pv_coc(&listed()).arg(&file).run();
    assert_data_error(
        &run,
        &[
            "\"patient_id\"",
            "\"LopNr\"",
            "\"Datum för besök\"",
            "--col",
        ],
    );
}

#[test]
fn closed_pipe_exits_zero_quietly() {
    // 30 000 patients × 3 visits: the per-patient output (≈1.4 MB) needs
    // many writes, far more than a pipe holds.
    let dir = TempDir::new("pipe");
    let mut text = String::from("patient_id,date,unit,provider_id\n");
    for p in 0..30_000 {
        for k in 0..3 {
            text.push_str(&format!(
                "p{p:05},2024-0{}-0{},U{},D{}\n",
                1 + k,
                1 + p % 9,
                p % 7,
                (p + k) % 4
            ));
        }
    }
    let file = dir.write("big.csv", text);
    let mut child = pv_coc(&["--per-patient", "--index", "all", file.as_str()])
        .command()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start pv-coc");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert_eq!(
        first,
        "unit,profession,patient_id,visits,providers,coc,upc,secon,mmci,hhi\n"
    );
    drop(stdout);
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "stderr: {stderr}");
    let lower = stderr.to_lowercase();
    for word in ["pipe", "error", "panic"] {
        assert!(!lower.contains(word), "stderr mentions {word}: {stderr}");
    }
}

#[test]
fn exit_codes_for_usage_errors() {
    let visits = testdata("visits.csv");
    for args in [
        vec!["--from", "2024-01-01", visits.as_str()],
        vec!["--to", "2024-01-01", visits.as_str()],
        vec![
            "--from",
            "2024-01-01",
            "--to",
            "2024-12-31",
            "--as-of",
            "2024-12-31",
            visits.as_str(),
        ],
        vec![
            "--from",
            "2024-12-31",
            "--to",
            "2024-01-01",
            visits.as_str(),
        ],
        vec!["--index", "continuity", visits.as_str()],
        vec!["--as-of", "2024-13-01", visits.as_str()],
        vec!["--min-visits", "0", visits.as_str()],
        vec!["--threads", "0", visits.as_str()],
        vec!["--format", "xml", visits.as_str()],
        vec!["--rejects", "r.csv", visits.as_str()],
        vec!["--target", "phone_same_day=90", visits.as_str()],
        vec!["--col", "nonsense=X", visits.as_str()],
        vec!["--no-such-flag", visits.as_str()],
    ] {
        let run = pv_coc(&args).run();
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
        assert!(!run.stderr.is_empty(), "{args:?}");
    }
    let run = pv_coc(&["no/such/visits.csv"]).run();
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("no/such/visits.csv"), "{}", run.stderr);
    let run = pv_coc(&["--listing", "no/such/listing.csv", visits.as_str()]).run();
    assert_eq!(run.code, 1, "{}", run.stderr);
}

// ---------------------------------------------------------------------------
// Bad input

const VISITS_HEADER: &str = "patient_id,date,unit,provider_id,profession,contact_type";

/// Inline visits: the header plus `rows`, in a temp file.
fn visits_file(dir: &TempDir, rows: &[&str]) -> String {
    let mut text = String::from(VISITS_HEADER);
    text.push('\n');
    for row in rows {
        text.push_str(row);
        text.push('\n');
    }
    dir.write("visits.csv", text)
}

fn secret_row(date: &str) -> String {
    format!("{SECRET_ID},{date},U1,D1,doctor,physical")
}

#[test]
fn bad_date_names_line_column_and_value_but_not_the_patient() {
    let dir = TempDir::new("bad-date");
    let bad = secret_row("2024-13-01");
    let file = visits_file(
        &dir,
        &[
            "A,2024-01-10,U1,D1,doctor,physical",
            &bad,
            "B,2024-01-11,U1,D1,doctor,physical",
        ],
    );
    let run = pv_coc(&[file.as_str()]).run();
    assert_data_error(
        &run,
        &["line 3, column \"date\": cannot parse \"2024-13-01\" as a date"],
    );
    assert!(run.stdout.is_empty(), "{}", run.stdout);
}

#[test]
fn missing_column_lists_the_columns_found() {
    let dir = TempDir::new("missing");
    let file = dir.write(
        "visits.csv",
        format!("patient_id,date,unit,profession\n{SECRET_ID},2024-01-01,U1,doctor\n"),
    );
    let run = pv_coc(&[file.as_str()]).run();
    assert_data_error(
        &run,
        &[
            "\"provider_id\"",
            "\"patient_id\", \"date\", \"unit\", \"profession\"",
        ],
    );
}

#[test]
fn ragged_row() {
    let dir = TempDir::new("ragged");
    let short = format!("{SECRET_ID},2024-01-12,U1,D1,doctor");
    let long = format!("{SECRET_ID},2024-01-12,U1,D1,doctor,physical,extra");
    for (row, found) in [(&short, "5"), (&long, "7")] {
        let file = visits_file(
            &dir,
            &[
                "A,2024-01-10,U1,D1,doctor,physical",
                "A,2024-01-11,U1,D1,doctor,physical",
                row,
            ],
        );
        let run = pv_coc(&[file.as_str()]).run();
        assert_data_error(&run, &["line 4", "6", found]);
    }
}

#[test]
fn empty_file() {
    let dir = TempDir::new("empty");
    let file = dir.write("visits.csv", "");
    let run = pv_coc(&[file.as_str()]).run();
    assert_data_error(&run, &["empty"]);
    let run = pv_coc(&["-"]).stdin(Vec::new()).run();
    assert_data_error(&run, &["empty"]);
}

#[test]
fn header_only_gives_header_only() {
    let dir = TempDir::new("header-only");
    let file = visits_file(&dir, &[]);
    let run = pv_coc(&[file.as_str()]).run();
    assert_eq!(run.ok(), format!("{HEADER}\n"));
    let run = pv_coc(&["--as-of", "2024-12-31", "--index", "all", file.as_str()]).run();
    assert_eq!(run.ok(), format!("{HEADER}\n"));
    let run = pv_coc(&["--per-patient", file.as_str()]).run();
    assert_eq!(
        run.ok(),
        "unit,profession,patient_id,visits,providers,coc\n"
    );
}

#[test]
fn invalid_utf8_suggests_windows_1252() {
    let dir = TempDir::new("utf8");
    let mut bytes = format!("{VISITS_HEADER}\nA,2024-01-10,U1,D1,doctor,physical\n").into_bytes();
    bytes.extend_from_slice(format!("{SECRET_ID},2024-01-11,H").as_bytes());
    bytes.push(0xE4); // 'ä' in Windows-1252
    bytes.extend_from_slice(b"llefors,D1,doctor,physical\n");
    let file = dir.write("visits.csv", &bytes);
    let run = pv_coc(&[file.as_str()]).run();
    assert_data_error(
        &run,
        &["line 3", "column \"unit\"", "--encoding windows-1252"],
    );

    // The same byte inside the patient id: still no id on stderr.
    let mut bytes = format!("{VISITS_HEADER}\n").into_bytes();
    bytes.extend_from_slice(SECRET_ID.as_bytes());
    bytes.push(0xE4);
    bytes.extend_from_slice(b",2024-01-11,U1,D1,doctor,physical\n");
    let file = dir.write("visits2.csv", &bytes);
    let run = pv_coc(&[file.as_str()]).run();
    assert_data_error(
        &run,
        &["line 2", "column \"patient_id\"", "--encoding windows-1252"],
    );
}

#[test]
fn patient_listed_twice_names_both_lines() {
    let dir = TempDir::new("listed-twice");
    let listing = dir.write(
        "listing.csv",
        format!("patient_id,unit\n{SECRET_ID},U1\nA,U1\nB,U2\n{SECRET_ID},U2\nC,U1\n"),
    );
    let visits = visits_file(&dir, &["A,2024-01-10,U1,D1,doctor,physical"]);
    for threads in ["1", "2"] {
        let run = pv_coc(&["--listing", &listing, "--threads", threads, &visits])
            .env("PVKIT_BLOCK_SIZE", "16")
            .run();
        assert_data_error(
            &run,
            &["line 5", "line 2", "column \"patient_id\"", "listing.csv"],
        );
    }
}

#[test]
fn empty_patient_id() {
    let dir = TempDir::new("empty-id");
    let file = visits_file(
        &dir,
        &[
            &secret_row("2024-01-10"),
            ",2024-01-11,U1,D1,doctor,physical",
        ],
    );
    let run = pv_coc(&[file.as_str()]).run();
    assert_data_error(&run, &["line 3", "column \"patient_id\"", "empty"]);
}

#[test]
fn bad_row_in_the_middle_of_many_small_chunks_has_its_exact_line() {
    // 400 rows cut into 64-byte blocks; a quoted field with a line break and
    // a blank line before the bad row keep line counting honest.
    let dir = TempDir::new("middle");
    let mut lines = vec![VISITS_HEADER.to_string()];
    let mut bad_line = 0;
    for i in 2..=400 {
        let row = match i {
            40 => "A,2024-01-01,\"Kumla\nnorra\",D1,doctor,physical".to_string(),
            90 => String::new(),
            157 => secret_row("2024-13-01"),
            _ => format!(
                "p{},2024-0{}-1{},U{},D{},doctor,physical",
                i % 37,
                1 + i % 9,
                i % 10,
                i % 3,
                i % 5
            ),
        };
        lines.push(row);
        if i == 157 {
            // The quoted field took two physical lines.
            bad_line = lines.len() + 1;
        }
    }
    let file = dir.write("visits.csv", lines.join("\n") + "\n");
    let at = format!("line {bad_line}, column \"date\": cannot parse \"2024-13-01\"");
    for threads in ["1", "2", "4"] {
        let run = pv_coc(&["--threads", threads, file.as_str()])
            .env("PVKIT_BLOCK_SIZE", "64")
            .run();
        assert_data_error(&run, &[&at]);
    }
    // With --skip-invalid the reject carries the same line.
    let rejects = dir.path("rejects.csv").to_string_lossy().into_owned();
    let run = pv_coc(&[
        "--threads",
        "2",
        "--skip-invalid",
        "--rejects",
        &rejects,
        &file,
    ])
    .env("PVKIT_BLOCK_SIZE", "64")
    .run();
    run.expect_code(0);
    assert_no_patient_id(&run.stderr, SECRET_ID);
    let table = parse_csv(&std::fs::read_to_string(&rejects).unwrap());
    assert_eq!(table.rows.len(), 1, "{table:?}");
    assert_eq!(table.get(&table.rows[0], "line"), bad_line.to_string());
}

#[test]
fn duplicate_visit_ids_count_once_and_are_reported() {
    // X X Y counted once each → COC 1/3; counting the repeat would give
    // X X X Y → 1/2.
    let dir = TempDir::new("dup-ids");
    let file = dir.write(
        "visits.csv",
        format!(
            "visit_id,patient_id,date,unit,provider_id\n\
             V1,{SECRET_ID},2024-01-10,U1,X\n\
             V2,{SECRET_ID},2024-02-10,U1,X\n\
             V2,{SECRET_ID},2024-02-10,U1,X\n\
             V3,{SECRET_ID},2024-03-10,U1,Y\n"
        ),
    );
    for threads in ["1", "2"] {
        let run = pv_coc(&["--as-of", "2024-03-31", "--threads", threads, file.as_str()])
            .env("PVKIT_BLOCK_SIZE", "32")
            .run();
        assert_eq!(
            run.ok(),
            format!(
                "{HEADER}\n\
                 coc,unit,U1,2022-10-01/2024-03-31,,0.333333,1,0.333333,,\n\
                 coc,all,ALL,2022-10-01/2024-03-31,,0.333333,1,0.333333,,\n"
            )
        );
        assert_eq!(reported(&run.stderr, "visit_id"), Some(1), "{}", run.stderr);
        assert_no_patient_id(&run.stderr, SECRET_ID);
    }
}

#[test]
fn skip_invalid_counts_and_rejects_keep_rows_verbatim() {
    let dir = TempDir::new("skip");
    let bad_date = secret_row("2024-13-01");
    let ragged = format!("{SECRET_ID},2024-03-11,U1,D1,doctor");
    let no_id = ",2024-03-12,U1,D1,doctor,physical";
    let file = visits_file(
        &dir,
        &[
            "A,2024-01-10,U1,X,doctor,physical",
            "A,2024-02-10,U1,X,doctor,physical",
            &bad_date,
            "A,2024-03-10,U1,Y,doctor,physical",
            &ragged,
            no_id,
            "B,2024-03-12,U1,X,doctor,physical",
        ],
    );
    let rejects = dir.path("rejects.csv").to_string_lossy().into_owned();
    let run = pv_coc(&[
        "--skip-invalid",
        "--rejects",
        &rejects,
        "--as-of",
        "2024-03-31",
        &file,
    ])
    .run();
    // A: X X Y → 1/3; B has one visit.
    assert_eq!(
        run.ok(),
        format!(
            "{HEADER}\n\
             coc,unit,U1,2022-10-01/2024-03-31,doctor,0.333333,1,0.333333,,\n\
             coc,all,ALL,2022-10-01/2024-03-31,doctor,0.333333,1,0.333333,,\n"
        )
    );
    assert_eq!(
        reported(&run.stderr, "invalid rows"),
        Some(3),
        "{}",
        run.stderr
    );
    assert_no_patient_id(&run.stderr, SECRET_ID);

    let table = parse_csv(&std::fs::read_to_string(&rejects).unwrap());
    for column in ["line", "reason", "record"] {
        table.column(column);
    }
    let got: Vec<(String, String)> = table
        .rows
        .iter()
        .map(|r| {
            (
                table.get(r, "line").to_string(),
                table.get(r, "record").to_string(),
            )
        })
        .collect();
    let want = [
        ("4".to_string(), bad_date.clone()),
        ("6".to_string(), ragged.clone()),
        ("7".to_string(), no_id.to_string()),
    ];
    assert_eq!(got, want);
    for row in &table.rows {
        assert!(!table.get(row, "reason").is_empty(), "{row:?}");
    }
    assert_eq!(table.get(&table.rows[0], "column"), "date");
    assert_eq!(table.get(&table.rows[2], "column"), "patient_id");

    // Without --rejects the count is still reported.
    let run = pv_coc(&["--skip-invalid", &file]).run();
    run.expect_code(0);
    assert_eq!(
        reported(&run.stderr, "invalid rows"),
        Some(3),
        "{}",
        run.stderr
    );
    assert_no_patient_id(&run.stderr, SECRET_ID);
}

#[test]
fn quiet_leaves_stderr_empty() {
    let run = readme_run(&["--quiet"]);
    assert_eq!(run.ok(), read_testdata("expected_coc.csv"));
    assert_eq!(run.stderr, "");
    let table: Table = parse_delimited(&run.stdout, b',');
    assert_eq!(table.header.join(","), HEADER);
    assert_eq!(table.rows[0][3], PERIOD);
}

// ---------------------------------------------------------------------------
// Known bugs (see the report); each test states what pv-coc should do.

/// `rows` joined with CRLF, as Excel on Windows writes them.
fn crlf(rows: &[&str]) -> String {
    rows.iter().map(|r| format!("{r}\r\n")).collect()
}

#[test]
fn crlf_export_with_quoted_fields_reports_exact_lines() {
    // Line 1 header, 2 and 3 good (one quoted), 4 bad date, 5 ragged.
    let dir = TempDir::new("crlf-quoted");
    let bad = secret_row("2024-13-01");
    let ragged = format!("{SECRET_ID},2024-01-12,U1,D1,doctor");
    let file = dir.write(
        "visits.csv",
        crlf(&[
            VISITS_HEADER,
            "A,2024-01-10,\"VC Kumla, norra\",D1,doctor,physical",
            "A,2024-01-11,U1,D1,doctor,physical",
            &bad,
            &ragged,
        ]),
    );
    let run = pv_coc(&[file.as_str()]).run();
    assert_data_error(&run, &["line 4, column \"date\""]);

    let rejects = dir.path("rejects.csv").to_string_lossy().into_owned();
    let run = pv_coc(&["--skip-invalid", "--rejects", &rejects, &file]).run();
    run.expect_code(0);
    let table = parse_csv(&std::fs::read_to_string(&rejects).unwrap());
    let lines: Vec<&str> = table.rows.iter().map(|r| table.get(r, "line")).collect();
    assert_eq!(lines, ["4", "5"]);
}

#[test]
fn blank_line_before_a_bad_row_in_a_quoted_file() {
    // Line 1 header, 2 quoted good row, 3 blank, 4 bad date.
    let dir = TempDir::new("blank-quoted");
    let bad = secret_row("2024-13-01");
    let file = dir.write(
        "visits.csv",
        format!("{VISITS_HEADER}\nA,2024-01-10,\"U1\",D1,doctor,physical\n\n{bad}\n"),
    );
    let run = pv_coc(&[file.as_str()]).run();
    assert_data_error(&run, &["line 4, column \"date\""]);
}

#[test]
fn cr_only_line_ends_are_not_silently_dropped() {
    let dir = TempDir::new("cr-only");
    let file = dir.write(
        "visits.csv",
        "patient_id,date,unit,provider_id\rA,2024-01-01,U1,X\rA,2024-01-02,U1,X\rA,2024-01-03,U1,Y\r",
    );
    let run = pv_coc(&[file.as_str()]).run();
    // Either the rows are read (X X Y → COC 1/3) or the file is refused;
    // a header-only result with exit 0 loses the data without a word.
    if run.code == 0 {
        let table = parse_csv(&run.stdout);
        let row = table.indicator_row("coc", "unit", "U1", "");
        assert_eq!(row[5..8], ["0.333333", "1", "0.333333"]);
    } else {
        run.expect_code(1);
    }
}
