//! Täckningsgrad (`coverage`) and listed patients with a visit
//! (`visited_share`): listed patients' visits, looked up in the listing.
//!
//! [`VisitSink`] filters visit rows (period, contact type, profession),
//! looks their patients up in the listing a batch at a time (so the cache
//! misses overlap) and folds them into tallies per listing unit (and day,
//! while the end of the period is not known);
//! for `visited_share` it also keeps, per listed patient, the latest
//! counted visit at the patient's own unit. [`finish`] resolves the period
//! and turns the tallies into one measure per listing unit.

use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::Result;
use jiff::civil::Date;

use super::{Chosen, Excluded, packed_date, utf8};
use crate::catalogue;
use crate::dayfolds::DayFolds;
use crate::input::{Col, ColumnSpec, Columns, Row, RowError, RowSink, Schema, values};
use crate::intern::Memo;
use crate::listing::{Listing, PatientLookups};
use crate::period::{PeriodSpec, Window};
use crate::report::Measure;
use crate::units::Units;

pub static VISITS: Schema = Schema {
    what: "visits",
    columns: &[
        ColumnSpec::required("patient_id").sensitive(),
        ColumnSpec::required("date"),
        ColumnSpec::required("unit"),
        ColumnSpec::optional("profession"),
        ColumnSpec::optional("contact_type"),
        ColumnSpec::optional("care_level"),
    ],
};

/// Which ratio a run computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ratio {
    /// `coverage`: visits in the numerator's scope / all visits of the
    /// unit's listed patients.
    Coverage,
    /// `visited_share`: listed patients with a visit at their unit / listed.
    VisitedShare,
}

/// Which visits count in the numerator of `coverage`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Visits at the unit the patient is listed at (Örebro).
    ListingUnit,
    /// Visits at any primary care unit (Jämtland).
    PrimaryCare,
}

/// What to compute.
#[derive(Clone, Debug)]
pub struct Config {
    pub ratio: Ratio,
    pub period: PeriodSpec,
    /// Canonical professions that count; `None` for every profession.
    pub professions: Option<Vec<String>>,
    /// Canonical contact types that count.
    pub contact_types: Vec<String>,
    pub scope: Scope,
}

/// Why a valid visit row did not count, in the order reasons are checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    OutsideWindow,
    ContactType,
    NoProfession,
    Profession,
    NotListed,
}

impl Reason {
    /// Every reason, in discriminant order.
    const ALL: [Reason; 5] = [
        Reason::OutsideWindow,
        Reason::ContactType,
        Reason::NoProfession,
        Reason::Profession,
        Reason::NotListed,
    ];

    pub fn describe(self) -> &'static str {
        match self {
            Reason::OutsideWindow => "outside the period",
            Reason::ContactType => "contact type not counted",
            Reason::NoProfession => "empty profession",
            Reason::Profession => "profession not counted",
            Reason::NotListed => "patient not in the listing",
        }
    }
}

/// State shared by the reader threads of one run.
pub struct Shared<'a> {
    config: &'a Config,
    listing: &'a Listing,
    /// Care levels per unit from `--units`, when it has them.
    units: Option<&'a Units>,
    /// `visited_share`: per listing patient id, the latest counted visit at
    /// the patient's own unit ([`packed_date`], 0 = none).
    latest_at_unit: Vec<AtomicU32>,
}

impl<'a> Shared<'a> {
    pub fn new(config: &'a Config, listing: &'a Listing, units: Option<&'a Units>) -> Shared<'a> {
        let patients = match config.ratio {
            Ratio::VisitedShare => listing.patients.id_bound(),
            Ratio::Coverage => 0,
        };
        Shared {
            config,
            listing,
            units: units.filter(|u| u.has_care_levels()),
            latest_at_unit: (0..patients).map(|_| AtomicU32::new(0)).collect(),
        }
    }
}

impl Shared<'_> {
    /// Whether visits are judged by the care level of their unit.
    fn needs_levels(&self) -> bool {
        self.config.ratio == Ratio::Coverage && self.config.scope == Scope::PrimaryCare
    }
}

/// What a visit's unit is to the computation.
#[derive(Clone, Copy, Debug)]
struct VisitUnit {
    /// Its id among the listing's units, [`NOT_LISTING_UNIT`] if none.
    listing_unit: u32,
    /// Primary care per `--units`; `None` when unknown there.
    primary: Option<bool>,
}

