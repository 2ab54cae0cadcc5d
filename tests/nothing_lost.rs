//! Nothing lost (issue 8): for every tool and subcommand, a run with
//! `--skip-invalid --rejects R` on generated inputs that mix used rows,
//! rows a rule excludes and invalid rows accounts for every data row:
//!
//! - the stderr summary says, for each input,
//!   `INPUT: read N rows = U used + E excluded by rule + S skipped as invalid`
//!   with exactly the numbers the generator put in, and names each
//!   exclusion reason with its count;
//! - R holds exactly the invalid rows, each with its file, line and column
//!   and its bytes verbatim;
//! - the output equals that of a run (without `--skip-invalid`) on the
//!   same files with the invalid rows taken out.
//!
//! Runs alternate between one and two reader threads and the default and a
//! 64-byte block size (`PVKIT_BLOCK_SIZE`), so rows cross chunk boundaries.

mod common;

use common::{Cmd, TempDir, pv_access, pv_coc, pv_coverage, pv_far, pv_listing_diff};
use proptest::prelude::*;

// ---------------------------------------------------------------------------
// Generated inputs

/// What the generator meant a line to be.
#[derive(Clone, Debug, PartialEq)]
enum Fate {
    Used,
    /// Excluded by a rule, with the reason as the summary words it.
    Excluded(&'static str),
    /// Invalid, with the column its reject names (empty for a ragged row).
    Invalid(&'static str),
    /// A blank line: no row at all.
    Blank,
}

/// One line of a generated file: its raw CSV fields (quotes included).
#[derive(Clone, Debug)]
struct Line {
    fields: Vec<String>,
    fate: Fate,
}

impl Line {
    fn new(fate: Fate, fields: &[&str]) -> Line {
        Line {
            fields: fields.iter().map(|f| f.to_string()).collect(),
            fate,
        }
    }

    fn text(&self) -> String {
        self.fields.join(",")
    }
}

fn used(fields: &[&str]) -> Gen {
    Gen::Line(Line::new(Fate::Used, fields))
}

fn excluded(reason: &'static str, fields: &[&str]) -> Gen {
    Gen::Line(Line::new(Fate::Excluded(reason), fields))
}

fn invalid(column: &'static str, fields: &[&str]) -> Gen {
    Gen::Line(Line::new(Fate::Invalid(column), fields))
}

/// A line as generated, before repeats are resolved.
#[derive(Clone, Debug)]
enum Gen {
    Line(Line),
    /// A copy of an earlier used line (chosen by `pick`), changed by `derive`.
    Repeat {
        pick: usize,
        derive: fn(&[String], usize) -> Vec<String>,
        fate: Fate,
    },
    Blank(&'static str),
}

fn repeat(pick: usize, derive: fn(&[String], usize) -> Vec<String>, fate: Fate) -> Gen {
    Gen::Repeat { pick, derive, fate }
}

/// Lines in order, repeats copied from earlier used lines (dropped when
/// there is none). With `id_column`, every line that is not a repeat
/// gets a unique id there.
fn resolve(gens: Vec<Gen>, id_column: Option<usize>) -> Vec<Line> {
    let mut lines: Vec<Line> = Vec::new();
    for (n, generated) in gens.into_iter().enumerate() {
        match generated {
            Gen::Line(mut line) => {
                if let Some(field) = id_column.and_then(|c| line.fields.get_mut(c)) {
                    *field = format!("V{n}");
                }
                lines.push(line);
            }
            Gen::Repeat { pick, derive, fate } => {
                let earlier: Vec<&Line> = lines.iter().filter(|l| l.fate == Fate::Used).collect();
                if earlier.is_empty() {
                    continue;
                }
                let fields = derive(&earlier[pick % earlier.len()].fields, pick);
                lines.push(Line { fields, fate });
            }
            Gen::Blank(text) => lines.push(Line {
                fields: vec![text.to_string()],
                fate: Fate::Blank,
            }),
        }
    }
    lines
}

/// A generated file.
#[derive(Clone, Debug)]
struct Input {
    /// The file name, also the placeholder `@name` in the arguments.
    name: &'static str,
    /// How the summary names its rows; `None` for a side file (units,
    /// staffing, listed counts) whose invalid rows only count in the total.
    label: Option<&'static str>,
    header: &'static str,
    lines: Vec<Line>,
    crlf: bool,
}

impl Input {
    fn text(&self, with_invalid: bool) -> String {
        let end = if self.crlf { "\r\n" } else { "\n" };
        let mut text = format!("{}{end}", self.header);
        for line in &self.lines {
            if with_invalid || !matches!(line.fate, Fate::Invalid(_)) {
                text.push_str(&line.text());
                text.push_str(end);
            }
        }
        text
    }

    fn count(&self, wanted: impl Fn(&Fate) -> bool) -> usize {
        self.lines.iter().filter(|l| wanted(&l.fate)).count()
    }

    fn invalid(&self) -> usize {
        self.count(|f| matches!(f, Fate::Invalid(_)))
    }

    /// The summary's account of this file's rows.
    fn account(&self, label: &str) -> String {
        let rows = self.count(|f| *f != Fate::Blank);
        let used = self.count(|f| *f == Fate::Used);
        let excluded = self.count(|f| matches!(f, Fate::Excluded(_)));
        format!(
            "{label}: read {rows} rows = {used} used + {excluded} excluded by rule + {} skipped as invalid",
            self.invalid()
        )
    }

    /// Excluded rows per reason, in first-seen order.
    fn reasons(&self) -> Vec<(&'static str, usize)> {
        let mut reasons: Vec<(&'static str, usize)> = Vec::new();
        for line in &self.lines {
            if let Fate::Excluded(reason) = line.fate {
                match reasons.iter_mut().find(|(r, _)| *r == reason) {
                    Some((_, n)) => *n += 1,
                    None => reasons.push((reason, 1)),
                }
            }
        }
        reasons
    }

    /// (file, line, column, record) of each invalid row; the header is line 1.
    fn rejects(&self, path: &str) -> Vec<Reject> {
        self.lines
            .iter()
            .enumerate()
            .filter_map(|(i, line)| match line.fate {
                Fate::Invalid(column) => Some(Reject {
                    file: path.to_string(),
                    line: (i + 2).to_string(),
                    column: column.to_string(),
                    record: line.text().into_bytes(),
                }),
                _ => None,
            })
            .collect()
    }
}

/// One row of a `--rejects` file, reason aside.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Reject {
    file: String,
    line: String,
    column: String,
    record: Vec<u8>,
}

/// A run to check: the tool, its inputs and arguments (`@name` stands for
/// the path of input `name`), threads and block size.
#[derive(Clone, Debug)]
struct Case {
    inputs: Vec<Input>,
    args: Vec<String>,
    threads: Option<u16>,
    small_blocks: bool,
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|a| a.to_string()).collect()
}

/// Threads (default, 1 or 2) and whether blocks are 64 bytes.
fn run_settings() -> impl Strategy<Value = (Option<u16>, bool)> {
    (
        prop_oneof![Just(None), Just(Some(1)), Just(Some(2))],
        any::<bool>(),
    )
}

// ---------------------------------------------------------------------------
// The check

type Tool = fn(&[String]) -> Cmd;

impl Case {
    fn command(&self, tool: Tool, paths: &[(String, String)], extra: &[String]) -> Cmd {
        let args: Vec<String> = self
            .args
            .iter()
            .map(|arg| {
                paths
                    .iter()
                    .find(|(name, _)| arg.strip_prefix('@') == Some(name.as_str()))
                    .map_or_else(|| arg.clone(), |(_, path)| path.clone())
            })
            .chain(extra.iter().cloned())
            .collect();
        let mut command = tool(&args);
        if let Some(threads) = self.threads {
            command = command.args(&["--threads", &threads.to_string()]);
        }
        if self.small_blocks {
            command = command.env("PVKIT_BLOCK_SIZE", "64");
        }
        command
    }

    fn write(&self, dir: &TempDir, prefix: &str, with_invalid: bool) -> Vec<(String, String)> {
        self.inputs
            .iter()
            .map(|input| {
                let file = format!("{prefix}{}.csv", input.name);
                let path = dir.write(&file, input.text(with_invalid));
                (input.name.to_string(), path)
            })
            .collect()
    }
}

/// The summary part that starts with `start` (parts are `; `-separated).
fn part<'a>(stderr: &'a str, start: &str) -> Option<&'a str> {
    stderr
        .lines()
        .flat_map(|line| line.split("; "))
        .map(|part| {
            part.split_once(": ").map_or(
                part,
                |(tool, rest)| {
                    if tool.starts_with("pv-") { rest } else { part }
                },
            )
        })
        .find(|part| part.starts_with(start))
}

