//! Listing snapshots (listning): which unit each patient is listed at.
//!
//! Loaded once, in parallel, into a [`KeyIndex`] so that every tool can
//! look a visit's patient up cheaply. A patient listed twice in one
//! snapshot is a data error naming both lines, unless the caller asks to
//! keep the first or the last of such rows. Most tools keep only the unit
//! per patient; [`Person`] also keeps the birth date, named doctor and
//! active choice, and [`Listing::load_with`] keeps whatever a caller
//! derives from the row.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::path::Path;

use anyhow::Result;
use jiff::civil::Date;

use crate::input::values;
use crate::input::{
    self, Col, ColumnSpec, Columns, Locator, ReadOptions, RejectLog, Row, RowError, RowSink,
    Schema, Source,
};
use crate::intern::{KeyTable, Memo, NameCache, Names, SharedNames, SlotKey};
use crate::keyindex::{KeyIndex, PendingKeys, key_hash};

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

/// What a listing keeps per patient that has a unit: enough to count the
/// listed per unit.
pub trait ListedPatient: Copy + Default + Send + Sync {
    fn unit(&self) -> u32;

    fn set_unit(&mut self, unit: u32);
}

/// The unit only: the fast path every visit lookup uses.
impl ListedPatient for u32 {
    fn unit(&self) -> u32 {
        *self
    }

    fn set_unit(&mut self, unit: u32) {
        *self = unit;
    }
}

/// A listed patient with the columns beyond the unit. A column the
/// loading schema does not have reads as absent. Eight bytes, so that a
/// key index slot of it fills exactly half a cache line: of the birth
/// date only the year is kept, which is all the cohorts use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Person {
    pub unit: u32,
    /// [`NO_BIRTH_YEAR`] when unknown.
    birth_year: i16,
    flags: u8,
}

const NO_BIRTH_YEAR: i16 = i16::MIN;
const NAMED_DOCTOR: u8 = 1;
const ACTIVE_CHOICE_KNOWN: u8 = 2;
const ACTIVE_CHOICE: u8 = 4;

impl Default for Person {
    fn default() -> Person {
        Person::new(0, None, false, None)
    }
}

impl Person {
    /// `active_choice` is `None` when there is no active_choice column.
    pub fn new(
        unit: u32,
        birth_date: Option<Date>,
        named_doctor: bool,
        active_choice: Option<bool>,
    ) -> Person {
        let flag = |on: bool, bit: u8| if on { bit } else { 0 };
        Person {
            unit,
            birth_year: birth_date.map_or(NO_BIRTH_YEAR, |date| date.year()),
            flags: flag(named_doctor, NAMED_DOCTOR)
                | flag(active_choice.is_some(), ACTIVE_CHOICE_KNOWN)
                | flag(active_choice == Some(true), ACTIVE_CHOICE),
        }
    }

    pub fn birth_year(&self) -> Option<i16> {
        (self.birth_year != NO_BIRTH_YEAR).then_some(self.birth_year)
    }

    pub fn named_doctor(&self) -> bool {
        self.flags & NAMED_DOCTOR != 0
    }

    /// `None` when there is no active_choice column.
    pub fn active_choice(&self) -> Option<bool> {
        (self.flags & ACTIVE_CHOICE_KNOWN != 0).then_some(self.flags & ACTIVE_CHOICE != 0)
    }
}

impl ListedPatient for Person {
    fn unit(&self) -> u32 {
        self.unit
    }

    fn set_unit(&mut self, unit: u32) {
        self.unit = unit;
    }
}

