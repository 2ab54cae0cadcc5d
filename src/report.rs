//! From unit-level measures to output rows: area and all-unit roll-ups,
//! values in each indicator's scale, targets and status, suppression, and
//! the deterministic order. Every ratio tool ends here.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::path::Path;
use std::str::FromStr;

use anyhow::Result;

use crate::catalogue::{self, Indicator, Scale, Tool};
use crate::input::{
    self, Col, ColumnSpec, Locator, ReadOptions, RejectLog, Row, RowError, RowSink, Schema,
};
use crate::listing::ListedCounts;
use crate::output::{ALL_UNITS, IndicatorRow, Level, Status, sort_rows};
use crate::suppress;
use crate::units::Units;

/// One indicator at one unit, period and group, before roll-up. Pooled
/// rows add numerators and denominators.
#[derive(Clone, Debug, PartialEq)]
pub struct Measure {
    pub indicator: &'static Indicator,
    pub unit: String,
    pub period: String,
    pub group: String,
    pub numerator: f64,
    pub denominator: f64,
}

/// `--target`/`--half` value: `VALUE` for every indicator of the run, or
/// `ID=VALUE` for one.
#[derive(Clone, Debug, PartialEq)]
pub struct LevelOverride {
    pub indicator: Option<String>,
    pub value: f64,
}

impl FromStr for LevelOverride {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        // Whether ID exists is checked by `Targets::check_tool`, once the
        // run has defined its own indicators (pv-far's --name).
        let (indicator, number) = match s.split_once('=') {
            Some((id, number)) => (Some(id.trim().to_string()), number),
            None => (None, s),
        };
        let value = number
            .trim()
            .replace(',', ".")
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| format!("expected [ID=]NUMBER, got {s:?}"))?;
        Ok(LevelOverride { indicator, value })
    }
}

/// Target levels after command-line overrides.
#[derive(Clone, Debug, Default)]
pub struct Targets {
    pub full: Vec<LevelOverride>,
    pub half: Vec<LevelOverride>,
    /// Levels that hold in one period only (`--targets FILE`); they win
    /// over every other level in rows of that period.
    pub by_period: Vec<PeriodLevels>,
}

/// An indicator's levels in rows of one period label, such as Örebro's
/// 80/70 instead of 90/80 for the phone target in May 2024.
#[derive(Clone, Debug, PartialEq)]
pub struct PeriodLevels {
    pub indicator: &'static Indicator,
    pub period: String,
    pub full: f64,
    /// `None`: no half level in this period.
    pub half: Option<f64>,
}

impl Targets {
    fn pick(overrides: &[LevelOverride], indicator: &Indicator) -> Option<Option<f64>> {
        let specific = overrides
            .iter()
            .rev()
            .find(|o| o.indicator.as_deref() == Some(indicator.id));
        let general = overrides
            .iter()
            .rev()
            .find(|o| o.indicator.is_none())
            .filter(|_| indicator.scale != Scale::Sek);
        specific.or(general).map(|o| Some(o.value))
    }

    /// Full and half level for `indicator`: an override naming it, else a
    /// general override, else the catalogue's default. A general override
    /// is a rate level, so it never applies to kronor (payment) indicators.
    pub fn levels(&self, indicator: &Indicator) -> (Option<f64>, Option<f64>) {
        let full = Self::pick(&self.full, indicator).unwrap_or(indicator.target);
        let half = Self::pick(&self.half, indicator).unwrap_or(indicator.half);
        (full, half)
    }

    /// Full and half level for `indicator` in rows of `period`: levels
    /// given for that period, else [`Targets::levels`].
    pub fn levels_in(&self, indicator: &Indicator, period: &str) -> (Option<f64>, Option<f64>) {
        self.by_period
            .iter()
            .find(|p| p.indicator == indicator && p.period == period)
            .map_or_else(|| self.levels(indicator), |p| (Some(p.full), p.half))
    }

