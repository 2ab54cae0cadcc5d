//! pv-listing-diff's computation: what changed between two listing
//! snapshots (OLD and NEW), per unit, area and region, and the flows
//! between units.
//!
//! OLD is loaded into a [`Listing`] whose value per patient is the unit and
//! the breakdown attribute ([`Listed`]). NEW is streamed: each row claims
//! its patient's OLD entry (one slot per OLD patient records the NEW row
//! and its unit) or, for a patient absent from OLD, an entry in a table of
//! newcomers. A claim that finds its entry already claimed is a patient
//! listed twice in NEW. Once NEW is read, one pass over the OLD entries
//! and the newcomers counts every (OLD unit, NEW unit, group) cell; rows
//! and flows are sums of cells.
//!
//! Memory: OLD's index (20 bytes per patient with coded ids, 40 with
//! others; while it is built, 24 or 40 more for the staged entries), 16
//! bytes per OLD index slot for the claims (20 per patient) and about 50
//! bytes per patient new in the region. NEW itself is never held. Rows
//! are claimed in small batches so that the cache misses of their lookups
//! overlap.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Result, bail};
use clap::ValueEnum;
use hashbrown::HashMap;
use jiff::civil::Date;
use rayon::prelude::*;

use crate::cli::usage;
use crate::input::{Col, Columns, Locator, Row, RowError, RowSink, values};
use crate::intern::{KeyTable, Memo, NameCache, Names, SharedNames, prefetch};
use crate::keyindex::key_hash;
use crate::listing::{Duplicates, ListedPatient, Listing, UnitIds};
use crate::output::{ALL_UNITS, Cell, Level};
use crate::units::Units;

/// How unit rows are broken down.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Breakdown {
    /// The sex column: female, male (K/M, kvinna/man, 2/1 …)
    Sex,
    /// Age on NEW's date from birth_date: 0-5, 6-17, 18-64, 65-79, 80+
    AgeBand,
    /// The active_choice column: active (aktivt val) or assigned (ickeval)
    ActiveChoice,
}

impl Breakdown {
    /// The listing column the breakdown reads.
    pub fn column(self) -> &'static str {
        match self {
            Breakdown::Sex => "sex",
            Breakdown::AgeBand => "birth_date",
            Breakdown::ActiveChoice => "active_choice",
        }
    }

    /// How `--by` names it.
    fn flag(self) -> String {
        self.to_possible_value()
            .map_or_else(String::new, |v| v.get_name().to_string())
    }
}

/// Age bands (seed 000's age profile): lower bounds in years.
pub const AGE_BANDS: [(u32, &str); 5] = [
    (0, "0-5"),
    (6, "6-17"),
    (18, "18-64"),
    (65, "65-79"),
    (80, "80+"),
];

/// The group of a patient whose attribute is empty (or, for ages, whose
/// birth date is after NEW's date).
pub const UNKNOWN_GROUP: &str = "unknown";
/// Pseudo-unit of flows from outside the region (absent from OLD).
pub const NEW_IN_REGION: &str = "(new)";
/// Pseudo-unit of flows out of the region (absent from NEW).
pub const LEFT_REGION: &str = "(gone)";
/// Pseudo-area of units the units file gives no area.
pub const NO_AREA: &str = "(no area)";

const ACTIVE: &str = "active";
const ASSIGNED: &str = "assigned";

/// What a run computes.
#[derive(Clone, Debug)]
pub struct Config {
    pub by: Option<Breakdown>,
    /// Patients listed twice in one snapshot: an error, or which row to keep.
    pub duplicates: Duplicates,
    /// NEW's date, for ages [default: the latest listed_since in NEW].
    pub as_of: Option<Date>,
    /// --skip-invalid: bad rows are rejected, not fatal.
    pub skip_invalid: bool,
}

impl Config {
    /// Whether a repeated patient's later row is rejected (--skip-invalid
    /// without --dedupe): then NEW must be read on one thread, in file
    /// order, so that the rejected row is always the one being read.
    pub fn rejects_repeats(&self) -> bool {
        self.skip_invalid && self.duplicates == Duplicates::Error
    }
}

/// An attribute value for an empty field.
const MISSING: u32 = u32::MAX;

/// What OLD keeps per patient: the unit, and the breakdown attribute (a
/// label id in [`Attributes`], a birth date as YYYYMMDD, or [`MISSING`]).
/// Together 8 bytes, which fit the index slot's padding.
#[derive(Clone, Copy, Debug, Default)]
pub struct Listed {
    pub unit: u32,
    attr: u32,
}

impl ListedPatient for Listed {
    fn unit(&self) -> u32 {
        self.unit
    }

    fn set_unit(&mut self, unit: u32) {
        self.unit = unit;
    }
}

/// The breakdown attribute of rows of both snapshots, and the labels
/// (sex, active choice) both share.
pub struct Attributes {
    by: Option<Breakdown>,
    labels: SharedNames,
}

impl Attributes {
    pub fn new(by: Option<Breakdown>) -> Attributes {
        Attributes {
            by,
            labels: SharedNames::new(),
        }
    }

    /// A reader of the attribute from a file with `columns`; `file` names
    /// the file when its column is missing (a usage error).
    fn reader(&self, columns: &Columns, file: &str) -> Result<AttrReader<'_>> {
        let col = self.by.map(|by| columns.col(by.column()));
        if let (Some(by), Some(col)) = (self.by, col)
            && !col.is_present()
        {
            let aliases = crate::input::columns::aliases_of(by.column()).join(", ");
            return Err(usage(format!(
                "--by {} needs the column {} in {file} (also accepted: {aliases}); name it with --col {}=HEADER",
                by.flag(),
                by.column(),
                by.column()
            )));
        }
        Ok(AttrReader {
            by: self.by,
            col: col.unwrap_or(Col {
                index: None,
                sensitive: false,
            }),
            sexes: NameCache::new(&self.labels, values::sex),
            choices: Memo::default(),
            labels: &self.labels,
        })
    }

    /// What OLD stores per row: its unit and attribute.
    pub fn old_value<'a>(
        &'a self,
        columns: &Columns,
        file: &str,
    ) -> Result<impl FnMut(&Row<'_>, u32) -> Result<Listed, RowError> + Send + use<'a>> {
        let mut reader = self.reader(columns, file)?;
        Ok(move |row: &Row<'_>, unit: u32| {
            Ok(Listed {
                unit,
                attr: reader.read(row)?,
            })
        })
    }
}