const NOT_LISTING_UNIT: u32 = u32::MAX;

/// Counted visits of one listing unit's patients on one day.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// At the listing unit (or, with scope primary-care, at any primary
    /// care unit).
    pub in_scope: u64,
    pub visits: u64,
    /// Not in scope because the care level of the visit's unit is unknown.
    pub unknown_level: u64,
}

impl Tally {
    fn add(&mut self, other: &Tally) {
        self.in_scope += other.in_scope;
        self.visits += other.visits;
        self.unknown_level += other.unknown_level;
    }
}

/// Counts per small key (a unit id, a [`Reason`]), also per day when the
/// period ends on the latest date in the input (`--months` alone): a day
/// may then still fall out of it. Otherwise every folded row is inside the
/// period and a plain vector serves, which the hot loop prefers.
struct Folds<V> {
    by_key: Vec<V>,
    by_key_day: DayFolds<V>,
    per_day: bool,
}

impl<V: Default + Clone + PartialEq> Folds<V> {
    /// Folds for keys below `width` (others are kept too, less compactly).
    fn new(period: PeriodSpec, width: usize) -> Folds<V> {
        Folds {
            by_key: Vec::new(),
            by_key_day: DayFolds::new(width),
            per_day: matches!(period, PeriodSpec::EndingAtLatest { .. }),
        }
    }

    fn at(&mut self, key: u32, date: Date) -> &mut V {
        if self.per_day {
            return self.by_key_day.at(key, date);
        }
        let i = key as usize;
        if i >= self.by_key.len() {
            self.by_key.resize_with(i + 1, V::default);
        }
        &mut self.by_key[i]
    }

    /// Each fold with whether it is inside `window`.
    fn each(&self, window: &Window, mut each: impl FnMut(u32, &V, bool)) {
        for (key, value) in self.by_key.iter().enumerate() {
            each(key as u32, value, true);
        }
        self.by_key_day
            .each(|key, date, value| each(key, value, window.contains(date)));
    }
}

/// A visit waiting for its listing lookup; the patient id is a range of
/// the batch's byte buffer.
struct Waiting {
    /// `None` when the patient is the previous waiting visit's.
    hash: Option<u64>,
    patient: (u32, u32),
    unit: VisitUnit,
    /// Primary care per the visit's own care_level, when given.
    row_primary: Option<bool>,
    date: Date,
}

/// Visits looked up together.
const BATCH: usize = 32;

/// One thread's fold of visit rows.
pub struct VisitSink<'a> {
    shared: &'a Shared<'a>,
    cols: [Col; 6],
    units: Memo<VisitUnit>,
    care_levels: Memo<bool>,
    professions: Chosen,
    contact_types: Chosen,
    batch: Vec<Waiting>,
    batch_keys: Vec<u8>,
    lookups: PatientLookups,
    /// Per listing unit.
    tallies: Folds<Tally>,
    earliest: Option<Date>,
    latest: Option<Date>,
    /// Rows outside a fixed period, dropped as they came.
    outside: u64,
    /// Rows that did not count, by reason: one that turns out to be
    /// outside the period counts as that.
    excluded: Folds<u64>,
}

