//! pv-access's command line: `pv-access phone` and `pv-access assessment`.

use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

use super::{CatalogueArgs, InputArgs, ListedArgs, OutputArgs, PeriodArgs, parse_kronor};
use crate::access::assessment::ASSESSMENTS;
use crate::access::phone::{CALLS, OUTCOME_WORDS, Outcome};
use crate::listing::{LISTED, LISTING};
use crate::report::MONTH_TARGETS;

const ABOUT: &str = "Access to care: phone accessibility (0:an), call outcomes and medical assessment within 3 days (3:an) per vårdcentral";

const LONG_ABOUT: &str = "\
Access to care per vårdcentral, the first steps of the care guarantee (vårdgarantin 0-3-90-90).

pv-access phone: telephone accessibility (0:an), calls reached the same day (phone_same_day), \
the outcome distribution of incoming calls (phone_outcome) and the monthly phone target payment \
(phone_payment).

pv-access assessment: medical assessment within 3 days (3:an, assessment_3d), and within 0 and \
7 days (assessment_0d, assessment_7d).

Both write the shared indicator rows (indicator, level, unit, period, group, numerator, \
denominator, value, target, status) and take the common input, output and period options. \
See `pv-access phone --help` and `pv-access assessment --help`, or the man pages \
pv-access-phone(1) and pv-access-assessment(1).";

const PHONE_ABOUT: &str =
    "Phone accessibility (0:an): calls reached the same day, incoming calls by outcome, payment";

const PHONE_LONG_ABOUT: &str = "\
Phone accessibility (telefontillgänglighet, 0:an) per vårdcentral: calls reached the same day, \
the outcome distribution of incoming calls, and the monthly phone target payment.

Reads calls (unit, received_at, outcome, contact_at; see COLUMNS) from files or stdin. Each call \
counts on the calendar day of received_at. Outcomes: answered/besvarat, callback/klart/\
återuppringning (a call-back time was given), full/fyllt (queue full, turned away), closed/stängt \
(outside phone hours), abandoned/avbrutet (the caller hung up); any other value is an error \
naming the line.

phone_same_day (percent): counted calls reached on the day they were received / counted calls. \
Counted by default: answered, callback, full and abandoned; closed calls are left out and \
reported (--count changes the set). A call is reached the same day when contact_at falls on the \
received day (a call at 23:59 called back at 00:01 is not); an answered call without contact_at \
was reached when answered, so the same day; a call-back without contact_at was not made.

phone_outcome (percent, group = outcome): calls with each outcome / all incoming calls, closed \
included (Region Sörmland's 'Fördelning inkommande samtal').

The period is the input's first to last call day unless --from/--to, --as-of (with --months, \
default 12) or --months is given. --by month writes one row per unit and calendar month \
(period 2024-03). Rows exist for each unit and part of the period with calls.

Targets: --target 90 --half 80 by default (Region Örebro); --target/--half without an id set \
phone_same_day's levels. --targets FILE (with --by month) gives levels per month, e.g. Örebro \
2024: 80/70 in May and September-December, 90/80 otherwise.

Payment (with --by month, --payment-per-listed KR and --listing or --listed): phone_payment \
rows, scale sek, numerator = kronor, denominator = listed. Each month a unit earns KR x listed / \
12 when its phone_same_day row is met, half of that when half, nothing otherwise (also when the \
unit had no calls that month); each unit also gets its sum per calendar year of the period. \
Area and all rows add the units up.";

const ASSESSMENT_ABOUT: &str = "Medical assessment within 0, 3 and 7 days (3:an)";

const ASSESSMENT_LONG_ABOUT: &str = "\
Medical assessment within 3 days (förstärkt vårdgaranti, 3:an) per vårdcentral, and within 0 \
and 7 days.

Reads contacts (unit, contact_date, assessment_date, profession, patient_chosen_wait; see \
COLUMNS) from files or stdin. Calendar days, contact day = day 0: wait = assessment_date - \
contact_date, within k days when wait <= k (SKR: contact 5 March, assessment 8 March is within 3 \
days; 9 March is not). Contacts count in the period of their contact_date.

Left out and reported on stderr: patient-chosen waits (patient_chosen_wait true, ja, yes or 1: \
PvV); contacts not yet assessed (empty assessment_date) while the as-of day is no more than k \
days after the contact (pending). Once it is more than k days after, an unassessed contact counts \
as not assessed within k days, so the three indicators can have different denominators. An \
assessment dated before its contact is a data error (--skip-invalid skips such rows and counts \
them).

The as-of day is --as-of, by default the latest contact or assessment date in the input (the \
day of the export). The period is the input's first to last contact day unless --from/--to, \
--as-of (with --months, default 12) or --months is given. --by month writes one row per unit \
and calendar month (period 2024-03), --by profession one per profession (group: doctor, nurse, \
physio ... or unknown when empty); --by month,profession both. SKR publishes no counts under \
20: --min-cell 20 does the same.";

/// pv-access and its subcommands.
#[derive(Parser, Debug)]
#[command(
    name = "pv-access",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    subcommand_required = true,
    arg_required_else_help = true
)]
pub struct AccessArgs {
    #[command(subcommand)]
    pub command: AccessCommand,
}

#[derive(Subcommand, Debug)]
pub enum AccessCommand {
    #[command(about = PHONE_ABOUT, long_about = PHONE_LONG_ABOUT)]
    Phone(PhoneArgs),
    #[command(about = ASSESSMENT_ABOUT, long_about = ASSESSMENT_LONG_ABOUT)]
    Assessment(AssessmentArgs),
}

