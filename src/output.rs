//! Everything written to stdout: the indicator row type, row order, and the
//! CSV, TSV, table and JSON Lines writers shared by every tool.
//!
//! Writers take generic rows of [`Cell`]s so that other outputs (patient-level
//! rows, listing flows) use the same formats and number rules.

use std::io::{self, IsTerminal, Write};

use anyhow::{Context, Result};
use clap::ValueEnum;
use comfy_table::{CellAlignment, ContentArrangement, Table, presets};

use crate::catalogue::{self, Direction, Indicator};

/// Columns of the ratio-indicator output, the same in every tool.
pub const INDICATOR_COLUMNS: [&str; 10] = [
    "indicator",
    "level",
    "unit",
    "period",
    "group",
    "numerator",
    "denominator",
    "value",
    "target",
    "status",
];

/// The `unit` value of rows that pool every unit.
pub const ALL_UNITS: &str = "ALL";

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Unit,
    Area,
    All,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Unit => "unit",
            Level::Area => "area",
            Level::All => "all",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Met,
    Half,
    NotMet,
    Suppressed,
    /// No target, or no value to compare.
    None,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Met => "met",
            Status::Half => "half",
            Status::NotMet => "not_met",
            Status::Suppressed => "suppressed",
            Status::None => "",
        }
    }

    /// Where `value` stands against a full and an optional half level.
    pub fn judge(
        value: Option<f64>,
        target: Option<f64>,
        half: Option<f64>,
        direction: Direction,
    ) -> Status {
        let (Some(value), Some(target)) = (value, target) else {
            return Status::None;
        };
        if direction.reaches(value, target) {
            Status::Met
        } else if half.is_some_and(|half| direction.reaches(value, half)) {
            Status::Half
        } else {
            Status::NotMet
        }
    }
}

/// One row of ratio-indicator output.
#[derive(Clone, Debug, PartialEq)]
pub struct IndicatorRow {
    pub indicator: &'static Indicator,
    pub level: Level,
    pub unit: String,
    pub period: String,
    pub group: String,
    /// `None` when suppressed.
    pub numerator: Option<f64>,
    pub denominator: f64,
    /// `None` when undefined (empty denominator) or suppressed.
    pub value: Option<f64>,
    pub target: Option<f64>,
    pub status: Status,
}

/// The deterministic output order: catalogue order, then level, unit,
/// period and group.
pub fn sort_rows(rows: &mut [IndicatorRow]) {
    rows.sort_by(|a, b| {
        catalogue::order(a.indicator)
            .cmp(&catalogue::order(b.indicator))
            .then(a.level.cmp(&b.level))
            .then_with(|| a.unit.cmp(&b.unit))
            .then_with(|| period_order(&a.period).cmp(&period_order(&b.period)))
            .then_with(|| a.group.cmp(&b.group))
    });
}

/// Months (`2024-03`) before intervals (`2024-01-01/2024-12-31`), so a
/// unit's monthly rows are followed by its sums over longer periods.
fn period_order(period: &str) -> (bool, &str) {
    (period.contains('/'), period)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Comma-separated values (`;` with --decimal-comma).
    Csv,
    /// Tab-separated values.
    Tsv,
    /// An aligned table for reading, numbers rounded.
    Table,
    /// JSON Lines: one object per row.
    Json,
}

impl Format {
    /// `table` on a terminal, `csv` in pipes and files.
    pub fn resolve(chosen: Option<Format>) -> Format {
        chosen.unwrap_or_else(|| {
            if io::stdout().is_terminal() {
                Format::Table
            } else {
                Format::Csv
            }
        })
    }
}

/// How numbers and separators are written.
#[derive(Clone, Copy, Debug)]
pub struct Style {
    pub format: Format,
    pub decimal_comma: bool,
}

/// One output value.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Text(String),
    Int(i64),
    /// A measured number: `precise` decimals in machine formats, `display`
    /// decimals in tables. Whole numbers are written without decimals.
    Num {
        value: f64,
        precise: usize,
        display: usize,
    },
    Empty,
}

impl Cell {
    pub fn text(s: impl Into<String>) -> Cell {
        Cell::Text(s.into())
    }

    pub fn num(value: Option<f64>, precise: usize, display: usize) -> Cell {
        value.map_or(Cell::Empty, |value| Cell::Num {
            value,
            precise,
            display,
        })
    }

