//! Phone accessibility (telefontillgänglighet, 0:an), the outcome
//! distribution of incoming calls, and the phone target payment.
//!
//! A call counts on the calendar day it was received. It is reached the
//! same day when its `contact_at` falls on that day; an answered call
//! without `contact_at` was reached when it was answered, so the same day; a
//! call-back without `contact_at` was not (yet) made.

use std::collections::BTreeMap;

use anyhow::Result;
use jiff::civil::Date;

use super::{DayCounts, Tally, no_groups};
use crate::catalogue::{self, Indicator};
use crate::input::{Col, ColumnSpec, Columns, Row, RowError, RowSink, Schema, values};
use crate::intern::{Memo, NameCache, Names, SharedNames};
use crate::listing::ListedCounts;
use crate::output::{IndicatorRow, Level};
use crate::period::{Granularity, Moment, PeriodSpec, Window};
use crate::report::{self, Measure};

pub static CALLS: Schema = Schema {
    what: "calls",
    columns: &[
        ColumnSpec::optional("unit"),
        ColumnSpec::required("received_at"),
        ColumnSpec::required("outcome"),
        ColumnSpec::optional("contact_at"),
    ],
};

/// What became of an incoming call (TeleQ/Flexitid vocabulary).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    /// Answered in the queue (besvarat).
    Answered,
    /// Given a call-back time (klart, återuppringning).
    Callback,
    /// Turned away, the queue was full (fyllt).
    Full,
    /// Outside phone hours (stängt).
    Closed,
    /// The caller hung up (avbrutet).
    Abandoned,
}

/// How outcome values may be written, for messages and help.
pub const OUTCOME_WORDS: &str = "answered/besvarat, callback/klart/återuppringning, \
full/fyllt, closed/stängt or abandoned/avbrutet";

impl Outcome {
    pub const ALL: [Outcome; 5] = [
        Outcome::Answered,
        Outcome::Callback,
        Outcome::Full,
        Outcome::Closed,
        Outcome::Abandoned,
    ];

    /// The outcomes in phone_same_day's denominator unless `--count` says
    /// otherwise: every call made within phone hours.
    pub const COUNTED_BY_DEFAULT: [Outcome; 4] = [
        Outcome::Answered,
        Outcome::Callback,
        Outcome::Full,
        Outcome::Abandoned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Answered => "answered",
            Outcome::Callback => "callback",
            Outcome::Full => "full",
            Outcome::Closed => "closed",
            Outcome::Abandoned => "abandoned",
        }
    }

    /// A Swedish or English outcome word; `None` for an unknown one.
    pub fn parse(raw: &str) -> Option<Outcome> {
        let canonical = values::outcome(raw)?;
        Outcome::ALL.into_iter().find(|o| o.as_str() == canonical)
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// What to compute.
#[derive(Clone, Debug)]
pub struct PhoneConfig {
    pub period: PeriodSpec,
    pub granularity: Granularity,
    /// Outcomes in phone_same_day's denominator.
    pub counted: Vec<Outcome>,
}

/// Calls per outcome: all of them, those reached the same day, and those
/// without a `contact_at`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallCounts {
    pub calls: [u64; 5],
    pub same_day: [u64; 5],
    pub no_contact: [u64; 5],
}

impl Tally for CallCounts {
    fn add(&mut self, other: &Self) {
        for i in 0..5 {
            self.calls[i] += other.calls[i];
            self.same_day[i] += other.same_day[i];
            self.no_contact[i] += other.no_contact[i];
        }
    }
}

impl CallCounts {
    pub fn of(&self, outcome: Outcome) -> u64 {
        self.calls[outcome.index()]
    }

    pub fn all(&self) -> u64 {
        self.calls.iter().sum()
    }

    /// Calls of `outcomes`, and those of them reached the same day.
    pub fn counted(&self, outcomes: &[Outcome]) -> (u64, u64) {
        outcomes.iter().fold((0, 0), |(calls, same), o| {
            (
                calls + self.calls[o.index()],
                same + self.same_day[o.index()],
            )
        })
    }

    pub fn without_contact(&self, outcome: Outcome) -> u64 {
        self.no_contact[outcome.index()]
    }
}

