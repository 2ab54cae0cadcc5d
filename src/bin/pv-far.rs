//! pv-far: FaR and other KVÅ-coded rates per 1000 listed, per vårdcentral.

use std::process::ExitCode;

use anyhow::Result;
use clap::FromArgMatches;

use pvkit::catalogue::Tool;
use pvkit::cli::far::{FarArgs, FarOptions, MeasureChoice};
use pvkit::cli::{self, RowAccount, Summary, usage};
use pvkit::far::{self, ActivitySink, Config, Outcome, Rate, Shared};
use pvkit::input::row::name_for_message;
use pvkit::input::{self, RejectLog, Source};
use pvkit::listing::ListedCounts;
use pvkit::output;
use pvkit::report::Report;

const LISTED_REQUIRED: &str = "the listed population is required: --listing FILE (a snapshot) \
                               or --listed FILE (unit,listed)";

fn main() -> ExitCode {
    cli::main(Tool::Far, || {
        let matches = cli::far::command().get_matches();
        run(FarArgs::from_arg_matches(&matches)?)
    })
}

fn run(args: FarArgs) -> Result<()> {
    let style = args.output.style();
    // Defined first, so that --explain, --target ID=V and the rows know it.
    let rate = rate(&args.far)?;
    if args.catalogue.handle(Tool::Far, style)? {
        return Ok(());
    }
    if !args.listed.is_given() {
        return Err(usage(LISTED_REQUIRED));
    }
    let quiet = args.output.quiet;
    let read_options = args.input.read_options(quiet);
    let targets = args.output.targets(Tool::Far)?;
    let config = Config {
        rate,
        period: args.period.spec_or_span(12)?,
        granularity: args.far.by.granularity(),
        distinct_patients: args.far.distinct_patients,
        annualize: args.far.annualize,
    };
    let mut rejects = RejectLog::default();
    let mut summary = Summary::new(Tool::Far);
    let units = args.output.load_units(&read_options, &mut rejects)?;
    let Some(listed) = args
        .listed
        .load(&read_options, &mut rejects, &mut summary)?
    else {
        return Err(usage(LISTED_REQUIRED));
    };
    let shared = Shared::new(&config);
    let result = input::read(
        &Source::from_args(&args.activities),
        &far::ACTIVITIES,
        &read_options,
        &mut rejects,
        |columns| ActivitySink::new(&shared, columns),
    )?;
    let activities = RowAccount::new("activities", result.rows, result.rejected);
    let folded = result
        .sinks
        .into_iter()
        .map(ActivitySink::into_folded)
        .collect();
    let mut outcome = far::finish(folded, shared, &listed)?;

    let mut measures = std::mem::take(&mut outcome.measures);
    if let Some(kr) = args.far.payment_per_listed {
        let earned = far::payments(&measures, &config.rate, &targets, &listed, kr);
        measures.extend(earned);
    }
    let report = Report {
        units: units.as_ref(),
        unit_rows: true,
        total: !args.output.no_total,
        targets: &targets,
        min_cell: args.output.min_cell,
    };
    output::write_indicator_rows(output::stdout(), style, &report.rows(measures))?;
    summarize(&mut summary, activities, &args, &config, &listed, &outcome);
    summary.finish(&args.input, &rejects, quiet)
}

fn rate(options: &FarOptions) -> Result<Rate> {
    if let Some(name) = &options.name {
        return Rate::custom(&options.code, name).map_err(usage);
    }
    Ok(match options.measure {
        MeasureChoice::Far => Rate::far(),
        MeasureChoice::Tobacco => Rate::tobacco(),
    })
}

fn summarize(
    summary: &mut Summary,
    activities: RowAccount,
    args: &FarArgs,
    config: &Config,
    listed: &ListedCounts,
    outcome: &Outcome,
) {
    let source = if args.listed.listing.is_some() {
        "listing snapshot"
    } else {
        "listed counts"
    };
    summary.push(format!(
        "{source}: {} listed at {} units",
        listed.total(),
        listed.units.len()
    ));
    let codes = config.rate.codes.join(", ");
    summary.period(
        outcome.window,
        "no activity rows, so no period (--from and --to give one)",
    );
    summary.rows(
        &activities
            .used(outcome.in_period)
            .excluded(outcome.other_code, format!("another code than {codes}"))
            .excluded(outcome.without_code, "without a code")
            .excluded(
                outcome.registrations - outcome.in_period,
                "outside the period",
            ),
    );
    summary.push(format!(
        "{} registrations of {codes}, {} in the period",
        outcome.registrations, outcome.in_period
    ));
    if let Some(patients) = outcome.patients {
        summary.push(format!(
            "counted {patients} distinct patients (once per unit and period)"
        ));
    }
    if !outcome.annualized.is_empty() {
        // A year of months is worth listing; centuries of them (a mistyped
        // year) are not: the first and last show the rule.
        const LISTED: usize = 24;
        let shown = outcome.annualized.len().min(LISTED);
        let mut factors: Vec<String> = outcome
            .annualized
            .iter()
            .take(shown - 1)
            .chain(outcome.annualized.last())
            .map(|(label, a)| format!("{label} x {}/{} = {:.4}", a.year_days, a.days, a.factor()))
            .collect();
        if outcome.annualized.len() > LISTED {
            let hidden = outcome.annualized.len() - shown;
            factors.insert(shown - 1, format!("… {hidden} more"));
        }
        summary.push(format!(
            "annualized (x days in the year ending on the last day / days): {}",
            factors.join(", ")
        ));
    }
    if let Some(kr) = args.far.payment_per_listed {
        summary.push(format!(
            "payment: {kr} kr per listed for the period at the full level, half at the half level"
        ));
    }
    if !outcome.unlisted.is_empty() {
        let units: Vec<String> = outcome
            .unlisted
            .iter()
            .map(|(unit, n)| format!("{} ({n})", name_for_message(unit)))
            .collect();
        summary.push(format!(
            "warning: registrations at units with no listed patients, rows without a value: {}",
            units.join(", ")
        ));
    }
}
