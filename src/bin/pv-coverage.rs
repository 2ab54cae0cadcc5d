//! pv-coverage: täckningsgrad, listed with a visit, named doctor, listed
//! per doctor and targeted health dialogues per vårdcentral.

use std::process::ExitCode;

use anyhow::Result;
use clap::FromArgMatches;

use pvkit::catalogue::Tool;
use pvkit::cli::coverage::{
    CareArgs, CoverageArgs, CoverageCommand, DialogueBy, DoctorsArgs, HealthDialogueArgs,
    NamedDoctorArgs, NamedDoctorBy, ReachArgs, ScopeChoice, given,
};
use pvkit::cli::{
    self, CatalogueArgs, InputArgs, OutputArgs, PeriodArgs, RowAccount, Summary, note,
};
use pvkit::coverage::{self, dialogue, listed, visits};
use pvkit::input::row::name_for_message;
use pvkit::input::{self, ReadOptions, RejectLog, Source};
use pvkit::listing::{LISTING, ListedCounts, Listing};
use pvkit::output::{self, Format, Style};
use pvkit::report::{Measure, Report, Targets};
use pvkit::staffing::Staffing;
use pvkit::units::Units;

const TOOL: Tool = Tool::Coverage;

fn main() -> ExitCode {
    cli::main(TOOL, || {
        let matches = cli::coverage::command().get_matches();
        run(CoverageArgs::from_arg_matches(&matches)?)
    })
}

fn run(args: CoverageArgs) -> Result<()> {
    match args.command {
        Some(CoverageCommand::Care(care)) => visit_ratio(VisitRun::care(&care)?),
        Some(CoverageCommand::Reach(reach)) => visit_ratio(VisitRun::reach(&reach)?),
        Some(CoverageCommand::NamedDoctor(named)) => named_doctor(named),
        Some(CoverageCommand::Doctors(doctors)) => listed_per_doctor(doctors),
        Some(CoverageCommand::HealthDialogue(dialogues)) => health_dialogue(dialogues),
        None => {
            let style = Style {
                format: Format::resolve(None),
                decimal_comma: false,
            };
            args.catalogue.handle(TOOL, style)?;
            Ok(())
        }
    }
}

/// What every subcommand sets up before its own work, and how it ends.
struct Common<'a> {
    input: &'a InputArgs,
    output: &'a OutputArgs,
    read_options: ReadOptions,
    targets: Targets,
    rejects: RejectLog,
    summary: Summary,
    units: Option<Units>,
}

impl<'a> Common<'a> {
    /// `None` when the catalogue flags answered the call.
    fn start(
        input: &'a InputArgs,
        output: &'a OutputArgs,
        catalogue: &CatalogueArgs,
    ) -> Result<Option<Common<'a>>> {
        if catalogue.handle(TOOL, output.style())? {
            return Ok(None);
        }
        let read_options = input.read_options(output.quiet);
        let targets = output.targets(TOOL)?;
        let mut rejects = RejectLog::default();
        let units = output.load_units(&read_options, &mut rejects)?;
        Ok(Some(Common {
            input,
            output,
            read_options,
            targets,
            rejects,
            summary: Summary::new(TOOL),
            units,
        }))
    }

    /// Rolls the measures up, writes them, then the rejects and the summary.
    fn finish(self, measures: Vec<Measure>) -> Result<()> {
        let report = Report {
            units: self.units.as_ref(),
            unit_rows: true,
            total: !self.output.no_total,
            targets: &self.targets,
            min_cell: self.output.min_cell,
        };
        let rows = report.rows(measures);
        output::write_indicator_rows(output::stdout(), self.output.style(), &rows)?;
        self.summary
            .finish(self.input, &self.rejects, self.output.quiet)
    }
}

/// `care` or `reach`: the arguments both share.
struct VisitRun<'a> {
    config: visits::Config,
    visits: &'a [std::path::PathBuf],
    listing: &'a Option<std::path::PathBuf>,
    input: &'a InputArgs,
    output: &'a OutputArgs,
    catalogue: &'a CatalogueArgs,
}