    fn render(&self, style: Style) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Int(i) => i.to_string(),
            Cell::Empty => String::new(),
            Cell::Num {
                value,
                precise,
                display,
            } => {
                let decimals = if style.format == Format::Table {
                    *display
                } else {
                    *precise
                };
                let text = if value.fract() == 0.0 && value.abs() < 1e15 {
                    format!("{value:.0}")
                } else {
                    format!("{value:.decimals$}")
                };
                let text = if text == "-0" { "0".to_string() } else { text };
                if style.decimal_comma {
                    text.replace('.', ",")
                } else {
                    text
                }
            }
        }
    }

    fn to_json(&self) -> serde_json::Value {
        match self {
            Cell::Text(s) => serde_json::Value::String(s.clone()),
            Cell::Int(i) => serde_json::Value::from(*i),
            Cell::Empty => serde_json::Value::Null,
            Cell::Num { value, precise, .. } => {
                let scale = 10f64.powi(*precise as i32);
                let rounded = (value * scale).round() / scale;
                serde_json::Number::from_f64(rounded)
                    .map_or(serde_json::Value::Null, serde_json::Value::Number)
            }
        }
    }
}

/// Cells of one indicator row; `for_reading` puts the Swedish name in place of the id.
fn indicator_cells(row: &IndicatorRow, for_reading: bool) -> Vec<Cell> {
    let scale = row.indicator.scale;
    let (precise, display) = (scale.precise_decimals(), scale.display_decimals());
    let name = if for_reading {
        row.indicator.name_sv
    } else {
        row.indicator.id
    };
    vec![
        Cell::text(name),
        Cell::text(row.level.as_str()),
        Cell::text(row.unit.as_str()),
        Cell::text(row.period.as_str()),
        Cell::text(row.group.as_str()),
        Cell::num(row.numerator, precise, display),
        Cell::num(Some(row.denominator), precise, display),
        Cell::num(row.value, precise, display),
        Cell::num(row.target, precise, display),
        Cell::text(row.status.as_str()),
    ]
}

/// Writes indicator rows (already sorted) in the chosen style and flushes.
pub fn write_indicator_rows(out: impl Write, style: Style, rows: &[IndicatorRow]) -> Result<()> {
    let for_reading = style.format == Format::Table;
    let mut writer = RowWriter::new(out, style, &INDICATOR_COLUMNS)?;
    for row in rows {
        writer.row(&indicator_cells(row, for_reading))?;
    }
    writer.finish()
}

/// A streaming writer of rows in one of the output formats. Tables are
/// buffered (their widths depend on every row); the others stream.
pub struct RowWriter<W: Write> {
    style: Style,
    target: Target<W>,
}

enum Target<W: Write> {
    Delimited(csv::Writer<W>),
    Table(Table, W),
    Json(Vec<String>, W),
}

impl<W: Write> RowWriter<W> {
    pub fn new(out: W, style: Style, columns: &[&str]) -> Result<RowWriter<W>> {
        let target = match style.format {
            Format::Csv | Format::Tsv => {
                let delimiter = match (style.format, style.decimal_comma) {
                    (Format::Tsv, _) => b'\t',
                    (_, true) => b';',
                    (_, false) => b',',
                };
                let mut csv = csv::WriterBuilder::new()
                    .delimiter(delimiter)
                    .buffer_capacity(1 << 16)
                    .from_writer(out);
                csv.write_record(columns)?;
                Target::Delimited(csv)
            }
            Format::Table => {
                let mut table = Table::new();
                table
                    .load_style(presets::UTF8_FULL_CONDENSED)
                    .set_content_arrangement(ContentArrangement::Disabled)
                    .set_header(columns.to_vec());
                Target::Table(table, out)
            }
            Format::Json => Target::Json(columns.iter().map(|c| c.to_string()).collect(), out),
        };
        Ok(RowWriter { style, target })
    }

    pub fn row(&mut self, cells: &[Cell]) -> Result<()> {
        let style = self.style;
        match &mut self.target {
            Target::Delimited(csv) => csv.write_record(cells.iter().map(|c| c.render(style)))?,
            Target::Table(table, _) => {
                table.add_row(
                    cells
                        .iter()
                        .map(|c| c.render(style))
                        .collect::<Vec<String>>(),
                );
            }
            Target::Json(columns, out) => {
                let object: serde_json::Map<String, serde_json::Value> = columns
                    .iter()
                    .cloned()
                    .zip(cells.iter().map(Cell::to_json))
                    .collect();
                serde_json::to_writer(&mut *out, &object)?;
                out.write_all(b"\n")?;
            }
        }
        Ok(())
    }

