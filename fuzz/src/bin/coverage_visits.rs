//! pv-coverage care and reach's row parser and computation: visit rows
//! looked up in a fixed listing (testdata/coverage), coverage or
//! visited_share per listing unit, the report (with areas and the units'
//! care levels).
//!
//! Variant bits 0-1: period (see `Case::period`); bit 2: scope primary
//! care, not the listing unit; bit 3: reach (visited_share), not care;
//! bit 4: doctors, nurses and physiotherapists only, not every profession.

use pvkit::coverage::{self, visits};
use pvkit::listing::Listing;
use pvkit::report::Targets;
use pvkit::units::Units;
use pvkit_fuzz::{Case, ok};

fn main() {
    pvkit_fuzz::init();
    let listing = pvkit_fuzz::fixture(
        "listing.csv",
        include_bytes!("../../../testdata/coverage/listing.csv"),
        Listing::load,
    );
    let units = pvkit_fuzz::fixture(
        "units.csv",
        include_bytes!("../../../testdata/coverage/units.csv"),
        Units::load,
    );
    let named = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
    let professions = coverage::professions(&named(&["doctor", "nurse", "physio"]));
    let contact_types = coverage::contact_types(&named(&["physical", "home"]));
    let targets = Targets::default();
    afl::fuzz!(|data: &[u8]| {
        let Some(mut case) = Case::new(data) else {
            return;
        };
        let config = visits::Config {
            ratio: if case.bit(3) {
                visits::Ratio::VisitedShare
            } else {
                visits::Ratio::Coverage
            },
            period: case.period().0,
            professions: case.bit(4).then(|| professions.clone()),
            contact_types: contact_types.clone(),
            scope: if case.bit(2) {
                visits::Scope::PrimaryCare
            } else {
                visits::Scope::ListingUnit
            },
        };
        let shared = visits::Shared::new(&config, &listing, Some(&units));
        let Some(result) = case.read(&visits::VISITS, |columns| {
            visits::VisitSink::new(&shared, columns)
        }) else {
            return;
        };
        let Some(outcome) = ok(visits::finish(&shared, result.sinks)) else {
            return;
        };
        case.report(outcome.measures, true, Some(&units), &targets);
    });
    pvkit_fuzz::remove_files();
}
