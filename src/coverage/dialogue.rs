//! Targeted health dialogues (riktade hälsosamtal, Jämtland): listed
//! patients turning 40, 50, 60 or 70 in the year, and whether they were
//! offered a dialogue and completed one.
//!
//! [`ActivitySink`] reads activity registrations: those of the year with an
//! offered or completed code mark their patient (an atomic per listed
//! patient, so threads need not merge anything). [`finish`] counts each
//! unit's cohort and its marked patients.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU8, Ordering};

use anyhow::Result;
use hashbrown::HashMap;

use super::{Chosen, Excluded};
use crate::catalogue::{self, Indicator};
use crate::input::{Col, ColumnSpec, Columns, Row, RowError, RowSink, Schema, values};
use crate::listing::{Listing, Person};
use crate::report::Measure;

/// The listing as `health-dialogue` reads it.
pub static DIALOGUE_LISTING: Schema = Schema {
    what: "listing",
    columns: &[
        ColumnSpec::required("patient_id").sensitive(),
        ColumnSpec::required("unit"),
        ColumnSpec::required("birth_date"),
    ],
};

pub static ACTIVITIES: Schema = Schema {
    what: "activities",
    columns: &[
        ColumnSpec::required("patient_id").sensitive(),
        ColumnSpec::required("date"),
        ColumnSpec::optional("unit"),
        ColumnSpec::required("code"),
    ],
};

/// What to compute.
#[derive(Clone, Debug)]
pub struct Config {
    pub year: i16,
    /// Ages turned in the year that make the cohort.
    pub ages: Vec<i16>,
    /// Codes (normalised with [`code`]) that mean offered; a completed
    /// dialogue also counts as offered.
    pub offered_codes: Vec<String>,
    pub completed_codes: Vec<String>,
    /// One group per cohort age instead of one per unit.
    pub by_age: bool,
}

/// An activity code as compared: trimmed, lowercased, inner runs of space,
/// `-` and `_` as one space (`DV-100` = `dv 100`).
pub fn code(raw: &str) -> Cow<'static, str> {
    Cow::Owned(values::fold_value(raw))
}

/// Why a valid registration did not count, in the order reasons are checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    OtherYear,
    OtherCode,
    NotListed,
    NoBirthDate,
    NotInCohort,
}

impl Reason {
    pub fn describe(self) -> &'static str {
        match self {
            Reason::OtherYear => "dated in another year",
            Reason::OtherCode => "another code",
            Reason::NotListed => "patient not in the listing",
            Reason::NoBirthDate => "patient without a birth date in the listing",
            Reason::NotInCohort => "patient not in the cohort",
        }
    }
}

const OFFERED: u8 = 1;
const COMPLETED: u8 = 2;

/// State shared by the reader threads.
pub struct Shared<'a> {
    config: &'a Config,
    listing: &'a Listing<Person>,
    /// Per listing patient id: [`OFFERED`] and [`COMPLETED`] bits.
    marks: Vec<AtomicU8>,
}

impl<'a> Shared<'a> {
    pub fn new(config: &'a Config, listing: &'a Listing<Person>) -> Shared<'a> {
        Shared {
            config,
            listing,
            marks: (0..listing.patients.id_bound())
                .map(|_| AtomicU8::new(0))
                .collect(),
        }
    }

    /// The cohort age of a listed patient, `Err` when not in the cohort.
    fn cohort_age(&self, person: &Person) -> Result<i16, Reason> {
        let born = person.birth_year().ok_or(Reason::NoBirthDate)?;
        let age = self.config.year - born;
        if self.config.ages.contains(&age) {
            Ok(age)
        } else {
            Err(Reason::NotInCohort)
        }
    }
}

/// One thread's fold of activity rows.
pub struct ActivitySink<'a> {
    shared: &'a Shared<'a>,
    cols: [Col; 3],
    offered: Chosen,
    completed: Chosen,
    counted: u64,
    excluded: HashMap<Reason, u64>,
}