    /// Writes what is buffered and flushes; errors (such as a closed pipe)
    /// surface here rather than being lost in `Drop`.
    pub fn finish(self) -> Result<()> {
        let mut out = match self.target {
            Target::Delimited(csv) => csv
                .into_inner()
                .map_err(|e| anyhow::Error::new(e.into_error()))?,
            Target::Table(mut table, mut out) => {
                align_numbers_right(&mut table);
                writeln!(out, "{table}")?;
                out
            }
            Target::Json(_, out) => out,
        };
        out.flush().context("writing output")?;
        Ok(())
    }
}

fn align_numbers_right(table: &mut Table) {
    let numeric: Vec<bool> = (0..table.column_count())
        .map(|i| {
            table.column_cells_iter(i).flatten().all(|cell| {
                let content = cell.content();
                content.is_empty() || content.replace(',', ".").parse::<f64>().is_ok()
            })
        })
        .collect();
    for (i, is_numeric) in numeric.into_iter().enumerate() {
        if is_numeric && let Some(column) = table.column_mut(i) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
}

/// Stdout, line-buffered on a terminal and block-buffered elsewhere.
pub fn stdout() -> Box<dyn Write> {
    let stdout = io::stdout();
    if stdout.is_terminal() {
        Box::new(io::LineWriter::new(stdout))
    } else {
        Box::new(io::BufWriter::with_capacity(1 << 16, stdout))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(value: Option<f64>) -> IndicatorRow {
        IndicatorRow {
            indicator: catalogue::get("coc").unwrap(),
            level: Level::Unit,
            unit: "VC Norr".into(),
            period: "2023-07-01/2024-12-31".into(),
            group: "doctor".into(),
            numerator: value.map(|v| v * 3.0),
            denominator: 3.0,
            value,
            target: None,
            status: Status::None,
        }
    }

    fn render(format: Format, decimal_comma: bool, rows: &[IndicatorRow]) -> String {
        let mut out = Vec::new();
        write_indicator_rows(
            &mut out,
            Style {
                format,
                decimal_comma,
            },
            rows,
        )
        .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn csv_keeps_precision_and_writes_blanks() {
        let text = render(Format::Csv, false, &[row(Some(1.0 / 3.0)), row(None)]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], INDICATOR_COLUMNS.join(","));
        assert_eq!(
            lines[1],
            "coc,unit,VC Norr,2023-07-01/2024-12-31,doctor,1,3,0.333333,,"
        );
        assert_eq!(
            lines[2],
            "coc,unit,VC Norr,2023-07-01/2024-12-31,doctor,,3,,,"
        );
    }

    #[test]
    fn decimal_comma_switches_the_delimiter() {
        let text = render(Format::Csv, true, &[row(Some(0.5))]);
        assert!(
            text.lines()
                .nth(1)
                .unwrap()
                .ends_with(";1,500000;3;0,500000;;"),
            "{text}"
        );
    }

    #[test]
    fn json_lines_have_typed_values() {
        let text = render(Format::Json, false, &[row(Some(0.5))]);
        let value: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(value["value"], serde_json::json!(0.5));
        assert_eq!(value["target"], serde_json::Value::Null);
        assert_eq!(value["indicator"], "coc");
    }

    #[test]
    fn tables_round_and_show_the_swedish_name() {
        let text = render(Format::Table, false, &[row(Some(1.0 / 3.0))]);
        assert!(text.contains("Kontinuitetsindex"));
        assert!(text.contains("0.333"));
        assert!(!text.contains("0.3333"));
    }

    #[test]
    fn status_follows_direction_and_half_level() {
        use Direction::*;
        assert_eq!(
            Status::judge(Some(91.0), Some(90.0), Some(80.0), HigherIsBetter),
            Status::Met
        );
        assert_eq!(
            Status::judge(Some(85.0), Some(90.0), Some(80.0), HigherIsBetter),
            Status::Half
        );
        assert_eq!(
            Status::judge(Some(79.9), Some(90.0), Some(80.0), HigherIsBetter),
            Status::NotMet
        );
        assert_eq!(
            Status::judge(Some(1000.0), Some(1100.0), None, LowerIsBetter),
            Status::Met
        );
        assert_eq!(
            Status::judge(None, Some(1100.0), None, LowerIsBetter),
            Status::None
        );
        assert_eq!(
            Status::judge(Some(5.0), None, None, LowerIsBetter),
            Status::None
        );
    }
}