fn check(tool: Tool, case: &Case) -> Result<(), TestCaseError> {
    let dir = TempDir::new("lost");
    let paths = case.write(&dir, "", true);
    let rejects = dir.path("rejects.csv").to_string_lossy().into_owned();
    let extra = args(&["--skip-invalid", "--rejects", &rejects]);
    let run = case.command(tool, &paths, &extra).run();
    prop_assert_eq!(run.code, 0, "{}", run.stderr);
    let stderr = &run.stderr;
    prop_assert!(!stderr.contains("do not add up"), "{}", stderr);

    for input in &case.inputs {
        let Some(label) = input.label else { continue };
        let account = input.account(label);
        prop_assert_eq!(
            part(stderr, &format!("{label}: read ")),
            Some(account.as_str()),
            "{}",
            stderr
        );
        let reasons = input.reasons();
        let listed = part(stderr, &format!("{label} excluded by rule: "));
        prop_assert_eq!(listed.is_some(), !reasons.is_empty(), "{}", stderr);
        if let Some(listed) = listed {
            let list = format!(", {},", listed.split_once(": ").unwrap().1);
            for (reason, n) in reasons {
                prop_assert!(
                    list.contains(&format!(", {n} {reason},")),
                    "wanted {} {:?} in {:?}",
                    n,
                    reason,
                    listed
                );
            }
        }
    }

    let invalid: usize = case.inputs.iter().map(Input::invalid).sum();
    let skipped = part(stderr, "skipped ");
    if invalid == 0 {
        prop_assert!(skipped.is_none(), "{}", stderr);
    } else {
        let wanted = format!("skipped {invalid} invalid rows, written to {rejects}");
        prop_assert_eq!(skipped, Some(wanted.as_str()), "{}", stderr);
    }

    let mut wanted: Vec<Reject> = case
        .inputs
        .iter()
        .zip(&paths)
        .flat_map(|(input, (_, path))| input.rejects(path))
        .collect();
    let mut written = read_rejects(&rejects);
    wanted.sort();
    written.sort();
    prop_assert_eq!(written, wanted);

    let clean = case.write(&dir, "clean-", false);
    let again = case.command(tool, &clean, &args(&["-q"])).run();
    prop_assert_eq!(again.code, 0, "{}", again.stderr);
    prop_assert_eq!(again.stdout, run.stdout);
    Ok(())
}

