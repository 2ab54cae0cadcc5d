//! Listing snapshots (listning): which unit each patient is listed at.
//!
//! Loaded once, in parallel, into a [`KeyIndex`] so that every tool can
//! look a visit's patient up cheaply. A patient listed twice in one
//! snapshot is a data error naming both lines.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::path::Path;

use anyhow::Result;

use crate::input::{
    self, Col, ColumnSpec, Columns, Locator, ReadOptions, RejectLog, Row, RowError, RowSink,
    Schema, Source,
};
use crate::intern::{KeyTable, NameCache, Names, SharedNames};
use crate::keyindex::{KeyIndex, PendingKeys};

pub static LISTING: Schema = Schema {
    what: "listing",
    columns: &[
        ColumnSpec::required("patient_id").sensitive(),
        ColumnSpec::required("unit"),
        ColumnSpec::optional("listed_since"),
        ColumnSpec::optional("birth_date"),
        ColumnSpec::optional("sex"),
        ColumnSpec::optional("active_choice"),
        ColumnSpec::optional("named_doctor"),
    ],
};

/// A loaded snapshot.
pub struct Listing {
    /// Patient id → id of the unit in [`Listing::units`].
    pub patients: KeyIndex<u32>,
    pub units: Names,
    /// Data rows read.
    pub rows: u64,
    pub rejected: u64,
}

const DUPLICATE: &str = "the same patient is listed twice in this snapshot";

impl Listing {
    /// Loads `path` on every reader thread; keys are sorted into the index
    /// at the end, where a duplicate is an error naming both lines. With
    /// `--skip-invalid` the file is read on one thread that spots each
    /// duplicate as it comes, so the later row is rejected verbatim.
    pub fn load(path: &Path, options: &ReadOptions, rejects: &mut RejectLog) -> Result<Listing> {
        let skip = options.skip_invalid;
        let options = if skip {
            ReadOptions {
                threads: 1,
                ..options.clone()
            }
        } else {
            options.clone()
        };
        let seen = skip.then(KeyTable::new);
        let units = SharedNames::new();
        let mut result = input::read(
            &[Source::from_path(path)],
            &LISTING,
            &options,
            rejects,
            |columns| Ok(ListingSink::new(columns, &units, seen.as_ref())),
        )?;
        let patient_col = result.columns.col("patient_id");
        let pending: Vec<PendingKeys<(u32, Locator)>> = result
            .sinks
            .iter_mut()
            .map(|s| std::mem::take(&mut s.pending))
            .collect();
        let mut first_duplicate: Option<(Locator, Locator)> = None;
        let patients = KeyIndex::build(
            pending,
            |a: &(u32, Locator), b: &(u32, Locator)| a.1.cmp(&b.1),
            |kept, dropped| {
                if first_duplicate.is_none_or(|(later, _)| dropped.1 < later) {
                    first_duplicate = Some((dropped.1, kept.1));
                }
            },
            |&(unit, _)| unit,
        );
        if let Some((later, earlier)) = first_duplicate {
            let error = RowError::new(patient_col.index, DUPLICATE).related_to(earlier);
            return Err(result.row_error(later, &error));
        }
        let (rows, rejected) = (result.rows, result.rejected);
        drop(result);
        Ok(Listing {
            patients,
            units: units.into_names(),
            rows,
            rejected,
        })
    }

    /// The listing of `patient` (raw id bytes): patient id and unit id.
    pub fn get(&self, patient: &[u8]) -> Option<(u32, u32)> {
        self.patients.get(patient).map(|(id, &unit)| (id, unit))
    }

    pub fn unit_name(&self, unit: u32) -> &str {
        self.units.name(unit)
    }
}

pub static LISTED: Schema = Schema {
    what: "listed counts",
    columns: &[ColumnSpec::required("unit"), ColumnSpec::required("listed")],
};

/// Listed patients per unit: the denominator of rates per listed patient
/// and the base of payments per listed patient.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListedCounts {
    pub units: BTreeMap<String, u64>,
}

impl ListedCounts {
    /// Rows per unit of a loaded snapshot.
    pub fn from_listing(listing: &Listing) -> ListedCounts {
        let mut per_unit = vec![0u64; listing.units.len()];
        for (_, _, &unit) in listing.patients.iter() {
            per_unit[unit as usize] += 1;
        }
        let units = per_unit
            .into_iter()
            .enumerate()
            .map(|(unit, n)| (listing.unit_name(unit as u32).to_string(), n))
            .collect();
        ListedCounts { units }
    }

