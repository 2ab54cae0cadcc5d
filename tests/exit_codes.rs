//! Exit codes of every binary and subcommand, as cron jobs and shell
//! pipelines rely on them: 0 success, 1 bad data or a missing file, 2 a
//! usage error; `--help` and `--version` exit 0; and a reader that closes
//! the pipe early (`| head`) ends the run quietly with 0.

mod common;
mod readers;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

use common::TempDir;
use readers::{
    FILE, PV_ACCESS, PV_COC, PV_COVERAGE, PV_FAR, PV_LISTING_DIFF, READERS, Reader, Run, run,
};

/// The subcommand a reader runs, if its tool has subcommands.
fn subcommand(reader: &Reader) -> Option<&'static str> {
    let first = *reader.args.first()?;
    (first != FILE
        && first.chars().all(|c| c.is_ascii_lowercase() || c == '-')
        && !first.starts_with('-'))
    .then_some(first)
}

/// One reader per binary and subcommand: what the exit codes are tried on.
fn representatives() -> Vec<&'static Reader> {
    let mut seen = Vec::new();
    READERS
        .iter()
        .filter(|r| {
            let key = (r.tool, subcommand(r));
            let new = !seen.contains(&key);
            seen.push(key);
            new
        })
        .collect()
}

fn tool_run(tool: &str, args: &[&str]) -> Run {
    let mut command = Command::new(tool);
    command
        .args(args)
        .current_dir(readers::bad_dir())
        .stdin(Stdio::null());
    run(command)
}

#[track_caller]
fn assert_exit(run: &Run, code: i32, what: &str) {
    assert_eq!(run.code, code, "{what}\n{}", run.describe());
    run.assert_clean(what);
}

