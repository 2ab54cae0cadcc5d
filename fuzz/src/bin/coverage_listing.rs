//! pv-coverage's listing-based subcommands with the listing fuzzed:
//! named-doctor (with or without the active choice), doctors (listed per
//! doctor against fixed staffing) and health-dialogue (the listing's birth
//! dates against fixed activities), each through the report.
//!
//! Variant bits 0-1: named-doctor, named-doctor by active choice, doctors,
//! health-dialogue; bits 2-4: health-dialogue's options (see
//! `pvkit_fuzz::dialogue_config`).

use pvkit::coverage::{dialogue, listed};
use pvkit::input::{self, ReadOptions, Source};
use pvkit::listing::{LISTING, ListedCounts, Listing};
use pvkit::report::{Measure, Targets};
use pvkit::staffing::Staffing;
use pvkit::units::Units;
use pvkit_fuzz::{Case, ok};

struct Fixed {
    staffing: Staffing,
    activities: Source,
    units: Units,
}

fn main() {
    pvkit_fuzz::init();
    let fixed = Fixed {
        staffing: pvkit_fuzz::fixture(
            "staffing.csv",
            include_bytes!("../../../testdata/coverage/staffing.csv"),
            Staffing::load,
        ),
        activities: Source::File(pvkit_fuzz::fixed_file(
            "activities.csv",
            include_bytes!("../../../testdata/coverage/activities.csv"),
        )),
        units: pvkit_fuzz::fixture(
            "units.csv",
            include_bytes!("../../../testdata/coverage/units.csv"),
            Units::load,
        ),
    };
    let targets = Targets::default();
    afl::fuzz!(|data: &[u8]| {
        let Some(mut case) = Case::new(data) else {
            return;
        };
        let measures = match case.variant & 0b11 {
            0 => named_doctor(&mut case, false),
            1 => named_doctor(&mut case, true),
            2 => doctors(&mut case, &fixed),
            _ => health_dialogue(&mut case, &fixed),
        };
        if let Some(measures) = measures {
            case.report(measures, true, Some(&fixed.units), &targets);
        }
    });
    pvkit_fuzz::remove_files();
}

fn named_doctor(case: &mut Case, by_choice: bool) -> Option<Vec<Measure>> {
    let schema = if by_choice {
        &listed::NAMED_DOCTOR_BY_CHOICE_LISTING
    } else {
        &listed::NAMED_DOCTOR_LISTING
    };
    let listing = ok(Listing::load_people(
        &case.sources(),
        schema,
        &case.options,
        &mut case.rejects,
    ))?;
    Some(listed::named_doctor_share(
        &listing,
        by_choice,
        "2024-12-31",
    ))
}

fn doctors(case: &mut Case, fixed: &Fixed) -> Option<Vec<Measure>> {
    let listing: Listing = ok(Listing::load_sources(
        &case.sources(),
        &LISTING,
        &case.options,
        &mut case.rejects,
    ))?;
    let counts = ListedCounts::from_listing(&listing);
    assert_eq!(counts.total(), listing.patients.len() as u64);
    let (measures, _) = listed::listed_per_doctor(&counts, &fixed.staffing, "2024-12-31");
    Some(measures)
}

fn health_dialogue(case: &mut Case, fixed: &Fixed) -> Option<Vec<Measure>> {
    let listing = ok(pvkit_fuzz::people(
        &case.path,
        &case.options,
        &mut case.rejects,
    ))?;
    let config = pvkit_fuzz::dialogue_config(case.bit(2), case.bit(3), case.bit(4));
    let shared = dialogue::Shared::new(&config, &listing);
    let result = ok(input::read(
        std::slice::from_ref(&fixed.activities),
        &dialogue::ACTIVITIES,
        &ReadOptions::default(),
        &mut case.rejects,
        |columns| Ok(dialogue::ActivitySink::new(&shared, columns)),
    ))?;
    Some(dialogue::finish(&shared, result.sinks).measures)
}
