//! What every fuzz target shares: the first bytes of a test case choose
//! the read options, the rest is the file, written where the input layer
//! reads files (the reader is the code under test, so it reads a real
//! file, not a shortcut).

use std::path::PathBuf;

use pvkit::input::{ReadOptions, RejectLog};

/// Splits a test case into read options and file bytes.
pub fn options_and_file(data: &[u8]) -> Option<(ReadOptions, &[u8])> {
    let (&choice, file) = data.split_first()?;
    let delimiter = match choice & 0b11 {
        0 => None,
        1 => Some(b';'),
        2 => Some(b'\t'),
        _ => Some(b','),
    };
    let label = if choice & 0b100 == 0 { "utf-8" } else { "windows-1252" };
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

/// Writes `bytes` to this process's scratch file (in /dev/shm when there
/// is one) and returns its path.
pub fn scratch_file(bytes: &[u8]) -> PathBuf {
    let dir = if std::path::Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let path = dir.join(format!("pvkit-fuzz-{}.csv", std::process::id()));
    std::fs::write(&path, bytes).expect("write the scratch file");
    path
}

/// A fresh reject log; the targets look at it only to touch every reject.
pub fn rejects() -> RejectLog {
    RejectLog::default()
}
