//! No patient id on stderr, ever: every reader of every tool
//! (tests/readers/mod.rs) is run on its well-formed input damaged in every
//! way that makes it fail or skip rows (a value that does not parse, invalid
//! UTF-8, a ragged row, a repeated row, no header row, a column mapped onto
//! the patient ids with --col), with distinctive patient ids in every column
//! in turn, with and without --skip-invalid. Only --per-patient output and
//! --rejects files may hold ids; stderr (messages, the summary, warnings)
//! never does.

mod common;
mod readers;

use common::TempDir;
use readers::{IDS, READERS, Reader, Run, bad_dir};

/// An input as lines of fields (the well-formed files have no quotes).
#[derive(Clone)]
struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// The reader's well-formed input, with a `pnr` column of patient ids
    /// added where the kind has none (exports often carry one anyway).
    fn of(reader: &Reader) -> Table {
        let text = std::fs::read_to_string(bad_dir().join(reader.good_file())).unwrap();
        let split = |line: &str| line.split(',').map(str::to_string).collect::<Vec<_>>();
        let mut lines = text.lines();
        let mut table = Table {
            header: split(lines.next().unwrap()),
            rows: lines.map(split).collect(),
        };
        if !table.header.iter().any(|h| h == "patient_id") {
            table.header.push("pnr".into());
            for (i, row) in table.rows.iter_mut().enumerate() {
                row.push(IDS[i % IDS.len()].into());
            }
        }
        table
    }

    fn text(&self, with_header: bool) -> Vec<u8> {
        let mut lines: Vec<String> = Vec::new();
        if with_header {
            lines.push(self.header.join(","));
        }
        lines.extend(self.rows.iter().map(|r| r.join(",")));
        (lines.join("\n") + "\n").into_bytes()
    }

    /// Row 2 (line 3) with `value` in column `col`.
    fn with_value(&self, col: usize, value: &str) -> Table {
        let mut table = self.clone();
        table.rows[1][col] = value.to_string();
        table
    }
}

/// One damaged input and the extra arguments to read it with.
struct Damage {
    what: String,
    bytes: Vec<u8>,
    args: Vec<String>,
}

fn damages(reader: &Reader) -> Vec<Damage> {
    let table = Table::of(reader);
    let mut out = Vec::new();
    let mut add = |what: String, bytes: Vec<u8>, args: &[String]| {
        out.push(Damage {
            what,
            bytes,
            args: args.to_vec(),
        })
    };
    for (col, name) in table.header.iter().enumerate() {
        let id = IDS[col % IDS.len()];
        // Each id where a date, number, outcome, flag or code belongs.
        for each in IDS {
            add(
                format!("{each} in {name}"),
                table.with_value(col, each).text(true),
                &[],
            );
        }
        // The same, followed by a byte that is not UTF-8.
        let mut bytes = table.with_value(col, "\u{1}").text(true);
        let at = bytes.iter().position(|b| *b == 1).unwrap();
        bytes.splice(at..=at, [id.as_bytes(), b"\xe4"].concat());
        add(format!("{id} + invalid UTF-8 in {name}"), bytes, &[]);
        // Twice the row with an id in this column: duplicates.
        let mut repeated = table.with_value(col, id);
        repeated.rows.insert(2, repeated.rows[1].clone());
        add(
            format!("{id} in {name}, row repeated"),
            repeated.text(true),
            &[],
        );
        // The patient ids read as this column.
        let ids = if table.header.contains(&"pnr".to_string()) {
            "pnr"
        } else {
            "patient_id"
        };
        if name != ids && name != "note" {
            add(
                format!("--col {name}={ids}"),
                table.text(true),
                &["--col".into(), format!("{name}={ids}")],
            );
        }
    }
    // Ragged rows: an id as an extra field, and an id alone on a line.
    let mut extra = table.clone();
    extra.rows[1].push(IDS[0].into());
    add("an extra field".into(), extra.text(true), &[]);
    let mut alone = table.clone();
    alone.rows[1] = vec![IDS[3].into()];
    add("an id alone on a line".into(), alone.text(true), &[]);
    // No header row: the first row's values are taken for names, and
    // listed as what was found; also when --col names one that is not there.
    let mut ids_first = table.clone();
    for (col, field) in ids_first.rows[0].iter_mut().enumerate() {
        *field = IDS[col % IDS.len()].into();
    }
    add("no header".into(), ids_first.text(false), &[]);
    add(
        "no header, --col".into(),
        ids_first.text(false),
        &["--col".into(), "unit=Vårdenhet".into()],
    );
    out
}

/// What went wrong reading `damage`: a panic, an id on stderr, an exit
/// code id than 0, 1 or 2.
fn problems(reader: &Reader, dir: &TempDir, n: usize, damage: &Damage) -> Vec<String> {
    let file = dir.write(&format!("{}-{n}.csv", reader.name), &damage.bytes);
    let rejects = dir.path(&format!("{}-{n}-rejects.csv", reader.name));
    let rejects = rejects.to_string_lossy();
    let args: Vec<&str> = damage.args.iter().map(String::as_str).collect();
    let skipping: Vec<&str> = args
        .iter()
        .copied()
        .chain(["--skip-invalid", "--rejects", &rejects])
        .collect();
    let mut found = Vec::new();
    for args in [&args, &skipping] {
        let run: Run = reader.run(&file, args);
        let stopped = run.code != 0;
        let leaked: Vec<&&str> = IDS.iter().filter(|id| run.stderr.contains(**id)).collect();
        if !leaked.is_empty() || run.stderr.contains("panicked") || ![0, 1, 2].contains(&run.code) {
            found.push(format!(
                "{} on {} {args:?}: exit {}, ids {leaked:?}\n{}",
                reader.label(),
                damage.what,
                run.code,
                run.stderr
            ));
        }
        // Skipping rows changes nothing when none stopped the run.
        if !stopped {
            break;
        }
    }
    found
}

