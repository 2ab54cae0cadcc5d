//! pv-far's row parser and computation: activity rows through the FaR
//! sink, registrations (or patients) per 1000 listed per unit and part of
//! the period against fixed listed counts (testdata/far), the payment, the
//! report (with areas).
//!
//! Variant bits 0-2: period and granularity (see `Case::period`); bit 3:
//! annualized; bit 4: distinct patients, not registrations.

use pvkit::far::{self, ActivitySink, Config, Rate, Shared};
use pvkit::listing::ListedCounts;
use pvkit::report::Targets;
use pvkit::units::Units;
use pvkit_fuzz::{Case, ok};

fn main() {
    pvkit_fuzz::init();
    let listed = pvkit_fuzz::fixture(
        "listed.csv",
        include_bytes!("../../../testdata/far/listed.csv"),
        ListedCounts::load,
    );
    let units = pvkit_fuzz::fixture(
        "units.csv",
        include_bytes!("../../../testdata/far/units.csv"),
        Units::load,
    );
    let targets = Targets::default();
    afl::fuzz!(|data: &[u8]| {
        let Some(mut case) = Case::new(data) else {
            return;
        };
        let (period, granularity) = case.period();
        let config = Config {
            rate: Rate::far(),
            period,
            granularity,
            distinct_patients: case.bit(4),
            annualize: case.bit(3),
        };
        let shared = Shared::new(&config);
        let Some(result) = case.read(&far::ACTIVITIES, |columns| {
            ActivitySink::new(&shared, columns)
        }) else {
            return;
        };
        let folded = result
            .sinks
            .into_iter()
            .map(ActivitySink::into_folded)
            .collect();
        let Some(mut outcome) = ok(far::finish(folded, shared, &listed)) else {
            return;
        };
        let mut measures = std::mem::take(&mut outcome.measures);
        let earned = far::payments(&measures, &config.rate, &targets, &listed, 300.0);
        measures.extend(earned);
        case.report(measures, true, Some(&units), &targets);
    });
    pvkit_fuzz::remove_files();
}
