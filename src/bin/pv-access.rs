//! pv-access: phone accessibility (0:an) and medical assessment within 3
//! days (3:an) per vårdcentral.

use std::collections::BTreeSet;
use std::process::ExitCode;

use anyhow::Result;
use clap::FromArgMatches;

use pvkit::access::assessment::{
    self, ASSESSMENTS, AssessmentConfig, AssessmentResult, AssessmentSink, LIMITS,
};
use pvkit::access::phone::{self, CALLS, CallSink, Outcome, PhoneConfig, PhoneResult};
use pvkit::catalogue::{self, Tool};
use pvkit::cli::access::{AccessArgs, AccessCommand, AssessmentArgs, AssessmentBy, PhoneArgs};
use pvkit::cli::{self, RowAccount, Summary, usage};
use pvkit::input::row::name_for_message;
use pvkit::input::{self, RejectLog, Source};
use pvkit::intern::SharedNames;
use pvkit::listing::ListedCounts;
use pvkit::output;
use pvkit::period::Granularity;
use pvkit::report::{Measure, PeriodLevels, Report, Targets};

fn main() -> ExitCode {
    cli::main(Tool::Access, || {
        let matches = cli::access::command().get_matches();
        match AccessArgs::from_arg_matches(&matches)?.command {
            AccessCommand::Phone(args) => run_phone(args),
            AccessCommand::Assessment(args) => run_assessment(args),
        }
    })
}

fn granularity(by_month: bool) -> Granularity {
    if by_month {
        Granularity::Month
    } else {
        Granularity::Whole
    }
}

fn run_phone(args: PhoneArgs) -> Result<()> {
    let style = args.output.style();
    if args.catalogue.handle(Tool::Access, style)? {
        return Ok(());
    }
    let by_month = args.phone.by.is_some();
    check_phone_usage(&args, by_month)?;
    let quiet = args.output.quiet;
    let read_options = args.input.read_options(quiet);
    let mut rejects = RejectLog::default();
    let mut summary = Summary::new(Tool::Access);
    let targets = phone_targets(&args, &read_options, &mut rejects)?;
    let units = args.output.load_units(&read_options, &mut rejects)?;
    let listed = args
        .listed
        .load(&read_options, &mut rejects, &mut summary)?;
    let mut counted = args.phone.count.clone();
    counted.sort();
    counted.dedup();
    let config = PhoneConfig {
        period: args.period.spec_or_span(12)?,
        granularity: granularity(by_month),
        counted,
    };
    let unit_names = SharedNames::new();
    let result = input::read(
        &Source::from_args(&args.calls),
        &CALLS,
        &read_options,
        &mut rejects,
        |columns| Ok(CallSink::new(&config, &unit_names, columns)),
    )?;
    let calls = RowAccount::new("calls", result.rows, result.rejected);
    let folded = result
        .sinks
        .into_iter()
        .map(CallSink::into_folded)
        .collect();
    let mut found = phone::finish(folded, unit_names.into_names(), &config)?;
    let mut measures = std::mem::take(&mut found.measures);
    let unlisted = listed.as_ref().map(|l| without_listed(&measures, l));
    if let (Some(kr), Some(listed), Some(window)) =
        (args.phone.payment_per_listed, &listed, found.window)
    {
        if !found.has_units {
            return Err(usage(
                "the payment is per unit: the calls need a unit column (see --col)",
            ));
        }
        let judged = Report {
            units: None,
            unit_rows: true,
            total: false,
            targets: &targets,
            min_cell: None,
        }
        .rows(measures.clone());
        measures.extend(phone::payments(&judged, listed, kr, window));
    }
    let report = Report {
        units: units.as_ref(),
        unit_rows: found.has_units,
        total: !args.output.no_total,
        targets: &targets,
        min_cell: args.output.min_cell,
    };
    output::write_indicator_rows(output::stdout(), style, &report.rows(measures))?;
    summarize_phone(
        &mut summary,
        calls,
        &found,
        &config,
        listed.as_ref(),
        unlisted,
    );
    summary.finish(&args.input, &rejects, quiet)
}