#[derive(Args, Debug)]
pub struct PhoneArgs {
    /// Calls CSV files, read in order (stdin when none or -)
    #[arg(value_name = "CALLS")]
    pub calls: Vec<PathBuf>,

    #[command(flatten)]
    pub phone: PhoneOptions,

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

/// What `pv-access phone` computes.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Phone")]
pub struct PhoneOptions {
    /// Outcomes counted in phone_same_day's denominator, comma-separated, Swedish or English (phone_outcome always shows every outcome)
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "LIST",
        default_value = "answered,callback,full,abandoned",
        value_parser = parse_outcome
    )]
    pub count: Vec<Outcome>,

    /// One row per unit and calendar month (period 2024-03) instead of one for the whole period
    #[arg(long, value_enum, value_name = "PART")]
    pub by: Option<PhoneBy>,

    /// Levels per month for phone_same_day (with --by month): CSV month,target,half such as 2024-05,80,70; other months use --target/--half
    #[arg(long, value_name = "FILE")]
    pub targets: Option<PathBuf>,

    /// Yearly kronor per listed patient, paid 1/12 a month at the full level, half of that at the half level: adds phone_payment rows (with --by month and --listing or --listed)
    #[arg(long, value_name = "KR", value_parser = parse_kronor)]
    pub payment_per_listed: Option<f64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PhoneBy {
    /// One row per calendar month
    Month,
}

#[derive(Args, Debug)]
pub struct AssessmentArgs {
    /// Assessments CSV files, read in order (stdin when none or -)
    #[arg(value_name = "ASSESSMENTS")]
    pub assessments: Vec<PathBuf>,

    #[command(flatten)]
    pub assessment: AssessmentOptions,

    #[command(flatten)]
    pub period: PeriodArgs,

    #[command(flatten)]
    pub input: InputArgs,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub catalogue: CatalogueArgs,
}

/// What `pv-access assessment` computes.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Assessment")]
pub struct AssessmentOptions {
    /// Break the rows down by calendar month (period 2024-03) and/or profession (group), comma-separated
    #[arg(long, value_enum, value_delimiter = ',', value_name = "LIST")]
    pub by: Vec<AssessmentBy>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AssessmentBy {
    /// One row per calendar month
    Month,
    /// One row per profession (the group column)
    Profession,
}

fn parse_outcome(text: &str) -> Result<Outcome, String> {
    Outcome::parse(text)
        .ok_or_else(|| format!("unknown outcome {text:?}; expected {OUTCOME_WORDS}"))
}

const EXAMPLES: &str = "  pv-access phone --units units.csv calls.csv
      Calls reached the same day and the outcome distribution per unit, area and region.
  pv-access assessment --by profession assessments.csv
      Medical assessment within 0, 3 and 7 days per unit and profession.
";

const PHONE_EXAMPLES: &str = "  pv-access phone --units units.csv calls.csv
      phone_same_day and phone_outcome per unit, area and region for the input's span.
  pv-access phone --by month --from 2024-01-01 --to 2024-12-31 calls.csv > phone_2024.csv
      One row per unit and month of 2024, as CSV.
  pv-access phone --by month --targets orebro_2024.csv --listed listed.csv \\
      --payment-per-listed 83 --from 2024-01-01 --to 2024-12-31 calls.csv
      Region Örebro's phone payment: monthly levels from a file, kronor per unit and month.
  pv-access phone --count answered,callback calls.csv
      Count only answered and called-back calls in the denominator.
  pv-access phone --encoding windows-1252 --decimal-comma samtal.csv > excel.csv
      A Windows-1252 TeleQ export in, Swedish Excel CSV out.
";

const ASSESSMENT_EXAMPLES: &str = "  pv-access assessment --units units.csv assessments.csv
      assessment_0d, _3d and _7d per unit, area and region, as of the latest date in the input.
  pv-access assessment --by month,profession --min-cell 20 assessments.csv
      Per month and profession, hiding counts under 20 as SKR does.
  pv-access assessment --as-of 2024-12-31 --months 12 assessments.csv
      The 12 months ending 2024-12-31, unassessed contacts judged on that day.
";

const MONTHS_HELP: &str = "Length of the period in calendar months, ending on --as-of (12 with --as-of alone) or on the latest date in the input";

/// The clap command with both subcommands' reference texts; also used
/// for the man pages (pv-access.1, pv-access-phone.1, pv-access-assessment.1).
pub fn command() -> clap::Command {
    AccessArgs::command()
        .after_long_help(format!("Examples:\n{EXAMPLES}"))
        .mut_subcommand("phone", |phone| {
            phone
                .after_long_help(super::reference(
                    &[&CALLS, &MONTH_TARGETS, &LISTED, &LISTING],
                    PHONE_EXAMPLES,
                ))
                .mut_arg("months", |arg| arg.help(MONTHS_HELP))
                .mut_arg("target", |arg| {
                    arg.help("Full target level: VALUE for phone_same_day [default: 90], or ID=VALUE (repeatable)")
                })
                .mut_arg("half", |arg| {
                    arg.help("Half target level (half payment): VALUE for phone_same_day [default: 80], or ID=VALUE (repeatable)")
                })
        })
        .mut_subcommand("assessment", |assessment| {
            assessment
                .after_long_help(super::reference(&[&ASSESSMENTS], ASSESSMENT_EXAMPLES))
                .mut_arg("months", |arg| arg.help(MONTHS_HELP))
                .mut_arg("as_of", |arg| {
                    arg.help("The day unassessed contacts are judged on; given, it also ends the period (--months, 12 by default) [default: the latest contact or assessment date in the input]")
                })
        })
}