struct AttrReader<'a> {
    by: Option<Breakdown>,
    col: Col,
    sexes: NameCache<'a>,
    /// Raw active_choice value → label id.
    choices: Memo<u32>,
    labels: &'a SharedNames,
}

impl AttrReader<'_> {
    #[inline]
    fn read(&mut self, row: &Row<'_>) -> Result<u32, RowError> {
        match self.by {
            None => Ok(0),
            Some(_) => self.read_breakdown(row),
        }
    }

    #[inline(never)]
    fn read_breakdown(&mut self, row: &Row<'_>) -> Result<u32, RowError> {
        let col = self.col;
        match self.by {
            None => Ok(0),
            Some(Breakdown::Sex) => Ok(row.text(col)?.map_or(MISSING, |s| self.sexes.id(s))),
            Some(Breakdown::AgeBand) => Ok(row.optional_date(col)?.map_or(MISSING, ymd)),
            Some(Breakdown::ActiveChoice) => {
                // Empty means no, as everywhere flags are read.
                let raw = row.raw(col).unwrap_or_default().trim_ascii();
                let labels = self.labels;
                self.choices.get_or_try_insert_with(raw, || {
                    let chosen = std::str::from_utf8(raw).ok().and_then(values::flag);
                    match chosen {
                        Some(true) => Ok(labels.id(ACTIVE)),
                        Some(false) => Ok(labels.id(ASSIGNED)),
                        None => Err(RowError::invalid(
                            col,
                            raw,
                            "a yes/no value",
                            "ja/nej, true/false, yes/no, 1/0, x or empty",
                        )),
                    }
                })
            }
        }
    }
}

/// A date as the number YYYYMMDD: whole years between two such numbers
/// are their difference divided by 10 000.
fn ymd(date: Date) -> u32 {
    let year = u32::try_from(date.year()).unwrap_or(0);
    year * 10_000
        + u32::from(date.month().unsigned_abs()) * 100
        + u32::from(date.day().unsigned_abs())
}

/// Full years from `birth` to `on` (both YYYYMMDD); someone born on 29
/// February turns a year older on 1 March in other years. `None` when born
/// after `on`.
pub fn age(birth: u32, on: u32) -> Option<u32> {
    on.checked_sub(birth).map(|d| d / 10_000)
}

fn age_band(years: u32) -> usize {
    AGE_BANDS
        .iter()
        .rposition(|&(from, _)| years >= from)
        .unwrap_or(0)
}

/// A slot's row word when no row claimed it. Rows are stored inverted
/// (`!row`), so that a fresh slot is all zeros: the slots start as pages
/// the kernel zeroes on first touch, with no pass to fill them.
const UNCLAIMED: u64 = 0;
const STRIPES: usize = 1024;

/// A NEW row's unit (in [`Diff`]'s unit names) and attribute, packed.
fn pack(unit: u32, attr: u32) -> u64 {
    (u64::from(unit) << 32) | u64::from(attr)
}

fn unpack(value: u64) -> (u32, u32) {
    ((value >> 32) as u32, value as u32)
}

/// The NEW row that claimed a patient, and its packed unit and attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Claim {
    row: Locator,
    value: u64,
}

/// Two rows of one patient in NEW.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Repeat {
    earlier: Locator,
    later: Locator,
}

/// What NEW's rows left on one OLD slot: the row that claimed it
/// ([`UNCLAIMED`] if none) and that row's packed unit and attribute. Both
/// words share a cache line, so a claim costs one miss.
#[repr(align(16))]
struct Slot {
    row: AtomicU64,
    value: AtomicU64,
}

// SAFETY: two atomic words; zero is a valid value of each.
unsafe impl crate::intern::Zeroable for Slot {}

/// The state NEW's reader threads share.
pub struct Diff<'a> {
    config: &'a Config,
    old: &'a Listing<Listed>,
    attributes: &'a Attributes,
    /// Per OLD index slot (ids are slot positions).
    slots: Vec<Slot>,
    /// With --dedupe, a slot's row and value change together under the
    /// slot's stripe lock.
    stripes: Box<[Mutex<()>]>,
    /// Patients of NEW absent from OLD.
    newcomers: KeyTable<Claim>,
    units: SharedNames,
}

const DUPLICATE: &str = "the same patient is listed twice in this snapshot";

impl<'a> Diff<'a> {
    pub fn new(config: &'a Config, old: &'a Listing<Listed>, attributes: &'a Attributes) -> Self {
        let slots = crate::intern::zeroed_random_access_vec(old.patients.id_bound());
        Diff {
            config,
            old,
            attributes,
            slots,
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
            newcomers: KeyTable::new(),
            units: SharedNames::new(),
        }
    }