impl Listing<Person> {
    /// Loads `sources` through `schema`, keeping each patient's unit and
    /// the columns of [`Person`] the schema has; a duplicate is an error.
    pub fn load_people(
        sources: &[Source],
        schema: &'static Schema,
        options: &ReadOptions,
        rejects: &mut RejectLog,
    ) -> Result<Listing<Person>> {
        Listing::load_with(
            sources,
            schema,
            options,
            rejects,
            Duplicates::Error,
            |columns| {
                let mut extra = ExtraColumns::new(columns);
                Ok(move |row: &Row<'_>, unit: u32| {
                    Ok(Person::new(
                        unit,
                        row.optional_date(extra.birth_date)?,
                        extra.named_doctor(row)?,
                        extra.active_choice(row)?,
                    ))
                })
            },
        )
    }
}

/// The listing columns beyond patient and unit, and one thread's memo of
/// their yes/no words.
struct ExtraColumns {
    birth_date: Col,
    named_doctor: Col,
    active_choice: Col,
    flags: Memo<Option<bool>>,
}

impl ExtraColumns {
    fn new(columns: &Columns) -> ExtraColumns {
        let col = |name: &str| {
            let in_schema = columns.schema.columns.iter().any(|spec| spec.name == name);
            if in_schema {
                columns.col(name)
            } else {
                Col {
                    index: None,
                    sensitive: false,
                }
            }
        };
        ExtraColumns {
            birth_date: col("birth_date"),
            named_doctor: col("named_doctor"),
            active_choice: col("active_choice"),
            flags: Memo::default(),
        }
    }

    /// A yes/no word (ja/nej, true/false, 1/0 …), `None` for another value.
    fn flag(&mut self, raw: &[u8], col: Col) -> Result<Option<bool>, RowError> {
        self.flags.get_or_try_insert_with(raw, || {
            let text = std::str::from_utf8(raw).map_err(|_| RowError::not_utf8(col))?;
            Ok(values::flag(text))
        })
    }

    /// Whether the patient has a named doctor: the column holds the
    /// doctor (a name or HSA-id) or a yes/no word; empty is no.
    fn named_doctor(&mut self, row: &Row<'_>) -> Result<bool, RowError> {
        let col = self.named_doctor;
        match row.bytes(col) {
            None => Ok(false),
            Some(raw) => Ok(self.flag(raw, col)?.unwrap_or(true)),
        }
    }

    /// The active choice (aktivt val) as yes/no; empty is no.
    fn active_choice(&mut self, row: &Row<'_>) -> Result<Option<bool>, RowError> {
        let col = self.active_choice;
        if !col.is_present() {
            return Ok(None);
        }
        let Some(raw) = row.bytes(col) else {
            return Ok(Some(false));
        };
        match self.flag(raw, col)? {
            Some(choice) => Ok(Some(choice)),
            None => Err(RowError::invalid(
                col,
                raw,
                "yes or no",
                "ja/nej, true/false, 1/0 or empty",
            )),
        }
    }
}

impl Listing {
    /// Loads `path`, keeping each patient's unit; a duplicate is an error.
    pub fn load(path: &Path, options: &ReadOptions, rejects: &mut RejectLog) -> Result<Listing> {
        Listing::load_sources(&[Source::from_path(path)], &LISTING, options, rejects)
    }

