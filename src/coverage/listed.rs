//! Named doctor share and listed patients per doctor: counts of a listing
//! snapshot per unit.

use std::collections::BTreeMap;

use crate::catalogue::{self, Indicator};
use crate::input::{ColumnSpec, Schema};
use crate::listing::{ListedCounts, Listing, Person};
use crate::report::Measure;
use crate::staffing::Staffing;

/// The listing as `named-doctor` reads it.
pub static NAMED_DOCTOR_LISTING: Schema = Schema {
    what: "listing",
    columns: &[
        ColumnSpec::required("patient_id").sensitive(),
        ColumnSpec::required("unit"),
        ColumnSpec::required("named_doctor"),
        ColumnSpec::optional("active_choice"),
    ],
};

/// The same with `--by active-choice`, which needs the column.
pub static NAMED_DOCTOR_BY_CHOICE_LISTING: Schema = Schema {
    what: "listing",
    columns: &[
        ColumnSpec::required("patient_id").sensitive(),
        ColumnSpec::required("unit"),
        ColumnSpec::required("named_doctor"),
        ColumnSpec::required("active_choice"),
    ],
};

fn indicator(id: &str) -> &'static Indicator {
    catalogue::get(id).expect("pv-coverage indicators are in the catalogue")
}

/// The `group` of an active choice.
pub fn choice_group(active_choice: bool) -> &'static str {
    if active_choice { "true" } else { "false" }
}

/// `named_doctor_share` per unit (and per active choice, both groups for
/// every unit, when `by_active_choice`): listed with a named doctor / listed.
pub fn named_doctor_share(
    listing: &Listing<Person>,
    by_active_choice: bool,
    period: &str,
) -> Vec<Measure> {
    let groups: &[Option<bool>] = if by_active_choice {
        &[Some(false), Some(true)]
    } else {
        &[None]
    };
    // Per (unit, group index): [named, listed].
    let mut counts = vec![[0u64; 2]; listing.units.len() * groups.len()];
    for (_, person) in listing.patients.iter() {
        let group = if by_active_choice {
            usize::from(person.active_choice() == Some(true))
        } else {
            0
        };
        let slot = &mut counts[person.unit as usize * groups.len() + group];
        slot[0] += u64::from(person.named_doctor());
        slot[1] += 1;
    }
    let share = indicator("named_doctor_share");
    counts
        .iter()
        .enumerate()
        .map(|(i, &[named, listed])| Measure {
            indicator: share,
            unit: listing.unit_name((i / groups.len()) as u32).to_string(),
            period: period.to_string(),
            group: groups[i % groups.len()]
                .map(choice_group)
                .unwrap_or_default()
                .to_string(),
            numerator: named as f64,
            denominator: listed as f64,
        })
        .collect()
}

/// Why a unit's `listed_per_doctor` has no value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum NoDoctors {
    /// Not in the staffing file.
    NotInStaffing,
    /// In it with an empty FTE.
    EmptyFte,
    ZeroFte,
}

impl NoDoctors {
    pub fn describe(self) -> &'static str {
        match self {
            NoDoctors::NotInStaffing => "not in the staffing file",
            NoDoctors::EmptyFte => "empty doctor_fte",
            NoDoctors::ZeroFte => "doctor_fte 0",
        }
    }
}

/// `listed_per_doctor` for every unit of the listing or the staffing file:
/// numerator listed patients, denominator doctor FTE (0 where unknown, so
/// the value is empty). Also the units without a value, and why.
pub fn listed_per_doctor(
    listed: &ListedCounts,
    staffing: &Staffing,
    period: &str,
) -> (Vec<Measure>, BTreeMap<String, NoDoctors>) {
    let ratio = indicator("listed_per_doctor");
    let mut units: Vec<&String> = listed
        .units
        .keys()
        .chain(staffing.doctor_fte.keys())
        .collect();
    units.sort();
    units.dedup();
    let mut without = BTreeMap::new();
    let measures = units
        .into_iter()
        .map(|unit| {
            let fte = match staffing.doctor_fte.get(unit) {
                None => Err(NoDoctors::NotInStaffing),
                Some(None) => Err(NoDoctors::EmptyFte),
                Some(Some(fte)) if *fte == 0.0 => Err(NoDoctors::ZeroFte),
                Some(Some(fte)) => Ok(*fte),
            };
            let fte = fte.unwrap_or_else(|why| {
                without.insert(unit.clone(), why);
                0.0
            });
            Measure {
                indicator: ratio,
                unit: unit.clone(),
                period: period.to_string(),
                group: String::new(),
                numerator: listed.get(unit).unwrap_or(0) as f64,
                denominator: fte,
            }
        })
        .collect();
    (measures, without)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_without_doctors_have_no_value_but_keep_their_listed() {
        let listed = ListedCounts {
            units: [("A", 2200), ("B", 900), ("C", 500), ("D", 10)]
                .map(|(u, n)| (u.to_string(), n))
                .into_iter()
                .collect(),
        };
        let staffing = Staffing {
            doctor_fte: [
                ("A", Some(2.0)),
                ("B", Some(0.0)),
                ("C", None),
                ("E", Some(1.5)),
            ]
            .map(|(u, f)| (u.to_string(), f))
            .into_iter()
            .collect(),
        };
        let (measures, without) = listed_per_doctor(&listed, &staffing, "");
        let summary: Vec<(&str, f64, f64)> = measures
            .iter()
            .map(|m| (m.unit.as_str(), m.numerator, m.denominator))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("A", 2200.0, 2.0),
                ("B", 900.0, 0.0),
                ("C", 500.0, 0.0),
                ("D", 10.0, 0.0),
                ("E", 0.0, 1.5),
            ]
        );
        assert_eq!(without["B"], NoDoctors::ZeroFte);
        assert_eq!(without["C"], NoDoctors::EmptyFte);
        assert_eq!(without["D"], NoDoctors::NotInStaffing);
        assert_eq!(without.len(), 3);
    }
}