    /// NEW's `row` lists the OLD patient `id`. Returns whether a repeated
    /// row was dropped (--dedupe) or, without --dedupe, the repeat.
    fn claim_old(&self, id: u32, row: Locator, value: u64) -> Result<bool, Repeat> {
        let slot = &self.slots[id as usize];
        if self.config.duplicates == Duplicates::Error {
            // The claim keeps the earliest row, so that of three rows the
            // reported pair is the first two, as a sequential read finds it.
            let before = slot.row.fetch_max(!row.0, Ordering::Relaxed);
            if before == UNCLAIMED {
                slot.value.store(value, Ordering::Relaxed);
                return Ok(false);
            }
            return Err(repeat(Locator(!before), row));
        }
        let _guard = self.stripes[id as usize % STRIPES]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let stored = slot.row.load(Ordering::Relaxed);
        let mut claim = Claim {
            row: Locator(!stored),
            value: slot.value.load(Ordering::Relaxed),
        };
        let fresh = stored == UNCLAIMED;
        if fresh {
            claim = Claim { row, value };
        } else {
            settle(self.config.duplicates, &mut claim, row, value)?;
        }
        slot.row.store(!claim.row.0, Ordering::Relaxed);
        slot.value.store(claim.value, Ordering::Relaxed);
        Ok(!fresh)
    }

    /// NEW's `row` lists `patient`, who is not in OLD.
    fn claim_newcomer(&self, patient: &[u8], row: Locator, value: u64) -> Result<bool, Repeat> {
        let duplicates = self.config.duplicates;
        let (_, outcome) = self.newcomers.upsert(
            patient,
            || Claim { row, value },
            |claim, fresh| {
                if fresh {
                    Ok(false)
                } else {
                    settle(duplicates, claim, row, value).map(|()| true)
                }
            },
        );
        outcome
    }

    /// Claims `patient` (whose [`key_hash`] is `hash`) for `row`.
    fn claim(&self, hash: u64, patient: &[u8], row: Locator, value: u64) -> Result<bool, Repeat> {
        match self.old.patients.find(hash, patient) {
            Some((id, _)) => self.claim_old(id, row, value),
            None => self.claim_newcomer(patient, row, value),
        }
    }
}

fn repeat(a: Locator, b: Locator) -> Repeat {
    Repeat {
        earlier: a.min(b),
        later: a.max(b),
    }
}

/// A second row of a claimed patient: which row stays claimed.
fn settle(
    duplicates: Duplicates,
    claim: &mut Claim,
    row: Locator,
    value: u64,
) -> Result<(), Repeat> {
    let replace = match duplicates {
        Duplicates::Error => {
            let found = repeat(claim.row, row);
            claim.row = found.earlier;
            return Err(found);
        }
        Duplicates::KeepFirst => row < claim.row,
        Duplicates::KeepLast => row > claim.row,
    };
    if replace {
        *claim = Claim { row, value };
    }
    Ok(())
}

/// One reader thread's part of NEW.
pub struct NewSink<'a> {
    diff: &'a Diff<'a>,
    patient: Col,
    unit: Col,
    listed_since: Option<Col>,
    units: UnitIds<'a>,
    attr: AttrReader<'a>,
    /// Rows on their way to a claim, in two batches so that each row's
    /// cache misses overlap other rows' work: a row's index slots are
    /// touched as it arrives, it is looked up once its batch is full (and
    /// its claim slot touched), and claimed when the next batch is full.
    /// Not used when repeats are rejected row by row.
    arriving: Batch,
    looked_up: Batch,
    /// A repeated patient found in a batch, not yet reported (the earliest
    /// by its later row).
    repeat: Option<Repeat>,
    /// Rows dropped as repeats of a patient (--dedupe).
    repeats: u64,
    latest_listed: Option<Date>,
}

#[derive(Default)]
struct Batch {
    rows: Vec<Waiting>,
    /// The rows' patient ids.
    keys: Vec<u8>,
    /// Each row's OLD id, once looked up.
    ids: Vec<Option<u32>>,
}

impl Batch {
    fn key(&self, row: &Waiting) -> &[u8] {
        &self.keys[row.patient.0 as usize..row.patient.1 as usize]
    }

    fn clear(&mut self) {
        self.rows.clear();
        self.keys.clear();
        self.ids.clear();
    }
}

/// A NEW row waiting for its claim; its patient id is a range of the
/// batch's bytes.
struct Waiting {
    hash: u64,
    patient: (u32, u32),
    row: Locator,
    value: u64,
}

const BATCH: usize = 32;

impl<'a> NewSink<'a> {
    /// A sink for NEW's `columns`; `file` names NEW in errors about them.
    pub fn new(diff: &'a Diff<'a>, columns: &Columns, file: &str) -> Result<NewSink<'a>> {
        let wants_date = diff.config.by == Some(Breakdown::AgeBand) && diff.config.as_of.is_none();
        let listed_since = columns.col("listed_since");
        if wants_date && !listed_since.is_present() {
            return Err(usage(format!(
                "--by age-band needs NEW's date: give --as-of DATE ({file} has no listed_since column to take the latest date from)"
            )));
        }
        Ok(NewSink {
            diff,
            patient: columns.col("patient_id"),
            unit: columns.col("unit"),
            listed_since: wants_date.then_some(listed_since),
            units: UnitIds::new(&diff.units),
            attr: diff.attributes.reader(columns, file)?,
            arriving: Batch::default(),
            looked_up: Batch::default(),
            repeat: None,
            repeats: 0,
            latest_listed: None,
        })
    }

    /// Claims the rows looked up and looks up those arrived.
    fn step(&mut self) {
        self.claim_looked_up();
        self.look_up();
    }

    /// Claims every row given so far.
    fn drain(&mut self) {
        self.step();
        self.claim_looked_up();
    }

    fn look_up(&mut self) {
        let (diff, batch) = (self.diff, &mut self.arriving);
        for row in &batch.rows {
            let id = diff
                .old
                .patients
                .find(row.hash, batch.key(row))
                .map(|(id, _)| id);
            if let Some(id) = id {
                prefetch(&diff.slots[id as usize]);
            }
            batch.ids.push(id);
        }
        std::mem::swap(&mut self.arriving, &mut self.looked_up);
    }

    fn claim_looked_up(&mut self) {
        let (diff, batch) = (self.diff, &self.looked_up);
        for (row, &id) in batch.rows.iter().zip(&batch.ids) {
            let claimed = match id {
                Some(id) => diff.claim_old(id, row.row, row.value),
                None => diff.claim_newcomer(batch.key(row), row.row, row.value),
            };
            match claimed {
                Ok(dropped) => self.repeats += u64::from(dropped),
                Err(found) => {
                    if self.repeat.is_none_or(|first| found.later < first.later) {
                        self.repeat = Some(found);
                    }
                }
            }
        }
        self.looked_up.clear();
    }

    fn repeat_error(&self, found: Repeat, here: Locator) -> RowError {
        let error = RowError::new(self.patient.index, DUPLICATE).related_to(found.earlier);
        if found.later == here {
            error
        } else {
            error.located_at(found.later)
        }
    }
}

