//! pv-far's computation: registrations of chosen KVÅ codes (FaR = DV200,
//! qualified tobacco cessation support = DV113, or any set) per 1000
//! listed patients, per unit and period part, and what reaching the rate
//! earns.
//!
//! [`ActivitySink`] folds activity rows on every reader thread into
//! registrations per (unit, day), and, when patients are counted instead,
//! the latest registration day per (unit, part, patient) in a shared key
//! table: memory grows with distinct keys, not rows. [`finish`] resolves
//! the period once the input's span is known and makes one measure per
//! unit and part. No I/O happens here.

use std::collections::BTreeMap;

use anyhow::Result;
use hashbrown::HashMap;
use jiff::ToSpan;
use jiff::civil::Date;

use crate::catalogue::{self, Definition, Indicator};
use crate::input::{Col, ColumnSpec, Columns, Row, RowError, RowSink, Schema};
use crate::intern::{KeyTable, Memo, NameCache, Names, SharedNames};
use crate::listing::ListedCounts;
use crate::period::{Granularity, PeriodSpec, Window, days_between};
use crate::report::{self, Measure, Report, Targets};

pub static ACTIVITIES: Schema = Schema {
    what: "activities",
    columns: &[
        ColumnSpec::optional("patient_id").sensitive(),
        ColumnSpec::required("date"),
        ColumnSpec::required("unit"),
        ColumnSpec::required("code"),
    ],
};

/// A rate: the KVÅ codes that count, its indicator, and the indicator of
/// the payment earned by reaching it.
#[derive(Clone, Debug)]
pub struct Rate {
    /// Upper-case codes; a registration's code matches ignoring case and
    /// surrounding space.
    pub codes: Vec<String>,
    pub indicator: &'static Indicator,
    pub payment: &'static Indicator,
}

impl Rate {
    fn from_catalogue(code: &str, indicator: &str, payment: &str) -> Rate {
        let get = |id| catalogue::get(id).expect("pv-far's indicators are in the catalogue");
        Rate {
            codes: vec![code.to_string()],
            indicator: get(indicator),
            payment: get(payment),
        }
    }

    /// FaR, fysisk aktivitet på recept: KVÅ DV200.
    pub fn far() -> Rate {
        Rate::from_catalogue("DV200", "far_per_1000", "far_payment")
    }

    /// Qualified tobacco cessation support: KVÅ DV113.
    pub fn tobacco() -> Rate {
        Rate::from_catalogue(
            "DV113",
            "tobacco_qualified_per_1000",
            "tobacco_qualified_payment",
        )
    }

