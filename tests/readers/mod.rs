//! Every way the tools read each kind of input: one reader per tool,
//! subcommand and role of a file (pv-listing-diff's OLD and NEW, a listing
//! given as `--listing`, units as `--units` …), run against the well-formed
//! inputs in `testdata/bad/good/`. Shared by the adversarial corpus
//! (tests/bad_input.rs), the no-leak test (tests/no_leaks.rs) and the exit
//! code test (tests/exit_codes.rs), so a new tool or subcommand is added in
//! one place and all three cover it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub use crate::common::{PV_ACCESS, PV_COC, PV_COVERAGE, PV_FAR, PV_LISTING_DIFF};

/// The patient ids in the inputs: personnummer with and without century
/// and dash, and an id of another shape (a reserve number, a record
/// system's own key). None of them may ever reach stderr.
pub const IDS: &[&str] = &[
    "19121212-1212",
    "201212121212",
    "121212-1212",
    "P-SECRET-42",
];

/// Where a reader's input goes in its arguments.
pub const FILE: &str = "FILE";

/// One way a tool reads an input kind. `args` follow the binary; `FILE`
/// is the input of `kind` and `good/…` are the well-formed companions,
/// relative to `testdata/bad/` (the directory every run starts in).
pub struct Reader {
    pub name: &'static str,
    /// The subfolder of `testdata/bad/` with this kind's corpus; its
    /// well-formed file is `good/<kind>.csv`.
    pub kind: &'static str,
    pub tool: &'static str,
    pub args: &'static [&'static str],
}