impl<'a> VisitSink<'a> {
    pub fn new(shared: &'a Shared<'a>, columns: &Columns) -> Result<VisitSink<'a>> {
        let cols = [
            "patient_id",
            "date",
            "unit",
            "profession",
            "contact_type",
            "care_level",
        ]
        .map(|name| columns.col(name));
        let config = shared.config;
        if config.professions.is_some() && !cols[3].is_present() {
            return Err(crate::cli::usage(
                "counting only some professions (--professions) needs a profession column in \
                 the visits (see --col); --professions all counts every visit",
            ));
        }
        if shared.needs_levels() && !cols[5].is_present() && shared.units.is_none() {
            return Err(crate::cli::usage(
                "--scope primary-care needs to know which units are primary care: a care_level \
                 column in the visits, or --units FILE with a care_level column",
            ));
        }
        Ok(VisitSink {
            shared,
            cols,
            units: Memo::default(),
            care_levels: Memo::default(),
            professions: Chosen::new(values::profession),
            contact_types: Chosen::new(values::contact_type),
            batch: Vec::with_capacity(BATCH),
            batch_keys: Vec::new(),
            lookups: PatientLookups::default(),
            tallies: Folds::new(config.period, shared.listing.units.len()),
            earliest: None,
            latest: None,
            outside: 0,
            excluded: Folds::new(config.period, Reason::ALL.len()),
        })
    }

    fn note_date(&mut self, date: Date) {
        self.earliest = Some(self.earliest.map_or(date, |d| d.min(date)));
        self.latest = Some(self.latest.map_or(date, |d| d.max(date)));
    }

    fn exclude(&mut self, reason: Reason, date: Date) {
        *self.excluded.at(reason as u32, date) += 1;
    }

    /// Why a row does not count, judged on its contact type and profession.
    fn filtered_out(&mut self, row: &Row<'_>) -> Result<Option<Reason>, RowError> {
        let [_, _, _, profession, contact_type, _] = self.cols;
        let config = self.shared.config;
        if contact_type.is_present() {
            let counted = match row.bytes(contact_type) {
                None => false,
                Some(raw) => {
                    self.contact_types
                        .contains(raw, contact_type, &config.contact_types)?
                }
            };
            if !counted {
                return Ok(Some(Reason::ContactType));
            }
        }
        if let Some(chosen) = &config.professions {
            let Some(raw) = row.bytes(profession) else {
                return Ok(Some(Reason::NoProfession));
            };
            if !self.professions.contains(raw, profession, chosen)? {
                return Ok(Some(Reason::Profession));
            }
        }
        Ok(None)
    }

    fn visit_unit(&mut self, raw: &[u8]) -> Result<VisitUnit, RowError> {
        let (col, shared) = (self.cols[2], self.shared);
        self.units.get_or_try_insert_with(raw, || {
            let name = utf8(raw, col)?;
            Ok(VisitUnit {
                listing_unit: shared.listing.units.get(name).unwrap_or(NOT_LISTING_UNIT),
                primary: shared
                    .units
                    .and_then(|units| units.care_level(name))
                    .map(|level| level == "primary"),
            })
        })
    }

    /// Primary care per the row's care_level, `None` when empty or absent.
    fn row_primary(&mut self, row: &Row<'_>) -> Result<Option<bool>, RowError> {
        let col = self.cols[5];
        let Some(raw) = row.bytes(col) else {
            return Ok(None);
        };
        self.care_levels
            .get_or_try_insert_with(raw, || Ok(values::care_level(utf8(raw, col)?) == "primary"))
            .map(Some)
    }

    /// Looks the waiting visits up: every slot is touched first, then each
    /// visit is matched to its patient's listing.
    fn flush_batch(&mut self) {
        let listing = self.shared.listing;
        for hash in self.batch.iter().filter_map(|waiting| waiting.hash) {
            listing.patients.touch(hash);
        }
        let batch = std::mem::take(&mut self.batch);
        for waiting in &batch {
            let key = &self.batch_keys[waiting.patient.0 as usize..waiting.patient.1 as usize];
            match self.lookups.listed(listing, waiting.hash, key) {
                None => self.exclude(Reason::NotListed, waiting.date),
                Some((patient, unit)) => self.count(patient, unit, waiting),
            }
        }
        self.batch = batch;
        self.batch.clear();
        self.batch_keys.clear();
    }

    /// Counts a visit of listed `patient` (listing unit `unit`).
    fn count(&mut self, patient: u32, unit: u32, visit: &Waiting) {
        let at_unit = visit.unit.listing_unit == unit;
        let primary = visit.row_primary.or(visit.unit.primary);
        let in_scope = match self.shared.config.scope {
            Scope::ListingUnit => at_unit,
            Scope::PrimaryCare => at_unit || primary == Some(true),
        };
        let unknown = self.shared.needs_levels() && !at_unit && primary.is_none();
        let tally = self.tallies.at(unit, visit.date);
        tally.visits += 1;
        tally.in_scope += u64::from(in_scope);
        tally.unknown_level += u64::from(unknown);
        if at_unit && let Some(latest) = self.shared.latest_at_unit.get(patient as usize) {
            latest.fetch_max(packed_date(visit.date), Ordering::Relaxed);
        }
    }
}

