//! Listing snapshots (listning): which unit each patient is listed at.
//!
//! Loaded once, in parallel, into a [`FrozenKeys`] table so that every tool
//! can look a visit's patient up without locks. A patient listed twice in
//! one snapshot is a data error naming both lines.

use std::path::Path;

use anyhow::Result;

use crate::input::{
    self, Col, ColumnSpec, Columns, Locator, ReadOptions, RejectLog, Row, RowError, RowSink,
    Schema, Source,
};
use crate::intern::{FrozenKeys, KeyTable, NameCache, Names, SharedNames};

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

/// One patient's listing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Listed {
    /// Id in [`Listing::units`].
    pub unit: u32,
    /// The row it came from, for duplicate reports.
    pub locator: Locator,
}

/// A loaded snapshot.
pub struct Listing {
    pub patients: FrozenKeys<Listed>,
    pub units: Names,
    /// Data rows read.
    pub rows: u64,
    pub rejected: u64,
}

impl Listing {
    /// Loads `path`. With `--skip-invalid` the file is read on one thread so
    /// that a duplicate's first row is always the one kept.
    pub fn load(path: &Path, options: &ReadOptions, rejects: &mut RejectLog) -> Result<Listing> {
        let options = if options.skip_invalid {
            ReadOptions {
                threads: 1,
                ..options.clone()
            }
        } else {
            options.clone()
        };
        // Listing rows are about 40-60 bytes; sizing up front saves rehashing.
        let expected = std::fs::metadata(path).map_or(0, |m| m.len() as usize / 48);
        let table = KeyTable::with_capacity(expected);
        let units = SharedNames::new();
        let result = input::read(
            &[Source::from_path(path)],
            &LISTING,
            &options,
            rejects,
            |columns| Ok(ListingSink::new(columns, &table, &units)),
        )?;
        let (rows, rejected) = (result.rows, result.rejected);
        drop(result);
        Ok(Listing {
            patients: table.freeze(),
            units: units.into_names(),
            rows,
            rejected,
        })
    }

    /// The listing of `patient` (raw id bytes): dense patient id and entry.
    pub fn get(&self, patient: &[u8]) -> Option<(u32, &Listed)> {
        self.patients.get(patient)
    }

    pub fn unit_name(&self, unit: u32) -> &str {
        self.units.name(unit)
    }
}

struct ListingSink<'a> {
    patient: Col,
    unit: Col,
    table: &'a KeyTable<Listed>,
    units: NameCache<'a>,
}

impl<'a> ListingSink<'a> {
    fn new(
        columns: &Columns,
        table: &'a KeyTable<Listed>,
        units: &'a SharedNames,
    ) -> ListingSink<'a> {
        ListingSink {
            patient: columns.col("patient_id"),
            unit: columns.col("unit"),
            table,
            units: NameCache::verbatim(units),
        }
    }
}

impl RowSink for ListingSink<'_> {
    fn row(&mut self, row: &Row<'_>) -> Result<(), RowError> {
        let patient = row.required(self.patient)?;
        let unit = self.units.id(row.required_text(self.unit)?);
        let here = Listed {
            unit,
            locator: row.locator,
        };
        // Keep the earliest row; report the pair at the later one, which is
        // where a sequential reader would have noticed it.
        let (_, clash) = self.table.upsert(
            patient,
            || here,
            |stored, fresh| {
                if fresh {
                    None
                } else if here.locator < stored.locator {
                    let later = stored.locator;
                    *stored = here;
                    Some((later, here.locator))
                } else {
                    Some((here.locator, stored.locator))
                }
            },
        );
        match clash {
            None => Ok(()),
            Some((later, earlier)) => {
                let error = RowError::new(
                    self.patient.index,
                    "the same patient is listed twice in this snapshot",
                )
                .related_to(earlier);
                Err(if later == row.locator {
                    error
                } else {
                    error.located_at(later)
                })
            }
        }
    }
}