/// What a NEW row says: its patient id, the id's hash, the packed unit and
/// attribute, and the listed_since date when ages need it.
struct NewRow<'r> {
    patient: &'r [u8],
    hash: u64,
    value: u64,
    listed_since: Option<Date>,
}

impl<'a> NewSink<'a> {
    fn parse<'r>(&mut self, row: &Row<'r>) -> Result<NewRow<'r>, RowError> {
        let patient = row.required(self.patient)?;
        let unit = self.units.id(row, self.unit)?;
        let attr = self.attr.read(row)?;
        let listed_since = match self.listed_since {
            Some(col) => row.optional_date(col)?,
            None => None,
        };
        Ok(NewRow {
            patient,
            hash: key_hash(patient),
            value: pack(unit, attr),
            listed_since,
        })
    }
}

impl RowSink for NewSink<'_> {
    fn row(&mut self, row: &Row<'_>) -> Result<(), RowError> {
        let here = row.locator;
        if let Some(found) = self.repeat.take() {
            // Found at the end of an earlier chunk: report it now.
            return Err(self.repeat_error(found, here));
        }
        let parsed = match self.parse(row) {
            Ok(parsed) => parsed,
            Err(error) => {
                // A repeated patient in the rows before this one comes first.
                self.drain();
                return Err(match self.repeat.take() {
                    Some(found) => self.repeat_error(found, here),
                    None => error,
                });
            }
        };
        let NewRow {
            patient,
            hash,
            value,
            listed_since,
        } = parsed;
        if self.diff.config.rejects_repeats() {
            // One thread, rows in file order: a repeat is this row, whose
            // bytes the reject log keeps (and whose date must not count).
            let dropped = self
                .diff
                .claim(hash, patient, here, value)
                .map_err(|found| self.repeat_error(found, here))?;
            self.repeats += u64::from(dropped);
            self.latest_listed = self.latest_listed.max(listed_since);
            return Ok(());
        }
        // Without --skip-invalid a repeat stops the run; with --dedupe a
        // dropped repeat is still a row of the snapshot.
        self.latest_listed = self.latest_listed.max(listed_since);
        self.diff.old.patients.touch(hash);
        let batch = &mut self.arriving;
        let start = batch.keys.len() as u32;
        batch.keys.extend_from_slice(patient);
        batch.rows.push(Waiting {
            hash,
            patient: (start, batch.keys.len() as u32),
            row: here,
            value,
        });
        if batch.rows.len() == BATCH {
            self.step();
            if let Some(found) = self.repeat.take() {
                return Err(self.repeat_error(found, here));
            }
        }
        Ok(())
    }

    fn flush(&mut self) {
        self.drain();
    }
}

// ---------------------------------------------------------------- counting

/// Patients listed at `from` in OLD and `to` in NEW (`None`: absent from
/// that snapshot), in one group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowCell {
    pub from: Option<u32>,
    pub to: Option<u32>,
    pub group: u32,
    pub patients: u64,
}

/// Everything counted, with names resolved.
#[derive(Debug)]
pub struct Tally {
    /// Every unit of either snapshot, sorted; cells refer to these.
    pub units: Vec<String>,
    /// Group labels in output order (one empty label without --by).
    pub groups: Vec<String>,
    /// Whether rows are broken down (--by).
    pub grouped: bool,
    pub cells: Vec<FlowCell>,
    /// NEW's date the ages are taken at (--by age-band).
    pub age_date: Option<Date>,
    /// Patients born after `age_date` (counted as unknown).
    pub born_later: u64,
    pub old_patients: u64,
    pub new_patients: u64,
    pub old_units: usize,
    pub new_units: usize,
    /// Rows of NEW dropped as repeats (--dedupe).
    pub new_repeats: u64,
}

impl Tally {
    /// The whole region's counts (every unit and group summed).
    pub fn region(&self) -> Counts {
        let mut counts = Counts::default();
        for row in rows(self, None, true) {
            if row.level == Level::All {
                counts.add(&row.counts);
            }
        }
        counts
    }
}

/// What a [`NewSink`] found besides its claims, detached from [`Diff`] so
/// that [`finish`] can consume it.
pub struct NewPart {
    repeats: u64,
    latest_listed: Option<Date>,
    /// A repeated patient found after the sink's last row: the later row
    /// and the error about it.
    pub repeat: Option<(Locator, RowError)>,
}

impl NewSink<'_> {
    pub fn into_part(self) -> NewPart {
        NewPart {
            repeats: self.repeats,
            latest_listed: self.latest_listed,
            repeat: self
                .repeat
                .map(|found| (found.later, self.repeat_error(found, found.later))),
        }
    }
}

/// The repeated patient to report after the read, if a sink found one
/// after its last row: the one whose later row comes first.
pub fn unreported_repeat(parts: &[NewPart]) -> Option<&(Locator, RowError)> {
    parts
        .iter()
        .filter_map(|part| part.repeat.as_ref())
        .min_by_key(|(later, _)| *later)
}

