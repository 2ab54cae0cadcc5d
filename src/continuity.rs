//! pv-coc's computation: continuity of care per unit and profession.
//!
//! [`VisitSink`] folds visit rows (on every reader thread) into compact
//! 16-byte records; [`finish`] groups them by patient with a counting sort,
//! computes each patient's indexes in parallel and pools them per unit and
//! profession with order-independent sums. No I/O happens here.

use std::collections::BTreeMap;

use hashbrown::HashMap;

use anyhow::Result;
use jiff::civil::Date;
use rayon::prelude::*;

use crate::catalogue::{self, Indicator};
use crate::dayfolds::DayFolds;
use crate::exact::ExactSum;
use crate::input::{Col, ColumnSpec, Columns, Locator, Row, RowError, RowSink, Schema, values};
use crate::intern::{
    FrozenKeys, KeyId, KeyTable, Memo, NameCache, Names, SharedNames, prefetch, same_bytes,
};
use crate::listing::{Listing, PatientLookups};
use crate::period::{PeriodSpec, Window};
use crate::report::Measure;

pub static VISITS: Schema = Schema {
    what: "visits",
    columns: &[
        ColumnSpec::required("patient_id").sensitive(),
        ColumnSpec::required("date"),
        ColumnSpec::optional("unit"),
        ColumnSpec::required("provider_id"),
        ColumnSpec::optional("profession"),
        ColumnSpec::optional("contact_type"),
        ColumnSpec::optional("visit_id"),
    ],
};

/// The continuity indexes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Index {
    Coc,
    Upc,
    Secon,
    Mmci,
    Hhi,
}

impl Index {
    pub const ALL: [Index; 5] = [
        Index::Coc,
        Index::Upc,
        Index::Secon,
        Index::Mmci,
        Index::Hhi,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Index::Coc => "coc",
            Index::Upc => "upc",
            Index::Secon => "secon",
            Index::Mmci => "mmci",
            Index::Hhi => "hhi",
        }
    }

    pub fn indicator(self) -> &'static Indicator {
        catalogue::get(self.id()).expect("every index is in the catalogue")
    }

    /// The index of one patient, `None` where it is undefined (N = 1).
    pub fn of(self, c: &PatientCounts) -> Option<f64> {
        let n = f64::from(c.visits);
        let defined_for_one = matches!(self, Index::Upc | Index::Hhi);
        if c.visits == 0 || (c.visits == 1 && !defined_for_one) {
            return None;
        }
        Some(match self {
            Index::Coc => (c.sum_of_squares as f64 - n) / (n * (n - 1.0)),
            Index::Upc => f64::from(c.most_to_one) / n,
            Index::Hhi => c.sum_of_squares as f64 / (n * n),
            Index::Secon => f64::from(c.same_as_previous) / (n - 1.0),
            Index::Mmci => (1.0 - f64::from(c.providers) / (n + 0.1)) / (1.0 - 1.0 / (n + 0.1)),
        })
    }
}

/// What the indexes need to know about one patient's visits to one profession.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PatientCounts {
    /// N.
    pub visits: u32,
    /// P, distinct providers.
    pub providers: u32,
    /// Σ n_j².
    pub sum_of_squares: u64,
    /// max n_j.
    pub most_to_one: u32,
    /// Consecutive pairs (in visit order) with the same provider.
    pub same_as_previous: u32,
}

impl PatientCounts {
    /// Counts from providers listed in visit order. The slice is sorted in
    /// place once the visit order has been used, to count per provider
    /// without allocating.
    pub fn from_sequence(providers_in_order: &mut [u32]) -> PatientCounts {
        let same_as_previous = providers_in_order
            .windows(2)
            .filter(|pair| pair[0] == pair[1])
            .count() as u32;
        let sorted = providers_in_order;
        sorted.sort_unstable();
        let mut counts = PatientCounts {
            visits: sorted.len() as u32,
            same_as_previous,
            ..Default::default()
        };
        for run in sorted.chunk_by(|a, b| a == b) {
            let n = run.len() as u32;
            counts.providers += 1;
            counts.sum_of_squares += u64::from(n) * u64::from(n);
            counts.most_to_one = counts.most_to_one.max(n);
        }
        counts
    }
}

/// What to compute.
#[derive(Clone, Debug)]
pub struct Config {
    pub period: PeriodSpec,
    pub min_visits: u32,
    /// Canonical profession names to report; `None` for all.
    pub professions: Option<Vec<String>>,
    /// Canonical contact types that count.
    pub contact_types: Vec<String>,
    pub indexes: Vec<Index>,
    pub per_patient: bool,
}

/// Why a valid visit row did not count, in the order reasons are checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    OutsideWindow,
    ContactType,
    NoProfession,
    Profession,
    NotListed,
    OtherUnit,
    EmptyProvider,
    DuplicateVisitId,
}

impl Reason {
    pub const ALL: [Reason; 8] = [
        Reason::OutsideWindow,
        Reason::ContactType,
        Reason::NoProfession,
        Reason::Profession,
        Reason::NotListed,
        Reason::OtherUnit,
        Reason::EmptyProvider,
        Reason::DuplicateVisitId,
    ];

