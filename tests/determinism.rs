//! Determinism (issue 8): every tool's output is byte-identical whatever
//! the number of threads (`RAYON_NUM_THREADS` and `--threads` 1 or 2, or
//! the defaults), the block size the reader cuts the input into, and
//! whether the input is one file or split over several (for
//! pv-listing-diff: OLD or NEW through stdin instead of a file). The input
//! is a region from `examples/synth.rs` (with visit ids, so repeated
//! visits are in it too); its stderr summary must not change either.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use common::{Cmd, Run, pv_access, pv_coc, pv_coverage, pv_far, pv_listing_diff, synth};

/// The generated region, made once per test run under Cargo's temporary
/// directory for integration tests.
fn region() -> &'static Path {
    static REGION: OnceLock<PathBuf> = OnceLock::new();
    REGION.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("determinism-region");
        let _ = std::fs::remove_dir_all(&dir);
        synth(&dir, &["--visits", "30000", "--seed", "8", "--visit-ids"]);
        dir
    })
}

fn file(name: &str) -> String {
    region()
        .join(format!("{name}.csv"))
        .to_string_lossy()
        .into_owned()
}

/// `name.csv` split into `parts` files of consecutive rows, each with the
/// header, written next to the region once per name and count (tests run
/// in parallel and must not rewrite a file another one is reading).
fn split(name: &str, parts: usize) -> Vec<String> {
    static SPLITS: Mutex<BTreeMap<(String, usize), Vec<String>>> = Mutex::new(BTreeMap::new());
    let mut splits = SPLITS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    splits
        .entry((name.to_string(), parts))
        .or_insert_with(|| write_parts(name, parts))
        .clone()
}

fn write_parts(name: &str, parts: usize) -> Vec<String> {
    let dir = region().join(format!("split-{parts}"));
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(file(name)).unwrap();
    let (header, body) = text.split_once('\n').unwrap();
    let rows: Vec<&str> = body.lines().collect();
    // Unequal parts, so that the boundaries fall anywhere.
    let mut bounds = vec![0];
    for k in 1..parts {
        bounds.push(rows.len() * k * k / (parts * parts));
    }
    bounds.push(rows.len());
    bounds
        .windows(2)
        .enumerate()
        .map(|(k, range)| {
            let path = dir.join(format!("{name}-{k}.csv"));
            let mut part = format!("{header}\n");
            for row in &rows[range[0]..range[1]] {
                part.push_str(row);
                part.push('\n');
            }
            std::fs::write(&path, part).unwrap();
            path.to_string_lossy().into_owned()
        })
        .collect()
}

/// How one run differs from the others.
#[derive(Clone, Copy, Debug)]
struct Variant {
    /// `RAYON_NUM_THREADS` and `--threads`; `None` leaves both at their default.
    threads: Option<u16>,
    /// `PVKIT_BLOCK_SIZE`: small blocks make many chunks.
    block: Option<&'static str>,
    /// Files the split input is cut into.
    parts: usize,
}

const VARIANTS: [Variant; 5] = [
    Variant {
        threads: Some(1),
        block: None,
        parts: 1,
    },
    Variant {
        threads: Some(2),
        block: Some("4096"),
        parts: 1,
    },
    Variant {
        threads: None,
        block: None,
        parts: 1,
    },
    Variant {
        threads: Some(1),
        block: Some("4096"),
        parts: 3,
    },
    Variant {
        threads: Some(2),
        block: Some("65536"),
        parts: 4,
    },
];

type Tool = fn(&[String]) -> Cmd;

fn with_variant(command: Cmd, variant: Variant) -> Cmd {
    let mut command = command;
    if let Some(threads) = variant.threads {
        command = command
            .args(&["--threads", &threads.to_string()])
            .env("RAYON_NUM_THREADS", &threads.to_string());
    }
    if let Some(block) = variant.block {
        command = command.env("PVKIT_BLOCK_SIZE", block);
    }
    command
}

/// Runs `args` in every variant: `@name` is the region's `name.csv`,
/// `@name*` the same split over the variant's number of files.
fn runs(tool: Tool, args: &[&str]) -> Vec<(Variant, Run)> {
    VARIANTS
        .iter()
        .map(|&variant| {
            let args: Vec<String> = args
                .iter()
                .flat_map(|arg| match arg.strip_prefix('@') {
                    Some(split_name) if split_name.ends_with('*') => {
                        split(split_name.trim_end_matches('*'), variant.parts)
                    }
                    Some(name) => vec![file(name)],
                    None => vec![arg.to_string()],
                })
                .collect();
            let run = with_variant(tool(&args), variant).run();
            (variant, run)
        })
        .collect()
}

/// Every variant gives the first one's stdout and stderr, byte for byte.
#[track_caller]
fn assert_same(runs: &[(Variant, Run)]) {
    let (_, first) = &runs[0];
    first.expect_code(0);
    assert!(
        first.stdout.lines().count() > 2,
        "too little output to compare:\n{}",
        first.stdout
    );
    for (variant, run) in &runs[1..] {
        run.expect_code(0);
        assert!(
            run.stdout == first.stdout,
            "{variant:?} changed the output:\n{}",
            first_difference(&first.stdout, &run.stdout)
        );
        assert_eq!(run.stderr, first.stderr, "{variant:?} changed the summary");
    }
}

fn first_difference(a: &str, b: &str) -> String {
    let at = a
        .lines()
        .zip(b.lines())
        .position(|(x, y)| x != y)
        .unwrap_or_else(|| a.lines().count().min(b.lines().count()));
    format!(
        "line {}: {:?} vs {:?} ({} vs {} lines)",
        at + 1,
        a.lines().nth(at),
        b.lines().nth(at),
        a.lines().count(),
        b.lines().count()
    )
}

