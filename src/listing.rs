//! Listing snapshots (listning): which unit each patient is listed at.
//!
//! Loaded once, in parallel, into a [`KeyIndex`] so that every tool can
//! look a visit's patient up cheaply. A patient listed twice in one
//! snapshot is a data error naming both lines.

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
