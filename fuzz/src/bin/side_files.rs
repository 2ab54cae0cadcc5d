//! The small side files the tools read besides their input, each through
//! the computation that uses it: units (areas of fixed measures), listed
//! counts (the payment of fixed judged rows), staffing (listed per doctor
//! of fixed counts) and monthly targets (levels of fixed monthly rows).
//!
//! Variant bits 0-1: units, listed counts, staffing, monthly targets.

use pvkit::catalogue::{self, Tool};
use pvkit::coverage::listed;
use pvkit::listing::ListedCounts;
use pvkit::report::{self, Measure, PeriodLevels, Report, Targets};
use pvkit::staffing::Staffing;
use pvkit::units::Units;
use pvkit_fuzz::{Case, ok};

/// The unit names of the side files' fixtures.
const UNITS: [&str; 4] = ["VC Askersund", "VC Kumla", "VC Alfa", "Alfa"];

fn main() {
    pvkit_fuzz::init();
    let same_day = catalogue::get("phone_same_day").expect("in the catalogue");
    let mut measures = Vec::new();
    for (i, unit) in UNITS.iter().enumerate() {
        for month in 1..=5 {
            measures.push(Measure {
                indicator: same_day,
                unit: unit.to_string(),
                period: format!("2024-{month:02}"),
                group: String::new(),
                numerator: (60 + 7 * i + month) as f64,
                denominator: 100.0,
            });
        }
    }
    let counts = ListedCounts {
        units: UNITS.iter().map(|u| (u.to_string(), 1000)).collect(),
    };
    let payment = catalogue::get("phone_payment").expect("in the catalogue");
    let no_targets = Targets::default();
    afl::fuzz!(|data: &[u8]| {
        let Some(mut case) = Case::new(data) else {
            return;
        };
        let (path, options, rejects) = (&case.path, &case.options, &mut case.rejects);
        match case.variant & 0b11 {
            0 => {
                if let Some(units) = ok(Units::load(path, options, rejects)) {
                    case.report(measures.clone(), true, Some(&units), &no_targets);
                }
            }
            1 => {
                if let Some(listed) = ok(ListedCounts::load(path, options, rejects)) {
                    let judged = judge(measures.clone(), &no_targets);
                    let earned = report::payments(&judged, payment, &listed, 1200.0, 1.0 / 12.0);
                    case.report(earned, true, None, &no_targets);
                }
            }
            2 => {
                if let Some(staffing) = ok(Staffing::load(path, options, rejects)) {
                    let (per_doctor, _) = listed::listed_per_doctor(&counts, &staffing, "2024");
                    case.report(per_doctor, true, None, &no_targets);
                }
            }
            _ => {
                let levels = PeriodLevels::load_months(path, same_day, options, rejects);
                if let Some(by_period) = ok(levels) {
                    let targets = Targets {
                        by_period,
                        ..Targets::default()
                    };
                    if targets.check_tool(Tool::Access).is_ok() {
                        case.report(measures.clone(), true, None, &targets);
                    }
                }
            }
        }
    });
    pvkit_fuzz::remove_files();
}

/// Unit rows judged against `targets`, as payments take them.
fn judge(measures: Vec<Measure>, targets: &Targets) -> Vec<pvkit::output::IndicatorRow> {
    let judge = Report {
        units: None,
        unit_rows: true,
        total: false,
        targets,
        min_cell: None,
    };
    judge.rows(measures)
}