    /// A rate of any codes, defined at run time as indicator `id`; its
    /// payment is `<id>_payment`, where a trailing `_per_1000` of `id` is
    /// left out (`dv112_per_1000` pays `dv112_payment`).
    pub fn custom(codes: &[String], id: &str) -> Result<Rate, String> {
        let mut codes: Vec<String> = codes
            .iter()
            .map(|c| c.trim().to_ascii_uppercase())
            .collect();
        if codes.iter().any(String::is_empty) {
            return Err("--code: a code is empty".to_string());
        }
        codes.sort();
        codes.dedup();
        let list = codes.join(", ");
        let either = codes.join(" or ");
        let source = format!(
            "defined on the command line: {}",
            codes
                .iter()
                .map(|c| format!("--code {c}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        let rate = catalogue::define(
            Definition {
                id: id.to_string(),
                name_sv: format!("KVÅ {list} per 1000 listade"),
                name_en: format!("KVÅ {list} per 1000 listed"),
                source: source.clone(),
                definition: format!(
                    "Registrations of KVÅ {either} in the period at the unit / listed patients x \
                     1000. No default target: give one with --target."
                ),
            },
            catalogue::get("far_per_1000").expect("far_per_1000 is in the catalogue"),
        )
        .map_err(|e| format!("--name: {e}"))?;
        let stem = id.strip_suffix("_per_1000").unwrap_or(id);
        let payment = catalogue::define(
            Definition {
                id: format!("{stem}_payment"),
                name_sv: format!("Ersättning KVÅ {list}"),
                name_en: format!("Payment for KVÅ {list}"),
                source,
                definition: format!(
                    "Kronor earned: listed x amount per listed when the unit reaches the {id} \
                     target (half the amount at the half level, where one is set)."
                ),
            },
            catalogue::get("far_payment").expect("far_payment is in the catalogue"),
        )
        .map_err(|e| format!("--name {id} names its payment {stem}_payment, but {e}"))?;
        Ok(Rate {
            codes,
            indicator: rate,
            payment,
        })
    }

    fn matches(&self, code: &[u8]) -> bool {
        self.codes
            .iter()
            .any(|c| c.as_bytes().eq_ignore_ascii_case(code))
    }
}

/// What to compute.
#[derive(Clone, Debug)]
pub struct Config {
    pub rate: Rate,
    pub period: PeriodSpec,
    pub granularity: Granularity,
    /// Count patients (once per unit and part) instead of registrations.
    pub distinct_patients: bool,
    /// Scale each part's count to a year (see [`Annualization`]).
    pub annualize: bool,
}

/// How a part of the period is scaled to a year: × `year_days` / `days`,
/// where `days` is the part's length and `year_days` the length of the
/// year that ends on the part's last day (after the same date a year
/// earlier): 365, or 366 when it holds a 29 February. A calendar year, or
/// any 12 calendar months, gets exactly 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Annualization {
    pub days: i32,
    pub year_days: i32,
}

impl Annualization {
    pub fn of(part: Window) -> Result<Annualization> {
        // Not Window::months_ending: its clamping would start the year
        // ending 2024-02-28 on 2023-02-28, one day too early.
        let year_before = part.last.checked_sub(1.year())?;
        Ok(Annualization {
            days: days_between(part.first, part.last) + 1,
            year_days: days_between(year_before, part.last),
        })
    }

    pub fn factor(self) -> f64 {
        f64::from(self.year_days) / f64::from(self.days)
    }
}

/// Months since year 0: the part key of a registration with `--by month`.
fn month_number(date: Date) -> i32 {
    i32::from(date.year()) * 12 + i32::from(date.month()) - 1
}

/// State shared by the reader threads of one run.
pub struct Shared<'a> {
    config: &'a Config,
    units: SharedNames,
    /// With distinct patients: (unit, part key, patient id) → the latest
    /// day the patient had a registration of the rate's codes there.
    patients: KeyTable<Date>,
}

impl<'a> Shared<'a> {
    pub fn new(config: &'a Config) -> Shared<'a> {
        Shared {
            config,
            units: SharedNames::new(),
            patients: KeyTable::new(),
        }
    }
}

/// One thread's fold of activity rows.
pub struct ActivitySink<'a> {
    shared: &'a Shared<'a>,
    /// patient_id, date, unit, code.
    cols: [Col; 4],
    units: NameCache<'a>,
    /// Raw code → whether it is one of the rate's codes.
    selected: Memo<bool>,
    folded: Folded,
    key: Vec<u8>,
}

/// What an [`ActivitySink`] kept, detached from the shared state.
#[derive(Debug, Default)]
pub struct Folded {
    /// Registrations of the rate's codes per (unit, day), in or out of
    /// the period.
    registrations: HashMap<(u32, Date), u64>,
    earliest: Option<Date>,
    latest: Option<Date>,
    without_code: u64,
    /// Rows with a code the rate does not count.
    other_code: u64,
}