    /// Rejects overrides naming unknown indicators or indicators another
    /// tool computes.
    pub fn check_tool(&self, tool: Tool) -> Result<(), String> {
        let named = self
            .full
            .iter()
            .chain(&self.half)
            .filter_map(|o| o.indicator.as_deref());
        let by_period = self.by_period.iter().map(|p| p.indicator.id);
        for id in named.chain(by_period) {
            match catalogue::get(id) {
                None => return Err(format!("unknown indicator {id:?} (see --list-indicators)")),
                Some(ind) if ind.tool != tool => {
                    return Err(format!(
                        "{id} is not an indicator of {} (see --list-indicators)",
                        tool.binary()
                    ));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }
}

pub static MONTH_TARGETS: Schema = Schema {
    what: "monthly targets",
    columns: &[
        ColumnSpec::required("month"),
        ColumnSpec::required("target"),
        ColumnSpec::optional("half"),
        ColumnSpec::optional("indicator"),
    ],
};

impl PeriodLevels {
    /// A targets file, one row per month: `month,target[,half][,indicator]`
    /// (`2024-05,80,70`). Rows without an indicator are for `indicator`;
    /// an empty half means no half level that month. A month given twice
    /// for one indicator is an error naming both lines.
    pub fn load_months(
        path: &Path,
        indicator: &'static Indicator,
        options: &ReadOptions,
        rejects: &mut RejectLog,
    ) -> Result<Vec<PeriodLevels>> {
        let sink = input::read_small(path, &MONTH_TARGETS, options, rejects, |columns| {
            Ok(MonthTargetsSink {
                cols: ["month", "target", "half", "indicator"].map(|name| columns.col(name)),
                default: indicator,
                levels: BTreeMap::new(),
            })
        })?;
        Ok(sink
            .levels
            .into_values()
            .map(|(levels, _)| levels)
            .collect())
    }
}

struct MonthTargetsSink {
    /// month, target, half, indicator.
    cols: [Col; 4],
    default: &'static Indicator,
    levels: BTreeMap<(usize, String), (PeriodLevels, Locator)>,
}

/// `YYYY-MM` with a month 01–12.
fn is_month_label(text: &str) -> bool {
    let b = text.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    b.len() == 7
        && b[4] == b'-'
        && digits(0..4)
        && digits(5..7)
        && matches!(
            &text[5..],
            "01" | "02" | "03" | "04" | "05" | "06" | "07" | "08" | "09" | "10" | "11" | "12"
        )
}

impl RowSink for MonthTargetsSink {
    fn row(&mut self, row: &Row<'_>) -> Result<(), RowError> {
        let [month, target, half, indicator] = self.cols;
        let period = row.required_text(month)?;
        if !is_month_label(period) {
            return Err(RowError::invalid(
                month,
                period.as_bytes(),
                "a month",
                "YYYY-MM, such as 2024-05",
            ));
        }
        let indicator = match row.text(indicator)? {
            None => self.default,
            Some(id) => catalogue::get(id).ok_or_else(|| {
                RowError::invalid(
                    indicator,
                    id.as_bytes(),
                    "an indicator id",
                    "an id of --list-indicators",
                )
            })?,
        };
        let full = row.number(target)?;
        let half_level = row.bytes(half).map(|_| row.number(half)).transpose()?;
        if half_level.is_some_and(|h| !indicator.direction.reaches(full, h)) {
            return Err(RowError::new(
                half.index,
                format!(
                    "the half level must be easier to reach than the full level ({})",
                    indicator.direction.as_str()
                ),
            ));
        }
        let levels = PeriodLevels {
            indicator,
            period: period.to_string(),
            full,
            half: half_level,
        };
        match self
            .levels
            .entry((catalogue::order(indicator), levels.period.clone()))
        {
            Entry::Vacant(slot) => {
                slot.insert((levels, row.locator));
                Ok(())
            }
            Entry::Occupied(first) => Err(RowError::new(
                month.index,
                format!("{} has levels for {period} twice", indicator.id),
            )
            .related_to(first.get().1)),
        }
    }
}

/// How measures become rows.
pub struct Report<'a> {
    /// Maps units to areas for `level=area` rows.
    pub units: Option<&'a Units>,
    /// Emit `level=unit` rows; false when the input had no unit column, so
    /// the only unit is the whole input.
    pub unit_rows: bool,
    /// Emit `level=all` rows.
    pub total: bool,
    pub targets: &'a Targets,
    pub min_cell: Option<u64>,
}

type PoolKey = (usize, String, String, String);

impl Report<'_> {
    /// Rolls `measures` up, judges them against targets, suppresses small
    /// cells and sorts.
    pub fn rows(&self, mut measures: Vec<Measure>) -> Vec<IndicatorRow> {
        measures.sort_by(|a, b| {
            (catalogue::order(a.indicator), &a.unit, &a.period, &a.group).cmp(&(
                catalogue::order(b.indicator),
                &b.unit,
                &b.period,
                &b.group,
            ))
        });
        let mut rows = Vec::new();
        let mut areas: BTreeMap<PoolKey, (&'static Indicator, f64, f64)> = BTreeMap::new();
        let mut totals: BTreeMap<PoolKey, (&'static Indicator, f64, f64)> = BTreeMap::new();
        for m in &measures {
            let order = catalogue::order(m.indicator);
            if let Some(area) = self.units.and_then(|u| u.area(&m.unit)) {
                let key = (order, area.to_string(), m.period.clone(), m.group.clone());
                pool(&mut areas, key, m);
            }
            if self.total || !self.unit_rows {
                pool(
                    &mut totals,
                    (
                        order,
                        ALL_UNITS.to_string(),
                        m.period.clone(),
                        m.group.clone(),
                    ),
                    m,
                );
            }
            if self.unit_rows {
                rows.push(self.row(
                    m.indicator,
                    Level::Unit,
                    &m.unit,
                    &m.period,
                    &m.group,
                    m.numerator,
                    m.denominator,
                ));
            }
        }
        for (level, pooled) in [(Level::Area, areas), (Level::All, totals)] {
            for ((_, unit, period, group), (indicator, numerator, denominator)) in pooled {
                rows.push(self.row(
                    indicator,
                    level,
                    &unit,
                    &period,
                    &group,
                    numerator,
                    denominator,
                ));
            }
        }
        suppress::apply(&mut rows, self.min_cell);
        sort_rows(&mut rows);
        rows
    }

    #[allow(clippy::too_many_arguments)]
    fn row(
        &self,
        indicator: &'static Indicator,
        level: Level,
        unit: &str,
        period: &str,
        group: &str,
        numerator: f64,
        denominator: f64,
    ) -> IndicatorRow {
        let value = indicator.scale.value(numerator, denominator);
        let (target, half) = self.targets.levels_in(indicator, period);
        IndicatorRow {
            indicator,
            level,
            unit: unit.to_string(),
            period: period.to_string(),
            group: group.to_string(),
            numerator: Some(numerator),
            denominator,
            value,
            target,
            status: Status::judge(value, target, half, indicator.direction),
        }
    }
}

/// What each unit earns for the status of its rows (Hälsoval target
/// payments): `kr_per_listed × listed × share_of_year` when the target is
/// met, half of that at the half level, nothing otherwise. One measure of
/// `payment` (scale sek: numerator = kronor, denominator = listed) per
/// unit-level row, with the row's period and group, so that area and all
/// rows add up. Give it rows judged without `--min-cell`: suppression
/// hides a value, it does not change what a unit earned.
pub fn payments(
    rows: &[IndicatorRow],
    payment: &'static Indicator,
    listed: &ListedCounts,
    kr_per_listed: f64,
    share_of_year: f64,
) -> Vec<Measure> {
    rows.iter()
        .filter(|row| row.level == Level::Unit)
        .map(|row| {
            let listed = listed.get(&row.unit).unwrap_or(0) as f64;
            let earned = match row.status {
                Status::Met => 1.0,
                Status::Half => 0.5,
                _ => 0.0,
            };
            Measure {
                indicator: payment,
                unit: row.unit.clone(),
                period: row.period.clone(),
                group: row.group.clone(),
                numerator: kr_per_listed * listed * share_of_year * earned,
                denominator: listed,
            }
        })
        .collect()
}

fn pool(map: &mut BTreeMap<PoolKey, (&'static Indicator, f64, f64)>, key: PoolKey, m: &Measure) {
    let entry = map.entry(key).or_insert((m.indicator, 0.0, 0.0));
    entry.1 += m.numerator;
    entry.2 += m.denominator;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::UnitInfo;

    fn measure(unit: &str, numerator: f64, denominator: f64) -> Measure {
        Measure {
            indicator: catalogue::get("phone_same_day").unwrap(),
            unit: unit.into(),
            period: "2024-03".into(),
            group: String::new(),
            numerator,
            denominator,
        }
    }

    fn units() -> Units {
        let mut units = Units::default();
        for (unit, area) in [("A", "Söder"), ("B", "Söder"), ("C", "Norr")] {
            units.insert(
                unit,
                UnitInfo {
                    area: Some(area.into()),
                    ..UnitInfo::default()
                },
            );
        }
        units
    }

    #[test]
    fn pools_areas_and_all_from_numerators_and_denominators() {
        let targets = Targets::default();
        let units = units();
        let report = Report {
            units: Some(&units),
            unit_rows: true,
            total: true,
            targets: &targets,
            min_cell: None,
        };
        let rows = report.rows(vec![
            measure("B", 45.0, 50.0),
            measure("A", 80.0, 100.0),
            measure("C", 9.0, 10.0),
        ]);
        let summary: Vec<(Level, &str, Option<f64>, Status)> = rows
            .iter()
            .map(|r| (r.level, r.unit.as_str(), r.value, r.status))
            .collect();
        assert_eq!(
            summary,
            vec![
                (Level::Unit, "A", Some(80.0), Status::Half),
                (Level::Unit, "B", Some(90.0), Status::Met),
                (Level::Unit, "C", Some(90.0), Status::Met),
                (Level::Area, "Norr", Some(90.0), Status::Met),
                (
                    Level::Area,
                    "Söder",
                    Some(125.0 * 100.0 / 150.0),
                    Status::Half
                ),
                (Level::All, "ALL", Some(134.0 * 100.0 / 160.0), Status::Half),
            ]
        );
    }

    #[test]
    fn overrides_pick_specific_then_general_then_catalogue() {
        let targets = Targets {
            full: vec!["85".parse().unwrap(), "phone_same_day=95".parse().unwrap()],
            half: vec![],
            by_period: vec![],
        };
        let phone = catalogue::get("phone_same_day").unwrap();
        let far = catalogue::get("far_per_1000").unwrap();
        let coc = catalogue::get("coc").unwrap();
        assert_eq!(targets.levels(phone), (Some(95.0), Some(80.0)));
        assert_eq!(targets.levels(far), (Some(85.0), Some(7.0)));
        assert_eq!(Targets::default().levels(coc), (None, None));
        assert!("nope".parse::<LevelOverride>().is_err());
        assert_eq!("coc=0,4".parse::<LevelOverride>().unwrap().value, 0.4);
        assert!(targets.check_tool(Tool::Access).is_ok());
        assert!(targets.check_tool(Tool::Coc).is_err());
        let unknown = Targets {
            full: vec!["nope=3".parse().unwrap()],
            ..Targets::default()
        };
        assert!(
            unknown
                .check_tool(Tool::Far)
                .unwrap_err()
                .contains("unknown")
        );
        // A general level is a rate level: kronor indicators keep theirs.
        let payment = catalogue::get("far_payment").unwrap();
        assert_eq!(targets.levels(payment), (None, None));
        let named = Targets {
            full: vec!["far_payment=1000".parse().unwrap()],
            ..Targets::default()
        };
        assert_eq!(named.levels(payment), (Some(1000.0), None));
    }

    #[test]
    fn levels_of_a_period_win_in_that_period_only() {
        let phone = catalogue::get("phone_same_day").unwrap();
        let targets = Targets {
            full: vec!["phone_same_day=85".parse().unwrap()],
            half: vec![],
            by_period: vec![PeriodLevels {
                indicator: phone,
                period: "2024-05".into(),
                full: 80.0,
                half: None,
            }],
        };
        assert_eq!(targets.levels_in(phone, "2024-05"), (Some(80.0), None));
        assert_eq!(
            targets.levels_in(phone, "2024-06"),
            (Some(85.0), Some(80.0))
        );
        let far = catalogue::get("far_per_1000").unwrap();
        assert_eq!(targets.levels_in(far, "2024-05"), (Some(8.0), Some(7.0)));
        assert!(targets.check_tool(Tool::Access).is_ok());
        assert!(targets.check_tool(Tool::Far).is_err());
    }

    #[test]
    fn month_labels_of_a_targets_file() {
        assert!(is_month_label("2024-05"));
        assert!(is_month_label("2024-12"));
        for bad in [
            "2024-13",
            "2024-00",
            "2024-5",
            "202405",
            "2024-05-01",
            "24-05-01",
        ] {
            assert!(!is_month_label(bad), "{bad}");
        }
    }

    #[test]
    fn payments_follow_the_status_of_each_unit_row() {
        let targets = Targets::default();
        let report = Report {
            units: None,
            unit_rows: true,
            total: true,
            targets: &targets,
            min_cell: None,
        };
        // phone_same_day: 90 full, 80 half.
        let rows = report.rows(vec![
            measure("A", 90.0, 100.0),
            measure("B", 85.0, 100.0),
            measure("C", 70.0, 100.0),
        ]);
        let listed = ListedCounts {
            units: [("A", 1200), ("B", 2400)]
                .map(|(u, n)| (u.to_string(), n))
                .into_iter()
                .collect(),
        };
        let payment = catalogue::get("phone_payment").unwrap();
        let earned: Vec<(String, f64, f64)> = payments(&rows, payment, &listed, 83.0, 1.0 / 12.0)
            .into_iter()
            .map(|m| (m.unit, m.numerator, m.denominator))
            .collect();
        // A: 83 × 1200 / 12 = 8300; B at half: 83 × 2400 / 12 / 2 = 8300;
        // C: below half, and not in the counts.
        assert_eq!(
            earned,
            vec![
                ("A".to_string(), 8300.0, 1200.0),
                ("B".to_string(), 8300.0, 2400.0),
                ("C".to_string(), 0.0, 0.0),
            ]
        );
    }

    #[test]
    fn without_a_unit_column_only_the_total_is_written() {
        let targets = Targets::default();
        let report = Report {
            units: None,
            unit_rows: false,
            total: false,
            targets: &targets,
            min_cell: None,
        };
        let rows = report.rows(vec![measure("ALL", 1.0, 2.0)]);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].level, Level::All);
    }
}
