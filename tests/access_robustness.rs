//! Whatever bytes arrive, both pv-access subcommands answer with exit code
//! 0 or 1 and a message, never a panic, and never echo a personnummer.

mod common;

use common::{SECRET_ID, pv_access};
use proptest::prelude::*;

/// Bytes that make call and contact exports interesting: separators,
/// quotes, line ends, dates and times, outcome and yes/no words, Swedish
/// letters, invalid UTF-8 and a personnummer.
fn export_like_bytes() -> impl Strategy<Value = Vec<u8>> {
    let pieces = prop_oneof![
        Just(b",".to_vec()),
        Just(b";".to_vec()),
        Just(b"\"".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"2024-02-29".to_vec()),
        Just(b"2024-02-29 23:59".to_vec()),
        Just(b"2024-03-01 00:01".to_vec()),
        Just(b"2024-13-01".to_vec()),
        Just(SECRET_ID.as_bytes().to_vec()),
        Just("Återuppringning".as_bytes().to_vec()),
        Just(b"answered".to_vec()),
        Just(b"closed".to_vec()),
        Just(b"ja".to_vec()),
        Just(b"\xE5\xF6".to_vec()),
        "[a-z0-9 -]{1,6}".prop_map(String::into_bytes),
    ];
    prop::collection::vec(pieces, 0..60).prop_map(|parts| parts.concat())
}

const CALLS: &str = "unit,received_at,outcome,contact_at\n";
const ASSESSMENTS: &str = "unit,contact_date,assessment_date,profession,patient_chosen_wait\n";

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_input_never_panics(
        body in export_like_bytes(),
        phone in any::<bool>(),
        with_header in any::<bool>(),
        threads in 1u8..3,
    ) {
        let (subcommand, header) = if phone { ("phone", CALLS) } else { ("assessment", ASSESSMENTS) };
        // --by profession without a profession column is a usage error (exit 2).
        let by = if with_header && !phone { "month,profession" } else { "month" };
        let mut input = if with_header { header.as_bytes().to_vec() } else { Vec::new() };
        input.extend_from_slice(&body);
        let run = pv_access(&[subcommand, "--threads", &threads.to_string(), "--by", by])
            .env("PVKIT_BLOCK_SIZE", "64")
            .stdin(input)
            .run();
        prop_assert!(run.code == 0 || run.code == 1, "exit {}: {}", run.code, run.stderr);
        prop_assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        prop_assert!(!run.stderr.contains(SECRET_ID), "{}", run.stderr);
        if run.code == 1 {
            prop_assert!(run.stderr.lines().any(|l| l.starts_with("pv-access: error: ")), "{}", run.stderr);
        }
    }
}
