//! pv-coverage's command line: one subcommand per indicator family.

use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use jiff::civil::Date;

use super::{CatalogueArgs, InputArgs, OutputArgs, PeriodArgs};
use crate::coverage::{dialogue, listed, visits};
use crate::input::Schema;
use crate::listing::LISTING;
use crate::period;
use crate::staffing::STAFFING;
use crate::units::UNITS;

const ABOUT: &str = "Coverage of the listed population: täckningsgrad, listed with a visit, named \
                     doctor, listed per doctor, targeted health dialogues";

const LONG_ABOUT: &str = "\
Coverage of the listed population per vårdcentral: whether listed patients get their care from \
their own unit (täckningsgrad), how many of them visited it, how many have a named doctor, how \
many listed patients there are per full-time doctor, and how many of those turning 40, 50, 60 or \
70 were offered and completed a targeted health dialogue (riktat hälsosamtal).

Each subcommand writes the common indicator rows (indicator, level, unit, period, group, \
numerator, denominator, value, target, status): one per unit, area rows with --units, and a row \
pooling all units. See 'pv-coverage SUBCOMMAND --help' and the man pages pv-coverage-care(1) …";

#[derive(Parser, Debug)]
#[command(
    name = "pv-coverage",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    arg_required_else_help = true,
    subcommand_negates_reqs = true
)]
pub struct CoverageArgs {
    #[command(subcommand)]
    pub command: Option<CoverageCommand>,

    #[command(flatten)]
    pub catalogue: CatalogueArgs,
}

#[derive(Subcommand, Debug)]
pub enum CoverageCommand {
    /// Täckningsgrad: share of listed patients' visits made at their own unit (or any primary care unit)
    #[command(long_about = CARE_ABOUT)]
    Care(CareArgs),
    /// Listed patients with at least one visit at their unit in the period
    #[command(long_about = REACH_ABOUT)]
    Reach(ReachArgs),
    /// Listed patients with a named doctor (fast läkarkontakt)
    #[command(long_about = NAMED_DOCTOR_ABOUT)]
    NamedDoctor(NamedDoctorArgs),
    /// Listed patients per full-time doctor
    #[command(long_about = DOCTORS_ABOUT)]
    Doctors(DoctorsArgs),
    /// Targeted health dialogues offered and completed (riktade hälsosamtal, 40/50/60/70-year-olds)
    #[command(long_about = DIALOGUE_ABOUT)]
    HealthDialogue(HealthDialogueArgs),
}

const CARE_ABOUT: &str = "\
Täckningsgrad (coverage, Örebro definition): for each unit, over its listed patients' visits in \
the period to the professions in --professions (doctor, nurse, physio) with the contact types in \
--contact-types (physical, home): visits at the unit the patient is listed at / all their \
outpatient visits, at any unit, primary or specialist care.

--scope primary-care (Jämtland wording) counts, in the numerator, visits at the listing unit or \
at any primary care unit. Which units are primary care comes from the visits' care_level column \
(primary/primärvård or specialist/specialistvård …), or where that is empty or absent from the \
care_level column of --units; one of them is needed. Visits at a unit of unknown care level are \
not counted as primary care (stderr says how many).

Visits of patients not in the listing are not counted (stderr says how many). The period is \
--from/--to, or --as-of with --months (12 by default), and by default the span of dates in the \
visits. A unit whose listed patients made no visits gets a row with an empty value.";

const REACH_ABOUT: &str = "\
Listed patients with a visit (visited_share): for each unit, its listed patients with at least \
one visit at that unit in the period (contact types in --contact-types, physical and home by \
default; any profession unless --professions) / its listed patients. A unit none of whose \
patients came gets 0 %.

The period is --from/--to, or --as-of with --months (12 by default), and by default the span of \
dates in the visits.";

const NAMED_DOCTOR_ABOUT: &str = "\
Listed patients with a named doctor (named_doctor_share, fast läkarkontakt; the God och nära \
vård goal is 55 %): for each unit, listed patients whose named_doctor is filled in / listed \
patients. The column holds the doctor (a name or HSA-id) or a yes/no word (ja/nej, true/false, \
1/0); empty means none.

