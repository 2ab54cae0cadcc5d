//! Options every tool shares (flattened into each tool's clap parser),
//! the catalogue flags, the stderr summary, and `main`'s error handling
//! and exit codes: 0 ok, 1 data or I/O error, 2 usage error.

use std::fmt;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use encoding_rs::Encoding;
use jiff::civil::Date;

use crate::catalogue::{self, Tool};
use crate::input::{self, ColumnOverride, ReadOptions, RejectLog, Schema};
use crate::listing::{ListedCounts, Listing};
use crate::output::{self, Format, Style};
use crate::period::{self, PeriodSpec, Window};
use crate::report::{LevelOverride, Targets};
use crate::units::Units;

pub mod access;
pub mod coc;
pub mod coverage;
pub mod far;
pub mod listing_diff;

/// How inputs are read.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Input")]
pub struct InputArgs {
    /// Field delimiter: one character or 'tab' [default: sniffed from the header among , ; TAB |]
    #[arg(short = 'd', long, value_name = "CHAR", value_parser = input::parse_delimiter)]
    pub delimiter: Option<u8>,

    /// Character encoding of the inputs, e.g. windows-1252 (also latin1) for Swedish Excel exports
    #[arg(long, value_name = "NAME", default_value = "utf-8", value_parser = input::parse_encoding)]
    pub encoding: &'static Encoding,

    /// Read the column CANONICAL from the header HEADER (repeatable), e.g. --col patient_id=Pnr
    #[arg(long = "col", value_name = "CANONICAL=HEADER")]
    pub columns: Vec<ColumnOverride>,

    /// Skip rows that cannot be used (bad date, ragged row, empty required field) instead of stopping; their number is reported
    #[arg(long)]
    pub skip_invalid: bool,

    /// With --skip-invalid: write each skipped row verbatim, with file, line, column and reason, to FILE (CSV)
    #[arg(long, value_name = "FILE", requires = "skip_invalid")]
    pub rejects: Option<PathBuf>,

    /// Worker threads for reading [default: the number of CPUs]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
}

impl InputArgs {
    pub fn read_options(&self, quiet: bool) -> ReadOptions {
        let threads = self.threads.map(usize::from).unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
        });
        ReadOptions {
            delimiter: self.delimiter,
            encoding: self.encoding,
            overrides: self.columns.clone(),
            skip_invalid: self.skip_invalid,
            threads,
            progress: !quiet,
        }
    }
}

/// How results are written.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Output")]
pub struct OutputArgs {
    /// Output format [default: table on a terminal, csv otherwise]
    #[arg(short = 'f', long, value_enum, value_name = "FORMAT")]
    pub format: Option<Format>,

    /// Write decimal commas (0,5) and use ; between CSV fields, for Swedish Excel
    #[arg(long)]
    pub decimal_comma: bool,

    /// Units file (unit, area, name, care_level): adds area roll-up rows
    #[arg(long, value_name = "FILE")]
    pub units: Option<PathBuf>,

    /// Leave out the level=all rows (every unit pooled)
    #[arg(long)]
    pub no_total: bool,

    /// Suppress rows whose denominator is below N: blank numerator and value, status 'suppressed' (never payments)
    #[arg(long, value_name = "N")]
    pub min_cell: Option<u64>,

    /// Full target level, overriding the catalogue: VALUE for every indicator but payments, or ID=VALUE (repeatable)
    #[arg(long, value_name = "[ID=]VALUE")]
    pub target: Vec<LevelOverride>,

    /// Half target level (partial payment): VALUE or ID=VALUE (repeatable)
    #[arg(long, value_name = "[ID=]VALUE")]
    pub half: Vec<LevelOverride>,

    /// No summary on stderr and no progress bar
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

impl OutputArgs {
    pub fn style(&self) -> Style {
        Style {
            format: Format::resolve(self.format),
            decimal_comma: self.decimal_comma,
        }
    }

    pub fn targets(&self, tool: Tool) -> Result<Targets> {
        let targets = Targets {
            full: self.target.clone(),
            half: self.half.clone(),
            by_period: Vec::new(),
        };
        targets.check_tool(tool).map_err(usage)?;
        Ok(targets)
    }