impl RowSink for VisitSink<'_> {
    fn row(&mut self, row: &Row<'_>) -> Result<(), RowError> {
        let [patient_col, date_col, unit_col, ..] = self.cols;
        let patient = row.required(patient_col)?;
        let date = row.moment(date_col)?.date;
        let raw_unit = row.required(unit_col)?;
        self.note_date(date);
        if let PeriodSpec::Fixed(window) = self.shared.config.period
            && !window.contains(date)
        {
            self.outside += 1;
            return Ok(());
        }
        if let Some(reason) = self.filtered_out(row)? {
            self.exclude(reason, date);
            return Ok(());
        }
        let unit = self.visit_unit(raw_unit)?;
        let row_primary = if self.shared.needs_levels() {
            self.row_primary(row)?
        } else {
            None
        };
        let hash = self.lookups.hash(patient);
        let start = self.batch_keys.len() as u32;
        if hash.is_some() {
            self.batch_keys.extend_from_slice(patient);
        }
        self.batch.push(Waiting {
            hash,
            patient: (start, self.batch_keys.len() as u32),
            unit,
            row_primary,
            date,
        });
        if self.batch.len() == BATCH {
            self.flush_batch();
        }
        Ok(())
    }

    fn flush(&mut self) {
        self.flush_batch();
    }
}

/// What a run found.
#[derive(Debug, Default)]
pub struct Outcome {
    /// `None` when the input had no dates and no period was given.
    pub window: Option<Window>,
    pub measures: Vec<Measure>,
    /// Counted visits of listed patients, in the period.
    pub counted: Tally,
    pub excluded: Excluded<Reason>,
}

/// Resolves the period and makes one measure per listing unit.
pub fn finish(shared: &Shared<'_>, sinks: Vec<VisitSink<'_>>) -> Result<Outcome> {
    let earliest = sinks.iter().filter_map(|s| s.earliest).min();
    let latest = sinks.iter().filter_map(|s| s.latest).max();
    let mut outcome = Outcome::default();
    let Some(window) = shared.config.period.window(earliest, latest)? else {
        return Ok(outcome);
    };
    outcome.window = Some(window);
    let listing = shared.listing;
    let mut per_unit = vec![Tally::default(); listing.units.len()];
    let mut outside = 0;
    for sink in &sinks {
        outside += sink.outside;
        sink.tallies.each(&window, |unit, tally, inside| {
            if inside {
                per_unit[unit as usize].add(tally);
                outcome.counted.add(tally);
            } else {
                outside += tally.visits;
            }
        });
        sink.excluded.each(&window, |reason, &n, inside| {
            let reason = if inside {
                Reason::ALL[reason as usize]
            } else {
                Reason::OutsideWindow
            };
            if n > 0 {
                *outcome.excluded.entry(reason).or_default() += n;
            }
        });
    }
    if outside > 0 {
        *outcome.excluded.entry(Reason::OutsideWindow).or_default() += outside;
    }
    let period = window.label();
    let measure = |indicator: &str, unit: usize, numerator: u64, denominator: u64| Measure {
        indicator: catalogue::get(indicator).expect("pv-coverage indicators are in the catalogue"),
        unit: listing.unit_name(unit as u32).to_string(),
        period: period.clone(),
        group: String::new(),
        numerator: numerator as f64,
        denominator: denominator as f64,
    };
    outcome.measures = match shared.config.ratio {
        Ratio::Coverage => per_unit
            .iter()
            .enumerate()
            .map(|(unit, tally)| measure("coverage", unit, tally.in_scope, tally.visits))
            .collect(),
        Ratio::VisitedShare => {
            let (listed, visited) = visited_per_unit(shared, &window);
            (0..listing.units.len())
                .map(|unit| measure("visited_share", unit, visited[unit], listed[unit]))
                .collect()
        }
    };
    Ok(outcome)
}

/// Per listing unit: listed patients, and those whose latest counted visit
/// at the unit is in the window (it cannot be after it).
fn visited_per_unit(shared: &Shared<'_>, window: &Window) -> (Vec<u64>, Vec<u64>) {
    let units = shared.listing.units.len();
    let (mut listed, mut visited) = (vec![0u64; units], vec![0u64; units]);
    let first = packed_date(window.first);
    for (patient, &unit) in shared.listing.patients.iter() {
        listed[unit as usize] += 1;
        let latest = shared.latest_at_unit[patient as usize].load(Ordering::Relaxed);
        if latest >= first {
            visited[unit as usize] += 1;
        }
    }
    (listed, visited)
}