/// Counts the cells once NEW is read.
pub fn finish(diff: Diff<'_>, parts: Vec<NewPart>) -> Result<Tally> {
    let new_repeats = parts.iter().map(|s| s.repeats).sum();
    let latest_listed = parts.iter().filter_map(|s| s.latest_listed).max();
    let config = diff.config;
    let age_date = match config.by {
        Some(Breakdown::AgeBand) => match config.as_of.or(latest_listed) {
            Some(date) => Some(date),
            None => bail!(
                "NEW has no listed_since date to take its date from; give --as-of DATE for the ages"
            ),
        },
        _ => None,
    };
    let groups = Groups::new(config.by, &diff.attributes.labels.to_names(), age_date);
    let Diff {
        old,
        slots,
        newcomers,
        units: new_units,
        ..
    } = diff;
    let new_units = new_units.into_names();
    let (units, old_unit, new_unit) = merge_units(&old.units, &new_units);

    let empty = || Counted {
        cells: CellCounts::new(units.len(), groups.labels.len()),
        born_later: 0,
        new_patients: 0,
    };
    // OLD's patients in parts, one thread each.
    let bound = old.patients.id_bound();
    let mut counted = (0..bound.div_ceil(FINISH_PART))
        .into_par_iter()
        .map(|part| {
            let mut counted = empty();
            let ids = part * FINISH_PART..((part + 1) * FINISH_PART).min(bound);
            for (id, listed) in old.patients.values_in(ids) {
                let from = Some(old_unit[listed.unit as usize]);
                let slot = &slots[id as usize];
                if slot.row.load(Ordering::Relaxed) == UNCLAIMED {
                    counted.add(&groups, from, None, listed.attr);
                } else {
                    counted.new_patients += 1;
                    let (unit, attr) = unpack(slot.value.load(Ordering::Relaxed));
                    counted.add(&groups, from, Some(new_unit[unit as usize]), attr);
                }
            }
            counted
        })
        .reduce(empty, Counted::merge);
    let newcomers = newcomers.freeze();
    for (_, _, newcomer) in newcomers.iter() {
        counted.new_patients += 1;
        let (unit, attr) = unpack(newcomer.value);
        counted.add(&groups, None, Some(new_unit[unit as usize]), attr);
    }
    let Counted {
        cells,
        born_later,
        new_patients,
    } = counted;
    let mut cells = cells.into_cells();
    cells.sort_by_key(|c| (c.from, c.to, c.group));
    let distinct = |side: fn(&FlowCell) -> Option<u32>| {
        let mut seen: Vec<u32> = cells.iter().filter_map(side).collect();
        seen.sort_unstable();
        seen.dedup();
        seen.len()
    };
    let (old_units, new_units) = (distinct(|c| c.from), distinct(|c| c.to));
    Ok(Tally {
        units,
        groups: groups.labels,
        grouped: config.by.is_some(),
        cells,
        age_date,
        born_later,
        old_patients: old.patients.len() as u64,
        new_patients,
        old_units,
        new_units,
        new_repeats,
    })
}

/// Patients per (from, to, group): most stay at their unit, so those and
/// the patients entering or leaving the region are counted in arrays per
/// unit and group; moves between units, a few per cent, in a map.
struct CellCounts {
    groups: usize,
    /// Per unit and group: [stayed, new in the region, left the region].
    at_unit: Vec<[u64; 3]>,
    moves: HashMap<(u32, u32, u32), u64>,
}

/// OLD index slots counted by one thread in [`finish`].
const FINISH_PART: usize = 1 << 18;

/// What [`finish`] counts, for a part of the patients.
struct Counted {
    cells: CellCounts,
    /// Patients born after the age date.
    born_later: u64,
    /// Patients in NEW.
    new_patients: u64,
}

impl Counted {
    fn add(&mut self, groups: &Groups, from: Option<u32>, to: Option<u32>, attr: u32) {
        let (group, later) = groups.of(attr);
        self.born_later += u64::from(later);
        self.cells.add(from, to, group);
    }

    fn merge(mut self, other: Counted) -> Counted {
        for (mine, theirs) in self.cells.at_unit.iter_mut().zip(&other.cells.at_unit) {
            for (a, b) in mine.iter_mut().zip(theirs) {
                *a += b;
            }
        }
        for (key, patients) in other.cells.moves {
            *self.cells.moves.entry(key).or_default() += patients;
        }
        self.born_later += other.born_later;
        self.new_patients += other.new_patients;
        self
    }
}

impl CellCounts {
    fn new(units: usize, groups: usize) -> CellCounts {
        CellCounts {
            groups,
            at_unit: vec![[0; 3]; units * groups],
            moves: HashMap::new(),
        }
    }

    fn add(&mut self, from: Option<u32>, to: Option<u32>, group: u32) {
        let at = |unit: u32| unit as usize * self.groups + group as usize;
        match (from, to) {
            (Some(from), Some(to)) if from == to => self.at_unit[at(from)][0] += 1,
            (None, Some(to)) => self.at_unit[at(to)][1] += 1,
            (Some(from), None) => self.at_unit[at(from)][2] += 1,
            (Some(from), Some(to)) => *self.moves.entry((from, to, group)).or_default() += 1,
            (None, None) => {}
        }
    }

    fn into_cells(self) -> Vec<FlowCell> {
        let groups = self.groups;
        let mut cells = Vec::new();
        for (at, counts) in self.at_unit.iter().enumerate() {
            let (unit, group) = ((at / groups) as u32, (at % groups) as u32);
            let sides = [
                (Some(unit), Some(unit)),
                (None, Some(unit)),
                (Some(unit), None),
            ];
            for ((from, to), &patients) in sides.into_iter().zip(counts) {
                if patients > 0 {
                    cells.push(FlowCell {
                        from,
                        to,
                        group,
                        patients,
                    });
                }
            }
        }
        cells.extend(
            self.moves
                .into_iter()
                .map(|((from, to, group), patients)| FlowCell {
                    from: Some(from),
                    to: Some(to),
                    group,
                    patients,
                }),
        );
        cells
    }
}

