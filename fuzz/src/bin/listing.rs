//! The listing loader every tool shares: a snapshot through
//! `Listing::load_with` with each duplicate policy, keeping the unit or a
//! whole `Person`; then every patient is looked up again and the listed
//! counts per unit must add up to the rows kept.
//!
//! Variant bits 0-1: repeats are errors, keep the first, keep the last,
//! errors while keeping `Person`s (`Listing::load_people`).

use pvkit::input::Row;
use pvkit::listing::{Duplicates, LISTING, ListedCounts, ListedPatient, Listing};
use pvkit_fuzz::{Case, ok};

fn main() {
    pvkit_fuzz::init();
    afl::fuzz!(|data: &[u8]| {
        let Some(mut case) = Case::new(data) else {
            return;
        };
        let duplicates = match case.variant & 0b11 {
            1 => Duplicates::KeepFirst,
            2 => Duplicates::KeepLast,
            _ => Duplicates::Error,
        };
        let sources = case.sources();
        if case.variant & 0b11 == 3 {
            let loaded = Listing::load_people(&sources, &LISTING, &case.options, &mut case.rejects);
            ok(loaded).inspect(check);
        } else {
            let loaded = Listing::load_with(
                &sources,
                &LISTING,
                &case.options,
                &mut case.rejects,
                duplicates,
                |_| Ok(|_: &Row<'_>, unit: u32| Ok(unit)),
            );
            ok(loaded).inspect(check);
        }
    });
    pvkit_fuzz::remove_files();
}

/// Nothing lost: every row is kept, rejected or dropped as a repeat, every
/// kept patient is found under its id, and the counts per unit add up.
fn check<P: ListedPatient + PartialEq + std::fmt::Debug>(listing: &Listing<P>) {
    let kept = listing.patients.len() as u64;
    assert_eq!(kept + listing.rejected + listing.duplicates, listing.rows);
    for (id, key, patient) in listing.patients.iter() {
        assert_eq!(listing.patients.get(key), Some((id, patient)));
        assert!((patient.unit() as usize) < listing.units.len());
    }
    assert_eq!(ListedCounts::from_listing(listing).total(), kept);
}
