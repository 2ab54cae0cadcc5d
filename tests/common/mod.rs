//! Helpers shared by the integration tests: running the built binaries,
//! temporary files, and reading their CSV output.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The binaries Cargo built for this test run.
pub const PV_COC: &str = env!("CARGO_BIN_EXE_pv-coc");
pub const PV_ACCESS: &str = env!("CARGO_BIN_EXE_pv-access");
pub const PV_COVERAGE: &str = env!("CARGO_BIN_EXE_pv-coverage");
pub const PV_FAR: &str = env!("CARGO_BIN_EXE_pv-far");
pub const PV_LISTING_DIFF: &str = env!("CARGO_BIN_EXE_pv-listing-diff");

/// A fake personnummer put into bad rows; it must never reach stderr.
pub const SECRET_ID: &str = "19121212-1212";

/// What a run produced.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Panics with the whole run when the exit code is not `code`.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(
            self.code, code,
            "exit code {} (wanted {code})\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }

    /// Exit code 0; returns stdout.
    #[track_caller]
    pub fn ok(&self) -> &str {
        self.expect_code(0);
        &self.stdout
    }
}

/// A run of one of the binaries with arguments, environment and stdin.
pub struct Cmd {
    binary: &'static str,
    args: Vec<String>,
    env: Vec<(String, String)>,
    stdin: Option<Vec<u8>>,
}

pub fn pv_coc<S: AsRef<str>>(args: &[S]) -> Cmd {
    Cmd::of(PV_COC, args)
}

/// `pv-access` with `args` (the first one being the subcommand).
pub fn pv_access<S: AsRef<str>>(args: &[S]) -> Cmd {
    Cmd::of(PV_ACCESS, args)
}

pub fn pv_coverage<S: AsRef<str>>(args: &[S]) -> Cmd {
    Cmd::of(PV_COVERAGE, args)
}

pub fn pv_far<S: AsRef<str>>(args: &[S]) -> Cmd {
    Cmd::of(PV_FAR, args)
}

pub fn pv_listing_diff<S: AsRef<str>>(args: &[S]) -> Cmd {
    Cmd::of(PV_LISTING_DIFF, args)
}

impl Cmd {
    fn of<S: AsRef<str>>(binary: &'static str, args: &[S]) -> Cmd {
        Cmd {
            binary,
            args: args.iter().map(|a| a.as_ref().to_string()).collect(),
            env: Vec::new(),
            stdin: None,
        }
    }

    pub fn arg(mut self, arg: impl AsRef<str>) -> Cmd {
        self.args.push(arg.as_ref().to_string());
        self
    }

    pub fn args<S: AsRef<str>>(mut self, args: &[S]) -> Cmd {
        self.args
            .extend(args.iter().map(|a| a.as_ref().to_string()));
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Cmd {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Cmd {
        self.stdin = Some(bytes.into());
        self
    }

    pub fn command(&self) -> Command {
        let mut command = Command::new(self.binary);
        command.args(&self.args);
        // Tests set the block size and mapping themselves; an outer setting
        // must not leak in.
        command
            .env_remove("PVKIT_BLOCK_SIZE")
            .env_remove("PVKIT_MAP");
        for (key, value) in &self.env {
            command.env(key, value);
        }
        command
    }

    pub fn run(&self) -> Run {
        let mut command = self.command();
        command
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("start the binary");
        let writer = self.stdin.clone().map(|bytes| {
            let mut stdin = child.stdin.take().expect("stdin");
            // A thread, so a large input cannot deadlock against a full stdout pipe.
            std::thread::spawn(move || {
                let _ = stdin.write_all(&bytes);
            })
        });
        let output = child.wait_with_output().expect("wait for the binary");
        if let Some(writer) = writer {
            writer.join().expect("stdin writer");
        }
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// A file under `testdata/coc/`.
pub fn testdata(name: &str) -> String {
    testdata_in("coc", name)
}

/// A file under `testdata/DIR/`.
pub fn testdata_in(dir: &str, name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(dir)
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// Writes a generated region into `out` with `examples/synth` (built next
/// to the test binaries: `cargo test` builds the examples) and `args`
/// (`--visits N`, `--seed S`, `--swedish` …).
pub fn synth(out: &Path, args: &[&str]) {
    let bin_dir = Path::new(PV_COC).parent().expect("the binaries' directory");
    let program = bin_dir
        .join("examples")
        .join(format!("synth{}", std::env::consts::EXE_SUFFIX));
    assert!(
        program.exists(),
        "{} is missing: run `cargo test` (which builds the examples) or `cargo build --example synth`",
        program.display()
    );
    let output = Command::new(&program)
        .arg("--out")
        .arg(out)
        .args(args)
        .output()
        .expect("run synth");
    assert!(
        output.status.success(),
        "synth failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A file under `testdata/access/`.
pub fn access_data(name: &str) -> String {
    testdata_in("access", name)
}

/// Reads a file under `testdata/coc/` as text.
pub fn read_testdata(name: &str) -> String {
    std::fs::read_to_string(testdata(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// A directory of its own under the system temp dir, removed on drop.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("pvkit-test-{}-{label}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir { path }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Writes `contents` to `name` in this directory; returns the path as text.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> String {
        let path = self.path(name);
        std::fs::write(&path, contents).expect("write temp file");
        path.to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// SplitMix64: a small, fixed, seeded generator for the generated regions
/// of the model tests.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn percent(&mut self, p: usize) -> bool {
        self.below(100) < p
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Parsed delimited text: a header and rows of fields.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn column(&self, name: &str) -> usize {
        self.header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name} in {:?}", self.header))
    }

    pub fn get<'a>(&'a self, row: &'a [String], name: &str) -> &'a str {
        &row[self.column(name)]
    }

    /// Rows as maps from column name to value.
    pub fn records(&self) -> Vec<BTreeMap<String, String>> {
        self.rows
            .iter()
            .map(|row| {
                self.header
                    .iter()
                    .cloned()
                    .zip(row.iter().cloned())
                    .collect()
            })
            .collect()
    }

    /// The indicator row with these keys (panics unless exactly one).
    pub fn indicator_row(
        &self,
        indicator: &str,
        level: &str,
        unit: &str,
        group: &str,
    ) -> Vec<String> {
        let found: Vec<&Vec<String>> = self
            .rows
            .iter()
            .filter(|r| {
                self.get(r, "indicator") == indicator
                    && self.get(r, "level") == level
                    && self.get(r, "unit") == unit
                    && self.get(r, "group") == group
            })
            .collect();
        assert_eq!(
            found.len(),
            1,
            "rows for {indicator}/{level}/{unit}/{group}: {found:?}"
        );
        found[0].clone()
    }
}

/// Parses CSV (or any single-byte delimiter) text with a header row.
pub fn parse_delimited(text: &str, delimiter: u8) -> Table {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(true)
        .from_reader(text.as_bytes());
    let header = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_string)
        .collect();
    let rows = reader
        .records()
        .map(|r| r.expect("record").iter().map(str::to_string).collect())
        .collect();
    Table { header, rows }
}

pub fn parse_csv(text: &str) -> Table {
    parse_delimited(text, b',')
}

/// Asserts that stderr never shows `id`.
#[track_caller]
pub fn assert_no_patient_id(stderr: &str, id: &str) {
    assert!(
        !stderr.contains(id),
        "stderr shows the patient id {id}:\n{stderr}"
    );
}