/// The sorted union of OLD's and NEW's unit names, and each side's id →
/// position in it.
fn merge_units(old: &Names, new: &Names) -> (Vec<String>, Vec<u32>, Vec<u32>) {
    let mut all: Vec<String> = (0..old.len() as u32)
        .map(|id| old.name(id))
        .chain((0..new.len() as u32).map(|id| new.name(id)))
        .map(str::to_string)
        .collect();
    all.sort();
    all.dedup();
    let position = |name: &str| all.binary_search_by(|u| u.as_str().cmp(name)).unwrap_or(0) as u32;
    let old_ids = (0..old.len() as u32)
        .map(|id| position(old.name(id)))
        .collect();
    let new_ids = (0..new.len() as u32)
        .map(|id| position(new.name(id)))
        .collect();
    (all, old_ids, new_ids)
}

/// Attribute → output group.
struct Groups {
    by: Option<Breakdown>,
    labels: Vec<String>,
    /// Label id → group (sex, active choice).
    of_label: Vec<u32>,
    age_date: Option<u32>,
}

impl Groups {
    fn new(by: Option<Breakdown>, labels: &Names, age_date: Option<Date>) -> Groups {
        let mut out: Vec<String> = match by {
            None => vec![String::new()],
            Some(Breakdown::AgeBand) => AGE_BANDS.iter().map(|(_, l)| l.to_string()).collect(),
            Some(_) => {
                let mut names: Vec<String> = (0..labels.len() as u32)
                    .map(|id| labels.name(id).to_string())
                    .filter(|name| name != UNKNOWN_GROUP)
                    .collect();
                names.sort();
                names
            }
        };
        if by.is_some() {
            out.push(UNKNOWN_GROUP.to_string());
        }
        let of_label = (0..labels.len() as u32)
            .map(|id| {
                let name = labels.name(id);
                out.iter().position(|l| l == name).unwrap_or(0) as u32
            })
            .collect();
        Groups {
            by,
            labels: out,
            of_label,
            age_date: age_date.map(ymd),
        }
    }

    fn unknown(&self) -> u32 {
        self.labels.len() as u32 - 1
    }

    /// The group of `attr`, and whether it is a birth after NEW's date.
    fn of(&self, attr: u32) -> (u32, bool) {
        match self.by {
            None => (0, false),
            Some(_) if attr == MISSING => (self.unknown(), false),
            Some(Breakdown::AgeBand) => match age(attr, self.age_date.expect("ages have a date")) {
                Some(years) => (age_band(years) as u32, false),
                None => (self.unknown(), true),
            },
            Some(_) => (self.of_label[attr as usize], false),
        }
    }
}

// ---------------------------------------------------------------- rows

/// One row's counts. Invariant: after = before + moved_in + new_in_region
/// − moved_out − left_region.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub before: u64,
    pub after: u64,
    pub moved_in: u64,
    pub moved_out: u64,
    pub new_in_region: u64,
    pub left_region: u64,
}

impl Counts {
    pub fn net(&self) -> i64 {
        self.after as i64 - self.before as i64
    }

    fn add(&mut self, other: &Counts) {
        self.before += other.before;
        self.after += other.after;
        self.moved_in += other.moved_in;
        self.moved_out += other.moved_out;
        self.new_in_region += other.new_in_region;
        self.left_region += other.left_region;
    }
}

/// One output row of the listing-change report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiffRow {
    pub level: Level,
    /// The unit, area, or `ALL`.
    pub unit: String,
    pub group: String,
    pub counts: Counts,
}

/// Unit rows, area subtotals (with a units file) and, with `total`, the
/// region's row: each row is the sum of its units' rows, so an area's
/// moved_in includes moves between its own units. Groups with nobody in
/// either snapshot are left out (the region's row is always there without
/// --by). Sorted by level, unit (or area) and group.
pub fn rows(tally: &Tally, units: Option<&Units>, total: bool) -> Vec<DiffRow> {
    let group_count = tally.groups.len();
    let mut per_unit = vec![Counts::default(); tally.units.len() * group_count];
    for cell in &tally.cells {
        let n = cell.patients;
        let at = |unit: u32| unit as usize * group_count + cell.group as usize;
        if let Some(from) = cell.from {
            let counts = &mut per_unit[at(from)];
            counts.before += n;
            match cell.to {
                None => counts.left_region += n,
                Some(to) if to != from => counts.moved_out += n,
                Some(_) => {}
            }
        }
        if let Some(to) = cell.to {
            let counts = &mut per_unit[at(to)];
            counts.after += n;
            match cell.from {
                None => counts.new_in_region += n,
                Some(from) if from != to => counts.moved_in += n,
                Some(_) => {}
            }
        }
    }
    let mut out = Vec::new();
    let mut areas: BTreeMap<(&str, usize), Counts> = BTreeMap::new();
    let mut all = vec![Counts::default(); group_count];
    for (u, unit) in tally.units.iter().enumerate() {
        let area = units.and_then(|file| file.area(unit));
        for (g, group) in tally.groups.iter().enumerate() {
            let counts = per_unit[u * group_count + g];
            if counts == Counts::default() {
                // A group with nobody in it at this unit.
                continue;
            }
            if let Some(area) = area {
                areas.entry((area, g)).or_default().add(&counts);
            }
            all[g].add(&counts);
            out.push(DiffRow {
                level: Level::Unit,
                unit: unit.clone(),
                group: group.clone(),
                counts,
            });
        }
    }
    for ((area, g), counts) in areas {
        out.push(DiffRow {
            level: Level::Area,
            unit: area.to_string(),
            group: tally.groups[g].clone(),
            counts,
        });
    }
    if total {
        for (g, counts) in all.into_iter().enumerate() {
            if tally.grouped && counts == Counts::default() {
                continue;
            }
            out.push(DiffRow {
                level: Level::All,
                unit: ALL_UNITS.to_string(),
                group: tally.groups[g].clone(),
                counts,
            });
        }
    }
    out
}