fn check(tool: Tool, args: &[&str]) {
    assert_same(&runs(tool, args));
}

#[test]
fn pv_coc_with_a_listing() {
    check(
        pv_coc::<String>,
        &["--listing", "@listing", "--units", "@units", "@visits*"],
    );
}

#[test]
fn pv_coc_per_patient_every_index() {
    check(
        pv_coc::<String>,
        &[
            "--listing",
            "@listing",
            "--per-patient",
            "--index",
            "all",
            "@visits*",
        ],
    );
}

#[test]
fn pv_coc_without_a_listing() {
    check(
        pv_coc::<String>,
        &["--units", "@units", "--min-visits", "1", "@visits*"],
    );
}

#[test]
fn pv_access_phone() {
    check(
        pv_access::<String>,
        &["phone", "--units", "@units", "@calls*"],
    );
}

#[test]
fn pv_access_phone_payment_by_month() {
    check(
        pv_access::<String>,
        &[
            "phone",
            "--by",
            "month",
            "--payment-per-listed",
            "83",
            "--listing",
            "@listing",
            "@calls*",
        ],
    );
}

#[test]
fn pv_access_assessment() {
    check(
        pv_access::<String>,
        &[
            "assessment",
            "--units",
            "@units",
            "--by",
            "month,profession",
            "@assessments*",
        ],
    );
}

#[test]
fn pv_coverage_care() {
    check(
        pv_coverage::<String>,
        &[
            "care",
            "--listing",
            "@listing",
            "--units",
            "@units",
            "@visits*",
        ],
    );
}

#[test]
fn pv_coverage_care_in_primary_care() {
    check(
        pv_coverage::<String>,
        &[
            "care",
            "--scope",
            "primary-care",
            "--listing",
            "@listing",
            "--units",
            "@units",
            "@visits*",
        ],
    );
}

#[test]
fn pv_coverage_reach() {
    check(
        pv_coverage::<String>,
        &[
            "reach",
            "--months",
            "6",
            "--listing",
            "@listing",
            "@visits*",
        ],
    );
}

#[test]
fn pv_coverage_named_doctor() {
    check(
        pv_coverage::<String>,
        &[
            "named-doctor",
            "--by",
            "active-choice",
            "--units",
            "@units",
            "@listing*",
        ],
    );
}

#[test]
fn pv_coverage_doctors() {
    check(
        pv_coverage::<String>,
        &[
            "doctors",
            "--units",
            "@units",
            "--staffing",
            "@staffing",
            "@listing*",
        ],
    );
}

#[test]
fn pv_coverage_health_dialogue() {
    check(
        pv_coverage::<String>,
        &[
            "health-dialogue",
            "--year",
            "2024",
            "--by",
            "age",
            "--listing",
            "@listing",
            "@activities*",
        ],
    );
}

#[test]
fn pv_far_with_payment() {
    check(
        pv_far::<String>,
        &[
            "--listing",
            "@listing",
            "--units",
            "@units",
            "--payment-per-listed",
            "11.70",
            "@activities*",
        ],
    );
}

#[test]
fn pv_far_distinct_patients_by_month() {
    check(
        pv_far::<String>,
        &[
            "--listed",
            "@listed",
            "--distinct-patients",
            "--by",
            "month",
            "--annualize",
            "@activities*",
        ],
    );
}

#[test]
fn pv_far_tobacco() {
    check(
        pv_far::<String>,
        &[
            "--measure",
            "tobacco",
            "--listed",
            "@listed",
            "@activities*",
        ],
    );
}

/// pv-listing-diff reads one OLD and one NEW: besides threads and block
/// sizes, either may come through stdin.
fn check_listing_diff(options: &[&str]) {
    let (old, new) = (file("listing_old"), file("listing"));
    let read = |path: &str| std::fs::read(path).unwrap();
    let with = |old_arg: &str, new_arg: &str| -> Vec<String> {
        options
            .iter()
            .map(|o| {
                if *o == "@units" {
                    file("units")
                } else {
                    o.to_string()
                }
            })
            .chain([old_arg.to_string(), new_arg.to_string()])
            .collect()
    };
    let mut runs: Vec<(Variant, Run)> = VARIANTS
        .iter()
        .map(|&variant| {
            let run = with_variant(pv_listing_diff(&with(&old, &new)), variant).run();
            (variant, run)
        })
        .collect();
    let first = runs[0].1.stdout.clone();
    let small = VARIANTS[1];
    for (old_arg, new_arg, stdin) in [("-", new.as_str(), &old), (old.as_str(), "-", &new)] {
        let run = with_variant(pv_listing_diff(&with(old_arg, new_arg)), small)
            .stdin(read(stdin))
            .run();
        assert!(
            run.ok() == first,
            "{} through stdin changed the output:\n{}",
            if old_arg == "-" { "OLD" } else { "NEW" },
            first_difference(&first, &run.stdout)
        );
    }
    runs.retain(|(variant, _)| variant.parts == 1);
    assert_same(&runs);
}

#[test]
fn pv_listing_diff_per_unit() {
    check_listing_diff(&["--units", "@units"]);
}

#[test]
fn pv_listing_diff_flows_by_age_band() {
    check_listing_diff(&["--by", "age-band", "--flows"]);
}

#[test]
fn pv_listing_diff_area_flows_by_sex_kept_last() {
    check_listing_diff(&[
        "--by", "sex", "--units", "@units", "--flows", "--level", "area", "--dedupe", "last",
    ]);
}