pub const READERS: &[Reader] = &[
    // Visits.
    Reader {
        name: "coc",
        kind: "visits",
        tool: PV_COC,
        args: &[FILE],
    },
    Reader {
        name: "care",
        kind: "visits",
        tool: PV_COVERAGE,
        args: &[
            "care",
            "--listing",
            "good/listing.csv",
            "--units",
            "good/units.csv",
            FILE,
        ],
    },
    Reader {
        name: "reach",
        kind: "visits",
        tool: PV_COVERAGE,
        args: &["reach", "--listing", "good/listing.csv", FILE],
    },
    // Calls and assessments.
    Reader {
        name: "phone",
        kind: "calls",
        tool: PV_ACCESS,
        args: &["phone", FILE],
    },
    Reader {
        name: "assessment",
        kind: "assessments",
        tool: PV_ACCESS,
        args: &["assessment", FILE],
    },
    // Activities.
    Reader {
        name: "far",
        kind: "activities",
        tool: PV_FAR,
        args: &["--listed", "good/listed.csv", FILE],
    },
    Reader {
        name: "dialogue",
        kind: "activities",
        tool: PV_COVERAGE,
        args: &[
            "health-dialogue",
            "--listing",
            "good/listing.csv",
            "--year",
            "2024",
            FILE,
        ],
    },
    // Listing snapshots, in every role.
    Reader {
        name: "diff-old",
        kind: "listing",
        tool: PV_LISTING_DIFF,
        args: &[FILE, "good/listing-later.csv"],
    },
    Reader {
        name: "diff-new",
        kind: "listing",
        tool: PV_LISTING_DIFF,
        args: &["good/listing-later.csv", FILE],
    },
    Reader {
        name: "named-doctor",
        kind: "listing",
        tool: PV_COVERAGE,
        args: &["named-doctor", FILE],
    },
    Reader {
        name: "doctors",
        kind: "listing",
        tool: PV_COVERAGE,
        args: &["doctors", "--staffing", "good/staffing.csv", FILE],
    },
    Reader {
        name: "far-listing",
        kind: "listing",
        tool: PV_FAR,
        args: &["--listing", FILE, "good/activities.csv"],
    },
    Reader {
        name: "coc-listing",
        kind: "listing",
        tool: PV_COC,
        args: &["--listing", FILE, "good/visits.csv"],
    },
    Reader {
        name: "care-listing",
        kind: "listing",
        tool: PV_COVERAGE,
        args: &[
            "care",
            "--listing",
            FILE,
            "--units",
            "good/units.csv",
            "good/visits.csv",
        ],
    },
    Reader {
        name: "phone-listing",
        kind: "listing",
        tool: PV_ACCESS,
        args: &[
            "phone",
            "--by",
            "month",
            "--target",
            "50",
            "--payment-per-listed",
            "83",
            "--listing",
            FILE,
            "good/calls.csv",
        ],
    },
    Reader {
        name: "dialogue-listing",
        kind: "listing",
        tool: PV_COVERAGE,
        args: &[
            "health-dialogue",
            "--listing",
            FILE,
            "--year",
            "2024",
            "good/activities.csv",
        ],
    },
    // Staffing and listed counts.
    Reader {
        name: "doctors-staffing",
        kind: "staffing",
        tool: PV_COVERAGE,
        args: &["doctors", "--staffing", FILE, "good/listing.csv"],
    },
    Reader {
        name: "far-listed",
        kind: "listed",
        tool: PV_FAR,
        args: &["--listed", FILE, "good/activities.csv"],
    },
    Reader {
        name: "doctors-listed",
        kind: "listed",
        tool: PV_COVERAGE,
        args: &[
            "doctors",
            "--staffing",
            "good/staffing.csv",
            "--listed",
            FILE,
        ],
    },
    Reader {
        name: "phone-listed",
        kind: "listed",
        tool: PV_ACCESS,
        args: &[
            "phone",
            "--by",
            "month",
            "--target",
            "50",
            "--payment-per-listed",
            "83",
            "--listed",
            FILE,
            "good/calls.csv",
        ],
    },
    // Units, as every tool reads them.
    Reader {
        name: "coc-units",
        kind: "units",
        tool: PV_COC,
        args: &["--units", FILE, "good/visits.csv"],
    },
    Reader {
        name: "phone-units",
        kind: "units",
        tool: PV_ACCESS,
        args: &["phone", "--units", FILE, "good/calls.csv"],
    },
    Reader {
        name: "assessment-units",
        kind: "units",
        tool: PV_ACCESS,
        args: &["assessment", "--units", FILE, "good/assessments.csv"],
    },
    Reader {
        name: "far-units",
        kind: "units",
        tool: PV_FAR,
        args: &[
            "--listed",
            "good/listed.csv",
            "--units",
            FILE,
            "good/activities.csv",
        ],
    },
    Reader {
        name: "named-doctor-units",
        kind: "units",
        tool: PV_COVERAGE,
        args: &["named-doctor", "--units", FILE, "good/listing.csv"],
    },
    Reader {
        name: "care-units",
        kind: "units",
        tool: PV_COVERAGE,
        args: &[
            "care",
            "--listing",
            "good/listing.csv",
            "--units",
            FILE,
            "good/visits.csv",
        ],
    },
    Reader {
        name: "diff-units",
        kind: "units",
        tool: PV_LISTING_DIFF,
        args: &[
            "--units",
            FILE,
            "good/listing.csv",
            "good/listing-later.csv",
        ],
    },
    // Monthly target levels.
    Reader {
        name: "phone-targets",
        kind: "targets",
        tool: PV_ACCESS,
        args: &[
            "phone",
            "--by",
            "month",
            "--targets",
            FILE,
            "good/calls.csv",
        ],
    },
];

pub fn reader(name: &str) -> &'static Reader {
    READERS
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no reader {name}"))
}

/// `testdata/bad/`, where every run starts.
pub fn bad_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/bad")
}

/// What a run produced.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn describe(&self) -> String {
        format!(
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }

    /// No panic and no patient id on stderr, whatever happened; and no
    /// number anywhere written as minus zero.
    #[track_caller]
    pub fn assert_clean(&self, what: &str) {
        for text in [&self.stdout, &self.stderr] {
            assert!(!shows_minus_zero(text), "{what}: -0\n{}", self.describe());
        }
        assert!(
            !self.stderr.contains("panicked"),
            "{what}: panic\n{}",
            self.describe()
        );
        for id in IDS {
            assert!(
                !self.stderr.contains(id),
                "{what}: stderr shows the patient id {id}\n{}",
                self.describe()
            );
        }
    }
}

impl Reader {
    /// The binary and the reader, for messages: `pv-access [phone-listed]`.
    pub fn label(&self) -> String {
        let binary = Path::new(self.tool).file_name().unwrap().to_string_lossy();
        format!("{binary} [{}]", self.name)
    }

    /// This kind's well-formed input, relative to `testdata/bad/`.
    pub fn good_file(&self) -> String {
        format!("good/{}.csv", self.kind)
    }