/// Whether flows run between units or between areas.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FlowLevel {
    /// From unit to unit
    Unit,
    /// From area to area (needs --units)
    Area,
}

/// Patients listed at `from` in OLD and at `to` in NEW.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowRow {
    pub from: String,
    pub to: String,
    pub group: String,
    pub patients: u64,
}

/// The flows between units (or areas): patients who changed unit (area),
/// came into the region (from `(new)`) or left it (to `(gone)`); patients
/// who stayed are not flows. Sorted by patients, most first, then from,
/// to and group.
pub fn flows(tally: &Tally, units: Option<&Units>, level: FlowLevel) -> Vec<FlowRow> {
    let place = |unit: Option<u32>, outside: &'static str| -> String {
        let Some(unit) = unit else {
            return outside.to_string();
        };
        let name = &tally.units[unit as usize];
        match level {
            FlowLevel::Unit => name.clone(),
            FlowLevel::Area => units
                .and_then(|file| file.area(name))
                .unwrap_or(NO_AREA)
                .to_string(),
        }
    };
    let mut pooled: BTreeMap<(String, String, u32), u64> = BTreeMap::new();
    for cell in &tally.cells {
        let from = place(cell.from, NEW_IN_REGION);
        let to = place(cell.to, LEFT_REGION);
        if from != to {
            *pooled.entry((from, to, cell.group)).or_default() += cell.patients;
        }
    }
    let mut out: Vec<(Reverse<u64>, String, String, u32)> = pooled
        .into_iter()
        .map(|((from, to, group), n)| (Reverse(n), from, to, group))
        .collect();
    out.sort();
    out.into_iter()
        .map(|(Reverse(patients), from, to, group)| FlowRow {
            from,
            to,
            group: tally.groups[group as usize].clone(),
            patients,
        })
        .collect()
}

// ---------------------------------------------------------------- cells

/// Output columns of the report (`group` only with --by).
pub fn row_columns(grouped: bool, for_reading: bool) -> Vec<&'static str> {
    let mut columns = if for_reading {
        vec!["unit"]
    } else {
        vec!["level", "unit"]
    };
    if grouped {
        columns.push("group");
    }
    columns.extend([
        "listed_before",
        "listed_after",
        "net",
        "moved_in",
        "moved_out",
        "new_in_region",
        "left_region",
    ]);
    columns
}

fn count_cells(counts: &Counts, signed_net: bool) -> [Cell; 7] {
    let int = |n: u64| Cell::Int(n as i64);
    let net = counts.net();
    [
        int(counts.before),
        int(counts.after),
        if signed_net && net != 0 {
            Cell::text(format!("{net:+}"))
        } else {
            Cell::Int(net)
        },
        int(counts.moved_in),
        int(counts.moved_out),
        int(counts.new_in_region),
        int(counts.left_region),
    ]
}

/// Cells of the machine formats, one line per row in `rows`' order.
pub fn row_cells(rows: &[DiffRow], grouped: bool) -> Vec<Vec<Cell>> {
    rows.iter()
        .map(|row| {
            let mut cells = vec![
                Cell::text(row.level.as_str()),
                Cell::text(row.unit.as_str()),
            ];
            if grouped {
                cells.push(Cell::text(row.group.as_str()));
            }
            cells.extend(count_cells(&row.counts, false));
            cells
        })
        .collect()
}

/// Cells of the table for reading, laid out like seed 002's listing table:
/// each area's rows with its units' rows indented under them, then units
/// without an area, then the region; net changes signed.
pub fn table_cells(rows: &[DiffRow], units: Option<&Units>, grouped: bool) -> Vec<Vec<Cell>> {
    let mut out = Vec::new();
    let mut emit = |level: Level, name: &str, indent: &str| {
        for row in rows.iter().filter(|r| r.level == level && r.unit == name) {
            let mut cells = vec![Cell::text(format!("{indent}{}", row.unit))];
            if grouped {
                cells.push(Cell::text(row.group.as_str()));
            }
            cells.extend(count_cells(&row.counts, true));
            out.push(cells);
        }
    };
    let names = |level: Level| {
        let mut names: Vec<&str> = rows
            .iter()
            .filter(|r| r.level == level)
            .map(|r| r.unit.as_str())
            .collect();
        names.dedup();
        names
    };
    let area_of = |unit: &str| units.and_then(|file| file.area(unit));
    let (areas, unit_names) = (names(Level::Area), names(Level::Unit));
    for &area in &areas {
        emit(Level::Area, area, "");
        for &unit in unit_names.iter().filter(|u| area_of(u) == Some(area)) {
            emit(Level::Unit, unit, "  ");
        }
    }
    for &unit in unit_names.iter().filter(|u| area_of(u).is_none()) {
        emit(Level::Unit, unit, "");
    }
    emit(Level::All, ALL_UNITS, "");
    out
}

/// Columns of `--flows`.
pub fn flow_columns(level: FlowLevel, grouped: bool) -> Vec<&'static str> {
    let mut columns = match level {
        FlowLevel::Unit => vec!["from_unit", "to_unit"],
        FlowLevel::Area => vec!["from_area", "to_area"],
    };
    if grouped {
        columns.push("group");
    }
    columns.push("patients");
    columns
}

