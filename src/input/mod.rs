//! The one place input is read: opening files or stdin, BOM and encoding,
//! delimiter sniffing, header matching, typed fields with exact line
//! numbers, invalid-row handling, and the chunked parallel reader every tool
//! folds its rows through.

pub mod columns;
mod progress;
mod reader;
pub mod row;
pub mod values;

use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use encoding_rs::Encoding;

pub use columns::{Col, ColumnOverride, ColumnSpec, Columns, Schema};
pub use reader::{ReadResult, RowSink, read};
pub use row::{Locator, Row, RowError};

/// Where rows come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Stdin,
    File(PathBuf),
}

impl Source {
    /// Positional arguments to sources: none means stdin, `-` is stdin.
    pub fn from_args(paths: &[PathBuf]) -> Vec<Source> {
        if paths.is_empty() {
            return vec![Source::Stdin];
        }
        paths.iter().map(|p| Source::from_path(p)).collect()
    }

    pub fn from_path(path: &Path) -> Source {
        if path.as_os_str() == "-" {
            Source::Stdin
        } else {
            Source::File(path.to_path_buf())
        }
    }

    fn open(&self) -> Result<Opened> {
        match self {
            Source::Stdin => Ok(Opened::Stdin),
            Source::File(path) => {
                let file =
                    File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
                let meta = file.metadata().ok();
                Ok(Opened::File(file, meta))
            }
        }
    }
}

/// An input opened once, to be read as a stream or (a big file) mapped.
enum Opened {
    Stdin,
    File(File, Option<fs::Metadata>),
}

impl Opened {
    /// The bytes as a stream, and their number when known.
    fn into_stream(self) -> (Box<dyn Read>, Option<u64>) {
        match self {
            Opened::Stdin => (Box::new(io::stdin().lock()), None),
            Opened::File(file, meta) => (Box::new(file), meta.map(|m| m.len())),
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Stdin => f.write_str("stdin"),
            Source::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// How inputs are decoded and split, shared by every read of one run.
#[derive(Clone, Debug)]
pub struct ReadOptions {
    /// `None`: sniffed from each file's header line.
    pub delimiter: Option<u8>,
    pub encoding: &'static Encoding,
    pub overrides: Vec<ColumnOverride>,
    /// Skip rows that cannot be used instead of stopping at the first.
    pub skip_invalid: bool,
    /// Worker threads; 1 reads and folds on the calling thread.
    pub threads: usize,
    /// Whether a progress bar may be shown (stderr a terminal, not quiet).
    pub progress: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            delimiter: None,
            encoding: encoding_rs::UTF_8,
            overrides: Vec::new(),
            skip_invalid: false,
            threads: 1,
            progress: false,
        }
    }
}

/// Parses `--encoding`: any WHATWG label (`utf-8`, `windows-1252`, `latin1`, `cp1252` …).
pub fn parse_encoding(label: &str) -> Result<&'static Encoding, String> {
    Encoding::for_label(label.trim().as_bytes())
        .ok_or_else(|| format!("unknown encoding {label:?} (try utf-8 or windows-1252)"))
}

/// Parses `--delimiter`: one ASCII character, or `tab`/`\t`.
pub fn parse_delimiter(s: &str) -> Result<u8, String> {
    match s {
        "tab" | "\\t" | "\t" => Ok(b'\t'),
        _ if s.len() == 1 && s.is_ascii() => Ok(s.as_bytes()[0]),
        _ => Err(format!(
            "the delimiter must be one ASCII character or 'tab', got {s:?}"
        )),
    }
}

/// A row that was skipped, kept so the user loses nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reject {
    pub source: String,
    pub line: u64,
    pub column: String,
    pub reason: String,
    /// The row's bytes as they were in the input (after decoding).
    pub record: Vec<u8>,
}

/// Every rejected row of a run, written to `--rejects FILE` at the end.
#[derive(Debug, Default)]
pub struct RejectLog {
    pub rejects: Vec<Reject>,
}

impl RejectLog {
    pub fn len(&self) -> usize {
        self.rejects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rejects.is_empty()
    }

    /// Writes `file,line,column,reason,record` rows, the record verbatim.
    pub fn write_to(&self, path: &Path) -> Result<()> {
        let file =
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        let mut out = csv::Writer::from_writer(io::BufWriter::new(file));
        out.write_record(["file", "line", "column", "reason", "record"])?;
        for reject in &self.rejects {
            let line = reject.line.to_string();
            out.write_record([
                reject.source.as_bytes(),
                line.as_bytes(),
                reject.column.as_bytes(),
                reject.reason.as_bytes(),
                &reject.record,
            ])?;
        }
        out.flush()
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }
}

/// Reads a whole small side file (units, listed counts, staffing) through
/// the same machinery and returns its sink.
pub fn read_small<S: RowSink>(
    path: &Path,
    schema: &'static Schema,
    options: &ReadOptions,
    rejects: &mut RejectLog,
    make: impl FnMut(&Columns) -> Result<S>,
) -> Result<S> {
    let single = ReadOptions {
        threads: 1,
        progress: false,
        ..options.clone()
    };
    let mut result = read(&[Source::from_path(path)], schema, &single, rejects, make)?;
    match result.sinks.pop() {
        Some(sink) if result.sinks.is_empty() => Ok(sink),
        _ => bail!("internal error: expected one sink for {}", path.display()),
    }
}
