//! Medical assessment within 3 days (förstärkt vårdgaranti, 3:an), and
//! within 0 and 7 days.
//!
//! Calendar days with the contact day as day 0: wait = assessment_date −
//! contact_date, within k days when wait ≤ k. A contact counts in the
//! period of its contact date. Patient-chosen waits (PvV) are left out. A
//! contact not yet assessed counts as outside k days once the as-of day is
//! more than k days after the contact; until then it is pending and left
//! out.

use anyhow::Result;
use jiff::civil::Date;

use super::{DayCounts, Tally, no_groups};
use crate::catalogue;
use crate::input::{Col, ColumnSpec, Columns, Row, RowError, RowSink, Schema, values};
use crate::intern::{Memo, NameCache, Names, SharedNames};
use crate::period::{Granularity, PeriodSpec, Window, days_between};
use crate::report::Measure;

pub static ASSESSMENTS: Schema = Schema {
    what: "assessments",
    columns: &[
        ColumnSpec::optional("unit"),
        ColumnSpec::required("contact_date"),
        ColumnSpec::required("assessment_date"),
        ColumnSpec::optional("profession"),
        ColumnSpec::optional("patient_chosen_wait"),
    ],
};

/// The limits in calendar days and their indicators, shortest first.
pub const LIMITS: [(i32, &str); 3] = [
    (0, "assessment_0d"),
    (3, "assessment_3d"),
    (7, "assessment_7d"),
];

/// The group of contacts with an empty profession under `--by profession`.
pub const UNKNOWN_PROFESSION: &str = "unknown";

/// What to compute.
#[derive(Clone, Debug)]
pub struct AssessmentConfig {
    pub period: PeriodSpec,
    pub granularity: Granularity,
    /// One group per profession instead of one for all.
    pub by_profession: bool,
    /// The day unassessed contacts are judged on; `None`: the latest date
    /// in the input.
    pub as_of: Option<Date>,
}

/// One day's contacts: assessed, by wait (up to each limit in turn, then
/// longer); not yet assessed; with a patient-chosen wait.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DayContacts {
    waits: [u64; LIMITS.len() + 1],
    unassessed: u64,
    chosen_wait: u64,
}

impl Tally for DayContacts {
    fn add(&mut self, other: &Self) {
        for (mine, theirs) in self.waits.iter_mut().zip(other.waits) {
            *mine += theirs;
        }
        self.unassessed += other.unassessed;
        self.chosen_wait += other.chosen_wait;
    }
}

impl DayContacts {
    fn rows(&self) -> u64 {
        self.waits.iter().sum::<u64>() + self.unassessed + self.chosen_wait
    }

    /// The contacts judged against each limit when `age` days have passed
    /// since the contact day.
    fn judge(&self, age: i32) -> Judged {
        let assessed: u64 = self.waits.iter().sum();
        let mut judged = Judged {
            chosen_wait: self.chosen_wait,
            ..Judged::default()
        };
        for (k, &(limit, _)) in LIMITS.iter().enumerate() {
            judged.within[k] = self.waits[..=k].iter().sum();
            if age > limit {
                judged.counted[k] = assessed + self.unassessed;
                judged.unassessed_outside[k] = self.unassessed;
            } else {
                judged.counted[k] = assessed;
                judged.pending[k] = self.unassessed;
            }
        }
        judged
    }
}

/// Which wait bucket of [`DayContacts`] a wait of `days` falls in.
fn bucket(days: i32) -> usize {
    LIMITS
        .iter()
        .position(|&(limit, _)| days <= limit)
        .unwrap_or(LIMITS.len())
}

/// Contacts judged against each limit of [`LIMITS`] (same order).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Judged {
    /// Assessed within the limit: the numerator.
    pub within: [u64; LIMITS.len()],
    /// The denominator: assessed, plus unassessed whose limit has passed.
    pub counted: [u64; LIMITS.len()],
    /// Not yet assessed, limit not yet passed: left out.
    pub pending: [u64; LIMITS.len()],
    /// Not yet assessed, limit passed: counted as outside.
    pub unassessed_outside: [u64; LIMITS.len()],
    /// Patient-chosen waits: left out.
    pub chosen_wait: u64,
}