#[test]
fn no_error_summary_or_warning_shows_a_patient_id() {
    let dir = TempDir::new("no-leaks");
    // Two threads: the runs are many and short.
    let (first, second) = READERS.split_at(READERS.len() / 2);
    let found: Vec<String> = std::thread::scope(|scope| {
        let halves: Vec<_> = [first, second]
            .into_iter()
            .map(|half| {
                let dir = &dir;
                scope.spawn(move || {
                    let mut found = Vec::new();
                    for reader in half {
                        for (n, damage) in damages(reader).iter().enumerate() {
                            found.extend(problems(reader, dir, n, damage));
                        }
                    }
                    found
                })
            })
            .collect();
        halves.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    assert!(
        found.is_empty(),
        "{} runs went wrong:\n{}",
        found.len(),
        found.join("\n")
    );
}

/// pv-coc --per-patient writes ids to stdout, never to stderr, even when
/// it stops on a bad row or skips rows.
#[test]
fn per_patient_ids_go_to_stdout_only() {
    let coc = readers::reader("coc");
    let run = coc.run("good/visits.csv", &["--per-patient"]);
    assert_eq!(run.code, 0, "{}", run.describe());
    assert!(run.stdout.contains(IDS[0]), "{}", run.describe());
    run.assert_clean("pv-coc --per-patient");
    let dir = TempDir::new("per-patient");
    for damage in damages(coc) {
        let file = dir.write("visits.csv", &damage.bytes);
        let args: Vec<&str> = damage.args.iter().map(String::as_str).collect();
        for skip in [&[][..], &["--skip-invalid"]] {
            let args: Vec<&str> = args
                .iter()
                .copied()
                .chain(["--per-patient"])
                .chain(skip.iter().copied())
                .collect();
            coc.run(&file, &args)
                .assert_clean(&format!("pv-coc {args:?} on {}", damage.what));
        }
    }
}

/// What --rejects keeps is the rows verbatim, ids included: the file is
/// the user's, stderr only counts.
#[test]
fn rejects_keep_the_rows_stderr_only_counts_them() {
    let dir = TempDir::new("rejects");
    let reader = readers::reader("coc");
    let table = Table::of(reader);
    let file = dir.write("visits.csv", table.with_value(1, IDS[3]).text(true));
    let rejects = dir.path("rejects.csv");
    let run = reader.run(
        &file,
        &["--skip-invalid", "--rejects", &rejects.to_string_lossy()],
    );
    assert_eq!(run.code, 0, "{}", run.describe());
    run.assert_clean("pv-coc --skip-invalid");
    assert!(
        run.stderr.contains("skipped 1 invalid rows"),
        "{}",
        run.stderr
    );
    let kept = std::fs::read_to_string(rejects).unwrap();
    assert!(kept.contains(&format!("{},{}", IDS[0], IDS[3])), "{kept}");
}

/// Usage errors found only once the inputs are open (a column --by or the
/// payment needs) name the file and the column, never what is in it.
#[test]
fn usage_errors_after_reading_show_no_ids() {
    let dir = TempDir::new("usage");
    let listing = Table::of(readers::reader("named-doctor"));
    let no_sex = Table {
        header: vec!["patient_id".into(), "unit".into()],
        rows: listing.rows.iter().map(|r| r[..2].to_vec()).collect(),
    };
    let no_sex = dir.write("no_sex.csv", no_sex.text(true));
    let headerless = dir.write("headerless.csv", listing.text(false));
    let calls = Table::of(readers::reader("phone"));
    let no_unit = Table {
        header: calls.header[1..].to_vec(),
        rows: calls.rows.iter().map(|r| r[1..].to_vec()).collect(),
    };
    let no_unit = dir.write("no_unit.csv", no_unit.text(true));
    let runs: [(&str, Vec<&str>, i32); 4] = [
        (
            readers::PV_LISTING_DIFF,
            vec!["--by", "sex", &no_sex, "good/listing-later.csv"],
            2,
        ),
        (
            readers::PV_LISTING_DIFF,
            vec!["--by", "sex", "good/listing-later.csv", &headerless],
            1,
        ),
        (
            readers::PV_COVERAGE,
            vec!["named-doctor", "--by", "active-choice", &headerless],
            1,
        ),
        (
            readers::PV_ACCESS,
            vec![
                "phone",
                "--by",
                "month",
                "--payment-per-listed",
                "83",
                "--listed",
                "good/listed.csv",
                &no_unit,
            ],
            2,
        ),
    ];
    for (tool, args, code) in runs {
        let mut command = std::process::Command::new(tool);
        command.args(&args).current_dir(bad_dir());
        let run = readers::run(command);
        let what = format!("{tool} {args:?}");
        assert_eq!(run.code, code, "{what}\n{}", run.describe());
        run.assert_clean(&what);
    }
}
