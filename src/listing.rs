//! Listing snapshots (listning): which unit each patient is listed at.
//!
//! Loaded once, in parallel, into a [`KeyIndex`] so that every tool can
//! look a visit's patient up cheaply. A patient listed twice in one
//! snapshot is a data error naming both lines, unless the caller asks to
//! keep the first or the last of such rows.

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

/// What to do with a patient listed twice in one snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Duplicates {
    /// A data error naming both lines (with `--skip-invalid`: the later row
    /// is rejected).
    Error,
    /// Keep the row that comes first in the file.
    KeepFirst,
    /// Keep the row that comes last in the file.
    KeepLast,
}

/// A loaded snapshot: per patient the unit id (in [`Listing::units`]), or
/// whatever `V` a caller derives from the row with [`Listing::load_with`].
pub struct Listing<V = u32> {
    pub patients: KeyIndex<V>,
    pub units: Names,
    /// Data rows read.
    pub rows: u64,
    pub rejected: u64,
    /// Rows dropped as repeats of a patient ([`Duplicates::KeepFirst`] or
    /// [`Duplicates::KeepLast`]).
    pub duplicates: u64,
}

const DUPLICATE: &str = "the same patient is listed twice in this snapshot";

impl Listing {
    /// Loads `path`, keeping each patient's unit; a duplicate is an error.
    pub fn load(path: &Path, options: &ReadOptions, rejects: &mut RejectLog) -> Result<Listing> {
        Listing::load_with(path, options, rejects, Duplicates::Error, |_| {
            Ok(|_: &Row<'_>, unit: u32| Ok(unit))
        })
    }

    /// The listing of `patient` (raw id bytes): patient id and unit id.
    pub fn get(&self, patient: &[u8]) -> Option<(u32, u32)> {
        self.patients.get(patient).map(|(id, &unit)| (id, unit))
    }
}

impl<V: Copy + Default + Send + Sync> Listing<V> {
    /// Loads `path` on every reader thread; keys are sorted into the index
    /// at the end, where a duplicate is resolved by `duplicates` (an error
    /// names both lines). With `--skip-invalid` and [`Duplicates::Error`]
    /// the file is read on one thread that spots each duplicate as it
    /// comes, so the later row is rejected verbatim. `make_value` gets the
    /// file's columns (it may refuse them) and returns what turns a row and
    /// its unit id into the stored value.
    pub fn load_with<E>(
        path: &Path,
        options: &ReadOptions,
        rejects: &mut RejectLog,
        duplicates: Duplicates,
        mut make_value: impl FnMut(&Columns) -> Result<E>,
    ) -> Result<Listing<V>>
    where
        E: FnMut(&Row<'_>, u32) -> Result<V, RowError> + Send,
    {
        let reject_repeats = options.skip_invalid && duplicates == Duplicates::Error;
        let options = if reject_repeats {
            ReadOptions {
                threads: 1,
                ..options.clone()
            }
        } else {
            options.clone()
        };
        let seen = reject_repeats.then(KeyTable::new);
        let units = SharedNames::new();
        let mut result = input::read(
            &[Source::from_path(path)],
            &LISTING,
            &options,
            rejects,
            |columns| {
                Ok(ListingSink {
                    patient: columns.col("patient_id"),
                    unit: columns.col("unit"),
                    units: UnitIds::new(&units),
                    value: make_value(columns)?,
                    pending: PendingKeys::default(),
                    seen: seen.as_ref(),
                })
            },
        )?;
        let patient_col = result.columns.col("patient_id");
        let pending: Vec<PendingKeys<(V, Locator)>> = result
            .sinks
            .iter_mut()
            .map(|s| std::mem::take(&mut s.pending))
            .collect();
        let mut first_duplicate: Option<(Locator, Locator)> = None;
        let mut dropped = 0u64;
        // Equal keys come in file order (reversed to keep the last row);
        // the first of them is kept.
        let keep_last = duplicates == Duplicates::KeepLast;
        let patients = KeyIndex::build(
            pending,
            |a: &(V, Locator), b: &(V, Locator)| {
                if keep_last {
                    b.1.cmp(&a.1)
                } else {
                    a.1.cmp(&b.1)
                }
            },
            |kept, repeat| {
                dropped += 1;
                let later = kept.1.max(repeat.1);
                if first_duplicate.is_none_or(|(first_later, _)| later < first_later) {
                    first_duplicate = Some((later, kept.1.min(repeat.1)));
                }
            },
            |&(value, _)| value,
        );
        if duplicates == Duplicates::Error
            && let Some((later, earlier)) = first_duplicate
        {
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
            duplicates: dropped,
        })
    }

    pub fn unit_name(&self, unit: u32) -> &str {
        self.units.name(unit)
    }
}

/// Unit ids of a listing's rows. Exports are sorted by unit, so a row's
/// unit is nearly always the previous row's: that is checked first.
pub(crate) struct UnitIds<'a> {
    names: NameCache<'a>,
    last: Vec<u8>,
    last_id: u32,
}

impl<'a> UnitIds<'a> {
    pub(crate) fn new(shared: &'a SharedNames) -> UnitIds<'a> {
        UnitIds {
            names: NameCache::verbatim(shared),
            last: Vec::new(),
            last_id: 0,
        }
    }

    /// The id of the required unit in `col` of `row`.
    pub(crate) fn id(&mut self, row: &Row<'_>, col: Col) -> Result<u32, RowError> {
        let raw = row.required(col)?;
        if raw != self.last.as_slice() || self.last.is_empty() {
            self.last_id = self
                .names
                .id_bytes(raw)
                .map_err(|_| RowError::not_utf8(col))?;
            self.last.clear();
            self.last.extend_from_slice(raw);
        }
        Ok(self.last_id)
    }
}

struct ListingSink<'a, V, E> {
    patient: Col,
    unit: Col,
    units: UnitIds<'a>,
    value: E,
    pending: PendingKeys<(V, Locator)>,
    /// With `--skip-invalid`: patients seen so far, to reject repeats.
    seen: Option<&'a KeyTable<Locator>>,
}

impl<V, E> RowSink for ListingSink<'_, V, E>
where
    V: Send,
    E: FnMut(&Row<'_>, u32) -> Result<V, RowError> + Send,
{
    fn row(&mut self, row: &Row<'_>) -> Result<(), RowError> {
        let patient = row.required(self.patient)?;
        let unit = self.units.id(row, self.unit)?;
        let value = (self.value)(row, unit)?;
        if let Some(seen) = self.seen {
            let here = row.locator;
            let (_, first) =
                seen.upsert(patient, || here, |first, fresh| (!fresh).then_some(*first));
            if let Some(first) = first {
                return Err(RowError::new(self.patient.index, DUPLICATE).related_to(first));
            }
        }
        self.pending.push(patient, (value, row.locator));
        Ok(())
    }
}