    pub fn describe(self) -> &'static str {
        match self {
            Reason::OutsideWindow => "outside the period",
            Reason::ContactType => "contact type not counted",
            Reason::NoProfession => "empty profession",
            Reason::Profession => "profession not selected",
            Reason::NotListed => "patient not in the listing",
            Reason::OtherUnit => "at another unit than the patient's listing",
            Reason::EmptyProvider => "empty provider",
            Reason::DuplicateVisitId => "repeated visit_id (counted once)",
        }
    }
}

/// Whose visits count and at which unit.
pub enum Population<'a> {
    /// Patients listed at the unit (SKR); visits elsewhere do not count.
    Listed(&'a Listing),
    /// No listing: each visit counts at its own unit.
    Visited,
}

/// State shared by the reader threads of one run.
pub struct Shared<'a> {
    config: &'a Config,
    population: Population<'a>,
    professions: SharedNames,
    providers: SharedNames,
    units: SharedNames,
    /// Without a listing: (patient, unit) pairs, keyed by patient id bytes,
    /// 0xFF (never in UTF-8) and the unit id.
    relations: KeyTable<u32>,
    visit_ids: KeyTable<Locator>,
}

impl<'a> Shared<'a> {
    pub fn new(config: &'a Config, population: Population<'a>) -> Shared<'a> {
        Shared {
            config,
            population,
            professions: SharedNames::new(),
            providers: SharedNames::new(),
            units: SharedNames::new(),
            relations: KeyTable::new(),
            visit_ids: KeyTable::new(),
        }
    }
}

/// Profession ids use the top 15 bits of [`Visit::group_time`], the time
/// of day (seconds + 1, 0 = no time) the low 17.
const TIME_BITS: u32 = 17;
const MAX_PROFESSIONS: u32 = 1 << (32 - TIME_BITS);
const BLOCK_RECORDS: usize = 1 << 16;

/// One counted visit.
#[derive(Clone, Copy, Debug)]
struct Visit {
    /// Listing patient id, or a [`KeyId`] into `relations` until frozen.
    relation: u32,
    provider: u32,
    date: Date,
    group_time: u32,
}

/// One thread's fold of visit rows.
pub struct VisitSink<'a> {
    shared: &'a Shared<'a>,
    cols: [Col; 7],
    /// Raw profession → its id, or `None` when not selected.
    professions: Memo<Option<u32>>,
    providers: NameCache<'a>,
    units: NameCache<'a>,
    counted_contact: Memo<bool>,
    /// Visits waiting for their listing lookup, done a batch at a time so
    /// the cache misses overlap; their patient ids are in `batch_keys`.
    batch: Vec<Waiting>,
    batch_keys: Vec<u8>,
    lookups: PatientLookups,
    key: Vec<u8>,
    /// Counted visits in blocks, so grouping can free them as it goes.
    visits: Vec<Vec<Visit>>,
    /// When there is a visit_id column, per counted visit: its id and row,
    /// to drop repeats.
    visit_rows: Vec<Option<(KeyId, Locator)>>,
    latest: Option<Date>,
    /// Rows before this date are outside every window the run can end with.
    floor: Option<Date>,
    outside: u64,
    /// Excluded rows by reason and date: a row excluded for another reason
    /// counts as outside the period once the period is known.
    excluded: DayFolds<u64>,
    rows_with_visit_id: u64,
}

