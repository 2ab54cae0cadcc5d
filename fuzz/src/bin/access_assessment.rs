//! pv-access assessment's row parser and computation: contact rows
//! through the assessment sink, assessment within 0, 3 and 7 days per
//! unit, part of the period and profession, the report (with areas).
//!
//! Variant bits 0-2: period and granularity (see `Case::period`); bit 3:
//! by profession; bit 4: judged as of 2024-04-10, not the latest date.

use pvkit::access::assessment::{self, ASSESSMENTS, AssessmentConfig, AssessmentSink};
use pvkit::intern::SharedNames;
use pvkit::period::parse_date;
use pvkit::report::Targets;
use pvkit::units::Units;
use pvkit_fuzz::{Case, ok};

fn main() {
    pvkit_fuzz::init();
    let units = pvkit_fuzz::fixture(
        "units.csv",
        include_bytes!("../../../testdata/access/units.csv"),
        Units::load,
    );
    let targets = Targets::default();
    afl::fuzz!(|data: &[u8]| {
        let Some(mut case) = Case::new(data) else {
            return;
        };
        let (period, granularity) = case.period();
        let config = AssessmentConfig {
            period,
            granularity,
            by_profession: case.bit(3),
            as_of: case
                .bit(4)
                .then(|| parse_date(b"2024-04-10").expect("a date")),
        };
        let (unit_names, professions) = (SharedNames::new(), SharedNames::new());
        let Some(result) = case.read(&ASSESSMENTS, |columns| {
            AssessmentSink::new(&config, &unit_names, &professions, columns)
        }) else {
            return;
        };
        let folded = result
            .sinks
            .into_iter()
            .map(AssessmentSink::into_folded)
            .collect();
        let names = (unit_names.into_names(), professions.into_names());
        let Some(mut found) = ok(assessment::finish(folded, names.0, names.1, &config)) else {
            return;
        };
        let measures = std::mem::take(&mut found.measures);
        case.report(measures, found.has_units, Some(&units), &targets);
    });
    pvkit_fuzz::remove_files();
}
