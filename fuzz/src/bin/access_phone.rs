//! pv-access phone's row parser and computation: call rows through the
//! call sink, phone_same_day and phone_outcome per unit and part of the
//! period, the monthly payment (per month, with fixed listed counts), the
//! report.
//!
//! Variant bits 0-2: period and granularity (see `Case::period`); bit 3:
//! every outcome counted, not only the default ones.

use pvkit::access::phone::{self, CALLS, CallSink, Outcome, PhoneConfig};
use pvkit::intern::SharedNames;
use pvkit::listing::ListedCounts;
use pvkit::period::Granularity;
use pvkit::report::{Report, Targets};
use pvkit_fuzz::{Case, ok};

fn main() {
    pvkit_fuzz::init();
    let listed = pvkit_fuzz::fixture(
        "listed.csv",
        include_bytes!("../../../testdata/access/orebro-2024/listed.csv"),
        ListedCounts::load,
    );
    let targets = Targets::default();
    afl::fuzz!(|data: &[u8]| {
        let Some(mut case) = Case::new(data) else {
            return;
        };
        let (period, granularity) = case.period();
        let counted = if case.bit(3) {
            Outcome::ALL.to_vec()
        } else {
            Outcome::COUNTED_BY_DEFAULT.to_vec()
        };
        let config = PhoneConfig {
            period,
            granularity,
            counted,
        };
        let units = SharedNames::new();
        let Some(result) = case.read(&CALLS, |columns| {
            Ok(CallSink::new(&config, &units, columns))
        }) else {
            return;
        };
        let folded = result
            .sinks
            .into_iter()
            .map(CallSink::into_folded)
            .collect();
        let Some(mut found) = ok(phone::finish(folded, units.into_names(), &config)) else {
            return;
        };
        let mut measures = std::mem::take(&mut found.measures);
        if let (Granularity::Month, Some(window), true) =
            (granularity, found.window, found.has_units)
        {
            let judge = Report {
                units: None,
                unit_rows: true,
                total: false,
                targets: &targets,
                min_cell: None,
            };
            let judged = judge.rows(measures.clone());
            measures.extend(phone::payments(&judged, &listed, 1200.0, window));
        }
        case.report(measures, found.has_units, None, &targets);
    });
    pvkit_fuzz::remove_files();
}