    pub fn load_units(
        &self,
        options: &ReadOptions,
        rejects: &mut RejectLog,
    ) -> Result<Option<Units>> {
        self.units
            .as_deref()
            .map(|path| Units::load(path, options, rejects))
            .transpose()
    }
}

/// The reporting period.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Period")]
pub struct PeriodArgs {
    /// Last day of the period [default: the latest date in the input]
    #[arg(long, value_name = "DATE", value_parser = period::parse_cli_date)]
    pub as_of: Option<Date>,

    /// Length of the period in calendar months, ending on --as-of
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1200))]
    pub months: Option<u32>,

    /// First day of an explicit period (with --to), instead of --as-of/--months
    #[arg(long, value_name = "DATE", value_parser = period::parse_cli_date, requires = "to", conflicts_with_all = ["as_of", "months"])]
    pub from: Option<Date>,

    /// Last day of an explicit period (with --from)
    #[arg(long, value_name = "DATE", value_parser = period::parse_cli_date, requires = "from")]
    pub to: Option<Date>,
}

impl PeriodArgs {
    /// The period of a tool whose default is a fixed number of months
    /// ending on the latest date in the input (pv-coc: 18).
    pub fn spec(&self, default_months: u32) -> Result<PeriodSpec> {
        let months = self.months.unwrap_or(default_months);
        match (self.from, self.to, self.as_of) {
            (Some(from), Some(to), _) => {
                Ok(PeriodSpec::Fixed(Window::new(from, to).map_err(usage)?))
            }
            (_, _, Some(as_of)) => Ok(PeriodSpec::Fixed(Window::months_ending(as_of, months)?)),
            _ => Ok(PeriodSpec::EndingAtLatest { months }),
        }
    }

    /// The period of a tool whose default is the whole span of dates in
    /// the input: `--as-of` alone ends a period of `months_with_as_of`
    /// months, `--months` alone ends on the latest date.
    pub fn spec_or_span(&self, months_with_as_of: u32) -> Result<PeriodSpec> {
        if self.from.is_none() && self.as_of.is_none() && self.months.is_none() {
            return Ok(PeriodSpec::InputSpan);
        }
        self.spec(months_with_as_of)
    }
}

/// The listed population that rates per listed patient and payments per
/// listed patient are based on: a snapshot, or counts per unit.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Listed population")]
pub struct ListedArgs {
    /// Listing snapshot (patient_id, unit): listed patients = its rows per unit
    #[arg(long, value_name = "FILE", conflicts_with = "listed")]
    pub listing: Option<PathBuf>,

    /// Listed counts per unit (unit, listed), instead of a snapshot
    #[arg(long, value_name = "FILE")]
    pub listed: Option<PathBuf>,
}

impl ListedArgs {
    /// Listed patients per unit from whichever file was given; a
    /// snapshot's rows go into the summary.
    pub fn load(
        &self,
        options: &ReadOptions,
        rejects: &mut RejectLog,
        summary: &mut Summary,
    ) -> Result<Option<ListedCounts>> {
        if let Some(path) = &self.listed {
            return ListedCounts::load(path, options, rejects).map(Some);
        }
        let Some(path) = self.listing.as_deref() else {
            return Ok(None);
        };
        let listing = Listing::load(path, options, rejects)?;
        summary.rows(&RowAccount::of_listing("listing", &listing, "the first"));
        Ok(Some(ListedCounts::from_listing(&listing)))
    }

    pub fn is_given(&self) -> bool {
        self.listing.is_some() || self.listed.is_some()
    }
}

/// `--list-indicators` and `--explain`.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Indicators")]
pub struct CatalogueArgs {
    /// List this tool's indicators (id, Swedish name, scale, default targets) and exit
    #[arg(long)]
    pub list_indicators: bool,

    /// Explain one indicator (definition, scale, targets, source) and exit
    #[arg(long, value_name = "ID")]
    pub explain: Option<String>,
}