impl<'a> ActivitySink<'a> {
    pub fn new(shared: &'a Shared<'a>, columns: &Columns) -> ActivitySink<'a> {
        ActivitySink {
            shared,
            cols: ["patient_id", "date", "code"].map(|name| columns.col(name)),
            offered: Chosen::new(code),
            completed: Chosen::new(code),
            counted: 0,
            excluded: HashMap::new(),
        }
    }

    /// The marks a registration sets, or why it sets none.
    fn marks(&mut self, row: &Row<'_>) -> Result<Result<u8, Reason>, RowError> {
        let [_, date_col, code_col] = self.cols;
        let config = self.shared.config;
        if row.moment(date_col)?.date.year() != config.year {
            return Ok(Err(Reason::OtherYear));
        }
        let Some(raw) = row.bytes(code_col) else {
            return Ok(Err(Reason::OtherCode));
        };
        if self
            .completed
            .contains(raw, code_col, &config.completed_codes)?
        {
            return Ok(Ok(OFFERED | COMPLETED));
        }
        if self
            .offered
            .contains(raw, code_col, &config.offered_codes)?
        {
            return Ok(Ok(OFFERED));
        }
        Ok(Err(Reason::OtherCode))
    }
}

impl RowSink for ActivitySink<'_> {
    fn row(&mut self, row: &Row<'_>) -> Result<(), RowError> {
        let patient = row.required(self.cols[0])?;
        let marked = self.marks(row)?.and_then(|marks| {
            let (id, person) = self
                .shared
                .listing
                .patients
                .get(patient)
                .ok_or(Reason::NotListed)?;
            self.shared.cohort_age(person)?;
            Ok((id, marks))
        });
        match marked {
            Ok((id, marks)) => {
                self.shared.marks[id as usize].fetch_or(marks, Ordering::Relaxed);
                self.counted += 1;
            }
            Err(reason) => *self.excluded.entry(reason).or_default() += 1,
        }
        Ok(())
    }
}

/// What a run found.
#[derive(Debug, Default)]
pub struct Outcome {
    pub measures: Vec<Measure>,
    /// Registrations that marked a cohort patient, and those that did not.
    pub counted: u64,
    pub excluded: Excluded<Reason>,
    /// Cohort size, offered and completed over every unit.
    pub cohort: u64,
    pub offered: u64,
    pub completed: u64,
    /// Listed patients without a birth date (in no cohort).
    pub no_birth_date: u64,
}

/// Counts each unit's cohort (per age with `by_age`) and its offered and
/// completed patients.
pub fn finish(shared: &Shared<'_>, sinks: Vec<ActivitySink<'_>>) -> Outcome {
    let mut outcome = Outcome::default();
    for sink in &sinks {
        outcome.counted += sink.counted;
        for (&reason, &n) in &sink.excluded {
            *outcome.excluded.entry(reason).or_default() += n;
        }
    }
    let config = shared.config;
    let groups = if config.by_age { config.ages.len() } else { 1 };
    let listing = shared.listing;
    // Per (unit, group): [cohort, offered, completed].
    let mut counts = vec![[0u64; 3]; listing.units.len() * groups];
    for (id, person) in listing.patients.iter() {
        let age = match shared.cohort_age(person) {
            Ok(age) => age,
            Err(Reason::NoBirthDate) => {
                outcome.no_birth_date += 1;
                continue;
            }
            Err(_) => continue,
        };
        let group = if config.by_age {
            config.ages.iter().position(|&a| a == age).unwrap_or(0)
        } else {
            0
        };
        let marks = shared.marks[id as usize].load(Ordering::Relaxed);
        let slot = &mut counts[person.unit as usize * groups + group];
        slot[0] += 1;
        slot[1] += u64::from(marks & OFFERED != 0);
        slot[2] += u64::from(marks & COMPLETED != 0);
    }
    let period = format!("{0:04}-01-01/{0:04}-12-31", config.year);
    let offered = indicator("health_dialogue_offered");
    let done = indicator("health_dialogue_done");
    for (i, &[cohort, offered_n, completed_n]) in counts.iter().enumerate() {
        outcome.cohort += cohort;
        outcome.offered += offered_n;
        outcome.completed += completed_n;
        let unit = listing.unit_name((i / groups) as u32);
        let group = if config.by_age {
            config.ages[i % groups].to_string()
        } else {
            String::new()
        };
        for (indicator, numerator) in [(offered, offered_n), (done, completed_n)] {
            outcome.measures.push(Measure {
                indicator,
                unit: unit.to_string(),
                period: period.clone(),
                group: group.clone(),
                numerator: numerator as f64,
                denominator: cohort as f64,
            });
        }
    }
    outcome
}

fn indicator(id: &str) -> &'static Indicator {
    catalogue::get(id).expect("pv-coverage indicators are in the catalogue")
}
