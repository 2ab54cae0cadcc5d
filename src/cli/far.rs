//! pv-far's command line.

use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, ValueEnum};

use super::{CatalogueArgs, InputArgs, ListedArgs, OutputArgs, PeriodArgs, parse_kronor};
use crate::period::Granularity;

const ABOUT: &str = "FaR (DV200), qualified tobacco cessation support (DV113) and other KVÅ-coded \
                     rates per 1000 listed, per vårdcentral, with target levels and payment";

const LONG_ABOUT: &str = "\
FaR (fysisk aktivitet på recept, KVÅ DV200), qualified tobacco cessation support (DV113) and \
other KVÅ-coded rates per 1000 listed patients, per vårdcentral, with target levels and the \
payment they earn.

Reads activities (patient_id, date, unit, code; see COLUMNS) from files or stdin. A registration \
counts when its code is one of the rate's codes (ignoring case and surrounding space) and its \
date is in the period, at the unit of the registration. Rate = registrations / listed patients \
x 1000. Listed patients come from a listing snapshot (--listing: its rows per unit) or from \
counts (--listed: unit,listed); exactly one of the two is required. With --distinct-patients a \
patient counts once per unit and period (or month) however many registrations they have.

Every listed unit gets a row, 0 when it has no registrations. Registrations at a unit that is \
not listed are reported on stderr and get a row with an empty value (there are no listed \
patients to divide by); the all row counts them in its numerator. Rows with an empty code are \
not registrations (stderr says how many); every row needs a valid date and a unit.

The period is the input's span, from its first to its last date over all rows whatever their \
code, unless --from/--to, --as-of (the 12 months ending then, or --months) or --months (ending \
on the latest date) is given. --by month gives one row per calendar month, clipped to the \
period.

--annualize scales each period's count to a year: x Y / D, where D is the number of days in the \
period (or month) and Y the number of days in the year ending on its last day, counted from the \
day after the same date a year earlier (365, or 366 when that year holds a 29 February). A \
calendar year, or any 12 calendar months, is scaled by exactly 1; 2024-01-01/2024-06-30 by \
366/182. The numerator is then the annualized count; stderr \
states each factor.

Targets (Region Örebro län 2024): far_per_1000 8 full, 7 half; tobacco_qualified_per_1000 3. A \
--code rate has none until --target gives one. --payment-per-listed KR adds payment rows \
(far_payment, tobacco_qualified_payment or <name>_payment): KR x listed at the full level, half \
of that at the half level, 0 below; area and all rows are sums. KR is the amount for the period \
measured: Örebro pays 11.70 kr (FaR) and 10.70 kr (DV113) per listed and year on the year's \
rate.";

#[derive(Parser, Debug)]
#[command(name = "pv-far", version, about = ABOUT, long_about = LONG_ABOUT)]
pub struct FarArgs {
    /// Activities CSV files, read in order (stdin when none or -)
    #[arg(value_name = "ACTIVITIES")]
    pub activities: Vec<PathBuf>,

    #[command(flatten)]
    pub far: FarOptions,

    #[command(flatten)]
    pub listed: ListedArgs,

    #[command(flatten)]
    pub period: PeriodArgs,

    #[command(flatten)]
    pub input: InputArgs,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub catalogue: CatalogueArgs,
}

/// What pv-far computes.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Rate")]
pub struct FarOptions {
    /// The rate: far (KVÅ DV200, far_per_1000) or tobacco (DV113, tobacco_qualified_per_1000)
    #[arg(
        long,
        value_enum,
        value_name = "RATE",
        default_value = "far",
        conflicts_with = "code"
    )]
    pub measure: MeasureChoice,

    /// Count these KVÅ codes instead (repeatable or comma-separated; any case); needs --name
    #[arg(long, value_name = "CODE", value_delimiter = ',', requires = "name")]
    pub code: Vec<String>,

    /// Indicator id of the --code rate, e.g. dv112_per_1000 (its payment: dv112_payment)
    #[arg(long, value_name = "ID", requires = "code")]
    pub name: Option<String>,

    /// Count patients (once per unit and period) instead of registrations; needs patient_id
    #[arg(long)]
    pub distinct_patients: bool,

    /// One row per unit for the whole period, or per calendar month
    #[arg(long, value_enum, value_name = "PART", default_value = "period")]
    pub by: PartChoice,

    /// Scale each period's count to a year: x days in the year ending on its last day / days in it
    #[arg(long)]
    pub annualize: bool,

    /// Add payment rows: KR x listed at the full target, half at the half target, 0 below (11,70 or 11.70)
    #[arg(long, value_name = "KR", value_parser = parse_kronor)]
    pub payment_per_listed: Option<f64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum MeasureChoice {
    /// Fysisk aktivitet på recept: KVÅ DV200, target 8 full and 7 half per 1000
    Far,
    /// Kvalificerat rökslutarstöd: KVÅ DV113, target 3 per 1000
    Tobacco,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PartChoice {
    /// The whole period
    Period,
    /// Calendar months (YYYY-MM), clipped to the period
    Month,
}

impl PartChoice {
    pub fn granularity(self) -> Granularity {
        match self {
            PartChoice::Period => Granularity::Whole,
            PartChoice::Month => Granularity::Month,
        }
    }
}

const EXAMPLES: &str =
    "  pv-far --listed listed.csv --from 2024-01-01 --to 2024-12-31 activities.csv
      FaR per 1000 listed per unit in 2024, judged against 8 (full) and 7 (half).
  pv-far --listing listing.csv --units units.csv --payment-per-listed 11.70 activities.csv
      Listed patients from a snapshot, area rows, and what each unit earns.
  pv-far --measure tobacco --listed listed.csv --payment-per-listed 10,70 activities.csv
      Qualified tobacco cessation support (DV113), target 3 per 1000.
  pv-far --code DV112,DV122 --name dv112_per_1000 --target 5 --listed listed.csv activities.csv
      Any KVÅ codes as a rate of its own, with a target.
  pv-far --listed listed.csv --by month --annualize --from 2024-01-01 --to 2024-06-30 activities.csv
      Month by month, each month's count scaled to a year (factors on stderr).
  pv-far --listed listed.csv --distinct-patients activities.csv
      Patients with a FaR per 1000 listed, over the input's span.
";

/// The clap command; also used for the man page.
pub fn command() -> clap::Command {
    FarArgs::command()
        .mut_arg("as_of", |arg| {
            arg.help("Last day of a period of --months months (12 unless given) [default: the input's span]")
        })
        .mut_arg("months", |arg| {
            arg.help(
                "Length of the period in calendar months, ending on --as-of or the latest date \
                 in the input [default: the input's span]",
            )
        })
        .mut_arg("listing", |arg| {
            arg.help("Listing snapshot (patient_id, unit): listed patients = its rows per unit (this or --listed is required)")
        })
        .after_long_help(super::reference(
            &[
                &crate::far::ACTIVITIES,
                &crate::listing::LISTING,
                &crate::listing::LISTED,
            ],
            EXAMPLES,
        ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_is_consistent() {
        command().debug_assert();
    }
}