impl<'a> VisitSink<'a> {
    pub fn new(shared: &'a Shared<'a>, columns: &Columns) -> Result<VisitSink<'a>> {
        let cols = [
            "patient_id",
            "date",
            "unit",
            "provider_id",
            "profession",
            "contact_type",
            "visit_id",
        ]
        .map(|name| columns.col(name));
        if shared.config.professions.is_some() && !cols[4].is_present() {
            return Err(crate::cli::usage(
                "--profession needs a profession column in the visits (see --col)",
            ));
        }
        Ok(VisitSink {
            shared,
            cols,
            professions: Memo::default(),
            providers: NameCache::verbatim(&shared.providers),
            units: NameCache::verbatim(&shared.units),
            counted_contact: Memo::default(),
            batch: Vec::with_capacity(BATCH),
            batch_keys: Vec::new(),
            lookups: PatientLookups::default(),
            key: Vec::new(),
            visits: Vec::new(),
            visit_rows: Vec::new(),
            latest: None,
            floor: None,
            outside: 0,
            excluded: DayFolds::new(Reason::ALL.len()),
            rows_with_visit_id: 0,
        })
    }

    fn note_date(&mut self, date: Date) {
        if self.latest.is_some_and(|latest| latest >= date) {
            return;
        }
        self.latest = Some(date);
        self.floor = match self.shared.config.period {
            PeriodSpec::Fixed(window) => Some(window.first),
            PeriodSpec::EndingAtLatest { months } => {
                Window::months_ending(date, months).ok().map(|w| w.first)
            }
            PeriodSpec::InputSpan => None,
        };
    }

    fn surely_outside(&self, date: Date) -> bool {
        match self.shared.config.period {
            PeriodSpec::Fixed(window) => !window.contains(date),
            PeriodSpec::EndingAtLatest { .. } | PeriodSpec::InputSpan => {
                self.floor.is_some_and(|floor| date < floor)
            }
        }
    }

    fn push(&mut self, visit: Visit) {
        match self.visits.last_mut() {
            Some(block) if block.len() < BLOCK_RECORDS => block.push(visit),
            _ => {
                let mut block = Vec::with_capacity(BLOCK_RECORDS);
                block.push(visit);
                self.visits.push(block);
            }
        }
    }

    /// Counts a visit (with its visit_id and row, when the column exists).
    fn record(&mut self, visit: Visit, visit_row: Option<(KeyId, Locator)>) {
        self.push(visit);
        if self.cols[6].is_present() {
            self.visit_rows.push(visit_row);
        }
    }

    fn exclude(&mut self, reason: Reason, date: Date) {
        *self.excluded.at(reason as u32, date) += 1;
    }

    /// Looks the waiting visits up in the listing: all slots (and the
    /// providers' memo slots) are touched first, then each visit is matched
    /// to its patient's listed unit. Rows in a sink are valid UTF-8 (the
    /// reader checked), so nothing here can fail.
    fn flush_batch(&mut self, listing: &Listing) {
        let text = |range: (u32, u32)| range.0 as usize..range.1 as usize;
        for waiting in &self.batch {
            if let Some(hash) = waiting.hash {
                listing.patients.touch(hash);
            }
            if let Some(provider) = waiting.provider {
                self.providers.touch(&self.batch_keys[text(provider)]);
            }
        }
        let batch = std::mem::take(&mut self.batch);
        for waiting in &batch {
            let patient = &self.batch_keys[text(waiting.patient)];
            let outcome = match self.lookups.listed(listing, waiting.hash, patient) {
                None => Err(Reason::NotListed),
                Some((_, listed))
                    if waiting.unit.is_some_and(|unit| {
                        !same_bytes(
                            &self.batch_keys[text(unit)],
                            listing.unit_name(listed).as_bytes(),
                        )
                    }) =>
                {
                    Err(Reason::OtherUnit)
                }
                Some((id, _)) => match waiting.provider {
                    None => Err(Reason::EmptyProvider),
                    Some(provider) => {
                        let provider = self.providers.id_valid(&self.batch_keys[text(provider)]);
                        let visit = Visit {
                            relation: id,
                            provider,
                            date: waiting.date,
                            group_time: waiting.group_time,
                        };
                        Ok((visit, waiting.visit_row))
                    }
                },
            };
            match outcome {
                Err(reason) => self.exclude(reason, waiting.date),
                Ok((visit, visit_row)) => self.record(visit, visit_row),
            }
        }
        self.batch = batch;
        self.batch.clear();
        self.batch_keys.clear();
    }

    /// Appends `bytes` to the batch's text and returns its range.
    fn keep_text(&mut self, bytes: &[u8]) -> (u32, u32) {
        let start = self.batch_keys.len() as u32;
        self.batch_keys.extend_from_slice(bytes);
        (start, self.batch_keys.len() as u32)
    }

    /// The relation (patient at a unit) of a visit when there is no listing.
    fn visited_relation(&mut self, patient: &[u8], unit: Option<&[u8]>) -> Result<u32, RowError> {
        let unit = match unit {
            Some(raw) => self
                .units
                .id_bytes(raw)
                .map_err(|_| RowError::not_utf8(self.cols[2]))?,
            None => self.units.id(crate::output::ALL_UNITS),
        };
        self.key.clear();
        self.key.extend_from_slice(patient);
        self.key.push(0xFF);
        self.key.extend_from_slice(&unit.to_le_bytes());
        let (id, ()) = self.shared.relations.upsert(&self.key, || unit, |_, _| ());
        Ok(id.raw())
    }

    /// The profession's id, or why the visit does not count.
    fn profession(&mut self, raw: Option<&[u8]>) -> Result<Result<u32, Reason>, RowError> {
        let col = self.cols[4];
        let Some(raw) = raw else {
            return Ok(if col.is_present() {
                Err(Reason::NoProfession)
            } else {
                Ok(self.shared.professions.id(""))
            });
        };
        let (config, names) = (self.shared.config, &self.shared.professions);
        let id = self.professions.get_or_try_insert_with(raw, || {
            let canonical = values::profession(utf8(raw, col)?);
            let selected = config
                .professions
                .as_ref()
                .is_none_or(|list| list.iter().any(|p| *p == canonical));
            Ok(selected.then(|| names.id(&canonical)))
        })?;
        Ok(id.ok_or(Reason::Profession))
    }

    fn counted_contact(&mut self, raw: Option<&[u8]>) -> Result<bool, RowError> {
        let col = self.cols[5];
        if !col.is_present() {
            return Ok(true);
        }
        let Some(raw) = raw else { return Ok(false) };
        let config = self.shared.config;
        self.counted_contact.get_or_try_insert_with(raw, || {
            let canonical = values::contact_type(utf8(raw, col)?);
            Ok(config.contact_types.iter().any(|c| *c == canonical))
        })
    }

    /// The profession group of a row that passes the contact and
    /// profession filters, or why it does not count.
    fn classify(&mut self, row: &Row<'_>) -> Result<Result<u32, Reason>, RowError> {
        let [_, _, _, _, profession, contact_type, _] = self.cols;
        if !self.counted_contact(row.bytes(contact_type))? {
            return Ok(Err(Reason::ContactType));
        }
        let group = match self.profession(row.bytes(profession))? {
            Ok(group) => group,
            Err(reason) => return Ok(Err(reason)),
        };
        if group >= MAX_PROFESSIONS {
            return Err(RowError::new(
                profession.index,
                format!("more than {MAX_PROFESSIONS} distinct professions"),
            ));
        }
        Ok(Ok(group))
    }
}