impl Tally for Judged {
    fn add(&mut self, other: &Self) {
        for k in 0..LIMITS.len() {
            self.within[k] += other.within[k];
            self.counted[k] += other.counted[k];
            self.pending[k] += other.pending[k];
            self.unassessed_outside[k] += other.unassessed_outside[k];
        }
        self.chosen_wait += other.chosen_wait;
    }
}

/// One reader thread's fold of assessment rows.
pub struct AssessmentSink<'a> {
    config: &'a AssessmentConfig,
    /// unit, contact_date, assessment_date, profession, patient_chosen_wait.
    cols: [Col; 5],
    units: NameCache<'a>,
    professions: NameCache<'a>,
    chosen_wait: Memo<bool>,
    counts: DayCounts<DayContacts>,
    /// The latest contact or assessment date: the default as-of day.
    latest: Option<Date>,
    /// Rows outside a fixed period, dropped as they are read.
    outside: u64,
    /// Rows whose assessment is dated before the contact (data errors).
    before_contact: u64,
}

impl<'a> AssessmentSink<'a> {
    /// Refuses `--by profession` without a profession column.
    pub fn new(
        config: &'a AssessmentConfig,
        units: &'a SharedNames,
        professions: &'a SharedNames,
        columns: &Columns,
    ) -> Result<AssessmentSink<'a>> {
        let cols = [
            "unit",
            "contact_date",
            "assessment_date",
            "profession",
            "patient_chosen_wait",
        ]
        .map(|name| columns.col(name));
        if config.by_profession && !cols[3].is_present() {
            return Err(crate::cli::usage(
                "--by profession needs a profession column in the assessments (see --col)",
            ));
        }
        Ok(AssessmentSink {
            config,
            cols,
            units: NameCache::verbatim(units),
            professions: NameCache::new(professions, values::profession),
            chosen_wait: Memo::default(),
            counts: DayCounts::default(),
            latest: None,
            outside: 0,
            before_contact: 0,
        })
    }

    fn group(&mut self, row: &Row<'_>) -> Result<u32, RowError> {
        if !self.config.by_profession {
            return Ok(0);
        }
        let col = self.cols[3];
        match row.bytes(col) {
            None => Ok(self.professions.id(UNKNOWN_PROFESSION)),
            Some(raw) => self
                .professions
                .id_bytes(raw)
                .map_err(|_| RowError::not_utf8(col)),
        }
    }

    fn chosen_wait(&mut self, row: &Row<'_>) -> Result<bool, RowError> {
        let col = self.cols[4];
        let Some(raw) = row.bytes(col) else {
            return Ok(false);
        };
        self.chosen_wait.get_or_try_insert_with(raw, || {
            std::str::from_utf8(raw)
                .ok()
                .and_then(values::flag)
                .ok_or_else(|| {
                    RowError::invalid(
                        col,
                        raw,
                        "a yes/no value",
                        "true/false, ja/nej, yes/no, 1/0 or empty",
                    )
                })
        })
    }

    fn note_date(&mut self, date: Date) {
        self.latest = Some(self.latest.map_or(date, |d| d.max(date)));
    }

    /// Detaches the counts from the shared state.
    pub fn into_folded(self) -> AssessmentFolded {
        AssessmentFolded {
            counts: self.counts,
            latest: self.latest,
            outside: self.outside,
            before_contact: self.before_contact,
            has_units: self.cols[0].is_present(),
        }
    }
}

impl RowSink for AssessmentSink<'_> {
    fn row(&mut self, row: &Row<'_>) -> Result<(), RowError> {
        let contact = row.moment(self.cols[1])?.date;
        let unit = super::unit_id(&mut self.units, row, self.cols[0])?;
        let assessed = row.optional_moment(self.cols[2])?.map(|m| m.date);
        let chosen_wait = self.chosen_wait(row)?;
        let group = self.group(row)?;
        if let Some(assessed) = assessed
            && assessed < contact
        {
            self.before_contact += 1;
            return Err(RowError::new(
                self.cols[2].index,
                format!("the assessment ({assessed}) is dated before the contact ({contact})"),
            ));
        }
        self.note_date(contact);
        if let Some(assessed) = assessed {
            self.note_date(assessed);
        }
        if let PeriodSpec::Fixed(window) = self.config.period
            && !window.contains(contact)
        {
            self.outside += 1;
            return Ok(());
        }
        let cell = self.counts.cell(unit, contact, group);
        match (chosen_wait, assessed) {
            (true, _) => cell.chosen_wait += 1,
            (false, None) => cell.unassessed += 1,
            (false, Some(assessed)) => cell.waits[bucket(days_between(contact, assessed))] += 1,
        }
        Ok(())
    }
}