/// The rows of a `--rejects` file; every one must give a reason.
fn read_rejects(path: &str) -> Vec<Reject> {
    let mut reader = csv::ReaderBuilder::new()
        .from_path(path)
        .expect("the rejects file exists");
    assert_eq!(
        reader.byte_headers().unwrap(),
        &csv::ByteRecord::from(vec!["file", "line", "column", "reason", "record"])
    );
    reader
        .byte_records()
        .map(|record| {
            let record = record.expect("a rejects row");
            let text = |i: usize| String::from_utf8_lossy(&record[i]).into_owned();
            assert!(
                !record[3].is_empty(),
                "a reject without a reason: {record:?}"
            );
            Reject {
                file: text(0),
                line: text(1),
                column: text(2),
                record: record[4].to_vec(),
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Shared pieces of the generators

/// Units as CSV fields; one quoted with a comma, so chunks take the csv path.
const UNITS: [&str; 4] = [
    "VC Norr",
    "VC Söder",
    "\"VC Öster, Kumla\"",
    "Hälsocentralen",
];
/// A unit only invalid rows name: it must not reach the output.
const GHOST: &str = "VC Spöke";

fn unit(i: usize) -> &'static str {
    UNITS[i % UNITS.len()]
}

fn patient(i: usize) -> String {
    format!("P{i:02}")
}

/// A patient no listing has.
fn stranger(i: usize) -> String {
    format!("Q{i:02}")
}

fn day(year: u16, month: u8, day: u8) -> String {
    format!("{year}-{month:02}-{day:02}")
}

/// A date in the first half of 2024 (the period of most cases).
fn in_half() -> impl Strategy<Value = String> {
    (1u8..=6, 1u8..=28).prop_map(|(m, d)| day(2024, m, d))
}

/// A date outside the first half of 2024.
fn outside_half() -> impl Strategy<Value = String> {
    prop_oneof![
        (1u8..=12, 1u8..=28).prop_map(|(m, d)| day(2023, m, d)),
        (7u8..=12, 1u8..=28).prop_map(|(m, d)| day(2024, m, d)),
    ]
}

const BAD_DATES: [&str; 5] = [
    "2024-02-30",
    "2024/03/01",
    "2024-13-01",
    "20240230",
    "1 mars",
];

fn bad_date() -> impl Strategy<Value = &'static str> {
    prop::sample::select(&BAD_DATES[..])
}

/// Blank lines: not rows, so neither read nor rejected.
fn blank() -> impl Strategy<Value = Gen> {
    prop::sample::select(&["", " , ,"][..]).prop_map(Gen::Blank)
}

/// A listed patient's repeat at another unit (a data error in a snapshot),
/// listed since a day later than any other row.
fn at_other_unit(fields: &[String], pick: usize) -> Vec<String> {
    let mut fields = fields.to_vec();
    fields[1] = if pick.is_multiple_of(2) {
        GHOST.to_string()
    } else {
        unit(pick).to_string()
    };
    fields[6] = day(2024, 12, 20 + (pick % 10) as u8);
    fields
}

fn same_row(fields: &[String], _: usize) -> Vec<String> {
    fields.to_vec()
}

/// Which listing columns a tool reads, so which bad values are invalid.
#[derive(Clone, Copy, Debug, Default)]
struct Reads {
    birth_date: bool,
    active_choice: bool,
}

const LISTING_HEADER: &str =
    "patient_id,unit,birth_date,active_choice,named_doctor,sex,listed_since";

/// A snapshot of patients `P00 …`: one line per patient (unit, birth
/// date and the other columns generated), then invalid lines and repeats
/// put among them. `repeats` says what a repeated patient is.
fn listing(
    patients: usize,
    reads: Reads,
    repeats: Fate,
) -> impl Strategy<Value = (Vec<Line>, Vec<usize>)> {
    let person = (
        (0..UNITS.len(), 0usize..7, 0usize..4),
        (0usize..4, 0usize..4, (2018u16..=2024, 1u8..=11, 1u8..=28)),
    );
    let bad = prop_oneof![
        3 => (0usize..1000).prop_map(move |pick| (pick, 0u8)),
        1 => (0usize..1000).prop_map(|pick| (pick, 1u8)),
        1 => (0usize..1000).prop_map(|pick| (pick, 2u8)),
        1 => (0usize..1000).prop_map(|pick| (pick, 3u8)),
        1 => (0usize..1000).prop_map(|pick| (pick, 4u8)),
    ];
    (
        prop::collection::vec(person, patients..=patients),
        prop::collection::vec((0usize..1000, bad), 0..6),
    )
        .prop_map(move |(people, bads)| {
            const BIRTHS: [&str; 7] = [
                "1984-05-01",
                "1974-12-31",
                "1964-02-29",
                "1954-07-15",
                "1990-01-01",
                // Turns 65 in December 2024: which band depends on the day.
                "1959-12-10",
                "",
            ];
            const CHOICES: [&str; 4] = ["ja", "nej", "", "1"];
            const DOCTORS: [&str; 4] = ["Dr Ek", "ja", "", "nej"];
            const SEXES: [&str; 4] = ["K", "M", "", "kvinna"];
            let units: Vec<usize> = people.iter().map(|p| p.0.0).collect();
            let mut gens: Vec<Gen> = people
                .iter()
                .enumerate()
                .map(|(i, &((u, b, c), (d, s, (y, m, dd))))| {
                    used(&[
                        &patient(i),
                        unit(u),
                        BIRTHS[b],
                        CHOICES[c],
                        DOCTORS[d],
                        SEXES[s],
                        &day(y, m, dd),
                    ])
                })
                .collect();
            for (k, (position, (pick, kind))) in bads.into_iter().enumerate() {
                // Patients of their own, beyond the generated ones.
                let id = patient(100 + k);
                let line = match kind {
                    0 => repeat(pick, at_other_unit, repeats.clone()),
                    1 => invalid("unit", &[&id, " ", "", "", "", "", ""]),
                    2 => invalid("", &[&id, unit(pick)]),
                    3 if reads.birth_date => invalid(
                        "birth_date",
                        &[&id, unit(pick), "1984-02-30", "", "", "", ""],
                    ),
                    4 if reads.active_choice => invalid(
                        "active_choice",
                        &[&id, unit(pick), "", "kanske", "", "", ""],
                    ),
                    // A value the tool does not read is no error.
                    3 => used(&[&id, unit(pick), "1984-02-30", "", "", "", ""]),
                    _ => used(&[&id, unit(pick), "", "kanske", "", "", ""]),
                };
                let at = position % (gens.len() + 1);
                gens.insert(at, line);
            }
            (resolve(gens, None), units)
        })
}

fn listing_input(
    name: &'static str,
    label: Option<&'static str>,
    lines: Vec<Line>,
    crlf: bool,
) -> Input {
    Input {
        name,
        label,
        header: LISTING_HEADER,
        lines,
        crlf,
    }
}

/// The unit generated patient `P{p}` is listed at (`units` as
/// [`listing`] returns them).
fn unit_of(units: &[usize], p: usize) -> &'static str {
    unit(units[p % units.len()])
}

// ---------------------------------------------------------------------------
// pv-coc

const COC_PATIENTS: usize = 8;

/// A visit row: patient, date, unit, provider, profession, contact type;
/// the visit_id is filled in by `resolve`.
fn visit(
    fate: Fate,
    p: &str,
    date: &str,
    unit: &str,
    provider: &str,
    profession: &str,
    contact: &str,
) -> Gen {
    Gen::Line(Line::new(
        fate,
        &[p, date, unit, provider, profession, contact, "id"],
    ))
}

fn coc_visits(units: Vec<usize>, listed: bool) -> impl Strategy<Value = Vec<Line>> {
    let kinds = prop::collection::vec(
        (0u8..20, 0usize..1000, in_half(), outside_half(), bad_date()),
        0..50,
    );
    (kinds, prop::collection::vec(blank(), 0..2)).prop_map(move |(kinds, blanks)| {
        const PROFESSIONS: [&str; 3] = ["doctor", "Läkare", "nurse"];
        const CONTACTS: [&str; 3] = ["physical", "besök", "hembesök"];
        let mut gens: Vec<Gen> = kinds
            .into_iter()
            .map(|(kind, n, date, outside, bad)| {
                let p = patient(n % COC_PATIENTS);
                let home = unit_of(&units, n % COC_PATIENTS);
                let other = UNITS.iter().find(|u| **u != home).copied().unwrap_or(GHOST);
                let provider = format!("D{}", n % 4);
                let (profession, contact) = (PROFESSIONS[n % 3], CONTACTS[n % 3]);
                let ok = |fate| visit(fate, &p, &date, home, &provider, profession, contact);
                match kind {
                    0..=6 => ok(Fate::Used),
                    7 => visit(
                        Fate::Excluded("outside the period"),
                        &p,
                        &outside,
                        home,
                        &provider,
                        profession,
                        contact,
                    ),
                    8 => visit(
                        Fate::Excluded("contact type not counted"),
                        &p,
                        &date,
                        home,
                        &provider,
                        profession,
                        "telefon",
                    ),
                    9 => visit(
                        Fate::Excluded("empty profession"),
                        &p,
                        &date,
                        home,
                        &provider,
                        " ",
                        contact,
                    ),
                    10 => visit(
                        Fate::Excluded("profession not selected"),
                        &p,
                        &date,
                        home,
                        &provider,
                        "psykolog",
                        contact,
                    ),
                    11 => visit(
                        Fate::Excluded("empty provider"),
                        &p,
                        &date,
                        home,
                        "",
                        profession,
                        contact,
                    ),
                    12 => repeat(
                        n,
                        same_row,
                        Fate::Excluded("repeated visit_id (counted once)"),
                    ),
                    13 if listed => visit(
                        Fate::Excluded("patient not in the listing"),
                        &stranger(n % 3),
                        &date,
                        home,
                        &provider,
                        profession,
                        contact,
                    ),
                    14 if listed => visit(
                        Fate::Excluded("at another unit than the patient's listing"),
                        &p,
                        &date,
                        other,
                        &provider,
                        profession,
                        contact,
                    ),
                    15 => visit(
                        Fate::Invalid("date"),
                        &p,
                        bad,
                        home,
                        &provider,
                        profession,
                        contact,
                    ),
                    16 => visit(
                        Fate::Invalid("patient_id"),
                        "",
                        &date,
                        home,
                        &provider,
                        profession,
                        contact,
                    ),
                    17 => visit(
                        Fate::Invalid("unit"),
                        &p,
                        &date,
                        "",
                        &provider,
                        profession,
                        contact,
                    ),
                    18 => invalid("", &[&p, &date, home, &provider]),
                    19 => visit(
                        Fate::Invalid("provider_id"),
                        &p,
                        &date,
                        home,
                        "D\0",
                        profession,
                        contact,
                    ),
                    _ => ok(Fate::Used),
                }
            })
            .collect();
        for (i, b) in blanks.into_iter().enumerate() {
            let at = (i * 7) % (gens.len() + 1);
            gens.insert(at, b);
        }
        resolve(gens, Some(6))
    })
}

fn coc_case() -> impl Strategy<Value = Case> {
    (any::<bool>(), any::<bool>(), run_settings())
        .prop_flat_map(|(listed, crlf, (threads, small_blocks))| {
            let reads = Reads::default();
            listing(COC_PATIENTS, reads, Fate::Invalid("patient_id")).prop_flat_map(move |(lines, units)| {
                coc_visits(units, listed).prop_map(move |visits| {
                    let mut inputs = vec![Input {
                        name: "visits",
                        label: Some("visits"),
                        header: "patient_id,date,unit,provider_id,profession,contact_type,visit_id",
                        lines: visits,
                        crlf,
                    }];
                    let mut list = args(&["--as-of", "2024-06-30", "--months", "6", "--profession", "doctor,nurse", "--min-visits", "1"]);
                    if listed {
                        inputs.push(listing_input("listing", Some("listing"), lines.clone(), !crlf));
                        list.extend(args(&["--listing", "@listing"]));
                    }
                    list.push("@visits".to_string());
                    Case { inputs, args: list, threads, small_blocks }
                })
            })
        })
}

// ---------------------------------------------------------------------------
// pv-access

fn phone_case() -> impl Strategy<Value = Case> {
    let row = (
        0u8..16,
        0usize..1000,
        (3u8..=4, 1u8..=28),
        (1u8..=2, 1u8..=28),
        bad_date(),
    );
    (
        prop::collection::vec(row, 0..50),
        any::<bool>(),
        any::<bool>(),
        run_settings(),
    )
        .prop_map(|(rows, crlf, by_month, (threads, small_blocks))| {
            const COUNTED: [&str; 8] = [
                "answered",
                "Besvarat",
                "callback",
                "Klart",
                "full",
                "fyllt",
                "abandoned",
                "avbrutet",
            ];
            let gens: Vec<Gen> = rows
                .into_iter()
                .map(|(kind, n, (m, d), (om, od), bad)| {
                    let u = unit(n);
                    let received = format!("{} {:02}:{:02}", day(2024, m, d), 8 + n % 8, n % 60);
                    let outcome = COUNTED[n % COUNTED.len()];
                    let reached = n % 8 < 4;
                    let contact = match n % 3 {
                        _ if !reached => String::new(),
                        0 => String::new(),
                        1 => format!("{} 17:30", day(2024, m, d)),
                        _ => day(2024, m, d + 1),
                    };
                    match kind {
                        0..=7 => used(&[u, &received, outcome, &contact]),
                        8 => excluded(
                            "closed (not counted)",
                            &[
                                u,
                                &received,
                                if n.is_multiple_of(2) {
                                    "closed"
                                } else {
                                    "Stängt"
                                },
                                "",
                            ],
                        ),
                        9 => excluded("outside the period", &[u, &day(2024, om, od), outcome, ""]),
                        10 => invalid("received_at", &[u, bad, outcome, ""]),
                        11 => invalid("outcome", &[u, &received, "kanske", ""]),
                        12 => invalid("outcome", &[u, &received, " ", ""]),
                        13 => invalid(
                            "contact_at",
                            &[
                                u,
                                &received,
                                "answered",
                                &format!("{} 07:00", day(2024, m, d)),
                            ],
                        ),
                        14 => invalid("unit", &[" ", &received, outcome, ""]),
                        _ => invalid("", &[u, &received, outcome, "", "extra"]),
                    }
                })
                .collect();
            let mut list = args(&["phone", "--from", "2024-03-01", "--to", "2024-04-30"]);
            if by_month {
                list.extend(args(&["--by", "month"]));
            }
            list.push("@calls".to_string());
            Case {
                inputs: vec![Input {
                    name: "calls",
                    label: Some("calls"),
                    header: "unit,received_at,outcome,contact_at",
                    lines: resolve(gens, None),
                    crlf,
                }],
                args: list,
                threads,
                small_blocks,
            }
        })
}

fn assessment_case() -> impl Strategy<Value = Case> {
    let row = (
        0u8..16,
        0usize..1000,
        (4u8..=6, 1u8..=26),
        0u8..10,
        bad_date(),
    );
    (
        prop::collection::vec(row, 0..50),
        any::<bool>(),
        any::<bool>(),
        run_settings(),
    )
        .prop_map(|(rows, crlf, by_profession, (threads, small_blocks))| {
            const PROFESSIONS: [&str; 3] = ["doctor", "sjuksköterska", ""];
            const NO: [&str; 3] = ["", "nej", "false"];
            let gens: Vec<Gen> = rows
                .into_iter()
                .map(|(kind, n, (m, d), wait, bad)| {
                    let u = unit(n);
                    let contact = day(2024, m, d);
                    // Waits of up to 9 days may run into the next month.
                    let assessed = if d + wait <= 28 {
                        day(2024, m, d + wait)
                    } else {
                        day(2024, m + 1, 1 + wait)
                    };
                    let profession = PROFESSIONS[n % 3];
                    let no = NO[n % 3];
                    match kind {
                        0..=5 => used(&[u, &contact, &assessed, profession, no]),
                        // Not yet assessed and more than 3 days before the as-of day.
                        6 => used(&[u, &contact, "", profession, no]),
                        7 => excluded(
                            "patient-chosen waits (PvV)",
                            &[
                                u,
                                &contact,
                                &assessed,
                                profession,
                                if n.is_multiple_of(2) { "ja" } else { "true" },
                            ],
                        ),
                        8 => excluded(
                            "pending (not yet assessed, 3-day limit not passed)",
                            &[u, &day(2024, 6, 27 + (n % 4) as u8), "", profession, no],
                        ),
                        9 => excluded(
                            "outside the period",
                            &[
                                u,
                                &day(2024, if n.is_multiple_of(2) { 3 } else { 7 }, d),
                                "",
                                profession,
                                no,
                            ],
                        ),
                        10 => invalid("contact_date", &[u, bad, "", profession, no]),
                        11 => invalid(
                            "assessment_date",
                            &[u, &contact, &day(2024, m - 1, d), profession, no],
                        ),
                        12 => invalid("assessment_date", &[u, &contact, bad, profession, no]),
                        13 => invalid(
                            "patient_chosen_wait",
                            &[u, &contact, &assessed, profession, "kanske"],
                        ),
                        14 => invalid("unit", &["", &contact, &assessed, profession, no]),
                        _ => invalid("", &[u, &contact]),
                    }
                })
                .collect();
            let mut list = args(&["assessment", "--as-of", "2024-06-30", "--months", "3"]);
            if by_profession {
                list.extend(args(&["--by", "profession"]));
            }
            list.push("@assessments".to_string());
            Case {
                inputs: vec![Input {
                    name: "assessments",
                    label: Some("assessments"),
                    header: "unit,contact_date,assessment_date,profession,patient_chosen_wait",
                    lines: resolve(gens, None),
                    crlf,
                }],
                args: list,
                threads,
                small_blocks,
            }
        })
}

// ---------------------------------------------------------------------------
// pv-coverage

const LISTED: usize = 8;

fn coverage_visits(units: Vec<usize>, reach: bool) -> impl Strategy<Value = Vec<Line>> {
    let row = (0u8..16, 0usize..1000, in_half(), outside_half(), bad_date());
    prop::collection::vec(row, 0..50).prop_map(move |rows| {
        const PROFESSIONS: [&str; 4] = ["doctor", "Sjuksköterska", "fysioterapeut", "läkare"];
        const CONTACTS: [&str; 2] = ["physical", "Hembesök"];
        let gens: Vec<Gen> = rows
            .into_iter()
            .map(|(kind, n, date, outside, bad)| {
                let p = patient(n % LISTED);
                let home = unit_of(&units, n % LISTED);
                let elsewhere = if n.is_multiple_of(3) {
                    "Sjukhuset"
                } else {
                    unit(n / 3)
                };
                let (profession, contact) = (PROFESSIONS[n % 4], CONTACTS[n % 2]);
                let at_home =
                    |fate| Gen::Line(Line::new(fate, &[&p, &date, home, profession, contact]));
                match kind {
                    0..=5 => at_home(Fate::Used),
                    6 | 7 if elsewhere == home => at_home(Fate::Used),
                    6 | 7 => {
                        let fate = if reach {
                            Fate::Excluded("at another unit than the patient's listing")
                        } else {
                            Fate::Used
                        };
                        Gen::Line(Line::new(
                            fate,
                            &[&p, &date, elsewhere, profession, contact],
                        ))
                    }
                    8 => excluded(
                        "outside the period",
                        &[&p, &outside, home, profession, contact],
                    ),
                    9 => excluded(
                        "contact type not counted",
                        &[&p, &date, home, profession, "telefon"],
                    ),
                    10 => excluded("empty profession", &[&p, &date, home, "", contact]),
                    11 => excluded(
                        "profession not counted",
                        &[&p, &date, home, "kurator", contact],
                    ),
                    12 => excluded(
                        "patient not in the listing",
                        &[&stranger(n % 3), &date, home, profession, contact],
                    ),
                    13 => invalid("date", &[&p, bad, home, profession, contact]),
                    14 => invalid("patient_id", &[" ", &date, home, profession, contact]),
                    _ => invalid("unit", &[&p, &date, "", profession, contact]),
                }
            })
            .collect();
        resolve(gens, None)
    })
}

fn visit_ratio_case(reach: bool) -> impl Strategy<Value = Case> {
    (any::<bool>(), run_settings()).prop_flat_map(move |(crlf, (threads, small_blocks))| {
        listing(LISTED, Reads::default(), Fate::Invalid("patient_id")).prop_flat_map(
            move |(lines, units)| {
                coverage_visits(units, reach).prop_map(move |visits| {
                    let subcommand = if reach { "reach" } else { "care" };
                    Case {
                        inputs: vec![
                            Input {
                                name: "visits",
                                label: Some("visits"),
                                header: "patient_id,date,unit,profession,contact_type",
                                lines: visits,
                                crlf,
                            },
                            listing_input("listing", Some("listing"), lines.clone(), crlf),
                        ],
                        args: args(&[
                            subcommand,
                            "--professions",
                            "doctor,nurse,physio",
                            "--from",
                            "2024-01-01",
                            "--to",
                            "2024-06-30",
                            "--listing",
                            "@listing",
                            "@visits",
                        ]),
                        threads,
                        small_blocks,
                    }
                })
            },
        )
    })
}

fn named_doctor_case() -> impl Strategy<Value = Case> {
    (any::<bool>(), any::<bool>(), run_settings()).prop_flat_map(
        |(crlf, by_choice, (threads, small_blocks))| {
            let reads = Reads {
                birth_date: false,
                active_choice: true,
            };
            listing(12, reads, Fate::Invalid("patient_id")).prop_map(move |(lines, _)| {
                let mut list = args(&["named-doctor", "--as-of", "2024-12-31"]);
                if by_choice {
                    list.extend(args(&["--by", "active-choice"]));
                }
                list.push("@listing".to_string());
                Case {
                    inputs: vec![listing_input("listing", Some("listing"), lines, crlf)],
                    args: list,
                    threads,
                    small_blocks,
                }
            })
        },
    )
}

/// A staffing file: one row per unit (some without FTE), bad values and
/// repeated units among them.
fn staffing() -> impl Strategy<Value = Vec<Line>> {
    prop::collection::vec((0u8..8, 0usize..1000), 0..8).prop_map(|rows| {
        const FTE: [&str; 4] = ["\"2,5\"", "3", "", "1 000"];
        let mut gens: Vec<Gen> = (0..UNITS.len())
            .filter(|u| u % 3 != 2)
            .map(|u| used(&[unit(u), FTE[u % FTE.len()]]))
            .collect();
        for (kind, n) in rows {
            gens.push(match kind {
                0 => invalid("doctor_fte", &[&format!("VC Extra {n}"), "två"]),
                1 => invalid("doctor_fte", &[&format!("VC Extra {n}"), "-1"]),
                2 => repeat(
                    n,
                    |fields, n| vec![fields[0].clone(), format!("{}", n % 5)],
                    Fate::Invalid("unit"),
                ),
                3 => invalid("", &[&format!("VC Extra {n}")]),
                _ => Gen::Blank(""),
            });
        }
        resolve(gens, None)
    })
}

fn doctors_case() -> impl Strategy<Value = Case> {
    (any::<bool>(), run_settings()).prop_flat_map(|(crlf, (threads, small_blocks))| {
        (
            listing(12, Reads::default(), Fate::Invalid("patient_id")),
            staffing(),
        )
            .prop_map(move |((lines, _), staff)| Case {
                inputs: vec![
                    listing_input("listing", Some("listing"), lines, crlf),
                    Input {
                        name: "staffing",
                        label: None,
                        header: "unit,doctor_fte",
                        lines: staff,
                        crlf: !crlf,
                    },
                ],
                args: args(&[
                    "doctors",
                    "--as-of",
                    "2024-12-31",
                    "--staffing",
                    "@staffing",
                    "@listing",
                ]),
                threads,
                small_blocks,
            })
    })
}

fn dialogue_case() -> impl Strategy<Value = Case> {
    (any::<bool>(), run_settings()).prop_flat_map(|(crlf, (threads, small_blocks))| {
        let reads = Reads {
            birth_date: true,
            active_choice: false,
        };
        listing(LISTED, reads, Fate::Invalid("patient_id")).prop_flat_map(move |(lines, _)| {
            // The listing's birth dates decide each patient's fate.
            let births: Vec<String> = (0..LISTED)
                .map(|i| {
                    lines
                        .iter()
                        .find(|l| l.fate == Fate::Used && l.fields[0] == patient(i))
                        .map(|l| l.fields[2].clone())
                        .expect("every generated patient is listed")
                })
                .collect();
            let row = (0u8..14, 0usize..1000, in_half(), bad_date());
            prop::collection::vec(row, 0..50).prop_map(move |rows| {
                const CODES: [&str; 4] = ["offered", "Genomförd", "completed", "erbjuden"];
                let gens: Vec<Gen> = rows
                    .into_iter()
                    .map(|(kind, n, date, bad)| {
                        let i = n % LISTED;
                        let p = patient(i);
                        let code = CODES[n % 4];
                        let born = births.get(i).map(String::as_str).unwrap_or("");
                        let fate = match born {
                            "" => Fate::Excluded("patient without a birth date in the listing"),
                            b if ["1984", "1974", "1964", "1954"].contains(&&b[..4]) => Fate::Used,
                            _ => Fate::Excluded("patient not in the cohort"),
                        };
                        match kind {
                            0..=5 => Gen::Line(Line::new(fate, &[&p, &date, unit(n), code])),
                            6 => excluded(
                                "dated in another year",
                                &[&p, &day(2023, 12, 31), unit(n), code],
                            ),
                            7 => excluded("another code", &[&p, &date, unit(n), "DV200"]),
                            8 => excluded("another code", &[&p, &date, unit(n), ""]),
                            9 => excluded(
                                "patient not in the listing",
                                &[&stranger(n % 3), &date, unit(n), code],
                            ),
                            10 => invalid("date", &[&p, bad, unit(n), code]),
                            11 => invalid("patient_id", &["", &date, unit(n), code]),
                            12 => invalid("", &[&p, &date, unit(n), code, "x"]),
                            _ => Gen::Blank(""),
                        }
                    })
                    .collect();
                Case {
                    inputs: vec![
                        Input {
                            name: "activities",
                            label: Some("activities"),
                            header: "patient_id,date,unit,code",
                            lines: resolve(gens, None),
                            crlf,
                        },
                        listing_input("listing", Some("listing"), lines.clone(), crlf),
                    ],
                    args: args(&[
                        "health-dialogue",
                        "--year",
                        "2024",
                        "--listing",
                        "@listing",
                        "@activities",
                    ]),
                    threads,
                    small_blocks,
                }
            })
        })
    })
}

// ---------------------------------------------------------------------------
// pv-far

fn far_activities(distinct: bool) -> impl Strategy<Value = Vec<Line>> {
    let row = (0u8..14, 0usize..1000, in_half(), outside_half(), bad_date());
    prop::collection::vec(row, 0..60).prop_map(move |rows| {
        let gens: Vec<Gen> = rows
            .into_iter()
            .map(|(kind, n, date, outside, bad)| {
                let p = patient(n % 20);
                let u = if n.is_multiple_of(7) {
                    "VC Olistad"
                } else {
                    unit(n)
                };
                let code = if n.is_multiple_of(2) {
                    "DV200"
                } else {
                    "dv200"
                };
                match kind {
                    0..=5 => used(&[&p, &date, u, code]),
                    6 => excluded("another code than DV200", &[&p, &date, u, "DV113"]),
                    7 => excluded("without a code", &[&p, &date, u, " "]),
                    8 => excluded("outside the period", &[&p, &outside, u, code]),
                    9 => invalid("date", &[&p, bad, u, code]),
                    10 => invalid("unit", &[&p, &date, "", code]),
                    11 if distinct => invalid("patient_id", &["", &date, u, code]),
                    11 => used(&["", &date, u, code]),
                    12 => invalid("", &[&p, &date]),
                    _ => Gen::Blank(""),
                }
            })
            .collect();
        resolve(gens, None)
    })
}

/// Listed counts per unit, with bad counts and repeated units.
fn listed_counts() -> impl Strategy<Value = Vec<Line>> {
    prop::collection::vec((0u8..4, 0usize..1000), 0..6).prop_map(|bads| {
        let mut gens: Vec<Gen> = (0..UNITS.len())
            .map(|u| used(&[unit(u), &format!("{}", 900 + 37 * u)]))
            .collect();
        for (kind, n) in bads {
            gens.push(match kind {
                0 => invalid("listed", &[&format!("VC Extra {n}"), "12.5"]),
                1 => invalid("listed", &[&format!("VC Extra {n}"), "många"]),
                2 => repeat(
                    n,
                    |fields, n| vec![fields[0].clone(), format!("{n}")],
                    Fate::Invalid("unit"),
                ),
                _ => invalid("", &[&format!("VC Extra {n}"), "1", "2"]),
            });
        }
        resolve(gens, None)
    })
}

fn far_case() -> impl Strategy<Value = Case> {
    (
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        run_settings(),
    )
        .prop_flat_map(
            |(crlf, with_listing, distinct, by_month, (threads, small_blocks))| {
                (
                    far_activities(distinct),
                    listing(12, Reads::default(), Fate::Invalid("patient_id")),
                    listed_counts(),
                )
                    .prop_map(move |(activities, (lines, _), counts)| {
                        let mut inputs = vec![Input {
                            name: "activities",
                            label: Some("activities"),
                            header: "patient_id,date,unit,code",
                            lines: activities,
                            crlf,
                        }];
                        let mut list = args(&["--from", "2024-01-01", "--to", "2024-06-30"]);
                        if with_listing {
                            inputs.push(listing_input("listing", Some("listing"), lines, crlf));
                            list.extend(args(&["--listing", "@listing"]));
                        } else {
                            inputs.push(Input {
                                name: "listed",
                                label: None,
                                header: "unit,listed",
                                lines: counts,
                                crlf,
                            });
                            list.extend(args(&["--listed", "@listed"]));
                        }
                        if distinct {
                            list.push("--distinct-patients".to_string());
                        }
                        if by_month {
                            list.extend(args(&["--by", "month"]));
                        }
                        list.push("@activities".to_string());
                        Case {
                            inputs,
                            args: list,
                            threads,
                            small_blocks,
                        }
                    })
            },
        )
}

// ---------------------------------------------------------------------------
// pv-listing-diff

fn listing_diff_case() -> impl Strategy<Value = Case> {
    let by = prop_oneof![
        Just(None),
        Just(Some("sex")),
        Just(Some("age-band")),
        Just(Some("active-choice"))
    ];
    let dedupe = prop_oneof![Just(None), Just(Some("first")), Just(Some("last"))];
    let flags = (any::<bool>(), any::<bool>(), any::<bool>());
    (by, dedupe, flags, run_settings()).prop_flat_map(
        |(by, dedupe, (flows, as_of, crlf), (threads, small_blocks))| {
            let reads = Reads {
                birth_date: by == Some("age-band"),
                active_choice: by == Some("active-choice"),
            };
            let repeats = match dedupe {
                None => Fate::Invalid("patient_id"),
                Some("first") => Fate::Excluded("repeated patient rows dropped (kept the first)"),
                Some(_) => Fate::Excluded("repeated patient rows dropped (kept the last)"),
            };
            (
                listing(14, reads, repeats.clone()),
                listing(16, reads, repeats),
            )
                .prop_map(move |((old, _), (new, _))| {
                    let mut list = Vec::new();
                    if let Some(by) = by {
                        list.extend(args(&["--by", by]));
                        // Without --as-of, ages are on NEW's latest listed_since.
                        if by == "age-band" && as_of {
                            list.extend(args(&["--as-of", "2024-12-31"]));
                        }
                    }
                    if let Some(keep) = dedupe {
                        list.extend(args(&["--dedupe", keep]));
                    }
                    if flows {
                        list.push("--flows".to_string());
                    }
                    list.extend(args(&["@old", "@new"]));
                    Case {
                        inputs: vec![
                            listing_input("old", Some("OLD"), old, crlf),
                            listing_input("new", Some("NEW"), new, !crlf),
                        ],
                        args: list,
                        threads,
                        small_blocks,
                    }
                })
        },
    )
}

// ---------------------------------------------------------------------------
// The properties

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn pv_coc_loses_no_row(case in coc_case()) {
        check(pv_coc::<String>, &case)?;
    }

    #[test]
    fn pv_access_phone_loses_no_row(case in phone_case()) {
        check(pv_access::<String>, &case)?;
    }

    #[test]
    fn pv_access_assessment_loses_no_row(case in assessment_case()) {
        check(pv_access::<String>, &case)?;
    }

    #[test]
    fn pv_coverage_care_loses_no_row(case in visit_ratio_case(false)) {
        check(pv_coverage::<String>, &case)?;
    }

    #[test]
    fn pv_coverage_reach_loses_no_row(case in visit_ratio_case(true)) {
        check(pv_coverage::<String>, &case)?;
    }

    #[test]
    fn pv_coverage_named_doctor_loses_no_row(case in named_doctor_case()) {
        check(pv_coverage::<String>, &case)?;
    }

    #[test]
    fn pv_coverage_doctors_loses_no_row(case in doctors_case()) {
        check(pv_coverage::<String>, &case)?;
    }

    #[test]
    fn pv_coverage_health_dialogue_loses_no_row(case in dialogue_case()) {
        check(pv_coverage::<String>, &case)?;
    }

    #[test]
    fn pv_far_loses_no_row(case in far_case()) {
        check(pv_far::<String>, &case)?;
    }

    #[test]
    fn pv_listing_diff_loses_no_row(case in listing_diff_case()) {
        check(pv_listing_diff::<String>, &case)?;
    }
}