    /// Loads `sources` through `schema`, keeping each patient's unit; a
    /// duplicate is an error.
    pub fn load_sources(
        sources: &[Source],
        schema: &'static Schema,
        options: &ReadOptions,
        rejects: &mut RejectLog,
    ) -> Result<Listing> {
        Listing::load_with(sources, schema, options, rejects, Duplicates::Error, |_| {
            Ok(|_: &Row<'_>, unit: u32| Ok(unit))
        })
    }

    /// The listing of `patient` (raw id bytes): patient id and unit id.
    pub fn get(&self, patient: &[u8]) -> Option<(u32, u32)> {
        self.patients.get(patient).map(|(id, &unit)| (id, unit))
    }
}

impl<V: ListedPatient> Listing<V> {
    /// Loads `sources` (one snapshot, possibly split over files) through
    /// `schema` on every reader thread; keys are sorted into the index
    /// at the end, where a duplicate is resolved by `duplicates` (an error
    /// names both lines). With `--skip-invalid` and [`Duplicates::Error`]
    /// the file is read on one thread that spots each duplicate as it
    /// comes, so the later row is rejected verbatim. `make_value` gets the
    /// file's columns (it may refuse them) and returns what turns a row and
    /// its unit id into the stored value.
    pub fn load_with<E>(
        sources: &[Source],
        schema: &'static Schema,
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
        let mut result = input::read(sources, schema, &options, rejects, |columns| {
            Ok(ListingSink {
                patient: columns.col("patient_id"),
                unit: columns.col("unit"),
                units: UnitIds::new(&units),
                value: make_value(columns)?,
                pending: PendingKeys::default(),
                seen: seen.as_ref(),
            })
        })?;
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
        let mut patients = KeyIndex::build(
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
        let mut units = units.into_names();
        if rejected > 0 || dropped > 0 {
            units = keep_used_units(&mut patients, units);
        }
        Ok(Listing {
            patients,
            units,
            rows,
            rejected,
            duplicates: dropped,
        })
    }

    pub fn unit_name(&self, unit: u32) -> &str {
        self.units.name(unit)
    }
}

/// The units some kept patient is listed at, renumbered in their order:
/// a unit that only rejected or dropped rows named (interned before the
/// row failed) must not appear in any output.
fn keep_used_units<V: ListedPatient>(patients: &mut KeyIndex<V>, units: Names) -> Names {
    let mut used = vec![false; units.len()];
    for (_, patient) in patients.iter() {
        used[patient.unit() as usize] = true;
    }
    if used.iter().all(|&u| u) {
        return units;
    }
    let mut kept = Names::default();
    let renumbered: Vec<u32> = (0..units.len() as u32)
        .map(|id| {
            if used[id as usize] {
                kept.id(units.name(id))
            } else {
                u32::MAX
            }
        })
        .collect();
    for patient in patients.values_mut() {
        patient.set_unit(renumbered[patient.unit() as usize]);
    }
    kept
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
    pub fn from_listing<P: ListedPatient>(listing: &Listing<P>) -> ListedCounts {
        let mut per_unit = vec![0u64; listing.units.len()];
        for (_, patient) in listing.patients.iter() {
            per_unit[patient.unit() as usize] += 1;
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

    /// All listed patients; saturates rather than overflow on absurd counts.
    pub fn total(&self) -> u64 {
        self.units
            .values()
            .fold(0u64, |sum, &n| sum.saturating_add(n))
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
                format!(
                    "unit {} appears twice in the listed counts",
                    input::row::quoted_for_message(unit.as_bytes())
                ),
            )
            .related_to(first.get().1)),
        }
    }
}

/// Unit ids of a listing's rows. Exports are sorted by unit, so a row's
/// unit is nearly always the previous row's: that is checked first.
pub(crate) struct UnitIds<'a> {
    names: NameCache<'a>,
    /// The previous row's unit, when it was short enough to keep inline:
    /// comparing it is two word compares, where a slice compare called
    /// `memcmp` on every row.
    last: Option<(SlotKey, u32)>,
}