Reads listing snapshot files (one snapshot, possibly split over files; stdin when none). \
--by active-choice gives one group per active choice (aktivt val): true and false. The period \
column holds --as-of, the date of the snapshot, if given.";

const DOCTORS_ABOUT: &str = "\
Listed patients per full-time doctor (listed_per_doctor; riktvärde 1 100, lower is better): for \
each unit, listed patients / doctor full-time equivalents from --staffing (unit, doctor_fte; \
2,5 and 2.5 both read). Listed patients are the rows of the listing snapshot files (stdin when \
none), or the counts of --listed.

A unit with FTE 0, an empty FTE or no staffing row gets an empty value and a warning on stderr; \
its listed patients still count in the area and all rows, which pool listed patients over \
pooled FTE. The period column holds --as-of, the date of the snapshot, if given.";

const DIALOGUE_ABOUT: &str = "\
Targeted health dialogues (riktade hälsosamtal, Region Jämtland Härjedalen): the cohort is the \
listed patients (--listing, with birth_date) who turn 40, 50, 60 or 70 in --year (born in \
year − 40 …; --ages changes the ages), counted at their listing unit. \
health_dialogue_offered = cohort patients with an offered or a completed registration dated in \
the year / cohort; health_dialogue_done = those with a completed one / cohort.

Reads activity registrations (patient_id, date, code; stdin when none). Codes are compared \
case-insensitively; --offered-codes and --completed-codes set a region's own (KVÅ codes, for \
instance). A patient counts once however many registrations they have. --by age gives one group \
per cohort age. Listed patients without a birth date are in no cohort (stderr says how many).";

/// Which contacts and professions count as visits.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Visits")]
pub struct ContactTypesArg {
    /// Contact types that count as visits, comma-separated (physical, home, phone, video or the file's own)
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "LIST",
        default_value = "physical,home"
    )]
    pub contact_types: Vec<String>,
}

/// Flags that answer on their own, so the inputs a subcommand needs are
/// required unless one of them is given.
const CATALOGUE_FLAGS: [&str; 2] = ["list_indicators", "explain"];

/// A value clap requires unless a catalogue flag was given, once the
/// catalogue flags have had their turn.
pub fn given<'a, T>(value: &'a Option<T>, flag: &str) -> anyhow::Result<&'a T> {
    value
        .as_ref()
        .ok_or_else(|| super::usage(format!("{flag} is required")))
}

#[derive(Args, Debug)]
pub struct CareArgs {
    /// Visits CSV files, read in order (stdin when none or -)
    #[arg(value_name = "VISITS")]
    pub visits: Vec<PathBuf>,

    /// Listing snapshot (patient_id, unit): whose visits count, and at which unit (required)
    #[arg(long, value_name = "FILE", required_unless_present_any = CATALOGUE_FLAGS)]
    pub listing: Option<PathBuf>,

    /// Professions whose visits count, comma-separated, Swedish or English (läkare, ssk …), or 'all'
    #[arg(
        long,
        alias = "profession",
        value_delimiter = ',',
        value_name = "LIST",
        default_value = "doctor,nurse,physio",
        help_heading = "Visits"
    )]
    pub professions: Vec<String>,

    #[command(flatten)]
    pub contact_types: ContactTypesArg,

    /// Visits in the numerator: at the unit the patient is listed at, or at any primary care unit
    #[arg(
        long,
        value_enum,
        value_name = "SCOPE",
        default_value = "listing-unit",
        help_heading = "Visits"
    )]
    pub scope: ScopeChoice,

    #[command(flatten)]
    pub period: PeriodArgs,

    #[command(flatten)]
    pub input: InputArgs,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub catalogue: CatalogueArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ScopeChoice {
    /// Visits at the patient's listing unit (Örebro)
    ListingUnit,
    /// Visits at any primary care unit (Jämtland)
    PrimaryCare,
}

#[derive(Args, Debug)]
pub struct ReachArgs {
    /// Visits CSV files, read in order (stdin when none or -)
    #[arg(value_name = "VISITS")]
    pub visits: Vec<PathBuf>,

