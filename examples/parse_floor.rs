//! The parse-only floor for `scripts/bench.sh`: reads each CSV file given on
//! the command line once with the csv crate, on one thread, into one reused
//! `ByteRecord`, and does nothing else but count rows, fields and field
//! bytes (printed, so the parse cannot be optimized away).
//!
//! ```text
//! cargo run --release --example parse_floor -- visits.csv listing.csv
//! ```
//!
//! pv-coc has to do at least this much work; its wall time divided by this
//! program's is the "within 2× of the parse floor" ratio of BENCHMARKS.md.

use std::process::ExitCode;

fn main() -> ExitCode {
    let paths: Vec<String> = std::env::args().skip(1).collect();
    if paths.is_empty() {
        eprintln!("usage: parse_floor FILE.csv [FILE.csv ...]");
        return ExitCode::from(2);
    }
    for path in &paths {
        match count(path) {
            Ok((rows, fields, bytes)) => {
                println!("{path}: {rows} rows, {fields} fields, {bytes} field bytes");
            }
            Err(error) => {
                eprintln!("parse_floor: {path}: {error}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

/// Data rows, fields and field bytes of one file (header row excluded).
fn count(path: &str) -> csv::Result<(u64, u64, u64)> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(path)?;
    let mut record = csv::ByteRecord::new();
    let (mut rows, mut fields, mut bytes) = (0u64, 0u64, 0u64);
    while reader.read_byte_record(&mut record)? {
        rows += 1;
        fields += record.len() as u64;
        bytes += record.as_slice().len() as u64;
    }
    Ok((rows, fields, bytes))
}