pub fn flow_cells(flows: &[FlowRow], grouped: bool) -> Vec<Vec<Cell>> {
    flows
        .iter()
        .map(|flow| {
            let mut cells = vec![Cell::text(flow.from.as_str()), Cell::text(flow.to.as_str())];
            if grouped {
                cells.push(Cell::text(flow.group.as_str()));
            }
            cells.push(Cell::Int(flow.patients as i64));
            cells
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::UnitInfo;
    use jiff::civil::date;

    #[test]
    fn ages_count_whole_years_and_leap_day_birthdays_turn_on_the_first_of_march() {
        let on = |y, m, d| ymd(date(y, m, d));
        assert_eq!(age(on(2018, 12, 31), on(2024, 12, 30)), Some(5));
        assert_eq!(age(on(2018, 12, 31), on(2024, 12, 31)), Some(6));
        assert_eq!(age(on(2000, 2, 29), on(2025, 2, 28)), Some(24));
        assert_eq!(age(on(2000, 2, 29), on(2025, 3, 1)), Some(25));
        assert_eq!(age(on(2024, 2, 29), on(2024, 12, 31)), Some(0));
        assert_eq!(age(on(2025, 1, 1), on(2024, 12, 31)), None);
        let bands: Vec<&str> = [0, 5, 6, 17, 18, 64, 65, 79, 80, 104]
            .map(|years| AGE_BANDS[age_band(years)].1)
            .to_vec();
        assert_eq!(
            bands,
            [
                "0-5", "0-5", "6-17", "6-17", "18-64", "18-64", "65-79", "65-79", "80+", "80+"
            ]
        );
    }

    #[test]
    fn repeats_keep_the_first_or_last_row_or_name_both() {
        let (early, late) = (Locator::new(0, 3), Locator::new(2, 1));
        let stored = Claim {
            row: late,
            value: 7,
        };
        let mut claim = stored;
        assert_eq!(settle(Duplicates::KeepFirst, &mut claim, early, 9), Ok(()));
        assert_eq!(
            claim,
            Claim {
                row: early,
                value: 9
            }
        );
        let mut claim = stored;
        assert_eq!(settle(Duplicates::KeepLast, &mut claim, early, 9), Ok(()));
        assert_eq!(claim, stored);
        let mut claim = stored;
        assert_eq!(
            settle(Duplicates::Error, &mut claim, early, 9),
            Err(Repeat {
                earlier: early,
                later: late
            })
        );
        assert_eq!(claim.row, early);
    }

    /// Units A, B (area Norr) and C (no area): 2 stay at A, 1 moves A → B,
    /// 1 arrives at C, 1 leaves B.
    fn tally() -> Tally {
        let cell = |from, to, patients| FlowCell {
            from,
            to,
            group: 0,
            patients,
        };
        Tally {
            units: vec!["A".into(), "B".into(), "C".into()],
            groups: vec![String::new()],
            grouped: false,
            cells: vec![
                cell(Some(0), Some(0), 2),
                cell(Some(0), Some(1), 1),
                cell(None, Some(2), 1),
                cell(Some(1), None, 1),
            ],
            age_date: None,
            born_later: 0,
            old_patients: 4,
            new_patients: 4,
            old_units: 2,
            new_units: 3,
            new_repeats: 0,
        }
    }

    fn units() -> Units {
        let mut units = Units::default();
        for unit in ["A", "B"] {
            let info = UnitInfo {
                area: Some("Norr".into()),
                ..UnitInfo::default()
            };
            units.insert(unit, info);
        }
        units
    }

    #[test]
    fn rows_are_unit_sums_with_area_and_region_subtotals() {
        let units = units();
        let rows = rows(&tally(), Some(&units), true);
        let summary: Vec<(Level, &str, [u64; 6])> = rows
            .iter()
            .map(|r| {
                let c = r.counts;
                let counts = [
                    c.before,
                    c.after,
                    c.moved_in,
                    c.moved_out,
                    c.new_in_region,
                    c.left_region,
                ];
                (r.level, r.unit.as_str(), counts)
            })
            .collect();
        assert_eq!(
            summary,
            [
                (Level::Unit, "A", [3, 2, 0, 1, 0, 0]),
                (Level::Unit, "B", [1, 1, 1, 0, 0, 1]),
                (Level::Unit, "C", [0, 1, 0, 0, 1, 0]),
                (Level::Area, "Norr", [4, 3, 1, 1, 0, 1]),
                (Level::All, "ALL", [4, 4, 1, 1, 1, 1]),
            ]
        );
        assert_eq!(tally().region().net(), 0);
    }

    #[test]
    fn flows_leave_out_stayers_and_pool_areas() {
        let units = units();
        let show = |flows: Vec<FlowRow>| -> Vec<String> {
            flows
                .iter()
                .map(|f| format!("{}>{}:{}", f.from, f.to, f.patients))
                .collect()
        };
        assert_eq!(
            show(flows(&tally(), Some(&units), FlowLevel::Unit)),
            ["(new)>C:1", "A>B:1", "B>(gone):1"]
        );
        assert_eq!(
            show(flows(&tally(), Some(&units), FlowLevel::Area)),
            ["(new)>(no area):1", "Norr>(gone):1"]
        );
    }

    #[test]
    fn the_table_puts_units_under_their_area() {
        let units = units();
        let rows = rows(&tally(), Some(&units), true);
        let firsts: Vec<(String, String)> = table_cells(&rows, Some(&units), false)
            .into_iter()
            .map(|cells| match (&cells[0], &cells[3]) {
                (Cell::Text(name), Cell::Text(net)) => (name.clone(), net.clone()),
                (Cell::Text(name), Cell::Int(net)) => (name.clone(), net.to_string()),
                other => panic!("{other:?}"),
            })
            .collect();
        let expected = [
            ("Norr", "-1"),
            ("  A", "-1"),
            ("  B", "0"),
            ("C", "+1"),
            ("ALL", "0"),
        ];
        assert_eq!(
            firsts,
            expected.map(|(a, b)| (a.to_string(), b.to_string()))
        );
    }
}
