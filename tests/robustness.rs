//! Whatever bytes arrive, pv-coc and pv-coverage answer with exit code 0 or 1 and a
//! message, never a panic, and never echo a patient id.

mod common;

use common::{SECRET_ID, pv_coc};
use proptest::prelude::*;

/// Bytes that make CSV interesting: separators, quotes, line ends, digits,
/// date punctuation, Swedish letters and invalid UTF-8.
fn csv_like_bytes() -> impl Strategy<Value = Vec<u8>> {
    let pieces = prop_oneof![
        Just(b",".to_vec()),
        Just(b";".to_vec()),
        Just(b"\"".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"2024-02-29".to_vec()),
        Just(b"2024-13-01".to_vec()),
        Just(SECRET_ID.as_bytes().to_vec()),
        Just("läkare".as_bytes().to_vec()),
        Just(b"\xE5\xF6".to_vec()),
        Just(b"\xEF\xBB\xBF".to_vec()),
        "[a-z0-9 -]{1,6}".prop_map(String::into_bytes),
    ];
    prop::collection::vec(pieces, 0..60).prop_map(|parts| parts.concat())
}

const HEADER: &str = "patient_id,date,unit,provider_id,profession,contact_type,visit_id\n";

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_input_never_panics(body in csv_like_bytes(), with_header in any::<bool>(), threads in 1u8..3) {
        let mut input = if with_header { HEADER.as_bytes().to_vec() } else { Vec::new() };
        input.extend_from_slice(&body);
        let run = pv_coc(&["--threads", &threads.to_string(), "--index", "all"])
            .env("PVKIT_BLOCK_SIZE", "64")
            .stdin(input)
            .run();
        prop_assert!(run.code == 0 || run.code == 1, "exit {}: {}", run.code, run.stderr);
        prop_assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        prop_assert!(!run.stderr.contains(SECRET_ID), "{}", run.stderr);
        if run.code == 1 {
            prop_assert!(run.stderr.lines().any(|l| l.starts_with("pv-coc: error: ")), "{}", run.stderr);
        }
    }
}

/// pv-coverage's subcommands reading the arbitrary bytes from stdin, with
/// the header each expects; the other inputs are the fixtures.
fn coverage_case(subcommand: usize) -> (Vec<String>, &'static str) {
    let data = |name: &str| common::testdata_in("coverage", name);
    let (args, header): (Vec<String>, &str) = match subcommand {
        0 => (
            vec![
                "care".into(),
                "--professions".into(),
                "all".into(),
                "--listing".into(),
                data("listing.csv"),
            ],
            "patient_id,date,unit,profession,contact_type,care_level\n",
        ),
        1 => (
            vec!["reach".into(), "--listing".into(), data("listing.csv")],
            "patient_id,date,unit,contact_type\n",
        ),
        2 => (
            vec!["named-doctor".into(), "--by".into(), "active-choice".into()],
            "patient_id,unit,named_doctor,active_choice\n",
        ),
        3 => (
            vec![
                "doctors".into(),
                "--staffing".into(),
                data("staffing-sv.csv"),
            ],
            "patient_id,unit\n",
        ),
        _ => (
            vec![
                "health-dialogue".into(),
                "--year".into(),
                "2024".into(),
                "--listing".into(),
                data("listing.csv"),
            ],
            "patient_id,date,code\n",
        ),
    };
    (args, header)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_input_never_panics_pv_coverage(
        body in csv_like_bytes(),
        with_header in any::<bool>(),
        threads in 1u8..3,
        subcommand in 0usize..5,
    ) {
        let (mut args, header) = coverage_case(subcommand);
        args.extend(["--threads".into(), threads.to_string()]);
        let mut input = if with_header { header.as_bytes().to_vec() } else { Vec::new() };
        input.extend_from_slice(&body);
        let run = common::pv_coverage(&args)
            .env("PVKIT_BLOCK_SIZE", "64")
            .stdin(input)
            .run();
        prop_assert!(run.code == 0 || run.code == 1, "exit {}: {}", run.code, run.stderr);
        prop_assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        prop_assert!(!run.stderr.contains(SECRET_ID), "{}", run.stderr);
        if run.code == 1 {
            prop_assert!(run.stderr.lines().any(|l| l.starts_with("pv-coverage: error: ")), "{}", run.stderr);
        }
    }
}