impl VisitRun<'_> {
    fn care(args: &CareArgs) -> Result<VisitRun<'_>> {
        let scope = match args.scope {
            ScopeChoice::ListingUnit => visits::Scope::ListingUnit,
            ScopeChoice::PrimaryCare => visits::Scope::PrimaryCare,
        };
        Ok(VisitRun {
            config: visit_config(
                visits::Ratio::Coverage,
                &args.period,
                &args.professions,
                &args.contact_types.contact_types,
                scope,
            )?,
            visits: &args.visits,
            listing: &args.listing,
            input: &args.input,
            output: &args.output,
            catalogue: &args.catalogue,
        })
    }

    fn reach(args: &ReachArgs) -> Result<VisitRun<'_>> {
        Ok(VisitRun {
            config: visit_config(
                visits::Ratio::VisitedShare,
                &args.period,
                &args.professions,
                &args.contact_types.contact_types,
                visits::Scope::ListingUnit,
            )?,
            visits: &args.visits,
            listing: &args.listing,
            input: &args.input,
            output: &args.output,
            catalogue: &args.catalogue,
        })
    }
}

fn visit_config(
    ratio: visits::Ratio,
    period: &PeriodArgs,
    professions: &[String],
    contact_types: &[String],
    scope: visits::Scope,
) -> Result<visits::Config> {
    let every_profession = professions
        .iter()
        .any(|p| p.trim().eq_ignore_ascii_case("all"));
    Ok(visits::Config {
        ratio,
        period: period.spec_or_span(12)?,
        professions: (!every_profession).then(|| coverage::professions(professions)),
        contact_types: coverage::contact_types(contact_types),
        scope,
    })
}

fn visit_ratio(run: VisitRun<'_>) -> Result<()> {
    let Some(mut common) = Common::start(run.input, run.output, run.catalogue)? else {
        return Ok(());
    };
    let listing = Listing::load(
        given(run.listing, "--listing")?,
        &common.read_options,
        &mut common.rejects,
    )?;
    common.summary.listing(&listing);
    let shared = visits::Shared::new(&run.config, &listing, common.units.as_ref());
    let result = input::read(
        &Source::from_args(run.visits),
        &visits::VISITS,
        &common.read_options,
        &mut common.rejects,
        |columns| visits::VisitSink::new(&shared, columns),
    )?;
    let visits = RowAccount::new("visits", result.rows, result.rejected);
    let mut outcome = visits::finish(&shared, result.sinks)?;
    visit_summary(&mut common.summary, &run.config, &listing, visits, &outcome);
    common.finish(std::mem::take(&mut outcome.measures))
}

fn visit_summary(
    summary: &mut Summary,
    config: &visits::Config,
    listing: &Listing,
    visits: RowAccount,
    outcome: &visits::Outcome,
) {
    summary.period(outcome.window, "no visits, so no period");
    let counted = &outcome.counted;
    let visits = visits.excluded_each(outcome.excluded.iter().map(|(r, n)| (*n, r.describe())));
    // visited_share uses only the visits at the patient's own unit.
    let visits = match config.ratio {
        visits::Ratio::Coverage => visits.used(counted.visits),
        visits::Ratio::VisitedShare => visits.used(counted.in_scope).excluded(
            counted.visits - counted.in_scope,
            "at another unit than the patient's listing",
        ),
    };
    summary.rows(&visits);
    let scope = match config.scope {
        visits::Scope::ListingUnit => "at their listing unit",
        visits::Scope::PrimaryCare => "at their listing unit or in primary care",
    };
    summary.push(format!(
        "counted {} visits of listed patients ({} {scope})",
        counted.visits, counted.in_scope
    ));
    if counted.unknown_level > 0 {
        summary.push(format!(
            "{} visits at units of unknown care level counted as not primary care",
            counted.unknown_level
        ));
    }
    if config.ratio == visits::Ratio::VisitedShare {
        let visited = sum(outcome.measures.iter().map(|m| m.numerator));
        summary.push(format!(
            "{visited} of {} listed patients visited their unit",
            listing.patients.len()
        ));
    }
}

fn named_doctor(args: NamedDoctorArgs) -> Result<()> {
    let Some(mut common) = Common::start(&args.input, &args.output, &args.catalogue)? else {
        return Ok(());
    };
    let by_choice = args.by == Some(NamedDoctorBy::ActiveChoice);
    let schema = if by_choice {
        &listed::NAMED_DOCTOR_BY_CHOICE_LISTING
    } else {
        &listed::NAMED_DOCTOR_LISTING
    };
    let listing = Listing::load_people(
        &Source::from_args(&args.listing),
        schema,
        &common.read_options,
        &mut common.rejects,
    )?;
    common.summary.listing(&listing);
    let measures = listed::named_doctor_share(&listing, by_choice, &args.snapshot.label());
    let named = sum(measures.iter().map(|m| m.numerator));
    common.summary.push(format!("{named} with a named doctor"));
    common.finish(measures)
}