fn utf8(raw: &[u8], col: Col) -> Result<&str, RowError> {
    std::str::from_utf8(raw).map_err(|_| RowError::not_utf8(col))
}

/// What a [`VisitSink`] kept, detached from the shared state so that the
/// state can be consumed by [`finish`].
pub struct Folded {
    visits: Vec<Vec<Visit>>,
    visit_rows: Vec<Option<(KeyId, Locator)>>,
    latest: Option<Date>,
    outside: u64,
    excluded: DayFolds<u64>,
    rows_with_visit_id: u64,
    has_units: bool,
    has_professions: bool,
}

impl VisitSink<'_> {
    pub fn into_folded(self) -> Folded {
        Folded {
            visits: self.visits,
            visit_rows: self.visit_rows,
            latest: self.latest,
            outside: self.outside,
            excluded: self.excluded,
            rows_with_visit_id: self.rows_with_visit_id,
            has_units: self.cols[2].is_present(),
            has_professions: self.cols[4].is_present(),
        }
    }
}

impl RowSink for VisitSink<'_> {
    fn row(&mut self, row: &Row<'_>) -> Result<(), RowError> {
        let [
            patient_col,
            date_col,
            unit_col,
            provider_col,
            ..,
            visit_id_col,
        ] = self.cols;
        let patient = row.required(patient_col)?;
        let moment = row.moment(date_col)?;
        let unit = if unit_col.is_present() {
            Some(row.required(unit_col)?)
        } else {
            None
        };
        self.note_date(moment.date);
        let visit_row = row.bytes(visit_id_col).map(|id| {
            self.rows_with_visit_id += 1;
            let here = row.locator;
            (
                self.shared
                    .visit_ids
                    .upsert(id, || here, |first, _| *first = (*first).min(here))
                    .0,
                here,
            )
        });
        if self.surely_outside(moment.date) {
            self.outside += 1;
            return Ok(());
        }
        let group = match self.classify(row)? {
            Ok(group) => group,
            Err(reason) => {
                self.exclude(reason, moment.date);
                return Ok(());
            }
        };
        let provider = row.bytes(provider_col);
        let group_time = (group << TIME_BITS) | moment.time_code();
        match self.shared.population {
            Population::Listed(listing) => {
                let hash = self.lookups.hash(patient);
                let waiting = Waiting {
                    hash,
                    patient: match hash {
                        Some(_) => self.keep_text(patient),
                        None => (0, 0),
                    },
                    unit: unit.map(|unit| self.keep_text(unit)),
                    provider: provider.map(|provider| self.keep_text(provider)),
                    date: moment.date,
                    group_time,
                    visit_row,
                };
                self.batch.push(waiting);
                if self.batch.len() == BATCH {
                    self.flush_batch(listing);
                }
            }
            Population::Visited => {
                let relation = self.visited_relation(patient, unit)?;
                match provider {
                    None => self.exclude(Reason::EmptyProvider, moment.date),
                    Some(raw) => {
                        let provider = self
                            .providers
                            .id_bytes(raw)
                            .map_err(|_| RowError::not_utf8(provider_col))?;
                        let visit = Visit {
                            relation,
                            provider,
                            date: moment.date,
                            group_time,
                        };
                        self.record(visit, visit_row);
                    }
                }
            }
        }
        Ok(())
    }

    fn flush(&mut self) {
        if let Population::Listed(listing) = self.shared.population {
            self.flush_batch(listing);
        }
    }
}

/// A visit waiting for its listing lookup; its texts are ranges in the
/// batch's byte buffer.
struct Waiting {
    /// `None` when the patient is the previous waiting visit's (then
    /// `patient` is empty).
    hash: Option<u64>,
    patient: (u32, u32),
    /// The visit's unit; `None` without a unit column.
    unit: Option<(u32, u32)>,
    /// `None` when empty.
    provider: Option<(u32, u32)>,
    date: Date,
    group_time: u32,
    visit_row: Option<(KeyId, Locator)>,
}

/// Visits looked up together.
const BATCH: usize = 32;

/// One patient's result, for `--per-patient`.
#[derive(Clone, Debug, PartialEq)]
pub struct PatientRow {
    pub unit: String,
    pub group: String,
    pub patient_id: String,
    pub counts: PatientCounts,
    /// Per requested index (config order), the patient's value.
    pub values: Vec<Option<f64>>,
}

