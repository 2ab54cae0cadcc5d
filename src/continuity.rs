//! pv-coc's computation: continuity of care per unit and profession.
//!
//! [`VisitSink`] folds visit rows (on every reader thread) into compact
//! 16-byte records filed by patient range; [`finish`] takes the ranges in
//! parallel, groups each one's visits by patient with a counting sort that
//! stays in cache, computes the patients' indexes and pools them per unit
//! and profession with order-independent sums. No I/O happens here.

use std::borrow::Cow;
use std::collections::BTreeMap;

use hashbrown::HashMap;

use anyhow::Result;
use jiff::civil::Date;
use rayon::prelude::*;

use crate::catalogue::{self, Indicator};
use crate::dayfolds::DayFolds;
use crate::exact::ExactSum;
use crate::filed::Filed;
use crate::input::{Col, ColumnSpec, Columns, Locator, Row, RowError, RowSink, Schema, values};
use crate::intern::{FrozenKeys, KeyId, KeyTable, Memo, NameCache, Names, SharedNames, same_bytes};
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
    partitioning: Partitioning,
}

impl<'a> Shared<'a> {
    pub fn new(config: &'a Config, population: Population<'a>) -> Shared<'a> {
        Shared {
            config,
            partitioning: Partitioning::new(&population),
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
/// Visits per block of a partition: small, as every partition has one
/// block open on every thread.
const BLOCK_RECORDS: usize = 2048;
/// At most this many partitions of listed patients: each then holds about
/// 16 000 patients at 3.3 million, whose counters fit in the L2 cache.
const PARTITION_BITS: u32 = 8;

/// How counted visits are filed: by `(relation >> shift) & mask`. Listing
/// ids are slot positions spread evenly by hash, so their top bits cut
/// them into equal ranges; without a listing, relations are [`KeyTable`]
/// ids, whose low bits name their shard, a range of ids once frozen.
#[derive(Clone, Copy, Debug)]
struct Partitioning {
    shift: u32,
    mask: u32,
    count: usize,
}

impl Partitioning {
    fn new(population: &Population<'_>) -> Partitioning {
        match population {
            Population::Listed(listing) => {
                let last = (listing.patients.id_bound() as u32).saturating_sub(1);
                let shift = (u32::BITS - last.leading_zeros()).saturating_sub(PARTITION_BITS);
                Partitioning {
                    shift,
                    mask: u32::MAX,
                    count: (last >> shift) as usize + 1,
                }
            }
            Population::Visited => Partitioning {
                shift: 0,
                mask: crate::intern::SHARDS as u32 - 1,
                count: crate::intern::SHARDS,
            },
        }
    }

    #[inline]
    fn of(self, relation: u32) -> usize {
        ((relation >> self.shift) & self.mask) as usize
    }

    /// The dense ids (see [`finish`]) of `partition`'s relations.
    fn ids(
        self,
        partition: usize,
        population: &Population<'_>,
        relations: &FrozenKeys<u32>,
    ) -> std::ops::Range<u32> {
        match population {
            Population::Listed(listing) => {
                let bound = listing.patients.id_bound() as u64;
                let start = (partition as u64) << self.shift;
                let end = ((partition as u64 + 1) << self.shift).min(bound);
                start as u32..end as u32
            }
            Population::Visited => relations.shard_ids(partition),
        }
    }
}

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
    /// Counted visits, filed by [`Partitioning`].
    visits: Filed<Visit>,
    /// When there is a visit_id column, per counted visit (filed alike):
    /// its id and row, to drop repeats.
    visit_rows: Filed<Option<(KeyId, Locator)>>,
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
            visits: Filed::new(shared.partitioning.count, BLOCK_RECORDS),
            visit_rows: Filed::new(shared.partitioning.count, BLOCK_RECORDS),
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

    /// Counts a visit (with its visit_id and row, when the column exists).
    fn record(&mut self, visit: Visit, visit_row: Option<(KeyId, Locator)>) {
        let partition = self.shared.partitioning.of(visit.relation);
        self.visits.push(partition, visit);
        if self.cols[6].is_present() {
            self.visit_rows.push(partition, visit_row);
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
    visits: Filed<Visit>,
    visit_rows: Filed<Option<(KeyId, Locator)>>,
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
        partitioning,
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
    let rows_with_ids: u64 = sinks.iter().map(|s| s.rows_with_visit_id).sum();
    outcome.repeated_visit_ids = rows_with_ids - visit_ids.len() as u64;
    let parts = partitions_of(sinks, |p| partitioning.ids(p, &population, &relations));
    let grouping = Grouping {
        window: &window,
        visit_ids: &visit_ids,
        provider_ranks: &provider_ranks,
        dense: &dense,
    };
    let pooled = pool_partitions(
        parts,
        &grouping,
        &relation_info.unit_of,
        config,
        |relation, group, counts, values| {
            config.per_patient.then(|| PatientRow {
                unit: relation_info.unit_name(relation).to_string(),
                group: professions.name(group).to_string(),
                patient_id: String::from_utf8_lossy(&relation_info.patient_id(relation))
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
    *excluded.entry(Reason::OutsideWindow).or_default() += pooled.outside;
    if pooled.repeated > 0 {
        *excluded.entry(Reason::DuplicateVisitId).or_default() += pooled.repeated;
    }
    outcome.counted_visits = pooled.counted;
    outcome.excluded = excluded;
    let pools: PoolMap = pooled.pools.into_iter().collect();
    let mut patients = pooled.rows;
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
                for (id, &unit) in listing.patients.iter() {
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

    fn patient_id(&self, relation: u32) -> Cow<'_, [u8]> {
        match self.population {
            Population::Listed(listing) => listing.patients.key(relation),
            Population::Visited => {
                let key = self.keys.key(relation);
                Cow::Borrowed(&key[..key.len() - 5])
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

/// One partition's visits (from every sink, in sink order) and, when there
/// is a visit_id column, their ids and rows alike; `ids` are the dense ids
/// of its relations.
struct Partition {
    ids: std::ops::Range<u32>,
    visits: Vec<Vec<Visit>>,
    rows: Vec<Vec<Option<(KeyId, Locator)>>>,
}

/// The sinks' visits, partition by partition; `ids_of(p)` gives partition
/// `p`'s dense ids.
fn partitions_of(
    sinks: Vec<Folded>,
    ids_of: impl Fn(usize) -> std::ops::Range<u32>,
) -> Vec<Partition> {
    let count = sinks.first().map_or(0, |s| s.visits.partition_count());
    let mut parts: Vec<Partition> = (0..count)
        .map(|p| Partition {
            ids: ids_of(p),
            visits: Vec::new(),
            rows: Vec::new(),
        })
        .collect();
    for sink in sinks {
        let has_rows = !sink.visit_rows.is_empty();
        for (part, blocks) in parts.iter_mut().zip(sink.visits.into_partitions()) {
            part.visits.extend(blocks);
        }
        if has_rows {
            for (part, blocks) in parts.iter_mut().zip(sink.visit_rows.into_partitions()) {
                part.rows.extend(blocks);
            }
        }
    }
    parts
}

/// What decides which recorded visits stay (inside the window, first of
/// their visit_id) and how they are kept.
struct Grouping<'a, D> {
    window: &'a Window,
    visit_ids: &'a FrozenKeys<Locator>,
    provider_ranks: &'a [u32],
    dense: &'a D,
}

/// One thread's working space and results while pooling partitions.
#[derive(Default)]
struct Pooled {
    pools: HashMap<(u32, u32), Pool>,
    rows: Vec<PatientRow>,
    counted: u64,
    outside: u64,
    repeated: u64,
    /// Per visit of the partition: its relation's place in the partition,
    /// or [`DROPPED`].
    places: Vec<u32>,
    /// Start of each relation's visits in `slims` (one extra at the end).
    starts: Vec<u32>,
    next: Vec<u32>,
    slims: Vec<Slim>,
    visits: Vec<Slim>,
    providers: Vec<u32>,
}

const DROPPED: u32 = u32::MAX;

impl Pooled {
    fn merge(mut self, other: Pooled) -> Pooled {
        for (key, pool) in other.pools {
            self.pools.entry(key).or_default().merge(&pool);
        }
        self.rows.extend(other.rows);
        self.counted += other.counted;
        self.outside += other.outside;
        self.repeated += other.repeated;
        self
    }

    /// A counting sort of the partition's visits by relation into `slims`,
    /// keeping only the visits that stay.
    fn group<D: Fn(&Visit) -> u32>(&mut self, part: &Partition, grouping: &Grouping<'_, D>) {
        let first = part.ids.start;
        let relations = (part.ids.end - part.ids.start) as usize;
        self.starts.clear();
        self.starts.resize(relations + 1, 0);
        self.places.clear();
        let mut rows = part.rows.iter().flatten();
        for visit in part.visits.iter().flatten() {
            let repeated = rows.next().is_some_and(|row| {
                row.is_some_and(|(key, here)| {
                    *grouping.visit_ids.value(grouping.visit_ids.dense(key)) != here
                })
            });
            let place = if !grouping.window.contains(visit.date) {
                self.outside += 1;
                DROPPED
            } else if repeated {
                self.repeated += 1;
                DROPPED
            } else {
                let place = (grouping.dense)(visit) - first;
                self.starts[place as usize + 1] += 1;
                place
            };
            self.places.push(place);
        }
        for r in 1..self.starts.len() {
            self.starts[r] += self.starts[r - 1];
        }
        let kept = self.starts[relations] as usize;
        self.counted += kept as u64;
        self.next.clone_from(&self.starts);
        let empty = Slim {
            date: grouping.window.first,
            group_time: 0,
            provider_rank: 0,
        };
        self.slims.clear();
        self.slims.resize(kept, empty);
        for (visit, &place) in part.visits.iter().flatten().zip(&self.places) {
            if place != DROPPED {
                let at = &mut self.next[place as usize];
                self.slims[*at as usize] = Slim {
                    date: visit.date,
                    group_time: visit.group_time,
                    provider_rank: grouping.provider_ranks[visit.provider as usize],
                };
                *at += 1;
            }
        }
    }

    /// Computes the indexes of the grouped relation at `place` (dense id
    /// `relation`, at `unit`) per profession and pools them.
    fn pool_relation<F>(
        &mut self,
        place: usize,
        relation: u32,
        unit: u32,
        config: &Config,
        keep: &F,
    ) where
        F: Fn(u32, u32, PatientCounts, [Option<f64>; 5]) -> Option<PatientRow>,
    {
        let range = self.starts[place] as usize..self.starts[place + 1] as usize;
        if range.is_empty() {
            return;
        }
        self.visits.clear();
        self.visits.extend_from_slice(&self.slims[range]);
        self.visits.sort_unstable_by_key(|v| {
            (
                v.group_time >> TIME_BITS,
                v.date,
                v.group_time,
                v.provider_rank,
            )
        });
        for run in self
            .visits
            .chunk_by(|a, b| a.group_time >> TIME_BITS == b.group_time >> TIME_BITS)
        {
            let group = run[0].group_time >> TIME_BITS;
            self.providers.clear();
            self.providers.extend(run.iter().map(|v| v.provider_rank));
            let counts = PatientCounts::from_sequence(&mut self.providers);
            let pool = self.pools.entry((unit, group)).or_default();
            if let Some(values) = add_patient(pool, &counts, config) {
                self.rows.extend(keep(relation, group, counts, values));
            }
        }
    }
}

type PoolMap = BTreeMap<(u32, u32), Pool>;

/// Groups each partition's visits by relation, computes every patient's
/// indexes and pools them per unit and profession, partitions in parallel
/// (each freed once done); `keep` turns a patient into a per-patient row
/// if wanted.
fn pool_partitions<D, F>(
    parts: Vec<Partition>,
    grouping: &Grouping<'_, D>,
    unit_of: &[u32],
    config: &Config,
    keep: F,
) -> Pooled
where
    D: Fn(&Visit) -> u32 + Sync,
    F: Fn(u32, u32, PatientCounts, [Option<f64>; 5]) -> Option<PatientRow> + Sync,
{
    parts
        .into_par_iter()
        .with_max_len(1)
        .fold(Pooled::default, |mut pooled, part| {
            pooled.group(&part, grouping);
            for relation in part.ids.clone() {
                let place = (relation - part.ids.start) as usize;
                let unit = unit_of[relation as usize];
                pooled.pool_relation(place, relation, unit, config, &keep);
            }
            pooled
        })
        .reduce(Pooled::default, Pooled::merge)
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