/// What an [`AssessmentSink`] kept.
pub struct AssessmentFolded {
    counts: DayCounts<DayContacts>,
    latest: Option<Date>,
    outside: u64,
    before_contact: u64,
    has_units: bool,
}

/// What an assessment run found.
#[derive(Debug, Default)]
pub struct AssessmentResult {
    /// `None` when there were no contacts and no fixed period.
    pub window: Option<Window>,
    /// The day unassessed contacts were judged on.
    pub as_of: Option<Date>,
    pub measures: Vec<Measure>,
    pub has_units: bool,
    /// Contacts in the window, judged.
    pub in_window: Judged,
    /// Rows outside the window.
    pub outside: u64,
    /// Rows skipped for an assessment dated before the contact.
    pub before_contact: u64,
}

/// Merges the sinks' counts, judges each contact day as of the as-of day
/// and turns the counts into measures per unit, part of the window and
/// group. `professions` names the groups under `--by profession`.
pub fn finish(
    sinks: Vec<AssessmentFolded>,
    units: Names,
    professions: Names,
    config: &AssessmentConfig,
) -> Result<AssessmentResult> {
    let mut result = AssessmentResult {
        has_units: sinks.first().is_some_and(|s| s.has_units),
        ..AssessmentResult::default()
    };
    let mut counts = DayCounts::<DayContacts>::default();
    let mut latest = None;
    for sink in sinks {
        result.outside += sink.outside;
        result.before_contact += sink.before_contact;
        latest = latest.max(sink.latest);
        counts.merge(sink.counts);
    }
    let Some(window) = config.period.window(counts.earliest(), counts.latest())? else {
        return Ok(result);
    };
    let as_of = config.as_of.or(latest).unwrap_or(window.last);
    result.window = Some(window);
    result.as_of = Some(as_of);
    let (parts, beyond) = counts.into_parts(window, config.granularity, |day, contacts| {
        contacts.judge(days_between(day, as_of))
    });
    result.outside += beyond.rows();
    result.in_window = parts.total();
    let groups = if config.by_profession {
        professions
    } else {
        no_groups()
    };
    for cell in parts.cells(&units, &groups) {
        for (k, &(_, id)) in LIMITS.iter().enumerate() {
            result.measures.push(Measure {
                indicator: catalogue::get(id).expect("assessment indicators are in the catalogue"),
                unit: cell.unit.to_string(),
                period: cell.period.clone(),
                group: cell.group.to_string(),
                numerator: cell.counts.within[k] as f64,
                denominator: cell.counts.counted[k] as f64,
            });
        }
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_fall_into_buckets_by_calendar_day() {
        assert_eq!(bucket(0), 0);
        assert_eq!(bucket(1), 1);
        assert_eq!(bucket(3), 1);
        assert_eq!(bucket(4), 2);
        assert_eq!(bucket(7), 2);
        assert_eq!(bucket(8), 3);
        assert_eq!(bucket(400), 3);
    }

    #[test]
    fn unassessed_contacts_turn_outside_once_the_limit_has_passed() {
        // Waits 0, 3, 4, 9; two not assessed; one PvV.
        let day = DayContacts {
            waits: [1, 1, 1, 1],
            unassessed: 2,
            chosen_wait: 1,
        };
        let young = day.judge(3);
        assert_eq!(young.within, [1, 2, 3]);
        // 0 days have passed the same-day limit; 3 and 7 have not.
        assert_eq!(young.counted, [6, 4, 4]);
        assert_eq!(young.pending, [0, 2, 2]);
        assert_eq!(young.unassessed_outside, [2, 0, 0]);
        assert_eq!(young.chosen_wait, 1);
        let old = day.judge(8);
        assert_eq!(old.counted, [6, 6, 6]);
        assert_eq!(old.pending, [0, 0, 0]);
        assert_eq!(day.judge(0).pending, [2, 2, 2]);
        assert_eq!(day.rows(), 7);
    }
}