/// What a run found.
#[derive(Debug, Default)]
pub struct Outcome {
    pub window: Option<Window>,
    pub measures: Vec<Measure>,
    pub patients: Vec<PatientRow>,
    /// Whether the visits had a unit / profession column.
    pub has_units: bool,
    pub has_professions: bool,
    /// Visits that counted, and rows that did not, by reason.
    pub counted_visits: u64,
    pub excluded: BTreeMap<Reason, u64>,
    /// Patient × profession pairs with visits, eligible ones, and those
    /// left out of COC/SECON/MMCI for having one visit.
    pub patient_groups: u64,
    pub eligible: u64,
    pub single_visit: u64,
    /// Rows whose visit_id an earlier row had.
    pub repeated_visit_ids: u64,
}

/// Per unit and profession: sums and counts per index.
#[derive(Clone, Debug, Default)]
struct Pool {
    sums: [ExactSum; 5],
    counts: [u64; 5],
    patient_groups: u64,
    eligible: u64,
    single_visit: u64,
}

impl Pool {
    fn merge(&mut self, other: &Pool) {
        for i in 0..5 {
            self.sums[i] += other.sums[i];
            self.counts[i] += other.counts[i];
        }
        self.patient_groups += other.patient_groups;
        self.eligible += other.eligible;
        self.single_visit += other.single_visit;
    }
}

/// A grouped visit: the patient is implied by its position.
#[derive(Clone, Copy, Debug)]
struct Slim {
    date: Date,
    group_time: u32,
    provider_rank: u32,
}

/// Groups the sinks' visits by patient, computes the indexes and pools them.
pub fn finish(sinks: Vec<Folded>, shared: Shared<'_>) -> Result<Outcome> {
    let config = shared.config;
    let has_units = sinks.first().is_some_and(|s| s.has_units);
    let has_professions = sinks.first().is_some_and(|s| s.has_professions);
    let latest = sinks.iter().filter_map(|s| s.latest).max();
    let mut outcome = Outcome {
        has_units,
        has_professions,
        ..Outcome::default()
    };
    let Some(window) = config.period.window(None, latest)? else {
        return Ok(outcome);
    };
    outcome.window = Some(window);

    let Shared {
        population,
        professions,
        providers,
        units,
        relations,
        visit_ids,
        ..
    } = shared;
    let (professions, provider_ranks, units) = (
        professions.into_names(),
        providers.into_names().ranks(),
        units.into_names(),
    );
    let visit_ids = visit_ids.freeze();
    let relations = relations.freeze();
    let relation_info = Relations::new(&population, &relations, &units);

    let mut excluded: BTreeMap<Reason, u64> = BTreeMap::new();
    for sink in &sinks {
        *excluded.entry(Reason::OutsideWindow).or_default() += sink.outside;
        sink.excluded.each(|reason, date, &n| {
            let reason = if window.contains(date) {
                Reason::ALL[reason as usize]
            } else {
                Reason::OutsideWindow
            };
            *excluded.entry(reason).or_default() += n;
        });
    }
    let is_dense = matches!(population, Population::Listed(_));
    let dense = |v: &Visit| {
        if is_dense {
            v.relation
        } else {
            relations.dense(KeyId::from_raw(v.relation))
        }
    };
    let grouped = group_by_relation(
        &sinks,
        relation_info.unit_of.len(),
        &window,
        &visit_ids,
        &provider_ranks,
        dense,
        &mut excluded,
    );
    let rows_with_ids: u64 = sinks.iter().map(|s| s.rows_with_visit_id).sum();
    outcome.repeated_visit_ids = rows_with_ids - visit_ids.len() as u64;
    outcome.counted_visits = grouped.slims.len() as u64;
    outcome.excluded = excluded;

    let pools = pool_patients(
        &grouped,
        &relation_info.unit_of,
        config,
        |relation, group, counts, values| {
            config.per_patient.then(|| PatientRow {
                unit: relation_info.unit_name(relation).to_string(),
                group: professions.name(group).to_string(),
                patient_id: String::from_utf8_lossy(relation_info.patient_id(relation))
                    .into_owned(),
                counts,
                values: config
                    .indexes
                    .iter()
                    .map(|&index| values[index as usize])
                    .collect(),
            })
        },
    );
    let (pools, mut patients) = pools;
    patients.sort_by(|a, b| {
        (&a.unit, &a.group, &a.patient_id).cmp(&(&b.unit, &b.group, &b.patient_id))
    });
    outcome.patients = patients;

    let period = window.label();
    for ((unit, group), pool) in pools {
        outcome.patient_groups += pool.patient_groups;
        outcome.eligible += pool.eligible;
        outcome.single_visit += pool.single_visit;
        for &index in &config.indexes {
            let i = index as usize;
            outcome.measures.push(Measure {
                indicator: index.indicator(),
                unit: relation_info.unit_names[unit as usize].clone(),
                period: period.clone(),
                group: professions.name(group).to_string(),
                numerator: pool.sums[i].value(),
                denominator: pool.counts[i] as f64,
            });
        }
    }
    Ok(outcome)
}

/// Per dense relation (patient, or patient at a unit) its unit, the unit
/// names, and its patient id.
struct Relations<'a> {
    unit_of: Vec<u32>,
    unit_names: Vec<String>,
    population: &'a Population<'a>,
    keys: &'a FrozenKeys<u32>,
}