    /// A counts file (`unit,listed`); a unit given twice is an error naming
    /// both lines.
    pub fn load(
        path: &Path,
        options: &ReadOptions,
        rejects: &mut RejectLog,
    ) -> Result<ListedCounts> {
        let sink = input::read_small(path, &LISTED, options, rejects, |columns| {
            Ok(ListedSink {
                unit: columns.col("unit"),
                listed: columns.col("listed"),
                counts: BTreeMap::new(),
            })
        })?;
        let units = sink
            .counts
            .into_iter()
            .map(|(unit, (n, _))| (unit, n))
            .collect();
        Ok(ListedCounts { units })
    }

    pub fn get(&self, unit: &str) -> Option<u64> {
        self.units.get(unit).copied()
    }

    pub fn total(&self) -> u64 {
        self.units.values().sum()
    }
}

struct ListedSink {
    unit: Col,
    listed: Col,
    counts: BTreeMap<String, (u64, Locator)>,
}

impl RowSink for ListedSink {
    fn row(&mut self, row: &Row<'_>) -> Result<(), RowError> {
        let unit = row.required_text(self.unit)?;
        let listed = row.count(self.listed)?;
        match self.counts.entry(unit.to_string()) {
            Entry::Vacant(slot) => {
                slot.insert((listed, row.locator));
                Ok(())
            }
            Entry::Occupied(first) => Err(RowError::new(
                self.unit.index,
                format!("unit {unit:?} appears twice in the listed counts"),
            )
            .related_to(first.get().1)),
        }
    }
}

struct ListingSink<'a> {
    patient: Col,
    unit: Col,
    units: NameCache<'a>,
    pending: PendingKeys<(u32, Locator)>,
    /// With `--skip-invalid`: patients seen so far, to reject repeats.
    seen: Option<&'a KeyTable<Locator>>,
}

impl<'a> ListingSink<'a> {
    fn new(
        columns: &Columns,
        units: &'a SharedNames,
        seen: Option<&'a KeyTable<Locator>>,
    ) -> ListingSink<'a> {
        ListingSink {
            patient: columns.col("patient_id"),
            unit: columns.col("unit"),
            units: NameCache::verbatim(units),
            pending: PendingKeys::default(),
            seen,
        }
    }
}

impl RowSink for ListingSink<'_> {
    fn row(&mut self, row: &Row<'_>) -> Result<(), RowError> {
        let patient = row.required(self.patient)?;
        let unit = self.units.id(row.required_text(self.unit)?);
        if let Some(seen) = self.seen {
            let here = row.locator;
            let (_, first) =
                seen.upsert(patient, || here, |first, fresh| (!fresh).then_some(*first));
            if let Some(first) = first {
                return Err(RowError::new(self.patient.index, DUPLICATE).related_to(first));
            }
        }
        self.pending.push(patient, (unit, row.locator));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_counts(text: &str) -> Result<ListedCounts> {
        let hash = crate::keyindex::key_hash(text.as_bytes());
        let path = std::env::temp_dir().join(format!("pvkit-listed-{hash:x}.csv"));
        std::fs::write(&path, text).unwrap();
        ListedCounts::load(&path, &ReadOptions::default(), &mut RejectLog::default())
    }

    #[test]
    fn listed_counts_accept_swedish_numbers_and_refuse_repeats() {
        let counts = load_counts("enhet;listade\nVC1;1 234\nVC2;0\n").unwrap();
        assert_eq!(counts.get("VC1"), Some(1234));
        assert_eq!(counts.get("VC2"), Some(0));
        assert_eq!(counts.total(), 1234);
        let error = format!(
            "{:#}",
            load_counts("unit,listed\nVC1,10\nVC1,12\n").unwrap_err()
        );
        assert!(
            error.contains("line 3") && error.contains("line 2"),
            "{error}"
        );
        let error = format!("{:#}", load_counts("unit,listed\nVC1,12.5\n").unwrap_err());
        assert!(
            error.contains("line 2") && error.contains("whole number"),
            "{error}"
        );
    }
}