/// Options that only make sense together.
fn check_phone_usage(args: &PhoneArgs, by_month: bool) -> Result<()> {
    let options = &args.phone;
    if options.targets.is_some() && !by_month {
        return Err(usage(
            "--targets FILE gives levels per month: use it with --by month",
        ));
    }
    if options.payment_per_listed.is_some() {
        if !by_month {
            return Err(usage(
                "the phone payment is paid month by month: use --payment-per-listed with --by month",
            ));
        }
        if !args.listed.is_given() {
            return Err(usage(
                "--payment-per-listed needs the listed patients: --listing FILE or --listed FILE",
            ));
        }
    } else if args.listed.is_given() {
        return Err(usage(
            "--listing/--listed are used only for the payment: add --payment-per-listed KR",
        ));
    }
    Ok(())
}

/// `--target`/`--half` without an id are phone_same_day's (the outcome
/// shares have no target); `--targets FILE` adds levels per month.
fn phone_targets(
    args: &PhoneArgs,
    read_options: &input::ReadOptions,
    rejects: &mut RejectLog,
) -> Result<Targets> {
    let same_day = catalogue::get("phone_same_day").expect("in the catalogue");
    let mut targets = args.output.targets(Tool::Access)?;
    for level in targets.full.iter_mut().chain(targets.half.iter_mut()) {
        level
            .indicator
            .get_or_insert_with(|| same_day.id.to_string());
    }
    if let Some(path) = &args.phone.targets {
        targets.by_period = PeriodLevels::load_months(path, same_day, read_options, rejects)?;
        targets.check_tool(Tool::Access).map_err(usage)?;
    }
    Ok(targets)
}

/// Units with calls that the listed counts do not have, in name order.
fn without_listed(measures: &[Measure], listed: &ListedCounts) -> Vec<String> {
    let units: BTreeSet<&str> = measures.iter().map(|m| m.unit.as_str()).collect();
    units
        .into_iter()
        .filter(|unit| listed.get(unit).is_none())
        .map(|unit| name_for_message(unit).to_string())
        .collect()
}

fn summarize_phone(
    summary: &mut Summary,
    calls: RowAccount,
    found: &PhoneResult,
    config: &PhoneConfig,
    listed: Option<&ListedCounts>,
    unlisted: Option<Vec<String>>,
) {
    summary.period(found.window, "no calls, so no period");
    let in_window = &found.in_window;
    let (counted, reached) = in_window.counted(&config.counted);
    let not_counted = Outcome::ALL
        .iter()
        .filter(|o| !config.counted.contains(o))
        .map(|o| (in_window.of(*o), format!("{} (not counted)", o.as_str())));
    summary.rows(
        &calls
            .used(counted)
            .excluded(found.outside, "outside the period")
            .excluded_each(not_counted),
    );
    let by_outcome: Vec<String> = config
        .counted
        .iter()
        .map(|o| format!("{} {}", in_window.of(*o), o.as_str()))
        .collect();
    summary.push(format!(
        "counted {counted} calls ({}), {reached} reached the same day",
        by_outcome.join(", ")
    ));
    let (answered, callbacks) = (
        in_window.without_contact(Outcome::Answered),
        in_window.without_contact(Outcome::Callback),
    );
    if answered + callbacks > 0 {
        summary.push(format!(
            "without contact_at: {answered} answered (same day), {callbacks} callback (not same day)"
        ));
    }
    if let Some(listed) = listed {
        summary.push(format!(
            "listed: {} patients at {} units",
            listed.total(),
            listed.units.len()
        ));
    }
    if let Some(missing) = unlisted.filter(|m| !m.is_empty()) {
        summary.push(format!(
            "{} units with calls have no listed patients and earn nothing: {}",
            missing.len(),
            missing.join(", ")
        ));
    }
    if !found.has_units {
        summary.push("no unit column: the input is one unit (ALL)");
    }
}