    /// Listing snapshot (patient_id, unit): the listed patients per unit (required)
    #[arg(long, value_name = "FILE", required_unless_present_any = CATALOGUE_FLAGS)]
    pub listing: Option<PathBuf>,

    /// Professions whose visits count, comma-separated, Swedish or English (läkare, ssk …), or 'all'
    #[arg(
        long,
        alias = "profession",
        value_delimiter = ',',
        value_name = "LIST",
        default_value = "all",
        help_heading = "Visits"
    )]
    pub professions: Vec<String>,

    #[command(flatten)]
    pub contact_types: ContactTypesArg,

    #[command(flatten)]
    pub period: PeriodArgs,

    #[command(flatten)]
    pub input: InputArgs,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub catalogue: CatalogueArgs,
}

/// The date of a listing snapshot.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Period")]
pub struct SnapshotArg {
    /// Date of the listing snapshot, written in the period column [default: empty]
    #[arg(long, value_name = "DATE", value_parser = period::parse_cli_date)]
    pub as_of: Option<Date>,
}

impl SnapshotArg {
    pub fn label(&self) -> String {
        self.as_of.map(|d| d.to_string()).unwrap_or_default()
    }
}

#[derive(Args, Debug)]
pub struct NamedDoctorArgs {
    /// Listing snapshot files (patient_id, unit, named_doctor), read in order as one snapshot (stdin when none or -)
    #[arg(value_name = "LISTING")]
    pub listing: Vec<PathBuf>,

    /// Breakdown inside each unit
    #[arg(long, value_enum, value_name = "GROUP")]
    pub by: Option<NamedDoctorBy>,

    #[command(flatten)]
    pub snapshot: SnapshotArg,

    #[command(flatten)]
    pub input: InputArgs,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub catalogue: CatalogueArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum NamedDoctorBy {
    /// Groups true and false by the listing's active_choice (aktivt val)
    ActiveChoice,
}

#[derive(Args, Debug)]
pub struct DoctorsArgs {
    /// Listing snapshot files (patient_id, unit), read in order as one snapshot (stdin when none or -)
    #[arg(value_name = "LISTING")]
    pub listing: Vec<PathBuf>,

    /// Staffing file (unit, doctor_fte): doctor full-time equivalents per unit (required)
    #[arg(long, value_name = "FILE", required_unless_present_any = CATALOGUE_FLAGS)]
    pub staffing: Option<PathBuf>,

    /// Listed counts per unit (unit, listed), instead of listing snapshot files
    #[arg(long, value_name = "FILE", conflicts_with = "listing")]
    pub listed: Option<PathBuf>,

    #[command(flatten)]
    pub snapshot: SnapshotArg,

    #[command(flatten)]
    pub input: InputArgs,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub catalogue: CatalogueArgs,
}

#[derive(Args, Debug)]
pub struct HealthDialogueArgs {
    /// Activity registration files (patient_id, date, code), read in order (stdin when none or -)
    #[arg(value_name = "ACTIVITIES")]
    pub activities: Vec<PathBuf>,

    /// Listing snapshot (patient_id, unit, birth_date): the cohort and its units (required)
    #[arg(long, value_name = "FILE", required_unless_present_any = CATALOGUE_FLAGS)]
    pub listing: Option<PathBuf>,

    /// The calendar year: the cohort turns the --ages in it, registrations dated in it count (required)
    #[arg(long, value_name = "YEAR", required_unless_present_any = CATALOGUE_FLAGS, value_parser = clap::value_parser!(i16).range(1900..=2200), help_heading = "Health dialogues")]
    pub year: Option<i16>,

    /// Ages turned in the year that make the cohort, comma-separated
    #[arg(long, value_delimiter = ',', value_name = "LIST", default_value = "40,50,60,70", value_parser = clap::value_parser!(i16).range(0..=130), help_heading = "Health dialogues")]
    pub ages: Vec<i16>,