    /// The arguments with `file` as the input and `extra` appended.
    pub fn args_with(&self, file: &str, extra: &[&str]) -> Vec<String> {
        self.args
            .iter()
            .map(|a| if *a == FILE { file } else { a })
            .chain(extra.iter().copied())
            .map(str::to_string)
            .collect()
    }

    pub fn command(&self, args: &[String]) -> Command {
        let mut command = Command::new(self.tool);
        command
            .args(args)
            .current_dir(bad_dir())
            .env_remove("PVKIT_BLOCK_SIZE")
            .env_remove("PVKIT_MAP")
            .stdin(Stdio::null());
        command
    }

    /// Runs on `file` (relative to `testdata/bad/` or absolute).
    pub fn run(&self, file: &str, extra: &[&str]) -> Run {
        run(self.command(&self.args_with(file, extra)))
    }

    /// Runs on `file` mapped into memory and cut into blocks of 16 bytes
    /// for two threads (a plain [`Reader::run`] reads these small files
    /// through buffers): every record boundary is a chunk boundary
    /// somewhere, and line numbers, quotes and line ends must come out the
    /// same.
    pub fn run_in_small_blocks(&self, file: &str, extra: &[&str]) -> Run {
        let mut command = self.command(&self.args_with(file, extra));
        command
            .args(["--threads", "2"])
            .env("PVKIT_BLOCK_SIZE", "16")
            .env("PVKIT_MAP", "always");
        run(command)
    }

    /// Runs on every input, `FILE` and companions, replicated over `copies`
    /// units (see [`replicate`]) written to `dir`.
    pub fn run_scaled(&self, dir: &Path, copies: usize, extra: &[&str]) -> Run {
        run(self.command(&self.scaled_args(dir, copies, extra)))
    }

    pub fn scaled_args(&self, dir: &Path, copies: usize, extra: &[&str]) -> Vec<String> {
        self.args_with(&self.good_file(), extra)
            .into_iter()
            .map(|arg| match arg.strip_prefix("good/") {
                Some(name) => {
                    let path = dir.join(format!("{copies}-{name}"));
                    if !path.exists() {
                        let text = std::fs::read_to_string(bad_dir().join(&arg)).unwrap();
                        std::fs::write(&path, replicate(&text, copies)).unwrap();
                    }
                    path.to_string_lossy().into_owned()
                }
                None => arg,
            })
            .collect()
    }
}

/// Whether `text` has a number written as -0 (not the `-0` of a date).
pub fn shows_minus_zero(text: &str) -> bool {
    let bytes = text.as_bytes();
    text.match_indices("-0").any(|(at, _)| {
        let before = at.checked_sub(1).map(|i| bytes[i]);
        let after = bytes.get(at + 2);
        !before.is_some_and(|b| b.is_ascii_alphanumeric())
            && !after.is_some_and(|b| b.is_ascii_digit() || *b == b'.')
    })
}

pub fn run(mut command: Command) -> Run {
    let output = command.output().expect("start the tool");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The columns a copy renames: each copy is a region of its own, with its
/// own units, patients and providers.
const PER_COPY: [&str; 3] = ["unit", "patient_id", "provider_id"];

/// A well-formed input (plain CSV, no quotes) repeated `copies` times, the
/// unit, patient and provider of copy `i` suffixed with `-i`, so every unit
/// row of a tool's output on the copies is a unit row of its output on the
/// original with the unit renamed. Files without those columns (monthly
/// targets) are returned as they are.
pub fn replicate(text: &str, copies: usize) -> String {
    let mut lines = text.lines();
    let header = lines.next().expect("a header");
    let renamed: Vec<bool> = header.split(',').map(|h| PER_COPY.contains(&h)).collect();
    if !renamed.contains(&true) {
        return text.to_string();
    }
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let mut out = format!("{header}\n");
    for copy in 0..copies {
        for row in &rows {
            let fields: Vec<String> = row
                .iter()
                .zip(&renamed)
                .map(|(field, rename)| match rename {
                    true if !field.is_empty() => format!("{field}-{copy}"),
                    _ => field.to_string(),
                })
                .collect();
            out.push_str(&fields.join(","));
            out.push('\n');
        }
    }
    out
}
