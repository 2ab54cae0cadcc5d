//! The adversarial corpus in `testdata/bad/`: every file, through every
//! tool and subcommand that reads its kind of input (tests/readers/mod.rs),
//! gives the documented exit code and message (file, line, column and what
//! was expected) or, when it is damaged only in form, exactly the output of
//! its well-formed twin in `testdata/bad/good/`. Never a panic and never a
//! patient id on stderr. Files that broken exports really look like are
//! checked in; the very large ones are made here.

mod common;
mod readers;

use std::collections::HashMap;

use common::TempDir;
use readers::{READERS, Reader, bad_dir, reader};

/// What a corpus file gives.
enum Want {
    /// Exit 0 and the same stdout as the reader's run on `good/<kind>.csv`.
    Same,
    /// Exit 0 and stdout exactly this.
    Stdout(&'static str),
    /// Exit 0 and each of these in stdout; one starting with `!` must not be.
    Out(&'static [&'static str]),
    /// Exit 1, the file named, and each of these in stderr.
    Fails(&'static [&'static str]),
}

use Want::{Fails, Out, Same, Stdout};

struct Case {
    /// Under `testdata/bad/`; `*/name` is the file `name` of every kind.
    file: &'static str,
    /// Reader names (tests/readers/mod.rs); empty: every reader of the kind.
    readers: &'static [&'static str],
    /// Appended to the reader's arguments.
    args: &'static [&'static str],
    want: Want,
}

const fn every(file: &'static str, want: Want) -> Case {
    Case {
        file,
        readers: &[],
        args: &[],
        want,
    }
}

