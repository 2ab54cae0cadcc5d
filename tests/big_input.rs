//! 50 million generated visit rows streamed through pv-coc on stdin: the
//! run succeeds and its peak memory stays within what its distinct keys
//! need (the listing's patients and the visits that count), whatever the
//! number of rows read. Ignored by default (it needs about 5 GB of disk and
//! a few minutes); `scripts/bench.sh --big` and
//! `cargo test --release --test big_input -- --ignored` run it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const ROWS: &str = "50000000";

/// Bytes pv-coc may keep per counted visit (16 in its per-thread visit
/// blocks, plus the grouping's index) and per listed patient (key bytes and
/// slot of the listing index, patient-profession groups).
const PER_COUNTED_VISIT: u64 = 24;
const PER_LISTED_PATIENT: u64 = 96;
/// Reader blocks in flight, thread stacks, interned names, the allocator.
const BASELINE: u64 = 256 << 20;

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("target/bench-data/{ROWS}"))
}

/// The generated region, made once with `examples/synth` (as bench.sh does).
fn generate(dir: &Path) {
    if dir.join(".complete").exists() {
        return;
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let status = Command::new(cargo)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "run",
            "--release",
            "--quiet",
            "--example",
            "synth",
            "--",
            "--out",
        ])
        .arg(dir)
        .args(["--visits", ROWS, "--seed", "42"])
        .status()
        .expect("run synth");
    assert!(status.success(), "synth failed");
    std::fs::write(dir.join(".complete"), ROWS).unwrap();
}

/// The number just after `label` in stderr.
fn number_after(stderr: &str, label: &str) -> u64 {
    let at = stderr
        .find(label)
        .unwrap_or_else(|| panic!("no {label:?} in {stderr}"));
    let digits: String = stderr[at + label.len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no number after {label:?} in {stderr}"))
}

/// The number just before `words` in pv-coc's summary.
fn number_before(stderr: &str, words: &str) -> u64 {
    let at = stderr
        .find(words)
        .unwrap_or_else(|| panic!("no {words:?} in {stderr}"));
    stderr[..at]
        .split_whitespace()
        .last()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number before {words:?} in {stderr}"))
}

#[test]
#[ignore = "50 M rows: run by scripts/bench.sh --big"]
fn fifty_million_rows_on_stdin_stay_within_their_keys() {
    let dir = data_dir();
    generate(&dir);
    let visits = std::fs::File::open(dir.join("visits.csv")).unwrap();
    let output = Command::new("/usr/bin/time")
        .args(["-f", "peak_rss_kib %M"])
        .arg(env!("CARGO_BIN_EXE_pv-coc"))
        .arg("--listing")
        .arg(dir.join("listing.csv"))
        .stdin(Stdio::from(visits))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("run /usr/bin/time pv-coc");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    // "visits: read N rows = U used + …": the used rows are the counted visits.
    let visits = &stderr[stderr.find("visits: read ").expect("the visits line")..];
    let rows = number_after(visits, "visits: read ");
    let counted = number_after(visits, "rows = ");
    let listed = number_before(&stderr, "patients at");
    let peak = 1024 * number_after(&stderr, "peak_rss_kib ");
    let bound = BASELINE + PER_COUNTED_VISIT * counted + PER_LISTED_PATIENT * listed;
    eprintln!(
        "big input: {rows} rows read, {counted} counted, {listed} listed; peak RSS {} MiB, bound {} MiB",
        peak >> 20,
        bound >> 20
    );
    assert_eq!(rows, 50_000_000);
    // The bound has no term for rows read: the 30 M rows that do not count
    // (outside the window, phone contacts, other units) cost nothing kept.
    assert!(peak <= bound, "peak RSS {peak} above {bound}");
}