impl<'a> Relations<'a> {
    fn new(
        population: &'a Population<'a>,
        keys: &'a FrozenKeys<u32>,
        units: &Names,
    ) -> Relations<'a> {
        let (unit_of, unit_names) = match population {
            Population::Listed(listing) => {
                let mut unit_of = vec![0u32; listing.patients.id_bound()];
                for (id, _, &unit) in listing.patients.iter() {
                    unit_of[id as usize] = unit;
                }
                (unit_of, names_of(&listing.units))
            }
            Population::Visited => {
                let mut unit_of = vec![0u32; keys.len()];
                for (id, _, &unit) in keys.iter() {
                    unit_of[id as usize] = unit;
                }
                (unit_of, names_of(units))
            }
        };
        Relations {
            unit_of,
            unit_names,
            population,
            keys,
        }
    }

    fn patient_id(&self, relation: u32) -> &[u8] {
        match self.population {
            Population::Listed(listing) => listing.patients.key(relation),
            Population::Visited => {
                let key = self.keys.key(relation);
                &key[..key.len() - 5]
            }
        }
    }

    fn unit_name(&self, relation: u32) -> &str {
        &self.unit_names[self.unit_of[relation as usize] as usize]
    }
}

fn names_of(names: &Names) -> Vec<String> {
    (0..names.len() as u32)
        .map(|u| names.name(u).to_string())
        .collect()
}

struct Grouped {
    /// Start of each relation's visits in `slims` (one extra at the end).
    starts: Vec<u32>,
    slims: Vec<Slim>,
}

/// A counting sort of the counted visits by relation, keeping only visits
/// inside the window and the first row of each visit_id. Every thread owns
/// an equal range of relations (ids are spread by hash, so the ranges hold
/// about equal numbers of visits): it counts its range over all visits,
/// then, once the offsets are known, writes its range's part of the output.
fn group_by_relation(
    sinks: &[Folded],
    relation_count: usize,
    window: &Window,
    visit_ids: &FrozenKeys<Locator>,
    provider_ranks: &[u32],
    dense: impl Fn(&Visit) -> u32 + Sync,
    excluded: &mut BTreeMap<Reason, u64>,
) -> Grouped {
    let repeats: Vec<Option<Vec<bool>>> = sinks
        .iter()
        .map(|sink| repeated_rows(sink, visit_ids))
        .collect();
    let tasks = rayon::current_num_threads().max(1);
    let ranges: Vec<std::ops::Range<usize>> = (0..tasks)
        .map(|t| relation_count * t / tasks..relation_count * (t + 1) / tasks)
        .filter(|range| !range.is_empty())
        .collect();
    let kept = Kept {
        sinks,
        repeats: &repeats,
        window,
        dense: &dense,
    };
    let counts: Vec<Vec<u32>> = ranges
        .par_iter()
        .map(|range| {
            let mut counts = vec![0u32; range.len()];
            kept.each_in_late(
                range,
                &mut counts,
                |counts, relation| prefetch(&counts[relation - range.start]),
                |counts, relation, _| counts[relation - range.start] += 1,
            );
            counts
        })
        .collect();
    let mut starts = Vec::with_capacity(relation_count + 1);
    starts.push(0u32);
    for count in counts.iter().flatten() {
        starts.push(starts[starts.len() - 1] + count);
    }
    let total = starts[relation_count] as usize;
    count_dropped(sinks, window, total, excluded);

    let empty = Slim {
        date: window.first,
        group_time: 0,
        provider_rank: 0,
    };
    // Filled on every thread and backed by huge pages: the scatter below
    // writes all over it.
    let mut slims = crate::intern::random_access_vec(total, || empty);
    let mut parts = Vec::new();
    let mut rest: &mut [Slim] = &mut slims;
    for range in &ranges {
        let (part, tail) = rest.split_at_mut((starts[range.end] - starts[range.start]) as usize);
        parts.push((range.clone(), part));
        rest = tail;
    }
    parts.into_par_iter().for_each(|(range, part)| {
        let base = starts[range.start];
        let next: Vec<u32> = starts[range.clone()].iter().map(|&s| s - base).collect();
        kept.each_in_late(
            &range,
            &mut (next, part),
            |(next, _), relation| prefetch(&next[relation - range.start]),
            |(next, part), relation, visit| {
                let slot = &mut next[relation - range.start];
                part[*slot as usize] = Slim {
                    date: visit.date,
                    group_time: visit.group_time,
                    provider_rank: provider_ranks[visit.provider as usize],
                };
                *slot += 1;
            },
        );
    });
    Grouped { starts, slims }
}

/// How many visits [`Kept::each_in_late`] looks ahead.
const LOOKAHEAD: usize = 16;

/// A fixed ring that hands items back [`LOOKAHEAD`] pushes late.
struct Lookahead<T> {
    ring: [Option<T>; LOOKAHEAD],
    next: usize,
}

impl<T: Copy> Lookahead<T> {
    fn new() -> Lookahead<T> {
        Lookahead {
            ring: [None; LOOKAHEAD],
            next: 0,
        }
    }

    /// Stores `item` and returns the one pushed [`LOOKAHEAD`] pushes ago.
    fn push(&mut self, item: T) -> Option<T> {
        let late = self.ring[self.next].replace(item);
        self.next = (self.next + 1) % LOOKAHEAD;
        late
    }

