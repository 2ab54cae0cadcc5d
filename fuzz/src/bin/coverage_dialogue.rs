//! pv-coverage health-dialogue's row parser and computation: activity
//! rows against a fixed listing with birth dates (testdata/coverage),
//! offered and completed dialogues per unit (or cohort age), the report.
//!
//! Variant bit 0: by age; bit 1: the cohorts of 2025, not 2024; bit 2:
//! ages 0 to 130, not 40, 50, 60 and 70.

use pvkit::coverage::dialogue;
use pvkit::report::Targets;
use pvkit::units::Units;
use pvkit_fuzz::Case;

fn main() {
    pvkit_fuzz::init();
    let listing = pvkit_fuzz::fixture(
        "listing.csv",
        include_bytes!("../../../testdata/coverage/listing.csv"),
        pvkit_fuzz::people,
    );
    let units = pvkit_fuzz::fixture(
        "units.csv",
        include_bytes!("../../../testdata/coverage/units.csv"),
        Units::load,
    );
    let targets = Targets::default();
    afl::fuzz!(|data: &[u8]| {
        let Some(mut case) = Case::new(data) else {
            return;
        };
        let config = pvkit_fuzz::dialogue_config(case.bit(0), case.bit(1), case.bit(2));
        let shared = dialogue::Shared::new(&config, &listing);
        let Some(result) = case.read(&dialogue::ACTIVITIES, |columns| {
            Ok(dialogue::ActivitySink::new(&shared, columns))
        }) else {
            return;
        };
        let outcome = dialogue::finish(&shared, result.sinks);
        case.report(outcome.measures, true, Some(&units), &targets);
    });
    pvkit_fuzz::remove_files();
}