impl CatalogueArgs {
    /// Prints what was asked for; returns whether the run is over.
    pub fn handle(&self, tool: Tool, style: Style) -> Result<bool> {
        if let Some(id) = &self.explain {
            let Some(indicator) = catalogue::get(id) else {
                let known: Vec<&str> = catalogue::for_tool(tool).map(|i| i.id).collect();
                return Err(usage(format!(
                    "unknown indicator {id:?}; {} has: {}",
                    tool.binary(),
                    known.join(", ")
                )));
            };
            let mut out = output::stdout();
            out.write_all(catalogue::explain(indicator).as_bytes())?;
            out.flush()?;
            return Ok(true);
        }
        if self.list_indicators {
            let columns = [
                "id",
                "name_sv",
                "name_en",
                "scale",
                "direction",
                "target",
                "half",
            ];
            let mut writer = output::RowWriter::new(output::stdout(), style, &columns)?;
            for ind in catalogue::for_tool(tool) {
                let level = |v: Option<f64>| output::Cell::num(v, 4, 1);
                writer.row(&[
                    output::Cell::text(ind.id),
                    output::Cell::text(ind.name_sv),
                    output::Cell::text(ind.name_en),
                    output::Cell::text(ind.scale.as_str()),
                    output::Cell::text(ind.direction.as_str()),
                    level(ind.target),
                    level(ind.half),
                ])?;
            }
            writer.finish()?;
            return Ok(true);
        }
        Ok(false)
    }
}

/// Parses an amount in kronor (`--payment-per-listed`): `83`, `11.70`,
/// `11,70` or `1 000`, as Swedish and English spreadsheets write it.
pub fn parse_kronor(s: &str) -> Result<f64, String> {
    let plain: String = s
        .chars()
        .filter(|c| !matches!(c, ' ' | '\u{a0}' | '\u{202f}'))
        .map(|c| if c == ',' { '.' } else { c })
        .collect();
    plain
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| {
            format!("expected an amount in kronor such as 83, 11.70, 11,70 or 1 000, got {s:?}")
        })
}

/// An error in how the tool was called (exit code 2), as opposed to bad data.
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

pub fn usage(message: impl fmt::Display) -> anyhow::Error {
    anyhow::Error::new(UsageError(message.to_string()))
}

/// How the rows of one input were accounted for: every row read was used,
/// excluded by a rule (with the reason) or skipped as invalid. Every tool
/// words it alike on stderr, so that the four numbers can be checked:
/// `visits: read 25 rows = 20 used + 3 excluded by rule + 2 skipped as
/// invalid; visits excluded by rule: 2 contact type not counted, 1 outside
/// the period`.
#[derive(Clone, Debug)]
pub struct RowAccount {
    input: String,
    read: u64,
    used: u64,
    excluded: Vec<(u64, String)>,
    invalid: u64,
}

impl RowAccount {
    /// `read` rows of `input` (as the summary names it), `invalid` of them
    /// skipped with `--skip-invalid`.
    pub fn new(input: impl Into<String>, read: u64, invalid: u64) -> RowAccount {
        RowAccount {
            input: input.into(),
            read,
            used: 0,
            excluded: Vec::new(),
            invalid,
        }
    }

    /// A listing snapshot's rows: its patients are used; repeated patient
    /// rows that a keep-first or keep-last policy dropped are excluded.
    pub fn of_listing<V>(input: impl Into<String>, listing: &Listing<V>, kept: &str) -> RowAccount {
        RowAccount::new(input, listing.rows, listing.rejected)
            .used(listing.patients.len() as u64)
            .repeats_dropped(listing.duplicates, kept)
    }

    /// `rows` dropped as repeats of a patient, `kept` naming the row kept.
    pub fn repeats_dropped(self, rows: u64, kept: &str) -> RowAccount {
        self.excluded(rows, format!("repeated patient rows dropped (kept {kept})"))
    }

    pub fn used(mut self, rows: u64) -> RowAccount {
        self.used += rows;
        self
    }

    /// `rows` excluded for `reason` (nothing when there are none).
    pub fn excluded(mut self, rows: u64, reason: impl fmt::Display) -> RowAccount {
        if rows > 0 {
            self.excluded.push((rows, reason.to_string()));
        }
        self
    }

    /// Rows excluded for each (rows, reason).
    pub fn excluded_each<R: fmt::Display>(
        self,
        reasons: impl IntoIterator<Item = (u64, R)>,
    ) -> RowAccount {
        reasons.into_iter().fold(self, |account, (rows, reason)| {
            account.excluded(rows, reason)
        })
    }

    fn excluded_rows(&self) -> u64 {
        self.excluded.iter().map(|(rows, _)| rows).sum()
    }