impl<'a> ActivitySink<'a> {
    pub fn new(shared: &'a Shared<'a>, columns: &Columns) -> Result<ActivitySink<'a>> {
        let cols = ["patient_id", "date", "unit", "code"].map(|name| columns.col(name));
        if shared.config.distinct_patients && !cols[0].is_present() {
            return Err(crate::cli::usage(
                "--distinct-patients needs a patient_id column in the activities (see --col)",
            ));
        }
        Ok(ActivitySink {
            shared,
            cols,
            units: NameCache::verbatim(&shared.units),
            selected: Memo::default(),
            folded: Folded::default(),
            key: Vec::new(),
        })
    }

    pub fn into_folded(self) -> Folded {
        self.folded
    }

    fn note_date(&mut self, date: Date) {
        let folded = &mut self.folded;
        folded.earliest = Some(folded.earliest.map_or(date, |d| d.min(date)));
        folded.latest = Some(folded.latest.map_or(date, |d| d.max(date)));
    }

    /// Remembers that `patient` had a registration at `unit` on `date`.
    fn note_patient(&mut self, unit: u32, date: Date, patient: &[u8]) {
        let config = self.shared.config;
        if let PeriodSpec::Fixed(window) = config.period
            && !window.contains(date)
        {
            return;
        }
        let part = match config.granularity {
            Granularity::Whole => 0,
            Granularity::Month => month_number(date),
        };
        self.key.clear();
        self.key.extend_from_slice(&unit.to_le_bytes());
        self.key.extend_from_slice(&part.to_le_bytes());
        self.key.extend_from_slice(patient);
        self.shared.patients.upsert(
            &self.key,
            || date,
            |latest, _| *latest = (*latest).max(date),
        );
    }
}

impl RowSink for ActivitySink<'_> {
    fn row(&mut self, row: &Row<'_>) -> Result<(), RowError> {
        let [patient_col, date_col, unit_col, code_col] = self.cols;
        // Every row is checked alike, whatever its code, so which rows are
        // invalid does not depend on the rate asked for.
        let date = row.moment(date_col)?.date;
        let unit_raw = row.required(unit_col)?;
        let patient = if self.shared.config.distinct_patients {
            Some(row.required(patient_col)?)
        } else {
            None
        };
        let unit = self
            .units
            .id_bytes(unit_raw)
            .map_err(|_| RowError::not_utf8(unit_col))?;
        self.note_date(date);
        let Some(code) = row.bytes(code_col) else {
            self.folded.without_code += 1;
            return Ok(());
        };
        let rate = &self.shared.config.rate;
        if !self
            .selected
            .get_or_insert_with(code, || rate.matches(code))
        {
            self.folded.other_code += 1;
            return Ok(());
        }
        *self.folded.registrations.entry((unit, date)).or_default() += 1;
        if let Some(patient) = patient {
            self.note_patient(unit, date, patient);
        }
        Ok(())
    }
}

/// The result of a run.
#[derive(Debug, Default)]
pub struct Outcome {
    /// `None` when the input had no rows and no period was given.
    pub window: Option<Window>,
    /// One per reported unit and part, in no particular order.
    pub measures: Vec<Measure>,
    /// Registrations of the rate's codes anywhere in the input.
    pub registrations: u64,
    /// Of those, in the period.
    pub in_period: u64,
    pub without_code: u64,
    /// Rows with a code the rate does not count.
    pub other_code: u64,
    /// With distinct patients: patients counted, summed over units and parts.
    pub patients: Option<u64>,
    /// Units with registrations in the period that have no listed count,
    /// with those registrations; their rows have an empty value.
    pub unlisted: Vec<(String, u64)>,
    /// With `--annualize`: each part's label and scaling.
    pub annualized: Vec<(String, Annualization)>,
}

/// Counts per (unit id, part index).
type Counts = HashMap<(u32, usize), u64>;

impl Folded {
    fn merge(folded: Vec<Folded>) -> Folded {
        let mut all = Folded::default();
        for fold in folded {
            for (key, n) in fold.registrations {
                *all.registrations.entry(key).or_default() += n;
            }
            all.earliest = [all.earliest, fold.earliest].into_iter().flatten().min();
            all.latest = all.latest.max(fold.latest);
            all.without_code += fold.without_code;
            all.other_code += fold.other_code;
        }
        all
    }
}