/// One reader thread's fold of call rows.
pub struct CallSink<'a> {
    config: &'a PhoneConfig,
    /// unit, received_at, outcome, contact_at.
    cols: [Col; 4],
    units: NameCache<'a>,
    outcomes: Memo<Outcome>,
    counts: DayCounts<CallCounts>,
    /// Rows outside a fixed period, dropped as they are read.
    outside: u64,
}

impl<'a> CallSink<'a> {
    pub fn new(config: &'a PhoneConfig, units: &'a SharedNames, columns: &Columns) -> CallSink<'a> {
        CallSink {
            config,
            cols: ["unit", "received_at", "outcome", "contact_at"].map(|name| columns.col(name)),
            units: NameCache::verbatim(units),
            outcomes: Memo::default(),
            counts: DayCounts::default(),
            outside: 0,
        }
    }

    fn outcome(&mut self, row: &Row<'_>) -> Result<Outcome, RowError> {
        let col = self.cols[2];
        let raw = row.required(col)?;
        self.outcomes.get_or_try_insert_with(raw, || {
            let text = std::str::from_utf8(raw).map_err(|_| RowError::not_utf8(col))?;
            Outcome::parse(text)
                .ok_or_else(|| RowError::invalid(col, raw, "a call outcome", OUTCOME_WORDS))
        })
    }

    /// Detaches the counts from the shared state.
    pub fn into_folded(self) -> PhoneFolded {
        PhoneFolded {
            counts: self.counts,
            outside: self.outside,
            has_units: self.cols[0].is_present(),
        }
    }
}

/// Whether `contact` is earlier than `received`; times are compared only
/// when both values carry one.
fn before(contact: Moment, received: Moment) -> bool {
    match (contact.second_of_day(), received.second_of_day()) {
        (Some(c), Some(r)) if contact.date == received.date => c < r,
        _ => contact.date < received.date,
    }
}

impl RowSink for CallSink<'_> {
    fn row(&mut self, row: &Row<'_>) -> Result<(), RowError> {
        let received = row.moment(self.cols[1])?;
        let unit = super::unit_id(&mut self.units, row, self.cols[0])?;
        let outcome = self.outcome(row)?;
        let contact = row.optional_moment(self.cols[3])?;
        if let Some(contact) = contact
            && before(contact, received)
        {
            return Err(RowError::new(
                self.cols[3].index,
                "the contact is earlier than the call was received (received_at)",
            ));
        }
        if let PeriodSpec::Fixed(window) = self.config.period
            && !window.contains(received.date)
        {
            self.outside += 1;
            return Ok(());
        }
        let same_day = match contact {
            Some(contact) => contact.date == received.date,
            None => outcome == Outcome::Answered,
        };
        let i = outcome.index();
        let cell = self.counts.cell(unit, received.date, 0);
        cell.calls[i] += 1;
        cell.same_day[i] += u64::from(same_day);
        cell.no_contact[i] += u64::from(contact.is_none());
        Ok(())
    }
}

/// What a [`CallSink`] kept.
pub struct PhoneFolded {
    counts: DayCounts<CallCounts>,
    outside: u64,
    has_units: bool,
}

/// What a phone run found.
#[derive(Debug, Default)]
pub struct PhoneResult {
    /// `None` when there were no calls and no fixed period.
    pub window: Option<Window>,
    pub measures: Vec<Measure>,
    /// Whether the calls had a unit column.
    pub has_units: bool,
    /// Calls in the window.
    pub in_window: CallCounts,
    /// Rows outside the window.
    pub outside: u64,
}

fn indicator(id: &str) -> &'static Indicator {
    catalogue::get(id).expect("pv-access's indicators are in the catalogue")
}

/// Merges the sinks' counts and turns them into phone_same_day and
/// phone_outcome measures per unit and part of the window.
pub fn finish(sinks: Vec<PhoneFolded>, units: Names, config: &PhoneConfig) -> Result<PhoneResult> {
    let mut result = PhoneResult {
        has_units: sinks.first().is_some_and(|s| s.has_units),
        ..PhoneResult::default()
    };
    let mut counts = DayCounts::<CallCounts>::default();
    for sink in sinks {
        result.outside += sink.outside;
        counts.merge(sink.counts);
    }
    let Some(window) = config.period.window(counts.earliest(), counts.latest())? else {
        return Ok(result);
    };
    result.window = Some(window);
    let (parts, beyond) = counts.into_parts(window, config.granularity, |_, c| c.clone());
    result.outside += beyond.all();
    result.in_window = parts.total();
    let (same_day, by_outcome) = (indicator("phone_same_day"), indicator("phone_outcome"));
    let groups = no_groups();
    for cell in parts.cells(&units, &groups) {
        let (counted, reached) = cell.counts.counted(&config.counted);
        let measure = |indicator, group: &str, numerator: u64, denominator: u64| Measure {
            indicator,
            unit: cell.unit.to_string(),
            period: cell.period.clone(),
            group: group.to_string(),
            numerator: numerator as f64,
            denominator: denominator as f64,
        };
        result
            .measures
            .push(measure(same_day, "", reached, counted));
        let all = cell.counts.all();
        for outcome in Outcome::ALL {
            result.measures.push(measure(
                by_outcome,
                outcome.as_str(),
                cell.counts.of(outcome),
                all,
            ));
        }
    }
    Ok(result)
}