    /// The summary parts: the sum, the reasons, and a warning should the
    /// numbers not add up (which would be a bug).
    fn parts(&self) -> Vec<String> {
        let excluded = self.excluded_rows();
        let mut parts = vec![format!(
            "{}: read {} rows = {} used + {excluded} excluded by rule + {} skipped as invalid",
            self.input, self.read, self.used, self.invalid
        )];
        if !self.excluded.is_empty() {
            let reasons: Vec<String> = self
                .excluded
                .iter()
                .map(|(rows, reason)| format!("{rows} {reason}"))
                .collect();
            parts.push(format!(
                "{} excluded by rule: {}",
                self.input,
                reasons.join(", ")
            ));
        }
        let accounted = self.used + excluded + self.invalid;
        if accounted != self.read {
            parts.push(format!(
                "warning: the {} rows do not add up ({accounted} accounted for, {} read); \
                 please report this as a bug",
                self.input, self.read
            ));
        }
        parts
    }
}

/// A run's stderr summary: parts joined by `; ` on one line, ending with
/// the rows skipped as invalid (and where they were written).
pub struct Summary {
    tool: Tool,
    parts: Vec<String>,
}

impl Summary {
    pub fn new(tool: Tool) -> Summary {
        Summary {
            tool,
            parts: Vec::new(),
        }
    }

    pub fn push(&mut self, part: impl Into<String>) {
        self.parts.push(part.into());
    }

    /// One input's rows: read = used + excluded by rule + skipped as invalid.
    pub fn rows(&mut self, account: &RowAccount) {
        self.parts.extend(account.parts());
    }

    /// The period the run covered, or `none` (why there is none). A period
    /// over 10 years taken from the input's own dates is most likely a
    /// mistyped year (1024 for 2024): it is said, with the way out.
    pub fn period(&mut self, window: Option<Window>, none: &str) {
        let Some(window) = window else {
            self.push(none);
            return;
        };
        self.push(format!("period {}", window.label()));
        self.question_span(window);
    }

    /// Warns about a period of more than 10 years (see [`Summary::period`]).
    pub fn question_span(&mut self, window: Window) {
        let days = period::days_between(window.first, window.last);
        if days > 3653 {
            self.push(format!(
                "warning: the period spans {} years; is a date mistyped? --from/--to or --as-of fix the period",
                days / 365
            ));
        }
    }

    /// A listing snapshot: its patients and units, and its rows.
    pub fn listing<V>(&mut self, listing: &Listing<V>) {
        self.push(format!(
            "listing: {} patients at {} units",
            listing.patients.len(),
            listing.units.len()
        ));
        self.rows(&RowAccount::of_listing("listing", listing, "the first"));
    }

    /// Writes the skipped rows to `--rejects` (also when quiet), then the
    /// summary unless quiet.
    pub fn finish(mut self, input: &InputArgs, rejects: &RejectLog, quiet: bool) -> Result<()> {
        if let Some(path) = &input.rejects {
            rejects.write_to(path)?;
        }
        if !rejects.is_empty() {
            let whereto = input
                .rejects
                .as_ref()
                .map(|p| format!(", written to {}", p.display()))
                .unwrap_or_default();
            self.push(format!("skipped {} invalid rows{whereto}", rejects.len()));
        }
        note(self.tool, quiet, &self.parts.join("; "));
        Ok(())
    }
}

/// A note on stderr, unless quiet.
pub fn note(tool: Tool, quiet: bool, message: &str) {
    if !quiet {
        let _ = writeln!(io::stderr(), "{}: {message}", tool.binary());
    }
}

/// Runs a tool's body and turns its result into an exit code: a closed
/// output pipe is success, usage errors exit 2, everything else 1.
pub fn main(tool: Tool, body: impl FnOnce() -> Result<()>) -> ExitCode {
    match body() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            let code = if error.downcast_ref::<UsageError>().is_some() {
                2
            } else {
                1
            };
            let mut stderr = io::stderr().lock();
            let _ = writeln!(stderr, "{}: error: {error:#}", tool.binary());
            ExitCode::from(code)
        }
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause.downcast_ref::<io::Error>().is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
            || cause
                .downcast_ref::<csv::Error>()
                .is_some_and(|e| matches!(e.kind(), csv::ErrorKind::Io(io) if io.kind() == io::ErrorKind::BrokenPipe))
    })
}

