//! Small-cell suppression: with `--min-cell N`, a row whose denominator is
//! below N keeps its denominator but loses numerator and value (SKR does
//! not publish counts under 20). Payments (kronor) are never suppressed:
//! their denominator is the listed population, not a count of events about
//! few patients, and a unit must see what it earned.

use crate::catalogue::Scale;
use crate::output::{IndicatorRow, Status};

/// Blanks rows with a denominator under `min_cell`.
pub fn apply(rows: &mut [IndicatorRow], min_cell: Option<u64>) {
    let Some(min_cell) = min_cell else { return };
    for row in rows
        .iter_mut()
        .filter(|row| row.indicator.scale != Scale::Sek && row.denominator < min_cell as f64)
    {
        row.numerator = None;
        row.value = None;
        row.status = Status::Suppressed;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue;
    use crate::output::Level;

    #[test]
    fn blanks_small_denominators_only() {
        let row = |denominator: f64| IndicatorRow {
            indicator: catalogue::get("assessment_3d").unwrap(),
            level: Level::Unit,
            unit: "A".into(),
            period: "2024".into(),
            group: String::new(),
            numerator: Some(denominator / 2.0),
            denominator,
            value: Some(50.0),
            target: None,
            status: Status::None,
        };
        let mut rows = vec![row(19.0), row(20.0)];
        apply(&mut rows, Some(20));
        assert_eq!(
            (rows[0].numerator, rows[0].value, rows[0].status),
            (None, None, Status::Suppressed)
        );
        assert_eq!(rows[1].value, Some(50.0));
        assert_eq!(rows[0].denominator, 19.0);
    }

    #[test]
    fn payments_are_never_suppressed() {
        let mut rows = vec![IndicatorRow {
            indicator: catalogue::get("phone_payment").unwrap(),
            level: Level::Unit,
            unit: "A".into(),
            period: "2024-05".into(),
            group: String::new(),
            numerator: Some(83.0),
            denominator: 12.0,
            value: Some(83.0),
            target: None,
            status: Status::None,
        }];
        apply(&mut rows, Some(20));
        assert_eq!((rows[0].value, rows[0].status), (Some(83.0), Status::None));
    }
}