/// Merges the folds, resolves the period and makes the measures: every
/// listed unit gets one per part (0 when it has no registrations), and so
/// does every unit with registrations in the period that is not listed
/// (denominator 0, so no value).
pub fn finish(folded: Vec<Folded>, shared: Shared<'_>, listed: &ListedCounts) -> Result<Outcome> {
    let Shared {
        config,
        units,
        patients,
    } = shared;
    let all = Folded::merge(folded);
    let mut outcome = Outcome {
        registrations: all.registrations.values().sum(),
        without_code: all.without_code,
        other_code: all.other_code,
        ..Outcome::default()
    };
    let Some(window) = config.period.window(all.earliest, all.latest)? else {
        return Ok(outcome);
    };
    outcome.window = Some(window);
    let parts = window.parts(config.granularity);
    let units = units.into_names();
    let mut counted = registrations_by_part(&all.registrations, window, config.granularity);
    outcome.in_period = counted.values().sum();
    outcome.unlisted = unlisted(&counted, &units, listed);
    if config.distinct_patients {
        counted = count_patients(patients, &parts, config.granularity);
        outcome.patients = Some(counted.values().sum());
    }
    if config.annualize {
        for part in &parts {
            let label = part.period_label(config.granularity);
            outcome.annualized.push((label, Annualization::of(*part)?));
        }
    }
    outcome.measures = measures(config, &units, &counted, &parts, &outcome, listed);
    Ok(outcome)
}

/// Registrations in the window per (unit, part).
fn registrations_by_part(
    registrations: &HashMap<(u32, Date), u64>,
    window: Window,
    granularity: Granularity,
) -> Counts {
    let mut counts = Counts::new();
    for (&(unit, date), &n) in registrations {
        if !window.contains(date) {
            continue;
        }
        let part = match granularity {
            Granularity::Whole => 0,
            Granularity::Month => (month_number(date) - month_number(window.first)) as usize,
        };
        *counts.entry((unit, part)).or_default() += n;
    }
    counts
}

/// Units with registrations in the period but no listed count, with those
/// registrations, by name.
fn unlisted(counted: &Counts, units: &Names, listed: &ListedCounts) -> Vec<(String, u64)> {
    let mut by_unit: BTreeMap<&str, u64> = BTreeMap::new();
    for (&(unit, _), &n) in counted {
        let name = units.name(unit);
        if listed.get(name).is_none() {
            *by_unit.entry(name).or_default() += n;
        }
    }
    by_unit
        .into_iter()
        .map(|(unit, n)| (unit.to_string(), n))
        .collect()
}

/// One measure per reported unit (listed, or with registrations) and part.
fn measures(
    config: &Config,
    units: &Names,
    counted: &Counts,
    parts: &[Window],
    outcome: &Outcome,
    listed: &ListedCounts,
) -> Vec<Measure> {
    let reported = listed
        .units
        .keys()
        .map(String::as_str)
        .chain(outcome.unlisted.iter().map(|(unit, _)| unit.as_str()));
    let mut measures = Vec::new();
    for unit in reported {
        let id = units.get(unit);
        for (index, part) in parts.iter().enumerate() {
            let count = id.and_then(|id| counted.get(&(id, index))).copied();
            let scale = outcome
                .annualized
                .get(index)
                .map_or(1.0, |(_, a)| a.factor());
            measures.push(Measure {
                indicator: config.rate.indicator,
                unit: unit.to_string(),
                period: part.period_label(config.granularity),
                group: String::new(),
                numerator: count.unwrap_or(0) as f64 * scale,
                denominator: listed.get(unit).unwrap_or(0) as f64,
            });
        }
    }
    measures
}

/// Patients per (unit, part): a (unit, part key, patient) key counts in
/// its part when its latest registration falls inside that part (the
/// window's end is never in doubt: it is the latest input date or a fixed
/// period whose outside rows were never kept).
fn count_patients(patients: KeyTable<Date>, parts: &[Window], granularity: Granularity) -> Counts {
    let first_month = parts.first().map_or(0, |p| month_number(p.first));
    let mut counts = Counts::new();
    for (_, key, &latest) in patients.freeze().iter() {
        let unit = u32::from_le_bytes(key[0..4].try_into().expect("4 bytes of unit"));
        let part_key = i32::from_le_bytes(key[4..8].try_into().expect("4 bytes of part"));
        let index = match granularity {
            Granularity::Whole => 0,
            Granularity::Month => match usize::try_from(part_key - first_month) {
                Ok(index) => index,
                Err(_) => continue,
            },
        };
        if parts.get(index).is_some_and(|part| part.contains(latest)) {
            *counts.entry((unit, index)).or_default() += 1;
        }
    }
    counts
}