    /// The items still held, oldest first.
    fn drain(self) -> impl Iterator<Item = T> {
        let next = self.next;
        self.ring
            .into_iter()
            .cycle()
            .skip(next)
            .take(LOOKAHEAD)
            .flatten()
    }
}

/// The recorded visits that stay: inside the window, first of their visit_id.
struct Kept<'a, D> {
    sinks: &'a [Folded],
    repeats: &'a [Option<Vec<bool>>],
    window: &'a Window,
    dense: &'a D,
}

impl<D: Fn(&Visit) -> u32> Kept<'_, D> {
    /// Calls `each(relation, visit)` for the kept visits of relations in `range`.
    fn each_in(&self, range: &std::ops::Range<usize>, mut each: impl FnMut(usize, &Visit)) {
        for (s, sink) in self.sinks.iter().enumerate() {
            for (i, visit) in sink.visits.iter().flatten().enumerate() {
                let relation = (self.dense)(visit) as usize;
                if range.contains(&relation)
                    && self.window.contains(visit.date)
                    && !self.repeats[s].as_ref().is_some_and(|r| r[i])
                {
                    each(relation, visit);
                }
            }
        }
    }

    /// Like [`Kept::each_in`] with state, but each visit is first shown to
    /// `ahead` (to prefetch what `each` will touch) and reaches `each`
    /// [`LOOKAHEAD`] visits later: the cache misses of consecutive
    /// patients, whose counters lie far apart, then overlap.
    fn each_in_late<S>(
        &self,
        range: &std::ops::Range<usize>,
        state: &mut S,
        ahead: impl Fn(&S, usize),
        mut each: impl FnMut(&mut S, usize, &Visit),
    ) {
        let mut late = Lookahead::new();
        self.each_in(range, |relation, visit| {
            ahead(state, relation);
            if let Some((relation, visit)) = late.push((relation, *visit)) {
                each(state, relation, &visit);
            }
        });
        for (relation, visit) in late.drain() {
            each(state, relation, &visit);
        }
    }
}

/// Counts the recorded visits that fell out: outside the final window, or
/// repeating an earlier visit_id (`kept` were kept).
fn count_dropped(
    sinks: &[Folded],
    window: &Window,
    kept: usize,
    excluded: &mut BTreeMap<Reason, u64>,
) {
    let recorded: usize = sinks
        .iter()
        .map(|sink| sink.visits.iter().map(Vec::len).sum::<usize>())
        .sum();
    let outside: usize = sinks
        .par_iter()
        .map(|sink| {
            sink.visits
                .iter()
                .flatten()
                .filter(|v| !window.contains(v.date))
                .count()
        })
        .sum();
    let repeated = recorded - kept - outside;
    *excluded.entry(Reason::OutsideWindow).or_default() += outside as u64;
    if repeated > 0 {
        *excluded.entry(Reason::DuplicateVisitId).or_default() += repeated as u64;
    }
}

/// Per counted visit of `sink`, whether an earlier row had its visit_id.
fn repeated_rows(sink: &Folded, visit_ids: &FrozenKeys<Locator>) -> Option<Vec<bool>> {
    if sink.visit_rows.is_empty() {
        return None;
    }
    Some(
        sink.visit_rows
            .iter()
            .map(|entry| {
                entry.is_some_and(|(key, here)| *visit_ids.value(visit_ids.dense(key)) != here)
            })
            .collect(),
    )
}

type PoolMap = BTreeMap<(u32, u32), Pool>;

/// Computes every patient's indexes (in parallel) and pools them per unit
/// and profession; `keep` turns a patient into a per-patient row if wanted.
fn pool_patients<F>(
    grouped: &Grouped,
    unit_of: &[u32],
    config: &Config,
    keep: F,
) -> (PoolMap, Vec<PatientRow>)
where
    F: Fn(u32, u32, PatientCounts, [Option<f64>; 5]) -> Option<PatientRow> + Sync,
{
    let relation_count = unit_of.len();
    let parts = (rayon::current_num_threads() * 8).max(1);
    let step = relation_count.div_ceil(parts).max(1);
    (0..relation_count.div_ceil(step))
        .into_par_iter()
        .map(|part| {
            let mut pools: HashMap<(u32, u32), Pool> = HashMap::new();
            let mut rows = Vec::new();
            let mut visits: Vec<Slim> = Vec::new();
            let mut providers: Vec<u32> = Vec::new();
            let end = ((part + 1) * step).min(relation_count);
            for (relation, &unit) in unit_of.iter().enumerate().take(end).skip(part * step) {
                let range =
                    grouped.starts[relation] as usize..grouped.starts[relation + 1] as usize;
                if range.is_empty() {
                    continue;
                }
                visits.clear();
                visits.extend_from_slice(&grouped.slims[range]);
                visits.sort_unstable_by_key(|v| {
                    (
                        v.group_time >> TIME_BITS,
                        v.date,
                        v.group_time,
                        v.provider_rank,
                    )
                });
                for run in
                    visits.chunk_by(|a, b| a.group_time >> TIME_BITS == b.group_time >> TIME_BITS)
                {
                    let group = run[0].group_time >> TIME_BITS;
                    providers.clear();
                    providers.extend(run.iter().map(|v| v.provider_rank));
                    let counts = PatientCounts::from_sequence(&mut providers);
                    let pool = pools.entry((unit, group)).or_default();
                    if let Some(values) = add_patient(pool, &counts, config) {
                        rows.extend(keep(relation as u32, group, counts, values));
                    }
                }
            }
            (pools.into_iter().collect::<PoolMap>(), rows)
        })
        .reduce(
            || (PoolMap::new(), Vec::new()),
            |(mut pools, mut rows), (other_pools, other_rows)| {
                for (key, pool) in other_pools {
                    pools.entry(key).or_default().merge(&pool);
                }
                rows.extend(other_rows);
                (pools, rows)
            },
        )
}