fn listed_per_doctor(args: DoctorsArgs) -> Result<()> {
    let Some(mut common) = Common::start(&args.input, &args.output, &args.catalogue)? else {
        return Ok(());
    };
    let listed = match &args.listed {
        Some(path) => ListedCounts::load(path, &common.read_options, &mut common.rejects)?,
        None => {
            let listing: Listing = Listing::load_sources(
                &Source::from_args(&args.listing),
                &LISTING,
                &common.read_options,
                &mut common.rejects,
            )?;
            common.summary.listing(&listing);
            ListedCounts::from_listing(&listing)
        }
    };
    let staffing = Staffing::load(
        given(&args.staffing, "--staffing")?,
        &common.read_options,
        &mut common.rejects,
    )?;
    let (measures, without) = listed::listed_per_doctor(&listed, &staffing, &args.snapshot.label());
    if !without.is_empty() {
        let units: Vec<String> = without
            .iter()
            .map(|(unit, why)| format!("{} ({})", name_for_message(unit), why.describe()))
            .collect();
        // A warning, so it is shown even with --quiet.
        note(
            TOOL,
            false,
            &format!(
                "warning: no doctor FTE for {} units, so their listed_per_doctor is empty \
                 (their listed patients still count in area and all rows): {}",
                without.len(),
                units.join(", ")
            ),
        );
    }
    // Rounded, so that a sum of tenths does not show binary noise.
    let fte = (sum(staffing.doctor_fte.values().flatten().copied()) * 1000.0).round() / 1000.0;
    common.summary.push(format!(
        "listed: {} patients at {} units; staffing: {fte} doctor FTE at {} units",
        listed.total(),
        listed.units.len(),
        staffing.doctor_fte.len()
    ));
    common.finish(measures)
}

fn health_dialogue(args: HealthDialogueArgs) -> Result<()> {
    let Some(mut common) = Common::start(&args.input, &args.output, &args.catalogue)? else {
        return Ok(());
    };
    let config = dialogue_config(&args)?;
    let listing = Listing::load_people(
        &[Source::from_path(given(&args.listing, "--listing")?)],
        &dialogue::DIALOGUE_LISTING,
        &common.read_options,
        &mut common.rejects,
    )?;
    common.summary.listing(&listing);
    let shared = dialogue::Shared::new(&config, &listing);
    let result = input::read(
        &Source::from_args(&args.activities),
        &dialogue::ACTIVITIES,
        &common.read_options,
        &mut common.rejects,
        |columns| Ok(dialogue::ActivitySink::new(&shared, columns)),
    )?;
    let activities = RowAccount::new("activities", result.rows, result.rejected);
    let mut outcome = dialogue::finish(&shared, result.sinks);
    dialogue_summary(&mut common.summary, &config, activities, &outcome);
    common.finish(std::mem::take(&mut outcome.measures))
}

fn dialogue_config(args: &HealthDialogueArgs) -> Result<dialogue::Config> {
    let codes = |raw: &[String]| coverage::canonical_list(raw, dialogue::code);
    let offered_codes = codes(&args.offered_codes);
    let completed_codes = codes(&args.completed_codes);
    if let Some(both) = offered_codes.iter().find(|c| completed_codes.contains(c)) {
        return Err(cli::usage(format!(
            "the code {both:?} is in both --offered-codes and --completed-codes"
        )));
    }
    let mut ages = args.ages.clone();
    ages.sort_unstable();
    ages.dedup();
    Ok(dialogue::Config {
        year: *given(&args.year, "--year")?,
        ages,
        offered_codes,
        completed_codes,
        by_age: args.by == Some(DialogueBy::Age),
    })
}

fn dialogue_summary(
    summary: &mut Summary,
    config: &dialogue::Config,
    activities: RowAccount,
    outcome: &dialogue::Outcome,
) {
    let born: Vec<String> = config
        .ages
        .iter()
        .map(|age| (config.year - age).to_string())
        .collect();
    summary.push(format!(
        "cohort (born {}): {} listed patients, {} offered, {} completed",
        born.join(", "),
        outcome.cohort,
        outcome.offered,
        outcome.completed
    ));
    summary.rows(
        &activities
            .used(outcome.counted)
            .excluded_each(outcome.excluded.iter().map(|(r, n)| (*n, r.describe()))),
    );
    if outcome.no_birth_date > 0 {
        summary.push(format!(
            "listed patients without a birth date (in no cohort): {}",
            outcome.no_birth_date
        ));
    }
}

/// A sum for the summary: 0 when there is nothing to add (an empty f64 sum
/// is -0, which would read "-0 with a named doctor").
fn sum(values: impl Iterator<Item = f64>) -> f64 {
    values.fold(0.0, |sum, value| sum + value)
}