/// The reference part of `--help` and the man page: the input columns of
/// `schemas` with their aliases, exit status and examples.
pub fn reference(schemas: &[&Schema], examples: &str) -> String {
    let mut text = String::from(
        "Input columns (matched case-insensitively, with space, - and _ alike; \
         --col CANONICAL=HEADER names any other header; unknown columns are ignored):\n",
    );
    for schema in schemas {
        text.push_str(&format!("\n  {}:\n", schema.what));
        for spec in schema.columns {
            let need = if spec.required {
                "required"
            } else {
                "optional"
            };
            let aliases = input::columns::ALIASES
                .iter()
                .find(|(name, _)| *name == spec.name)
                .map_or(String::new(), |(_, aliases)| aliases.join(", "));
            text.push_str(&format!("    {} ({need}): {aliases}\n", spec.name));
        }
    }
    text.push_str(
        "\nDates are YYYY-MM-DD or YYYYMMDD; times YYYY-MM-DD HH:MM[:SS] (or with T). The delimiter \
         (, ; TAB |) is sniffed from the header and a UTF-8 BOM is skipped.\n\n\
         Exit status: 0 success (also when a reader such as head closes the pipe early), \
         1 bad data or an I/O error, 2 a usage error.\n\nExamples:\n",
    );
    text.push_str(examples);
    text
}

/// Every man page: each tool's, and one per subcommand named
/// `tool-subcommand` (as git's are) whose synopsis reads `tool subcommand`.
pub fn man_pages() -> Vec<clap::Command> {
    commands()
        .into_iter()
        .flat_map(|command| {
            let tool = command.get_name().to_string();
            let subcommands: Vec<clap::Command> = command
                .get_subcommands()
                .filter(|sub| sub.get_name() != "help")
                .map(|sub| {
                    // clap names are &'static str; a few are made per man page run.
                    let page: &'static str = format!("{tool}-{}", sub.get_name()).leak();
                    sub.clone()
                        .name(page)
                        .display_name(page)
                        .bin_name(format!("{tool} {}", sub.get_name()))
                })
                .collect();
            std::iter::once(command).chain(subcommands)
        })
        .collect()
}

/// Every tool's clap command.
pub fn commands() -> Vec<clap::Command> {
    vec![
        coc::command(),
        access::command(),
        coverage::command(),
        far::command(),
        listing_diff::command(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_states_its_sum_and_reasons() {
        let account = RowAccount::new("calls", 10, 2)
            .used(5)
            .excluded(2, "outside the period")
            .excluded(0, "never shown")
            .excluded_each([(1, "closed (not counted)")]);
        assert_eq!(
            account.parts(),
            [
                "calls: read 10 rows = 5 used + 3 excluded by rule + 2 skipped as invalid",
                "calls excluded by rule: 2 outside the period, 1 closed (not counted)",
            ]
        );
        let nothing_excluded = RowAccount::new("visits", 3, 0).used(3);
        assert_eq!(
            nothing_excluded.parts(),
            ["visits: read 3 rows = 3 used + 0 excluded by rule + 0 skipped as invalid"]
        );
    }

    #[test]
    fn an_account_that_does_not_add_up_says_so() {
        let parts = RowAccount::new("visits", 10, 1).used(8).parts();
        assert_eq!(parts.len(), 2, "{parts:?}");
        assert!(
            parts[1]
                .starts_with("warning: the visits rows do not add up (9 accounted for, 10 read)"),
            "{parts:?}"
        );
    }

    #[test]
    fn a_long_period_is_questioned() {
        let mut summary = Summary::new(Tool::Far);
        let window = |first: Date| Window::new(first, jiff::civil::date(2024, 12, 31)).ok();
        summary.period(window(jiff::civil::date(2015, 1, 1)), "none");
        summary.period(window(jiff::civil::date(1024, 8, 8)), "none");
        summary.period(None, "no rows, so no period");
        assert_eq!(
            summary.parts,
            [
                "period 2015-01-01/2024-12-31",
                "period 1024-08-08/2024-12-31",
                "warning: the period spans 1001 years; is a date mistyped? --from/--to or --as-of fix the period",
                "no rows, so no period",
            ]
        );
    }

    #[test]
    fn kronor_in_swedish_and_english_shapes() {
        assert_eq!(parse_kronor("11.70"), Ok(11.7));
        assert_eq!(parse_kronor("11,70"), Ok(11.7));
        assert_eq!(parse_kronor("1 000"), Ok(1000.0));
        assert!(parse_kronor("-1").is_err());
        assert!(parse_kronor("inf").is_err());
        assert!(parse_kronor("kr").is_err());
    }
}
