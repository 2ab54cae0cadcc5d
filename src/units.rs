//! `units.csv`: areas (länsdelar), display names and care level per unit.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Result;

use crate::input::{
    self, Col, ColumnSpec, Columns, ReadOptions, RejectLog, Row, RowError, RowSink, Schema,
};

pub static UNITS: Schema = Schema {
    what: "units",
    columns: &[
        ColumnSpec::required("unit"),
        ColumnSpec::optional("area"),
        ColumnSpec::optional("name"),
        ColumnSpec::optional("care_level"),
    ],
};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UnitInfo {
    pub area: Option<String>,
    pub name: Option<String>,
    /// `primary`, `specialist` or the file's own word, normalised.
    pub care_level: Option<String>,
}

/// What `--units FILE` says about each unit.
#[derive(Clone, Debug, Default)]
pub struct Units {
    by_unit: HashMap<String, UnitInfo>,
}

impl Units {
    pub fn load(path: &Path, options: &ReadOptions, rejects: &mut RejectLog) -> Result<Units> {
        let sink = input::read_small(path, &UNITS, options, rejects, |columns| {
            Ok(UnitsSink::new(columns))
        })?;
        Ok(sink.units)
    }

    pub fn get(&self, unit: &str) -> Option<&UnitInfo> {
        self.by_unit.get(unit)
    }

    pub fn area(&self, unit: &str) -> Option<&str> {
        self.get(unit).and_then(|info| info.area.as_deref())
    }

    pub fn care_level(&self, unit: &str) -> Option<&str> {
        self.get(unit).and_then(|info| info.care_level.as_deref())
    }

    /// Whether any unit has a care level (the file has the column, filled).
    pub fn has_care_levels(&self) -> bool {
        self.by_unit.values().any(|info| info.care_level.is_some())
    }

    pub fn insert(&mut self, unit: impl Into<String>, info: UnitInfo) {
        self.by_unit.insert(unit.into(), info);
    }
}

struct UnitsSink {
    cols: [Col; 4],
    units: Units,
}

impl UnitsSink {
    fn new(columns: &Columns) -> UnitsSink {
        let cols = ["unit", "area", "name", "care_level"].map(|name| columns.col(name));
        UnitsSink {
            cols,
            units: Units::default(),
        }
    }
}

impl RowSink for UnitsSink {
    fn row(&mut self, row: &Row<'_>) -> Result<(), RowError> {
        let [unit, area, name, care_level] = self.cols;
        let unit = row.required_text(unit)?.to_string();
        let info = UnitInfo {
            area: row.text(area)?.map(str::to_string),
            name: row.text(name)?.map(str::to_string),
            care_level: row
                .text(care_level)?
                .map(|s| input::values::care_level(s).into_owned()),
        };
        if self.units.by_unit.contains_key(&unit) {
            return Err(RowError::new(
                self.cols[0].index,
                format!(
                    "unit {} appears twice in the units file",
                    input::row::quoted_for_message(unit.as_bytes())
                ),
            ));
        }
        self.units.insert(unit, info);
        Ok(())
    }
}