const fn with(file: &'static str, args: &'static [&'static str], want: Want) -> Case {
    Case {
        file,
        readers: &[],
        args,
        want,
    }
}

const fn only(file: &'static str, readers: &'static [&'static str], want: Want) -> Case {
    Case {
        file,
        readers,
        args: &[],
        want,
    }
}

const HEADER: &str =
    "indicator,level,unit,period,group,numerator,denominator,value,target,status\n";
const EMPTY_FILE: &[&str] = &["the input is empty; expected a header row"];
const NOT_UTF8: &[&str] = &[
    "line 3, column \"note\"",
    "the text is not valid UTF-8",
    "--encoding windows-1252",
];
const WINDOWS_1252: &[&str] = &["--encoding", "windows-1252"];
const COMMA: &[&str] = &["-d", ","];
const UTF_16: &[&str] = &["--encoding", "utf-16le"];
/// A `;` file read with `-d ,`: one column, and a hint.
const SEMICOLONS: &str = "one column with ';' in it: is the delimiter right? see -d";

/// The listing readers that do not read birth dates: a bad one is a
/// column they ignore.
const IGNORE_BIRTH_DATE: &[&str] = &[
    "diff-old",
    "diff-new",
    "named-doctor",
    "doctors",
    "far-listing",
    "coc-listing",
    "care-listing",
    "phone-listing",
];

const CASES: &[Case] = &[
    // Damaged only in form, the same for every kind.
    every("*/crlf.csv", Same),
    every("*/cr_line_ends.csv", Same),
    every("*/quoted_newline_delimiter.csv", Same),
    every("*/trailing_empty_lines.csv", Same),
    every("*/bom_spaces_header.csv", Same),
    every("*/semicolon.csv", Same),
    with("*/invalid_utf8_middle.csv", WINDOWS_1252, Same),
    every("*/empty.csv", Fails(EMPTY_FILE)),
    // Visits.
    every(
        "visits/invalid_utf8_middle.csv",
        Fails(&[
            "line 3, column \"profession\"",
            "the text is not valid UTF-8",
            "--encoding windows-1252",
        ]),
    ),
    every(
        "visits/nul_byte.csv",
        Fails(&["line 3, column \"provider_id\"", "NUL byte"]),
    ),
    every(
        "visits/truncated_last_line.csv",
        Fails(&["line 4", "expected 6 fields as in the header, found 5"]),
    ),
    every("visits/header_only.csv", Stdout(HEADER)),
    every(
        "visits/duplicate_header.csv",
        Fails(&["2 columns named like \"date\" (columns 2 and 4)"]),
    ),
    Case {
        file: "visits/crlf.csv",
        readers: &["coc"],
        args: &["-d", ";"],
        want: Fails(&[
            "one column with ',' in it: is the delimiter right? see -d",
            "missing visits column \"patient_id\"",
            "--col patient_id=HEADER",
        ]),
    },
    with(
        "visits/semicolon.csv",
        COMMA,
        Fails(&[
            SEMICOLONS,
            "missing visits column \"patient_id\"",
            "--col patient_id=HEADER",
        ]),
    ),
    every(
        "visits/impossible_date.csv",
        Fails(&["line 3, column \"date\"", "\"2024-02-30\"", "YYYY-MM-DD"]),
    ),
    every(
        "visits/slash_date.csv",
        Fails(&["line 2, column \"date\"", "\"2024/03/01\"", "YYYY-MM-DD"]),
    ),
    // Calls.
    every("calls/invalid_utf8_middle.csv", Fails(NOT_UTF8)),
    every(
        "calls/nul_byte.csv",
        Fails(&["line 3, column \"unit\"", "NUL byte"]),
    ),
    every(
        "calls/truncated_last_line.csv",
        Fails(&["line 6", "expected 5 fields as in the header, found 3"]),
    ),
    every("calls/header_only.csv", Stdout(HEADER)),
    every(
        "calls/duplicate_header.csv",
        Fails(&["2 columns named like \"outcome\" (columns 3 and 6)"]),
    ),
    with(
        "calls/semicolon.csv",
        COMMA,
        Fails(&[
            SEMICOLONS,
            "missing calls column \"received_at\"",
            "--col received_at=HEADER",
        ]),
    ),
    every(
        "calls/impossible_date.csv",
        Fails(&[
            "line 6, column \"received_at\"",
            "\"2024-02-30 20:00\"",
            "YYYY-MM-DD HH:MM",
        ]),
    ),
    every(
        "calls/slash_date.csv",
        Fails(&["line 6, column \"received_at\"", "\"2024/03/01 20:00\""]),
    ),
    every(
        "calls/unknown_outcome.csv",
        Fails(&[
            "line 4, column \"outcome\"",
            "\"vidarekopplat\"",
            "answered/besvarat",
        ]),
    ),
    every(
        "calls/utf16_unicode_text.csv",
        Fails(&["the file is UTF-16", "--encoding utf-16le"]),
    ),
    Case {
        file: "calls/utf16_unicode_text.csv",
        readers: &["phone"],
        args: UTF_16,
        want: Same,
    },
    // Assessments.
    every("assessments/invalid_utf8_middle.csv", Fails(NOT_UTF8)),
    every(
        "assessments/nul_byte.csv",
        Fails(&["line 3, column \"profession\"", "NUL byte"]),
    ),
    every(
        "assessments/truncated_last_line.csv",
        Fails(&["line 5", "expected 6 fields as in the header, found 4"]),
    ),
    every("assessments/header_only.csv", Stdout(HEADER)),
    every(
        "assessments/duplicate_header.csv",
        Fails(&["2 columns named like \"contact_date\" (columns 2 and 7)"]),
    ),
    with(
        "assessments/semicolon.csv",
        COMMA,
        Fails(&[SEMICOLONS, "missing assessments column \"contact_date\""]),
    ),
    every(
        "assessments/impossible_date.csv",
        Fails(&["line 5, column \"contact_date\"", "\"2024-02-30\""]),
    ),
    every(
        "assessments/slash_date.csv",
        Fails(&["line 5, column \"contact_date\"", "\"2024/03/01\""]),
    ),
    every(
        "assessments/assessed_before_contact.csv",
        Fails(&[
            "line 3, column \"assessment_date\"",
            "the assessment (2024-03-04) is dated before the contact (2024-03-05)",
        ]),
    ),
    // Activities.
    every("activities/invalid_utf8_middle.csv", Fails(NOT_UTF8)),
    every(
        "activities/nul_byte.csv",
        Fails(&["line 3, column \"unit\"", "NUL byte"]),
    ),
    every(
        "activities/truncated_last_line.csv",
        Fails(&["line 5", "expected 5 fields as in the header, found 3"]),
    ),
    only("activities/header_only.csv", &["far"], Stdout(HEADER)),
    // The cohort is there; nobody was offered a dialogue.
    only(
        "activities/header_only.csv",
        &["dialogue"],
        Out(&[
            "health_dialogue_offered,unit,VC1,2024-01-01/2024-12-31,,0,2,0,,",
            "health_dialogue_done,all,ALL,2024-01-01/2024-12-31,,0,3,0,,",
        ]),
    ),
    every(
        "activities/duplicate_header.csv",
        Fails(&["2 columns named like \"code\" (columns 4 and 6)"]),
    ),
    with(
        "activities/semicolon.csv",
        COMMA,
        Fails(&[
            SEMICOLONS,
            "missing activities column",
            "found columns: \"patient_id;date;",
        ]),
    ),
    every(
        "activities/impossible_date.csv",
        Fails(&["line 5, column \"date\"", "\"2024-02-30\""]),
    ),
    every(
        "activities/slash_date.csv",
        Fails(&["line 5, column \"date\"", "\"2024/03/01\""]),
    ),
    // Listing snapshots.
    every("listing/invalid_utf8_middle.csv", Fails(NOT_UTF8)),
    every(
        "listing/nul_byte.csv",
        Fails(&["line 3, column \"unit\"", "NUL byte"]),
    ),
    every(
        "listing/truncated_last_line.csv",
        Fails(&["line 4", "expected 8 fields as in the header, found 6"]),
    ),
    every(
        "listing/duplicate_header.csv",
        Fails(&["2 columns named like \"unit\" (columns 2 and 9)"]),
    ),
    every(
        "listing/duplicate_patient.csv",
        Fails(&[
            "line 5, column \"patient_id\"",
            "the same patient is listed twice in this snapshot (other row: line 3)",
        ]),
    ),
    with(
        "listing/semicolon.csv",
        COMMA,
        Fails(&[SEMICOLONS, "missing listing column \"patient_id\""]),
    ),
    only("listing/impossible_date.csv", IGNORE_BIRTH_DATE, Same),
    only(
        "listing/impossible_date.csv",
        &["dialogue-listing"],
        Fails(&[
            "line 4, column \"birth_date\"",
            "\"2024-02-30\"",
            "YYYY-MM-DD",
        ]),
    ),
    only("listing/slash_date.csv", IGNORE_BIRTH_DATE, Same),
    only(
        "listing/slash_date.csv",
        &["dialogue-listing"],
        Fails(&["line 4, column \"birth_date\"", "\"2024/03/01\""]),
    ),
    // An empty snapshot: everyone left, or arrived; no one is listed.
    only(
        "listing/header_only.csv",
        &["diff-old"],
        Out(&["unit,VC1,0,1,1,0,0,1,0", "all,ALL,0,3,3,0,0,3,0"]),
    ),
    only(
        "listing/header_only.csv",
        &["diff-new"],
        Out(&["unit,VC1,1,0,-1,0,0,0,1", "all,ALL,3,0,-3,0,0,0,3"]),
    ),
    only(
        "listing/header_only.csv",
        &[
            "named-doctor",
            "coc-listing",
            "care-listing",
            "dialogue-listing",
        ],
        Stdout(HEADER),
    ),
    only(
        "listing/header_only.csv",
        &["doctors"],
        Out(&["listed_per_doctor,unit,VC1,,,0,2.5000,0,1100,met"]),
    ),
    only(
        "listing/header_only.csv",
        &["far-listing"],
        Out(&["far_per_1000,unit,VC1,2024-03-01/2024-03-04,,1,0,,8,"]),
    ),
    only(
        "listing/header_only.csv",
        &["phone-listing"],
        Out(&["phone_payment,unit,VC1,2024-03,,0,0,0,,"]),
    ),
    every(
        "listing/utf16_unicode_text.csv",
        Fails(&["the file is UTF-16", "--encoding utf-16le"]),
    ),
    // --encoding is for every input: only where the listing is the only one.
    Case {
        file: "listing/utf16_unicode_text.csv",
        readers: &["named-doctor"],
        args: UTF_16,
        want: Same,
    },
    // Staffing.
    every("staffing/invalid_utf8_middle.csv", Fails(NOT_UTF8)),
    every(
        "staffing/nul_byte.csv",
        Fails(&["line 3, column \"unit\"", "NUL byte"]),
    ),
    every(
        "staffing/truncated_last_line.csv",
        Fails(&["line 3", "expected 3 fields as in the header, found 1"]),
    ),
    every(
        "staffing/duplicate_header.csv",
        Fails(&["2 columns named like \"doctor_fte\" (columns 2 and 4)"]),
    ),
    with(
        "staffing/semicolon.csv",
        COMMA,
        Fails(&[SEMICOLONS, "missing staffing column \"unit\""]),
    ),
    every("staffing/decimal_comma.csv", Same),
    every(
        "staffing/bad_number.csv",
        Fails(&[
            "line 3, column \"doctor_fte\"",
            "\"-1\"",
            "a non-negative number",
        ]),
    ),
    // No FTE anywhere: empty values, the listed patients still there.
    every(
        "staffing/header_only.csv",
        Out(&[
            "listed_per_doctor,unit,VC1,,,2,0,,1100,",
            "listed_per_doctor,all,ALL,,,3,0,,1100,",
        ]),
    ),
    // Listed counts.
    every("listed/invalid_utf8_middle.csv", Fails(NOT_UTF8)),
    every(
        "listed/nul_byte.csv",
        Fails(&["line 3, column \"unit\"", "NUL byte"]),
    ),
    every(
        "listed/truncated_last_line.csv",
        Fails(&["line 3", "expected 3 fields as in the header, found 1"]),
    ),
    every(
        "listed/duplicate_header.csv",
        Fails(&["2 columns named like \"listed\" (columns 2 and 4)"]),
    ),
    with(
        "listed/semicolon.csv",
        COMMA,
        Fails(&[SEMICOLONS, "missing listed counts column \"unit\""]),
    ),
    every("listed/thousands_spaces.csv", Same),
    every(
        "listed/bad_number.csv",
        Fails(&["line 3, column \"listed\"", "\"1 000,5\"", "a whole number"]),
    ),
    only(
        "listed/header_only.csv",
        &["far-listed"],
        Out(&["far_per_1000,unit,VC1,2024-03-01/2024-03-04,,1,0,,8,"]),
    ),
    only(
        "listed/header_only.csv",
        &["doctors-listed"],
        Out(&["listed_per_doctor,unit,VC1,,,0,2.5000,0,1100,met"]),
    ),
    only(
        "listed/header_only.csv",
        &["phone-listed"],
        Out(&["phone_payment,unit,VC1,2024-03,,0,0,0,,"]),
    ),
    // Units.
    every("units/invalid_utf8_middle.csv", Fails(NOT_UTF8)),
    every(
        "units/nul_byte.csv",
        Fails(&["line 3, column \"area\"", "NUL byte"]),
    ),
    every(
        "units/truncated_last_line.csv",
        Fails(&["line 3", "expected 5 fields as in the header, found 3"]),
    ),
    every(
        "units/duplicate_header.csv",
        Fails(&["2 columns named like \"unit\" (columns 1 and 6)"]),
    ),
    with(
        "units/semicolon.csv",
        COMMA,
        Fails(&[SEMICOLONS, "missing units column \"unit\""]),
    ),
    // No units known: the unit rows as without --units, no area rows.
    only(
        "units/header_only.csv",
        &["coc-units"],
        Out(&[
            "coc,unit,VC1,2022-09-04/2024-03-03,doctor,0.333333,1,0.333333,,",
            "!,area,",
        ]),
    ),
    only(
        "units/header_only.csv",
        &["phone-units"],
        Out(&[
            "phone_same_day,unit,VC1,2024-03-01/2024-03-02,,2,3,66.6667,90,not_met",
            "!,area,",
        ]),
    ),
    only(
        "units/header_only.csv",
        &["assessment-units"],
        Out(&[
            "assessment_3d,unit,VC1,2024-03-05/2024-03-07,,1,2,50,,",
            "!,area,",
        ]),
    ),
    only(
        "units/header_only.csv",
        &["far-units"],
        Out(&[
            "far_per_1000,unit,VC1,2024-03-01/2024-03-04,,1,1000,1,8,not_met",
            "!,area,",
        ]),
    ),
    only(
        "units/header_only.csv",
        &["named-doctor-units"],
        Out(&["named_doctor_share,unit,VC1,,,1,2,50,55,not_met", "!,area,"]),
    ),
    only(
        "units/header_only.csv",
        &["care-units"],
        Out(&[
            "coverage,unit,VC1,2024-03-01/2024-03-03,,3,3,100,60,met",
            "!,area,",
        ]),
    ),
    only(
        "units/header_only.csv",
        &["diff-units"],
        Out(&["unit,VC1,2,1,-1,0,1,1,1", "!area,"]),
    ),
    // Monthly targets.
    every("targets/invalid_utf8_middle.csv", Fails(NOT_UTF8)),
    every(
        "targets/nul_byte.csv",
        Fails(&["line 3, column \"half\"", "NUL byte"]),
    ),
    every(
        "targets/truncated_last_line.csv",
        Fails(&["line 3", "expected 4 fields as in the header, found 2"]),
    ),
    every(
        "targets/duplicate_header.csv",
        Fails(&["2 columns named like \"target\" (columns 2 and 5)"]),
    ),
    with(
        "targets/semicolon.csv",
        COMMA,
        Fails(&[SEMICOLONS, "missing monthly targets column \"month\""]),
    ),
    every("targets/decimal_comma.csv", Same),
    every(
        "targets/impossible_date.csv",
        Fails(&["line 3, column \"month\"", "\"2024-13\"", "YYYY-MM"]),
    ),
    every(
        "targets/slash_date.csv",
        Fails(&["line 3, column \"month\"", "\"2024/03\"", "YYYY-MM"]),
    ),
    // No months in the file: the default levels, 90 and 80.
    every(
        "targets/header_only.csv",
        Out(&["phone_same_day,unit,VC1,2024-03,,2,3,66.6667,90,not_met"]),
    ),
];

impl Case {
    fn matches_file(&self, kind: &str, name: &str) -> bool {
        match self.file.strip_prefix("*/") {
            Some(any_kind) => any_kind == name,
            None => self.file == format!("{kind}/{name}"),
        }
    }

    fn applies_to(&self, reader: &Reader) -> bool {
        self.readers.is_empty() || self.readers.contains(&reader.name)
    }

    /// The corpus files the case is about, as `kind/name`.
    fn files(&self) -> Vec<String> {
        corpus_files()
            .into_iter()
            .filter(|(kind, name)| self.matches_file(kind, name))
            .map(|(kind, name)| format!("{kind}/{name}"))
            .collect()
    }
}

/// Every corpus file as (kind, file name); `good/` holds the twins.
fn corpus_files() -> Vec<(String, String)> {
    let mut files = Vec::new();
    for kind in std::fs::read_dir(bad_dir()).unwrap() {
        let kind = kind.unwrap();
        let kind_name = kind.file_name().to_string_lossy().into_owned();
        if !kind.file_type().unwrap().is_dir() || kind_name == "good" {
            continue;
        }
        for file in std::fs::read_dir(kind.path()).unwrap() {
            let name = file.unwrap().file_name().to_string_lossy().into_owned();
            files.push((kind_name.clone(), name));
        }
    }
    files.sort();
    files
}

fn check(reader: &'static Reader, file: &str, args: &[&str], want: &Want, twins: &mut Twins) {
    let run = reader.run(file, args);
    let what = format!("{} {file} {args:?}", reader.label());
    run.assert_clean(&what);
    let chunked = reader.run_in_small_blocks(file, args);
    assert_eq!(
        (chunked.code, &chunked.stdout, &chunked.stderr),
        (run.code, &run.stdout, &run.stderr),
        "{what}: read in 16-byte blocks by two threads"
    );
    let context = || format!("{what}\n{}", run.describe());
    match want {
        Same => {
            assert_eq!(run.code, 0, "{}", context());
            assert_eq!(run.stdout, twins.output(reader), "{}", context());
        }
        Stdout(text) => {
            assert_eq!(run.code, 0, "{}", context());
            assert_eq!(run.stdout, *text, "{}", context());
        }
        Out(needles) => {
            assert_eq!(run.code, 0, "{}", context());
            for needle in *needles {
                match needle.strip_prefix('!') {
                    Some(absent) => assert!(!run.stdout.contains(absent), "{}", context()),
                    None => assert!(run.stdout.contains(needle), "{}", context()),
                }
            }
        }
        Fails(needles) => {
            assert_eq!(run.code, 1, "{}", context());
            assert!(run.stderr.contains(&format!("{file}: ")), "{}", context());
            for needle in *needles {
                assert!(run.stderr.contains(needle), "{needle:?}: {}", context());
            }
        }
    }
}

/// Each reader's stdout on its kind's well-formed file, computed once.
#[derive(Default)]
struct Twins(HashMap<&'static str, String>);

impl Twins {
    fn output(&mut self, reader: &'static Reader) -> String {
        self.0
            .entry(reader.name)
            .or_insert_with(|| {
                let run = reader.run(&reader.good_file(), &[]);
                assert_eq!(run.code, 0, "{}\n{}", reader.label(), run.describe());
                run.stdout
            })
            .clone()
    }
}

#[test]
fn every_corpus_file_gives_its_exit_code_and_message() {
    let mut twins = Twins::default();
    for case in CASES {
        let files = case.files();
        assert!(!files.is_empty(), "no corpus file {}", case.file);
        for file in files {
            let kind = file.split('/').next().unwrap();
            for reader in READERS
                .iter()
                .filter(|r| r.kind == kind && case.applies_to(r))
            {
                check(reader, &file, case.args, &case.want, &mut twins);
            }
        }
    }
}

/// Every corpus file, as it is (no extra arguments), has a case for every
/// reader of its kind, and every case names readers that read its kind.
#[test]
fn the_table_covers_the_corpus() {
    for (kind, name) in corpus_files() {
        let readers: Vec<&Reader> = READERS.iter().filter(|r| r.kind == kind).collect();
        assert!(!readers.is_empty(), "nothing reads testdata/bad/{kind}/");
        for reader in readers {
            assert!(
                CASES.iter().any(|c| c.args.is_empty()
                    && c.matches_file(&kind, &name)
                    && c.applies_to(reader)),
                "{kind}/{name} has no case for {} in tests/bad_input.rs",
                reader.label()
            );
        }
    }
    for case in CASES {
        for name in case.readers {
            let reader = reader(name);
            assert!(
                case.files()
                    .iter()
                    .all(|f| f.starts_with(&format!("{}/", reader.kind))),
                "{} does not read {}",
                reader.label(),
                case.file
            );
        }
    }
}

/// The twins themselves: hand-computed results (testdata/bad/README.md).
const GOOD: &[(&str, &[&str])] = &[
    (
        "coc",
        &["coc,unit,VC1,2022-09-04/2024-03-03,doctor,0.333333,1,0.333333,,"],
    ),
    (
        "care",
        &[
            "coverage,unit,VC1,2024-03-01/2024-03-03,,3,3,100,60,met",
            "coverage,unit,VC2,2024-03-01/2024-03-03,,0,0,,60,",
        ],
    ),
    (
        "reach",
        &[
            "visited_share,unit,VC1,2024-03-01/2024-03-03,,1,2,50,,",
            "visited_share,unit,VC2,2024-03-01/2024-03-03,,0,1,0,,",
        ],
    ),
    (
        "phone",
        &[
            "phone_same_day,unit,VC1,2024-03-01/2024-03-02,,2,3,66.6667,90,not_met",
            "phone_same_day,unit,VC2,2024-03-01/2024-03-02,,0,1,0,90,not_met",
            "phone_outcome,all,ALL,2024-03-01/2024-03-02,closed,1,5,20,,",
        ],
    ),
    (
        "assessment",
        &[
            "assessment_3d,unit,VC1,2024-03-05/2024-03-07,,1,2,50,,",
            "assessment_3d,unit,VC2,2024-03-05/2024-03-07,,1,1,100,,",
            "assessment_0d,unit,VC1,2024-03-05/2024-03-07,,0,2,0,,",
        ],
    ),
    (
        "far",
        &[
            "far_per_1000,unit,VC1,2024-03-01/2024-03-04,,1,1000,1,8,not_met",
            "far_per_1000,unit,VC2,2024-03-01/2024-03-04,,1,500,2,8,not_met",
        ],
    ),
    (
        "dialogue",
        &[
            "health_dialogue_offered,unit,VC1,2024-01-01/2024-12-31,,1,2,50,,",
            "health_dialogue_offered,unit,VC2,2024-01-01/2024-12-31,,1,1,100,,",
            "health_dialogue_done,unit,VC1,2024-01-01/2024-12-31,,0,2,0,,",
            "health_dialogue_done,unit,VC2,2024-01-01/2024-12-31,,1,1,100,,",
        ],
    ),
    (
        "diff-old",
        &["unit,VC1,2,1,-1,0,1,1,1", "unit,VC2,1,2,1,1,0,0,0"],
    ),
    (
        "diff-new",
        &["unit,VC1,1,2,1,1,0,1,1", "unit,VC2,2,1,-1,0,1,0,0"],
    ),
    (
        "named-doctor",
        &[
            "named_doctor_share,unit,VC1,,,1,2,50,55,not_met",
            "named_doctor_share,unit,VC2,,,1,1,100,55,met",
        ],
    ),
    (
        "doctors",
        &[
            "listed_per_doctor,unit,VC1,,,2,2.5000,0.8000,1100,met",
            "listed_per_doctor,unit,VC2,,,1,1,1,1100,met",
        ],
    ),
    (
        "far-listing",
        &[
            "far_per_1000,unit,VC1,2024-03-01/2024-03-04,,1,2,500,8,met",
            "far_per_1000,unit,VC2,2024-03-01/2024-03-04,,1,1,1000,8,met",
        ],
    ),
    (
        "coc-listing",
        &["coc,unit,VC1,2022-09-04/2024-03-03,doctor,0.333333,1,0.333333,,"],
    ),
    (
        "care-listing",
        &["coverage,unit,VC1,2024-03-01/2024-03-03,,3,3,100,60,met"],
    ),
    (
        "phone-listing",
        &[
            "phone_payment,unit,VC1,2024-03,,13.83,2,13.83,,",
            "phone_payment,unit,VC2,2024-03,,0,1,0,,",
        ],
    ),
    (
        "dialogue-listing",
        &["health_dialogue_offered,unit,VC1,2024-01-01/2024-12-31,,1,2,50,,"],
    ),
    (
        "doctors-staffing",
        &["listed_per_doctor,unit,VC1,,,2,2.5000,0.8000,1100,met"],
    ),
    (
        "far-listed",
        &["far_per_1000,unit,VC2,2024-03-01/2024-03-04,,1,500,2,8,not_met"],
    ),
    (
        "doctors-listed",
        &[
            "listed_per_doctor,unit,VC1,,,1000,2.5000,400,1100,met",
            "listed_per_doctor,unit,VC2,,,500,1,500,1100,met",
        ],
    ),
    (
        "phone-listed",
        &[
            "phone_payment,unit,VC1,2024-03,,6916.67,1000,6916.67,,",
            "phone_payment,unit,VC2,2024-03,,0,500,0,,",
        ],
    ),
    (
        "coc-units",
        &["coc,area,North,2022-09-04/2024-03-03,doctor,0.333333,1,0.333333,,"],
    ),
    (
        "phone-units",
        &["phone_same_day,area,North,2024-03-01/2024-03-02,,2,4,50,90,not_met"],
    ),
    (
        "assessment-units",
        &["assessment_3d,area,North,2024-03-05/2024-03-07,,2,3,66.6667,,"],
    ),
    (
        "far-units",
        &["far_per_1000,area,North,2024-03-01/2024-03-04,,2,1500,1.3333,8,not_met"],
    ),
    (
        "named-doctor-units",
        &["named_doctor_share,area,North,,,2,3,66.6667,55,met"],
    ),
    (
        "care-units",
        &["coverage,area,North,2024-03-01/2024-03-03,,3,3,100,60,met"],
    ),
    ("diff-units", &["area,North,3,3,0,1,1,1,1"]),
    (
        "phone-targets",
        &[
            "phone_same_day,unit,VC1,2024-03,,2,3,66.6667,60,met",
            "phone_same_day,all,ALL,2024-03,,2,4,50,60,half",
        ],
    ),
];

#[test]
fn the_well_formed_twins_give_the_hand_computed_results() {
    for reader in READERS {
        let (_, lines) = GOOD
            .iter()
            .find(|(name, _)| *name == reader.name)
            .unwrap_or_else(|| panic!("no expected result for {}", reader.label()));
        let run = reader.run(&reader.good_file(), &[]);
        run.assert_clean(&reader.label());
        assert_eq!(run.code, 0, "{}\n{}", reader.label(), run.describe());
        for line in *lines {
            assert!(
                run.stdout.lines().any(|l| l == *line),
                "{}: wanted {line}\n{}",
                reader.label(),
                run.describe()
            );
        }
    }
}

/// A 10 MB field (a pasted journal note) in the second row of each kind.
#[test]
fn a_ten_megabyte_field_is_read() {
    let dir = TempDir::new("huge-field");
    let note = "x".repeat(10 << 20);
    let mut twins = Twins::default();
    let mut kinds: Vec<&str> = READERS.iter().map(|r| r.kind).collect();
    kinds.dedup();
    for kind in kinds {
        let reader = READERS.iter().find(|r| r.kind == kind).unwrap();
        let good = std::fs::read_to_string(bad_dir().join(reader.good_file())).unwrap();
        let mut lines: Vec<String> = good.lines().map(str::to_string).collect();
        let note_col = lines[0].split(',').position(|h| h == "note").unwrap();
        let mut fields: Vec<&str> = lines[2].split(',').collect();
        fields[note_col] = &note;
        lines[2] = fields.join(",");
        let file = dir.write(&format!("{kind}.csv"), lines.join("\n") + "\n");
        let run = reader.run(&file, &[]);
        run.assert_clean(&reader.label());
        assert_eq!(run.code, 0, "{}: {}", reader.label(), run.stderr);
        assert_eq!(run.stdout, twins.output(reader), "{}", reader.label());
    }
}

/// Every reader on its inputs repeated over many units (each with its own
/// patients and providers): each copy's unit rows are the twin's.
#[test]
fn many_units_patients_and_providers() {
    const COPIES: usize = 2_000;
    let dir = TempDir::new("many-units");
    let mut twins = Twins::default();
    for reader in READERS {
        let run = reader.run_scaled(&dir.path(""), COPIES, &["-q"]);
        run.assert_clean(&reader.label());
        assert_eq!(run.code, 0, "{}: {}", reader.label(), run.stderr);
        let mut expected: Vec<String> = Vec::new();
        let twin = twins.output(reader);
        for copy in 0..COPIES {
            expected.extend(unit_rows(&twin, |unit| format!("{unit}-{copy}")));
        }
        let mut found = unit_rows(&run.stdout, str::to_string);
        expected.sort_unstable();
        found.sort_unstable();
        assert_eq!(found.len(), expected.len(), "{}", reader.label());
        assert!(found == expected, "{}: unit rows differ", reader.label());
    }
}

/// The `level=unit` rows of an output, their unit renamed.
fn unit_rows(output: &str, rename: impl Fn(&str) -> String) -> Vec<String> {
    let mut lines = output.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let position = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (level, unit) = (position("level"), position("unit"));
    lines
        .filter_map(|line| {
            let mut fields: Vec<String> = line.split(',').map(str::to_string).collect();
            (fields[level] == "unit").then(|| {
                fields[unit] = rename(&fields[unit]);
                fields.join(",")
            })
        })
        .collect()
}

/// A hundred thousand units, each with its own providers, through pv-coc.
#[test]
fn a_hundred_thousand_units_and_providers() {
    let dir = TempDir::new("hundred-thousand");
    let mut text = String::from("patient_id,date,unit,provider_id,profession,contact_type\n");
    for unit in 0..100_000 {
        for (day, provider) in [(1, 0), (2, 0), (3, 1)] {
            text.push_str(&format!(
                "{unit:010},2024-03-0{day},U{unit},P{unit}-{provider},doctor,physical\n"
            ));
        }
    }
    let file = dir.write("many_units.csv", text);
    let run = reader("coc").run(&file, &["-q"]);
    run.assert_clean("pv-coc, 100 000 units");
    assert_eq!(run.code, 0, "{}", run.stderr);
    // 100 000 unit rows, the all row and the header.
    assert_eq!(run.stdout.lines().count(), 100_002);
    assert!(
        run.stdout
            .contains("coc,all,ALL,2022-09-04/2024-03-03,doctor,33333.33")
    );
}

/// pv-coc keeps a profession in 15 bits: a profession column of free text
/// (a shifted export) stops at the 32 769th distinct value with a message
/// instead of wrapping around.
#[test]
fn more_professions_than_pv_coc_can_group() {
    let dir = TempDir::new("professions");
    let mut text = String::from("patient_id,date,unit,provider_id,profession\n");
    for n in 0..33_000 {
        text.push_str(&format!("P-SECRET-42,2024-03-01,VC1,D1,yrke {n}\n"));
    }
    let file = dir.write("professions.csv", text);
    let run = reader("coc").run(&file, &["--threads", "1"]);
    run.assert_clean("pv-coc, 33 000 professions");
    assert_eq!(run.code, 1, "{}", run.describe());
    assert!(
        run.stderr
            .contains("line 32770, column \"profession\": more than 32768 distinct professions"),
        "{}",
        run.describe()
    );
}

/// Kronor on the command line as Swedish spreadsheets write them: decimal
/// comma, spaces and no-break spaces between thousands, the same in every
/// tool that pays.
#[test]
fn kronor_with_decimal_comma_and_thousands_spaces() {
    let phone = |kr: &str| {
        readers::run({
            let mut command = std::process::Command::new(readers::PV_ACCESS);
            command
                .current_dir(bad_dir())
                .args(["phone", "--by", "month", "--target", "50"])
                .arg(format!("--payment-per-listed={kr}"))
                .args(["--listed", "good/listed.csv", "good/calls.csv"]);
            command
        })
    };
    let far = |kr: &str| {
        readers::run({
            let mut command = std::process::Command::new(readers::PV_FAR);
            command
                .current_dir(bad_dir())
                .args(["--target", "1"])
                .arg(format!("--payment-per-listed={kr}"))
                .args(["--listed", "good/listed.csv", "good/activities.csv"]);
            command
        })
    };
    // VC1 met its target: KR × 1 000 listed, by the month (1/12) for phones.
    for (run, line) in [
        (
            phone("1 200,00"),
            "phone_payment,unit,VC1,2024-03,,100000,1000,100000,,",
        ),
        (
            phone("1\u{a0}200"),
            "phone_payment,unit,VC1,2024-03,,100000,1000,100000,,",
        ),
        (
            phone("83,5"),
            "phone_payment,unit,VC1,2024-03,,6958.33,1000,6958.33,,",
        ),
        (
            far("1 000,50"),
            "far_payment,unit,VC1,2024-03-01/2024-03-04,,1000500,1000,1000500,,",
        ),
        (
            far("1\u{a0}000.50"),
            "far_payment,unit,VC1,2024-03-01/2024-03-04,,1000500,1000,1000500,,",
        ),
    ] {
        assert_eq!(run.code, 0, "{}", run.describe());
        assert!(
            run.stdout.lines().any(|l| l == line),
            "{line}\n{}",
            run.describe()
        );
    }
    for run in [phone("83 kr"), far("1.000,50"), phone("-83")] {
        assert_eq!(run.code, 2, "{}", run.describe());
        assert!(
            run.stderr.contains("expected an amount in kronor"),
            "{}",
            run.describe()
        );
    }
}