#[test]
fn every_binary_and_subcommand_is_covered() {
    let covered: Vec<(String, Option<&str>)> = representatives()
        .iter()
        .map(|r| (r.label(), subcommand(r)))
        .collect();
    let subcommands = |tool: &str| -> Vec<String> {
        let run = tool_run(tool, &["--help"]);
        run.stdout
            .split("Commands:")
            .nth(1)
            .map(|list| {
                list.lines()
                    .map_while(|l| l.strip_prefix("  "))
                    .filter_map(|l| l.split_whitespace().next())
                    .filter(|name| *name != "help")
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    for tool in [PV_COC, PV_ACCESS, PV_COVERAGE, PV_FAR, PV_LISTING_DIFF] {
        let names = subcommands(tool);
        let reps: Vec<&Reader> = representatives()
            .into_iter()
            .filter(|r| r.tool == tool)
            .collect();
        assert!(!reps.is_empty(), "no reader runs {tool}");
        for name in names {
            assert!(
                reps.iter().any(|r| subcommand(r) == Some(name.as_str())),
                "no reader runs {tool} {name}: {covered:?}"
            );
        }
    }
}

#[test]
fn success_exits_zero() {
    for reader in READERS {
        let run = reader.run(&reader.good_file(), &[]);
        assert_exit(&run, 0, &reader.label());
        assert!(!run.stdout.is_empty(), "{}", reader.label());
    }
}

#[test]
fn bad_data_and_missing_files_exit_one() {
    for reader in READERS {
        let damaged = format!("{}/nul_byte.csv", reader.kind);
        let run = reader.run(&damaged, &[]);
        assert_exit(&run, 1, &format!("{} on {damaged}", reader.label()));
        assert!(
            run.stderr.contains(&format!("error: {damaged}: line 3")),
            "{}",
            run.describe()
        );
        let run = reader.run("no/such/file.csv", &[]);
        assert_exit(&run, 1, &format!("{} on a missing file", reader.label()));
        assert!(
            run.stderr.contains("cannot open no/such/file.csv"),
            "{}",
            run.describe()
        );
    }
}

/// Calls that are wrong whatever the data: unknown and malformed options,
/// options that need others, conflicting ones.
const USAGE_ERRORS: &[(&str, &[&str])] = &[
    (PV_COC, &["--from", "2024-01-01", "good/visits.csv"]),
    (PV_COC, &["--as-of", "2024-02-30", "good/visits.csv"]),
    (PV_COC, &["--months", "0", "good/visits.csv"]),
    (PV_COC, &["--explain", "phone_same_day_x"]),
    (
        PV_COC,
        &["--target", "no_such_indicator=5", "good/visits.csv"],
    ),
    (PV_ACCESS, &[]),
    (PV_ACCESS, &["video", "good/calls.csv"]),
    (
        PV_ACCESS,
        &["phone", "--targets", "good/targets.csv", "good/calls.csv"],
    ),
    (
        PV_ACCESS,
        &["phone", "--payment-per-listed", "83", "good/calls.csv"],
    ),
    (
        PV_ACCESS,
        &["phone", "--listed", "good/listed.csv", "good/calls.csv"],
    ),
    (
        PV_ACCESS,
        &["phone", "--count", "answered,maybe", "good/calls.csv"],
    ),
    (
        PV_ACCESS,
        &[
            "phone",
            "--by",
            "month",
            "--payment-per-listed",
            "83 kr",
            "good/calls.csv",
        ],
    ),
    (
        PV_ACCESS,
        &["assessment", "--by", "week", "good/assessments.csv"],
    ),
    (PV_COVERAGE, &[]),
    (PV_COVERAGE, &["care", "good/visits.csv"]),
    (
        PV_COVERAGE,
        &["reach", "--from", "2024-01-01", "good/visits.csv"],
    ),
    (
        PV_COVERAGE,
        &["named-doctor", "--by", "sex", "good/listing.csv"],
    ),
    (PV_COVERAGE, &["doctors", "good/listing.csv"]),
    (
        PV_COVERAGE,
        &[
            "health-dialogue",
            "--listing",
            "good/listing.csv",
            "good/activities.csv",
        ],
    ),
    (
        PV_COVERAGE,
        &[
            "health-dialogue",
            "--listing",
            "good/listing.csv",
            "--year",
            "2024",
            "--offered-codes",
            "x",
            "--completed-codes",
            "x",
            "good/activities.csv",
        ],
    ),
    (PV_FAR, &["good/activities.csv"]),
    (
        PV_FAR,
        &[
            "--listed",
            "good/listed.csv",
            "--code",
            "DV112",
            "good/activities.csv",
        ],
    ),
    (
        PV_FAR,
        &[
            "--listed",
            "good/listed.csv",
            "--listing",
            "good/listing.csv",
            "good/activities.csv",
        ],
    ),
    (
        PV_FAR,
        &[
            "--listed",
            "good/listed.csv",
            "--payment-per-listed",
            "kr",
            "good/activities.csv",
        ],
    ),
    (PV_LISTING_DIFF, &["good/listing.csv"]),
    (PV_LISTING_DIFF, &["-", "-"]),
    (
        PV_LISTING_DIFF,
        &[
            "--flows",
            "--level",
            "area",
            "good/listing.csv",
            "good/listing-later.csv",
        ],
    ),
    (
        PV_LISTING_DIFF,
        &[
            "--as-of",
            "2024-12-31",
            "good/listing.csv",
            "good/listing-later.csv",
        ],
    ),
];

#[test]
fn usage_errors_exit_two() {
    for reader in representatives() {
        for wrong in [
            &["--no-such-option"][..],
            &["--threads", "0"],
            &["-d", "ab"],
        ] {
            let run = reader.run(&reader.good_file(), wrong);
            assert_exit(&run, 2, &format!("{} {wrong:?}", reader.label()));
        }
    }
    for (tool, args) in USAGE_ERRORS {
        let run = tool_run(tool, args);
        assert_exit(&run, 2, &format!("{tool} {args:?}"));
        assert!(!run.stderr.trim().is_empty(), "{tool} {args:?}: silent");
    }
}

#[test]
fn help_and_version_exit_zero() {
    for tool in [PV_COC, PV_ACCESS, PV_COVERAGE, PV_FAR, PV_LISTING_DIFF] {
        for flag in ["--help", "-h", "--version", "-V"] {
            let run = tool_run(tool, &[flag]);
            assert_exit(&run, 0, &format!("{tool} {flag}"));
            assert!(
                !run.stdout.is_empty() && run.stderr.is_empty(),
                "{tool} {flag}"
            );
        }
    }
    for reader in representatives() {
        if let Some(sub) = subcommand(reader) {
            for flag in ["--help", "-h"] {
                let run = tool_run(reader.tool, &[sub, flag]);
                assert_exit(&run, 0, &format!("{} {flag}", reader.label()));
                assert!(run.stdout.contains("Usage:"), "{}", reader.label());
            }
        }
    }
}

/// `tool … | head -1`: the reader goes away after one line; the tool stops
/// writing, says nothing and exits 0. The inputs are the well-formed ones
/// over many units, so that the output is far larger than a pipe holds.
#[test]
fn closed_pipe_exits_zero_quietly() {
    const COPIES: usize = 5_000;
    let dir = TempDir::new("closed-pipe");
    for reader in representatives() {
        // More than the tool's 64 KiB buffer and the pipe's 64 KiB, twice.
        let once = reader.run(&reader.good_file(), &[]).stdout.len();
        assert!(
            once * COPIES > 4 << 16,
            "{}: too little output",
            reader.label()
        );
        let args = reader.scaled_args(&dir.path(""), COPIES, &["-f", "csv"]);
        let mut child = reader
            .command(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the tool");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        assert!(first.contains("unit"), "{}: {first}", reader.label());
        drop(stdout);
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(0), "{}: {stderr}", reader.label());
        let lower = stderr.to_lowercase();
        for word in ["pipe", "error", "panic"] {
            assert!(
                !lower.contains(word),
                "{}: stderr mentions {word}: {stderr}",
                reader.label()
            );
        }
    }
}
