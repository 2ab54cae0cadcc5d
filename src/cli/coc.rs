//! pv-coc's command line.

use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, ValueEnum};

use super::{CatalogueArgs, InputArgs, OutputArgs, PeriodArgs};

const ABOUT: &str = "Continuity of care (Kontinuitetsindex, COC and related indexes) per vårdcentral and profession";

const LONG_ABOUT: &str = "\
Continuity of care (Kontinuitetsindex, COC and related indexes) per vårdcentral and profession.

Reads visits (patient_id, date, unit, provider_id, profession, contact_type; see COLUMNS) from \
files or stdin and writes one row per index, unit and profession, plus area rows (with --units) \
and a row pooling all units.

Population (SKR Primärvårdskvalitet): patients listed at the unit (--listing), counting their \
physical visits (incl. home visits) at that same unit to each profession, within the last 18 \
months, who made at least 3 such visits. Without --listing the visit's own unit is used. Visits \
with an empty provider do not count. The unit value is the mean of the patients' values: \
numerator = sum of patient values, denominator = eligible patients.

Per patient with N visits, n_j of them to provider j, P providers: \
COC = (sum n_j^2 - N) / (N(N-1)); UPC = max n_j / N; HHI = sum (n_j/N)^2; \
MMCI = (1 - P/(N+0.1)) / (1 - 1/(N+0.1)); SECON = share of consecutive visit pairs (by date, \
time, provider id) with the same provider. COC, SECON and MMCI are undefined for N = 1: with \
--min-visits 1 those patients are left out of those means, never counted as 0.

The window ends on --as-of (default: the latest visit date in the input) and starts 18 calendar \
months earlier: --as-of 2024-12-31 gives 2023-07-01/2024-12-31.";

#[derive(Parser, Debug)]
#[command(name = "pv-coc", version, about = ABOUT, long_about = LONG_ABOUT)]
pub struct CocArgs {
    /// Visits CSV files, read in order (stdin when none or -)
    #[arg(value_name = "VISITS")]
    pub visits: Vec<PathBuf>,

    /// Listing snapshot (patient_id, unit): only visits of patients listed at the visit's unit count
    #[arg(long, value_name = "FILE")]
    pub listing: Option<PathBuf>,

    #[command(flatten)]
    pub coc: CocOptions,

    #[command(flatten)]
    pub period: PeriodArgs,

    #[command(flatten)]
    pub input: InputArgs,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub catalogue: CatalogueArgs,
}

/// What pv-coc computes.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Continuity")]
pub struct CocOptions {
    /// Indexes to compute, comma-separated
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        value_name = "LIST",
        default_value = "coc"
    )]
    pub index: Vec<IndexChoice>,

    /// Fewest visits (to one profession, in the window) for a patient to count
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub min_visits: u32,

    /// Professions to report, comma-separated, Swedish or English (läkare, doctor, ssk …) [default: all present]
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub profession: Vec<String>,

    /// Contact types that count as visits, comma-separated (physical, home, phone, video or the file's own)
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "LIST",
        default_value = "physical,home"
    )]
    pub contact_types: Vec<String>,

    /// Write one row per eligible patient (unit, profession, patient_id, visits, providers, indexes) instead of unit rows; the only output with patient ids
    #[arg(long)]
    pub per_patient: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum IndexChoice {
    /// Bice-Boxerman continuity of care index
    Coc,
    /// Usual provider of care: share of visits to the most-seen provider
    Upc,
    /// Sequential continuity: share of consecutive visits with the same provider
    Secon,
    /// Modified modified continuity index
    Mmci,
    /// Herfindahl concentration of visits over providers
    Hhi,
    /// All of the above
    All,
}

const EXAMPLES: &str = "  pv-coc --listing listing.csv --units units.csv visits.csv
      COC per unit and profession, area and region rows, as a table on a terminal.
  pv-coc --listing listing.csv --as-of 2024-12-31 --index all visits_*.csv > coc.csv
      Every index for the 18 months ending 2024-12-31, as CSV.
  pv-coc --listing l.csv --profession läkare v.csv | sort -t, -k8 -g
      Doctors only, units sorted by value.
  pv-coc --encoding windows-1252 --decimal-comma export.csv > coc_excel.csv
      A Windows-1252 Excel export in, Swedish Excel CSV out.
  pv-coc --listing l.csv --per-patient v.csv
      One row per eligible patient (contains patient ids).
";

/// The clap command, with pv-coc's period default; also used for the man page.
pub fn command() -> clap::Command {
    CocArgs::command()
        .mut_arg("months", |arg| arg.default_value("18"))
        .after_long_help(super::reference(
            &[&crate::continuity::VISITS, &crate::listing::LISTING],
            EXAMPLES,
        ))
}