fn run_assessment(args: AssessmentArgs) -> Result<()> {
    let style = args.output.style();
    if args.catalogue.handle(Tool::Access, style)? {
        return Ok(());
    }
    let quiet = args.output.quiet;
    let read_options = args.input.read_options(quiet);
    let targets = args.output.targets(Tool::Access)?;
    let mut rejects = RejectLog::default();
    let units = args.output.load_units(&read_options, &mut rejects)?;
    let by = &args.assessment.by;
    let config = AssessmentConfig {
        period: args.period.spec_or_span(12)?,
        granularity: granularity(by.contains(&AssessmentBy::Month)),
        by_profession: by.contains(&AssessmentBy::Profession),
        as_of: args.period.as_of,
    };
    let (unit_names, professions) = (SharedNames::new(), SharedNames::new());
    let result = input::read(
        &Source::from_args(&args.assessments),
        &ASSESSMENTS,
        &read_options,
        &mut rejects,
        |columns| AssessmentSink::new(&config, &unit_names, &professions, columns),
    )?;
    let assessments = RowAccount::new("assessments", result.rows, result.rejected);
    let folded = result
        .sinks
        .into_iter()
        .map(AssessmentSink::into_folded)
        .collect();
    let mut found = assessment::finish(
        folded,
        unit_names.into_names(),
        professions.into_names(),
        &config,
    )?;
    let report = Report {
        units: units.as_ref(),
        unit_rows: found.has_units,
        total: !args.output.no_total,
        targets: &targets,
        min_cell: args.output.min_cell,
    };
    output::write_indicator_rows(
        output::stdout(),
        style,
        &report.rows(std::mem::take(&mut found.measures)),
    )?;
    let mut summary = Summary::new(Tool::Access);
    summarize_assessment(&mut summary, assessments, &found);
    summary.finish(&args.input, &rejects, quiet)
}

/// `0 days 5, 3 days 2, 7 days 1`.
fn per_limit(counts: &[u64; LIMITS.len()]) -> String {
    LIMITS
        .iter()
        .zip(counts)
        .map(|((limit, _), n)| format!("{limit} days {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn summarize_assessment(summary: &mut Summary, assessments: RowAccount, found: &AssessmentResult) {
    match (found.window, found.as_of) {
        (Some(window), Some(as_of)) => {
            summary.push(format!("period {}, as of {as_of}", window.label()));
            summary.question_span(window);
        }
        _ => summary.push("no contacts, so no period"),
    }
    let judged = &found.in_window;
    // The rows used are the contacts counted against 3 days (3:an); the
    // other limits are in the per-limit parts.
    let limit = 3;
    let k = LIMITS
        .iter()
        .position(|&(days, _)| days == limit)
        .expect("3 days is one of the limits");
    summary.rows(
        &assessments
            .used(judged.counted[k])
            .excluded(found.outside, "outside the period")
            .excluded(judged.chosen_wait, "patient-chosen waits (PvV)")
            .excluded(
                judged.pending[k],
                format!("pending (not yet assessed, {limit}-day limit not passed)"),
            ),
    );
    summary.push(format!("counted contacts: {}", per_limit(&judged.counted)));
    summary.push(format!(
        "pending (not yet assessed, limit not passed): {}",
        per_limit(&judged.pending)
    ));
    if judged.unassessed_outside.iter().any(|&n| n > 0) {
        summary.push(format!(
            "not yet assessed, counted as outside: {}",
            per_limit(&judged.unassessed_outside)
        ));
    }
    if found.before_contact > 0 {
        summary.push(format!(
            "of the rows skipped as invalid, {} had the assessment dated before the contact",
            found.before_contact
        ));
    }
    if !found.has_units {
        summary.push("no unit column: the input is one unit (ALL)");
    }
}