/// What each unit earns by its rate (see [`report::payments`]):
/// `kr_per_listed` × listed at the full target, half at the half target,
/// nothing below, as measures of the rate's payment indicator. The rates
/// are judged against `targets` without suppression.
pub fn payments(
    rates: &[Measure],
    rate: &Rate,
    targets: &Targets,
    listed: &ListedCounts,
    kr_per_listed: f64,
) -> Vec<Measure> {
    let judge = Report {
        units: None,
        unit_rows: true,
        total: false,
        targets,
        min_cell: None,
    };
    let judged = judge.rows(rates.to_vec());
    report::payments(&judged, rate.payment, listed, kr_per_listed, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn window(first: Date, last: Date) -> Window {
        Window::new(first, last).unwrap()
    }

    #[test]
    fn a_year_scales_by_one_and_shorter_parts_by_days() {
        let year = Annualization::of(window(date(2024, 1, 1), date(2024, 12, 31))).unwrap();
        assert_eq!((year.days, year.year_days, year.factor()), (366, 366, 1.0));
        let twelve = Annualization::of(window(date(2023, 3, 1), date(2024, 2, 29))).unwrap();
        assert_eq!(twelve.factor(), 1.0);
        // 2024-01-01..06-30 is 182 days; 2023-07-01..2024-06-30 holds 29 Feb.
        let half = Annualization::of(window(date(2024, 1, 1), date(2024, 6, 30))).unwrap();
        assert_eq!((half.days, half.year_days), (182, 366));
        let february = Annualization::of(window(date(2023, 2, 1), date(2023, 2, 28))).unwrap();
        assert_eq!((february.days, february.year_days), (28, 365));
        let two_years = Annualization::of(window(date(2023, 1, 1), date(2024, 12, 31))).unwrap();
        assert_eq!((two_years.days, two_years.year_days), (731, 366));
        // The year ending 2024-02-28 starts 2023-03-01: no 29 February.
        let day = |d| Annualization::of(window(d, d)).unwrap().year_days;
        assert_eq!(day(date(2024, 2, 28)), 365);
        assert_eq!(day(date(2024, 2, 29)), 366);
        assert_eq!(day(date(2025, 2, 28)), 366);
        assert_eq!(day(date(2025, 3, 1)), 365);
    }

    #[test]
    fn codes_match_ignoring_case_and_a_custom_rate_names_its_payment() {
        let far = Rate::far();
        assert!(far.matches(b"dv200") && far.matches(b"Dv200") && !far.matches(b"DV2000"));
        let custom = Rate::custom(
            &[" dv122".into(), "DV112 ".into(), "dv112".into()],
            "far_test_per_1000",
        )
        .unwrap();
        assert_eq!(custom.codes, ["DV112", "DV122"]);
        assert_eq!(custom.indicator.id, "far_test_per_1000");
        assert_eq!(custom.payment.id, "far_test_payment");
        assert_eq!(custom.indicator.target, None);
        // "far" would pay far_payment, which the catalogue has.
        let taken = Rate::custom(&["DV201".into()], "far").unwrap_err();
        assert!(taken.contains("far_payment"), "{taken}");
        assert!(Rate::custom(&[" ".into()], "far_blank").is_err());
    }

    #[test]
    fn month_numbers_count_months() {
        assert_eq!(
            month_number(date(2024, 1, 31)) - month_number(date(2023, 12, 1)),
            1
        );
        assert_eq!(month_number(date(2024, 12, 1)) % 12, 11);
    }
}
