//! The adversarial corpus in `testdata/bad/`: every file, through every
//! tool that reads its kind of input, gives the documented exit code and
//! message, never a panic and never a patient id. Files that a broken
//! export really looks like are checked in; the very large ones are made
//! here.

use std::path::Path;
use std::process::Command;

/// The id every corpus row carries; it must not reach stderr.
const SECRET_ID: &str = "19121212-1212";

struct Case {
    /// The binary and the arguments before the file.
    tool: &'static str,
    args: &'static [&'static str],
    /// Under `testdata/bad/`.
    file: &'static str,
    code: i32,
    /// Each must be in stderr (exit 1) or stdout (exit 0).
    expect: &'static [&'static str],
}

const COC: &str = env!("CARGO_BIN_EXE_pv-coc");
/// AAB for one patient at VC1: COC = (2² + 1² − 3) / (3 · 2) = 1/3.
const ONE_THIRD: &str = "coc,unit,VC1,2022-09-04/2024-03-03,doctor,0.333333,1,0.333333,,";

const CASES: &[Case] = &[
    Case {
        tool: COC,
        args: &[],
        file: "visits/quoted_newline_delimiter.csv",
        code: 0,
        expect: &[ONE_THIRD],
    },
    Case {
        tool: COC,
        args: &[],
        file: "visits/crlf.csv",
        code: 0,
        expect: &[ONE_THIRD],
    },
    Case {
        tool: COC,
        args: &[],
        file: "visits/trailing_empty_lines.csv",
        code: 0,
        expect: &[ONE_THIRD],
    },
    Case {
        tool: COC,
        args: &[],
        file: "visits/bom_spaces_header.csv",
        code: 0,
        expect: &[ONE_THIRD],
    },
    Case {
        tool: COC,
        args: &["--encoding", "windows-1252"],
        file: "visits/invalid_utf8_middle.csv",
        code: 0,
        // läkare is a doctor, so the patient has the same three visits.
        expect: &[ONE_THIRD],
    },
    Case {
        tool: COC,
        args: &[],
        file: "visits/invalid_utf8_middle.csv",
        code: 1,
        expect: &["line 3, column \"profession\"", "--encoding windows-1252"],
    },
    Case {
        tool: COC,
        args: &[],
        file: "visits/nul_byte.csv",
        code: 1,
        expect: &["line 3, column \"provider_id\"", "NUL byte"],
    },
    Case {
        tool: COC,
        args: &[],
        file: "visits/truncated_last_line.csv",
        code: 1,
        expect: &["line 4", "expected 6 fields as in the header, found 5"],
    },
    Case {
        tool: COC,
        args: &[],
        file: "visits/header_only.csv",
        code: 0,
        expect: &["indicator,level,unit,period,group,numerator,denominator,value,target,status"],
    },
    Case {
        tool: COC,
        args: &[],
        file: "visits/empty.csv",
        code: 1,
        expect: &["the input is empty; expected a header row"],
    },
    Case {
        tool: COC,
        args: &[],
        file: "visits/duplicate_header.csv",
        code: 1,
        expect: &["2 columns named like \"date\" (columns 2 and 4)"],
    },
    Case {
        tool: COC,
        args: &["-d", ";"],
        file: "visits/crlf.csv",
        code: 1,
        expect: &[
            "missing visits column \"patient_id\"",
            "--col patient_id=HEADER",
        ],
    },
    Case {
        tool: COC,
        args: &[],
        file: "visits/impossible_date.csv",
        code: 1,
        expect: &["line 3, column \"date\"", "\"2024-02-30\"", "YYYY-MM-DD"],
    },
    Case {
        tool: COC,
        args: &[],
        file: "visits/slash_date.csv",
        code: 1,
        expect: &["line 2, column \"date\"", "\"2024/03/01\""],
    },
];

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(tool: &str, args: &[&str], file: &Path) -> Run {
    let output = Command::new(tool)
        .args(args)
        .arg(file)
        .env_remove("PVKIT_BLOCK_SIZE")
        .output()
        .expect("start the tool");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn corpus(file: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/bad")
        .join(file)
}

#[test]
fn every_corpus_file_gives_its_exit_code_and_message() {
    for case in CASES {
        let run = run(case.tool, case.args, &corpus(case.file));
        let what = format!(
            "{} {:?} {}\n--- stdout\n{}--- stderr\n{}",
            case.tool, case.args, case.file, run.stdout, run.stderr
        );
        assert_eq!(run.code, case.code, "{what}");
        let shown = if case.code == 0 {
            &run.stdout
        } else {
            &run.stderr
        };
        for needle in case.expect {
            assert!(shown.contains(needle), "wanted {needle:?} in {what}");
        }
        assert!(!run.stderr.contains("panicked"), "{what}");
        assert!(!run.stderr.contains(SECRET_ID), "{what}");
    }
}

/// Every visits file in the corpus is in the table above.
#[test]
fn the_table_covers_the_corpus() {
    for kind in std::fs::read_dir(corpus("")).unwrap() {
        let kind = kind.unwrap().path();
        for file in std::fs::read_dir(&kind).unwrap() {
            let file = file.unwrap().path();
            let name = file
                .strip_prefix(corpus(""))
                .unwrap()
                .to_string_lossy()
                .into_owned();
            assert!(
                CASES.iter().any(|c| c.file == name),
                "{name} has no case in tests/bad_input.rs"
            );
        }
    }
}

#[test]
fn a_ten_megabyte_field_is_read() {
    let dir = std::env::temp_dir().join(format!("pvkit-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("huge_field.csv");
    let note = "x".repeat(10 << 20);
    let mut text = String::from("patient_id,date,unit,provider_id,profession,contact_type,note\n");
    for (day, provider) in [(1, "P1"), (2, "P1"), (3, "P2")] {
        text.push_str(&format!(
            "{SECRET_ID},2024-03-0{day},VC1,{provider},doctor,physical,{note}\n"
        ));
    }
    std::fs::write(&path, text).unwrap();
    let run = run(COC, &[], &path);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains(ONE_THIRD), "{}", run.stdout);
}

#[test]
fn a_hundred_thousand_units_and_providers() {
    let dir = std::env::temp_dir().join(format!("pvkit-many-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("many_units.csv");
    let mut text = String::from("patient_id,date,unit,provider_id,profession,contact_type\n");
    for unit in 0..100_000 {
        for (day, provider) in [(1, 0), (2, 0), (3, 1)] {
            text.push_str(&format!(
                "{unit:010},2024-03-0{day},U{unit},P{unit}-{provider},doctor,physical\n"
            ));
        }
    }
    std::fs::write(&path, text).unwrap();
    let run = run(COC, &["-q"], &path);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // 100 000 unit rows, the all row and the header.
    assert_eq!(run.stdout.lines().count(), 100_002);
    assert!(
        run.stdout
            .contains("coc,all,ALL,2022-09-04/2024-03-03,doctor,33333.33")
    );
}