impl<'a> UnitIds<'a> {
    pub(crate) fn new(shared: &'a SharedNames) -> UnitIds<'a> {
        UnitIds {
            names: NameCache::verbatim(shared),
            last: None,
        }
    }

    /// The id of the required unit in `col` of `row`.
    #[inline]
    pub(crate) fn id(&mut self, row: &Row<'_>, col: Col) -> Result<u32, RowError> {
        let raw = row.required(col)?;
        let key = SlotKey::inline(raw);
        if let (Some(key), Some((last, id))) = (key, self.last)
            && key == last
        {
            return Ok(id);
        }
        self.look_up(raw, key, col)
    }

    #[inline(never)]
    fn look_up(&mut self, raw: &[u8], key: Option<SlotKey>, col: Col) -> Result<u32, RowError> {
        let id = self
            .names
            .id_bytes(raw)
            .map_err(|_| RowError::not_utf8(col))?;
        self.last = key.map(|key| (key, id));
        Ok(id)
    }
}

/// Listing lookups of a stream of visits, with the last one remembered:
/// exports often list a patient's visits together, and a visit of the
/// previous visit's patient then reuses its lookup instead of searching
/// the index again.
#[derive(Default)]
pub(crate) struct PatientLookups {
    /// The previous visit's patient, if short enough to keep inline.
    last: Option<SlotKey>,
    /// The last lookup's id and listing unit.
    listed: Option<(u32, u32)>,
}

impl PatientLookups {
    /// The [`key_hash`] to look `patient` up by, or `None` when it is the
    /// previous visit's patient, whose lookup [`PatientLookups::listed`]
    /// reuses. Visits must then be looked up in the order they came.
    pub(crate) fn hash(&mut self, patient: &[u8]) -> Option<u64> {
        let inline = SlotKey::inline(patient);
        let same = inline.is_some() && inline == self.last;
        self.last = inline;
        (!same).then(|| key_hash(patient))
    }

    /// The id and listing unit of a visit's patient: looked up in
    /// `listing` by `hash` and `patient`, or the previous lookup's when
    /// `hash` is `None`.
    pub(crate) fn listed(
        &mut self,
        listing: &Listing,
        hash: Option<u64>,
        patient: &[u8],
    ) -> Option<(u32, u32)> {
        if let Some(hash) = hash {
            self.listed = listing
                .patients
                .find(hash, patient)
                .map(|(id, &unit)| (id, unit));
        }
        self.listed
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn people_keep_their_year_and_flags_in_eight_bytes() {
        assert_eq!(size_of::<Person>(), 8);
        let born = jiff::civil::date(1954, 12, 31);
        for active in [None, Some(false), Some(true)] {
            for named in [false, true] {
                let person = Person::new(7, Some(born), named, active);
                assert_eq!(person.unit, 7);
                assert_eq!(person.birth_year(), Some(1954));
                assert_eq!(
                    (person.named_doctor(), person.active_choice()),
                    (named, active)
                );
            }
        }
        assert_eq!(Person::default().birth_year(), None);
        assert_eq!(Person::default().active_choice(), None);
    }

    fn load_counts(text: &str) -> Result<ListedCounts> {
        let hash = crate::keyindex::key_hash(text.as_bytes());
        let path = std::env::temp_dir().join(format!("pvkit-listed-{hash:x}.csv"));
        std::fs::write(&path, text).unwrap();
        ListedCounts::load(&path, &ReadOptions::default(), &mut RejectLog::default())
    }

    #[test]
    fn units_only_skipped_rows_name_are_not_units_of_the_listing() {
        let text = "patient_id,unit,birth_date\nP1,A,1950-01-01\nP2,Ghost,1950-13-01\n\
                    P1,Ghost,1950-01-01\nP3,B,\n";
        let hash = crate::keyindex::key_hash(text.as_bytes());
        let path = std::env::temp_dir().join(format!("pvkit-listing-{hash:x}.csv"));
        std::fs::write(&path, text).unwrap();
        let options = ReadOptions {
            skip_invalid: true,
            ..ReadOptions::default()
        };
        let mut rejects = RejectLog::default();
        let listing = Listing::load_people(
            &[Source::from_path(&path)],
            &LISTING,
            &options,
            &mut rejects,
        )
        .unwrap();
        assert_eq!((listing.rows, listing.rejected), (4, 2));
        assert_eq!(rejects.len(), 2);
        let units: Vec<&str> = (0..listing.units.len() as u32)
            .map(|u| listing.unit_name(u))
            .collect();
        assert_eq!(units, ["A", "B"]);
        for (patient, unit) in [("P1", "A"), ("P3", "B")] {
            let (_, person) = listing.patients.get(patient.as_bytes()).unwrap();
            assert_eq!(listing.unit_name(person.unit), unit);
        }
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