/// The phone payment (Örebro: kronor per listed patient and year, paid
/// monthly): per unit and month, `kr_per_listed × listed / 12` when the
/// month's phone_same_day row met its target, half of that at the half
/// level; plus per unit the sum over each calendar year of `window`
/// (period = the year's part of the window). `rows` are monthly rows judged
/// without suppression.
pub fn payments(
    rows: &[IndicatorRow],
    listed: &ListedCounts,
    kr_per_listed: f64,
    window: Window,
) -> Vec<Measure> {
    let same_day = indicator("phone_same_day");
    let judged: Vec<IndicatorRow> = rows
        .iter()
        .filter(|row| row.indicator == same_day && row.level == Level::Unit)
        .cloned()
        .collect();
    let mut monthly = report::payments(
        &judged,
        indicator("phone_payment"),
        listed,
        kr_per_listed,
        1.0 / 12.0,
    );
    let mut yearly: BTreeMap<(String, String), Measure> = BTreeMap::new();
    for month in &monthly {
        let year = year_of(window, &month.period);
        let sum = yearly
            .entry((month.unit.clone(), year.clone()))
            .or_insert_with(|| Measure {
                period: year,
                numerator: 0.0,
                ..month.clone()
            });
        sum.numerator += month.numerator;
    }
    monthly.extend(yearly.into_values());
    monthly
}

/// The label of the calendar year of month `label` (`2024-03`), clipped to
/// `window`.
fn year_of(window: Window, label: &str) -> String {
    let year: i16 = label
        .get(..4)
        .and_then(|y| y.parse().ok())
        .unwrap_or(window.first.year());
    let first = Date::new(year, 1, 1).map_or(window.first, |d| d.max(window.first));
    let last = Date::new(year, 12, 31).map_or(window.last, |d| d.min(window.last));
    Window { first, last }.label()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn outcomes_in_both_languages() {
        assert_eq!(Outcome::parse("Besvarat"), Some(Outcome::Answered));
        assert_eq!(Outcome::parse("KLART"), Some(Outcome::Callback));
        assert_eq!(Outcome::parse("återuppringning"), Some(Outcome::Callback));
        assert_eq!(Outcome::parse("Fyllt"), Some(Outcome::Full));
        assert_eq!(Outcome::parse("stängt"), Some(Outcome::Closed));
        assert_eq!(Outcome::parse("Avbrutet"), Some(Outcome::Abandoned));
        assert_eq!(Outcome::parse("maybe"), None);
        for outcome in Outcome::ALL {
            assert_eq!(Outcome::parse(outcome.as_str()), Some(outcome));
        }
    }

    #[test]
    fn a_contact_before_the_call_is_caught_to_the_second() {
        let at = Moment::new;
        let day = date(2024, 3, 5);
        assert!(before(at(day, Some(59)), at(day, Some(60))));
        assert!(!before(at(day, Some(60)), at(day, Some(60))));
        assert!(!before(at(day, None), at(day, Some(60))));
        assert!(before(at(date(2024, 3, 4), Some(80_000)), at(day, Some(0))));
        assert!(!before(at(date(2024, 3, 6), Some(0)), at(day, None)));
    }

    #[test]
    fn years_are_clipped_to_the_window() {
        let window = Window::new(date(2023, 7, 15), date(2024, 12, 31)).unwrap();
        assert_eq!(year_of(window, "2023-09"), "2023-07-15/2023-12-31");
        assert_eq!(year_of(window, "2024-01"), "2024-01-01/2024-12-31");
    }
}
