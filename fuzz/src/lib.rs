//! What every fuzz target shares: the first byte of a test case chooses
//! the read options, the second (for the tool targets) what the target
//! varies, the rest is the file, written where the input layer reads files
//! (the reader is the code under test, so it reads a real file, not a
//! shortcut). Side files a tool needs besides its input (a listing, listed
//! counts) are fixtures of testdata/, written once at start-up.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use pvkit::coverage::{self, dialogue};
use pvkit::input::{self, ReadOptions, ReadResult, RejectLog, RowSink, Schema, Source};
use pvkit::listing::{Listing, Person};
use pvkit::output::{self, Format, Style};
use pvkit::period::{Granularity, PeriodSpec, Window, parse_date};
use pvkit::report::{Measure, Report, Targets};
use pvkit::units::Units;

/// This fuzzer's directory for the test case file and the fixtures.
static FILES: OnceLock<PathBuf> = OnceLock::new();
static VERBOSE: OnceLock<bool> = OnceLock::new();

/// Call first in `main`, before `afl::fuzz!` forks: tiny read blocks (so
/// that records straddle chunk boundaries) and one directory for the files
/// of every child of this fuzzer (children are forked with new process
/// ids): `pvkit-fuzz-<pid>` in `$PVKIT_FUZZ_DIR` (scripts/fuzz.sh makes one
/// per run and removes it), else in /dev/shm or the temporary directory.
pub fn init() {
    // SAFETY: set before any thread starts; the reader reads it once per read.
    unsafe { std::env::set_var("PVKIT_BLOCK_SIZE", "64") };
    VERBOSE.get_or_init(|| std::env::var_os("PVKIT_FUZZ_VERBOSE").is_some());
    FILES.get_or_init(|| {
        let base = match std::env::var_os("PVKIT_FUZZ_DIR") {
            Some(dir) => PathBuf::from(dir),
            None if Path::new("/dev/shm").is_dir() => PathBuf::from("/dev/shm"),
            None => std::env::temp_dir(),
        };
        let dir = base.join(format!("pvkit-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("make the fuzzer's directory");
        dir
    });
}

/// Call last in `main`: removes the fuzzer's files. Reached when a target
/// runs one test case from stdin (triage, `cargo afl tmin`); under
/// afl-fuzz the process is killed, and scripts/fuzz.sh cleans up.
pub fn remove_files() {
    if let Some(dir) = FILES.get() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

fn file(name: &str) -> PathBuf {
    FILES
        .get()
        .expect("pvkit_fuzz::init() comes first")
        .join(name)
}

/// Splits a test case into read options and file bytes.
pub fn options_and_file(data: &[u8]) -> Option<(ReadOptions, &[u8])> {
    let (&choice, file) = data.split_first()?;
    let delimiter = match choice & 0b11 {
        0 => None,
        1 => Some(b';'),
        2 => Some(b'\t'),
        _ => Some(b','),
    };
    let label = if choice & 0b100 == 0 {
        "utf-8"
    } else {
        "windows-1252"
    };
    let encoding = pvkit::input::parse_encoding(label).ok()?;
    let options = ReadOptions {
        delimiter,
        encoding,
        skip_invalid: choice & 0b1000 != 0,
        threads: if choice & 0b1_0000 == 0 { 1 } else { 2 },
        ..ReadOptions::default()
    };
    Some((options, file))
}

/// Writes `bytes` to this fuzzer's test case file and returns its path.
pub fn scratch_file(bytes: &[u8]) -> PathBuf {
    let path = file("case.csv");
    std::fs::write(&path, bytes).expect("write the test case file");
    path
}

/// Writes a fixture once, at start-up, to this fuzzer's directory.
pub fn fixed_file(name: &str, bytes: &[u8]) -> PathBuf {
    let path = file(name);
    std::fs::write(&path, bytes).expect("write a fixed side file");
    path
}

/// A side file loaded once at start-up from a fixture's `bytes` by
/// `load` (`Units::load`, `ListedCounts::load`, `Listing::load` …).
pub fn fixture<T>(
    name: &str,
    bytes: &[u8],
    load: impl FnOnce(&Path, &ReadOptions, &mut RejectLog) -> anyhow::Result<T>,
) -> T {
    let path = fixed_file(name, bytes);
    load(&path, &ReadOptions::default(), &mut rejects()).expect("the fixture loads")
}

/// A listing with what [`Person`] keeps, as health-dialogue loads it.
pub fn people(
    path: &Path,
    options: &ReadOptions,
    rejects: &mut RejectLog,
) -> anyhow::Result<Listing<Person>> {
    let sources = [Source::File(path.to_path_buf())];
    Listing::load_people(&sources, &dialogue::DIALOGUE_LISTING, options, rejects)
}

/// health-dialogue's computation with the default codes: the cohorts of
/// 2024 (or 2025) turning 40, 50, 60 or 70 (or any age up to 130).
pub fn dialogue_config(by_age: bool, year_2025: bool, every_age: bool) -> dialogue::Config {
    let codes = |words: &[&str]| {
        let raw: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        coverage::canonical_list(&raw, dialogue::code)
    };
    dialogue::Config {
        year: if year_2025 { 2025 } else { 2024 },
        ages: if every_age {
            (0..=130).collect()
        } else {
            vec![40, 50, 60, 70]
        },
        offered_codes: codes(&["offered", "erbjuden", "erbjudet"]),
        completed_codes: codes(&["completed", "genomförd", "genomfört"]),
        by_age,
    }
}

/// A fresh reject log; the targets look at it only to touch every reject.
pub fn rejects() -> RejectLog {
    RejectLog::default()
}

/// One test case of a tool target: options byte, variant byte, file.
pub struct Case {
    pub options: ReadOptions,
    /// What the target varies besides reading: bits 0-4 are the target's
    /// own (see each target), bits 5-7 the report's (see [`Case::report`]).
    pub variant: u8,
    pub path: PathBuf,
    pub rejects: RejectLog,
}

impl Case {
    pub fn new(data: &[u8]) -> Option<Case> {
        let (options, rest) = options_and_file(data)?;
        let (&variant, file) = rest.split_first()?;
        Some(Case {
            options,
            variant,
            path: scratch_file(file),
            rejects: rejects(),
        })
    }

    /// Whether bit `n` of the variant is set.
    pub fn bit(&self, n: u8) -> bool {
        self.variant >> n & 1 == 1
    }

    /// The case's file as the input layer's source list.
    pub fn sources(&self) -> [Source; 1] {
        [Source::File(self.path.clone())]
    }

    /// The output format of bits 6-7; bit 5: decimal comma.
    pub fn style(&self) -> Style {
        let formats = [Format::Csv, Format::Tsv, Format::Table, Format::Json];
        Style {
            format: formats[usize::from(self.variant >> 6)],
            decimal_comma: self.bit(5),
        }
    }

    /// Reads the case's file through `schema` into the sinks `make` makes;
    /// `None` when the read fails (with a clear error, see [`ok`]).
    pub fn read<S: RowSink>(
        &mut self,
        schema: &'static Schema,
        make: impl FnMut(&input::Columns) -> anyhow::Result<S>,
    ) -> Option<ReadResult<S>> {
        let result = ok(input::read(
            &self.sources(),
            schema,
            &self.options,
            &mut self.rejects,
            make,
        ))?;
        assert_eq!(result.rejected as usize, self.rejects.len());
        Some(result)
    }

    /// The period of bits 0-1 (`InputSpan`, the 12 months ending at the
    /// latest date, the year 2024, the month ending at the latest date),
    /// and the granularity of bit 2.
    pub fn period(&self) -> (PeriodSpec, Granularity) {
        let day = |text: &str| parse_date(text.as_bytes()).expect("a date");
        let year_2024 = Window::new(day("2024-01-01"), day("2024-12-31")).expect("a window");
        let spec = match self.variant & 0b11 {
            0 => PeriodSpec::InputSpan,
            1 => PeriodSpec::EndingAtLatest { months: 12 },
            2 => PeriodSpec::Fixed(year_2024),
            _ => PeriodSpec::EndingAtLatest { months: 1 },
        };
        let granularity = if self.bit(2) {
            Granularity::Month
        } else {
            Granularity::Whole
        };
        (spec, granularity)
    }

    /// Rolls `measures` up as the tools do (areas from `units`, default
    /// targets plus `targets`; bit 5: cells under 3 suppressed) and writes
    /// them in [`Case::style`].
    pub fn report(
        &self,
        measures: Vec<Measure>,
        unit_rows: bool,
        units: Option<&Units>,
        targets: &Targets,
    ) {
        let report = Report {
            units,
            unit_rows,
            total: true,
            targets,
            min_cell: self.bit(5).then_some(3),
        };
        let written =
            output::write_indicator_rows(io::sink(), self.style(), &report.rows(measures));
        written.expect("writing to a sink cannot fail");
    }
}

/// The value of a library call that may fail on bad input; the error is
/// formatted (as the binaries print it) and dropped; printed to stderr
/// when `PVKIT_FUZZ_VERBOSE` is set (to see what a test case runs into).
pub fn ok<T>(result: anyhow::Result<T>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(error) => {
            let message = format!("{error:#}");
            assert!(!message.contains("internal error"), "{message}");
            if VERBOSE.get() == Some(&true) {
                eprintln!("error: {message}");
            }
            None
        }
    }
}
