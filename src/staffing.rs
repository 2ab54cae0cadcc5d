//! `staffing.csv`: doctor full-time equivalents (läkartjänster) per unit.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::path::Path;

use anyhow::Result;

use crate::input::{
    self, Col, ColumnSpec, Locator, ReadOptions, RejectLog, Row, RowError, RowSink, Schema,
};

pub static STAFFING: Schema = Schema {
    what: "staffing",
    columns: &[
        ColumnSpec::required("unit"),
        ColumnSpec::required("doctor_fte"),
    ],
};

/// Doctor FTE per unit; `None` where the file leaves it empty.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Staffing {
    pub doctor_fte: BTreeMap<String, Option<f64>>,
}

impl Staffing {
    /// Reads a staffing file; FTE may have a decimal comma (`2,5`); a unit
    /// given twice is an error naming both lines.
    pub fn load(path: &Path, options: &ReadOptions, rejects: &mut RejectLog) -> Result<Staffing> {
        let sink = input::read_small(path, &STAFFING, options, rejects, |columns| {
            Ok(StaffingSink {
                unit: columns.col("unit"),
                fte: columns.col("doctor_fte"),
                rows: BTreeMap::new(),
            })
        })?;
        Ok(Staffing {
            doctor_fte: sink
                .rows
                .into_iter()
                .map(|(unit, (fte, _))| (unit, fte))
                .collect(),
        })
    }
}

struct StaffingSink {
    unit: Col,
    fte: Col,
    rows: BTreeMap<String, (Option<f64>, Locator)>,
}

impl RowSink for StaffingSink {
    fn row(&mut self, row: &Row<'_>) -> Result<(), RowError> {
        let unit = row.required_text(self.unit)?;
        let fte = match row.bytes(self.fte) {
            None => None,
            Some(_) => Some(row.number(self.fte)?),
        };
        match self.rows.entry(unit.to_string()) {
            Entry::Vacant(slot) => {
                slot.insert((fte, row.locator));
                Ok(())
            }
            Entry::Occupied(first) => Err(RowError::new(
                self.unit.index,
                format!(
                    "unit {} appears twice in the staffing file",
                    input::row::quoted_for_message(unit.as_bytes())
                ),
            )
            .related_to(first.get().1)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Staffing> {
        let hash = crate::keyindex::key_hash(text.as_bytes());
        let path = std::env::temp_dir().join(format!("pvkit-staffing-{hash:x}.csv"));
        std::fs::write(&path, text).unwrap();
        Staffing::load(&path, &ReadOptions::default(), &mut RejectLog::default())
    }

    #[test]
    fn decimal_commas_empty_values_and_repeats() {
        let staffing = load("Vårdenhet;Läkartjänster\nVC1;2,5\nVC2;\nVC3;0\n").unwrap();
        assert_eq!(staffing.doctor_fte["VC1"], Some(2.5));
        assert_eq!(staffing.doctor_fte["VC2"], None);
        assert_eq!(staffing.doctor_fte["VC3"], Some(0.0));
        let error = format!("{:#}", load("unit,doctor_fte\nA,1\nA,2\n").unwrap_err());
        assert!(
            error.contains("line 3") && error.contains("line 2"),
            "{error}"
        );
        let error = format!("{:#}", load("unit,doctor_fte\nA,-1\n").unwrap_err());
        assert!(error.contains("doctor_fte"), "{error}");
    }
}