    /// Codes of an offered dialogue, comma-separated (case-insensitive)
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "LIST",
        default_value = "offered,erbjuden,erbjudet",
        help_heading = "Health dialogues"
    )]
    pub offered_codes: Vec<String>,

    /// Codes of a completed dialogue, comma-separated (a completed dialogue was also offered)
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "LIST",
        default_value = "completed,genomförd,genomfört",
        help_heading = "Health dialogues"
    )]
    pub completed_codes: Vec<String>,

    /// Breakdown inside each unit
    #[arg(
        long,
        value_enum,
        value_name = "GROUP",
        help_heading = "Health dialogues"
    )]
    pub by: Option<DialogueBy>,

    #[command(flatten)]
    pub input: InputArgs,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub catalogue: CatalogueArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DialogueBy {
    /// One group per cohort age (40, 50 …)
    Age,
}

const CARE_EXAMPLES: &str = "  pv-coverage care --listing listing.csv --units units.csv visits.csv
      Täckningsgrad per unit over the whole span of the visits, with area rows.
  pv-coverage care --listing listing.csv --from 2024-01-01 --to 2024-12-31 visits.csv
      For 2024 only; the target (60 %) can be changed with --target coverage=65.
  pv-coverage care --listing listing.csv --scope primary-care --units units.csv visits.csv
      Visits at any primary care unit in the numerator (care levels from units.csv).
";

const REACH_EXAMPLES: &str =
    "  pv-coverage reach --listing listing.csv --as-of 2024-12-31 visits.csv
      Listed patients who visited their unit in the 12 months up to 2024-12-31.
  pv-coverage reach --listing listing.csv --professions läkare visits.csv
      Listed patients who saw a doctor at their unit.
";

const NAMED_DOCTOR_EXAMPLES: &str = "  pv-coverage named-doctor --units units.csv listing.csv
      Share with a named doctor per unit and area.
  pv-coverage named-doctor --by active-choice --as-of 2024-12-31 listing.csv
      Split by active choice, the snapshot date in the period column.
";

const DOCTORS_EXAMPLES: &str = "  pv-coverage doctors --staffing staffing.csv listing.csv
      Listed per full-time doctor, judged against 1 100.
  pv-coverage doctors --staffing staffing.csv --listed listed.csv --target 1000
      From listed counts per unit, with a target of 1 000.
";

const DIALOGUE_EXAMPLES: &str =
    "  pv-coverage health-dialogue --listing listing.csv --year 2022 activities.csv
      Offered and completed shares of those turning 40, 50, 60 or 70 in 2022.
  pv-coverage health-dialogue --listing listing.csv --year 2024 --by age \\
      --offered-codes DV132 --completed-codes DV133 kva.csv
      Per cohort age, with a region's own codes.
";

/// The reference text (input columns, exit status, examples) of each subcommand.
fn subcommand_reference(name: &str) -> String {
    let (schemas, examples): (&[&Schema], &str) = match name {
        "care" => (&[&visits::VISITS, &LISTING, &UNITS], CARE_EXAMPLES),
        "reach" => (&[&visits::VISITS, &LISTING, &UNITS], REACH_EXAMPLES),
        "named-doctor" => (
            &[&listed::NAMED_DOCTOR_LISTING, &UNITS],
            NAMED_DOCTOR_EXAMPLES,
        ),
        "doctors" => (&[&LISTING, &STAFFING, &UNITS], DOCTORS_EXAMPLES),
        _ => (
            &[&dialogue::ACTIVITIES, &dialogue::DIALOGUE_LISTING, &UNITS],
            DIALOGUE_EXAMPLES,
        ),
    };
    super::reference(schemas, examples)
}

const PERIOD_MONTHS_HELP: &str = "Length of the period in calendar months, ending on --as-of (12 when only --as-of is given) \
     [default: the span of dates in the visits]";

/// The clap command with each subcommand's reference text; also used for
/// the man pages.
pub fn command() -> clap::Command {
    let mut command = CoverageArgs::command();
    let names: Vec<String> = command
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    for name in names {
        let reference = subcommand_reference(&name);
        command = command.mut_subcommand(&name, |sub| {
            let sub = sub.after_long_help(reference);
            if sub.get_arguments().any(|a| a.get_id() == "months") {
                sub.mut_arg("months", |arg| arg.help(PERIOD_MONTHS_HELP))
                    .mut_arg("as_of", |arg| {
                        arg.help("Last day of the period [default: the latest date in the visits]")
                    })
            } else {
                sub
            }
        });
    }
    command
}