/// Adds one patient's values to `pool`; returns them if the patient is eligible.
/// Values are indexed by [`Index`] as usize.
fn add_patient(
    pool: &mut Pool,
    counts: &PatientCounts,
    config: &Config,
) -> Option<[Option<f64>; 5]> {
    pool.patient_groups += 1;
    if counts.visits < config.min_visits {
        return None;
    }
    pool.eligible += 1;
    if counts.visits == 1 {
        pool.single_visit += 1;
    }
    let mut values = [None; 5];
    for &index in &config.indexes {
        let value = index.of(counts);
        if let Some(value) = value {
            pool.sums[index as usize].add(value);
            pool.counts[index as usize] += 1;
        }
        values[index as usize] = value;
    }
    Some(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Provider letters in visit order → counts.
    fn counts(sequence: &str) -> PatientCounts {
        let mut providers: Vec<u32> = sequence.bytes().map(u32::from).collect();
        PatientCounts::from_sequence(&mut providers)
    }

    fn value(index: Index, sequence: &str) -> f64 {
        index.of(&counts(sequence)).unwrap()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 5e-5
    }

    #[test]
    fn lookahead_hands_items_back_late_and_in_order() {
        for count in [
            0,
            1,
            LOOKAHEAD - 1,
            LOOKAHEAD,
            LOOKAHEAD + 1,
            3 * LOOKAHEAD + 5,
        ] {
            let mut late = Lookahead::new();
            let mut out: Vec<usize> = (0..count).filter_map(|i| late.push(i)).collect();
            assert_eq!(out.len(), count.saturating_sub(LOOKAHEAD));
            out.extend(late.drain());
            assert_eq!(out, (0..count).collect::<Vec<_>>());
        }
    }

    #[test]
    fn coc_reference_values_from_the_spec() {
        for (sequence, expected) in [
            ("AAB", 0.3333),
            ("AAAB", 0.5),
            ("AABB", 0.3333),
            ("AABC", 0.1667),
            ("AAAABBBC", 0.32143),
            ("AAAAAAAABB", 0.64444),
            ("ABCDE", 0.0),
        ] {
            assert!(
                close(value(Index::Coc, sequence), expected),
                "{sequence}: {}",
                value(Index::Coc, sequence)
            );
        }
    }

    #[test]
    fn other_reference_values() {
        assert!(close(value(Index::Upc, "AABBAACAAB"), 0.6));
        assert!(close(value(Index::Mmci, "AAB"), 0.5238));
        assert!(close(value(Index::Hhi, "AAB"), 5.0 / 9.0));
        // AABBAACAAB: pairs AA, AB, BB, BA, AA, AC, CA, AA, AB → 4 of 9 the same.
        assert!(close(value(Index::Secon, "AABBAACAAB"), 4.0 / 9.0));
    }

    #[test]
    fn one_visit_is_undefined_for_coc_secon_mmci_and_one_for_upc_hhi() {
        let one = counts("A");
        assert_eq!(Index::Coc.of(&one), None);
        assert_eq!(Index::Secon.of(&one), None);
        assert_eq!(Index::Mmci.of(&one), None);
        assert_eq!(Index::Upc.of(&one), Some(1.0));
        assert_eq!(Index::Hhi.of(&one), Some(1.0));
    }

    #[test]
    fn all_to_one_provider_is_perfect_continuity() {
        for index in Index::ALL {
            assert_eq!(index.of(&counts("AAAA")), Some(1.0), "{index:?}");
        }
    }

    #[test]
    fn two_providers_tied() {
        let tied = counts("ABAB");
        assert!(close(Index::Coc.of(&tied).unwrap(), 1.0 / 3.0));
        assert_eq!(Index::Upc.of(&tied), Some(0.5));
        assert_eq!(Index::Secon.of(&tied), Some(0.0));
        assert_eq!(Index::Hhi.of(&tied), Some(0.5));
    }

    #[test]
    fn every_visit_to_a_different_provider() {
        let spread = counts("ABCDE");
        assert_eq!(Index::Coc.of(&spread), Some(0.0));
        assert_eq!(Index::Secon.of(&spread), Some(0.0));
        // (1 - 5/5.1) / (1 - 1/5.1): small, not zero.
        assert!(close(Index::Mmci.of(&spread).unwrap(), 0.02439));
        assert_eq!(Index::Upc.of(&spread), Some(0.2));
    }
}
