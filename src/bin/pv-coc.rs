//! pv-coc: continuity of care per vårdcentral and profession.

use std::process::ExitCode;

use anyhow::Result;
use clap::FromArgMatches;

use pvkit::catalogue::Tool;
use pvkit::cli::coc::{CocArgs, IndexChoice};
use pvkit::cli::{self, RowAccount, Summary, note};
use pvkit::continuity::{self, Config, Index, Outcome, Population, Shared, VisitSink};
use pvkit::input::{self, RejectLog, Source, values};
use pvkit::listing::Listing;
use pvkit::output::{self, Cell, RowWriter};
use pvkit::report::Report;

fn main() -> ExitCode {
    cli::main(Tool::Coc, || {
        let matches = cli::coc::command().get_matches();
        run(CocArgs::from_arg_matches(&matches)?)
    })
}

fn run(args: CocArgs) -> Result<()> {
    let style = args.output.style();
    if args.catalogue.handle(Tool::Coc, style)? {
        return Ok(());
    }
    let quiet = args.output.quiet;
    let read_options = args.input.read_options(quiet);
    let targets = args.output.targets(Tool::Coc)?;
    let config = config(&args)?;
    let mut rejects = RejectLog::default();
    let mut summary = Summary::new(Tool::Coc);
    let units = args.output.load_units(&read_options, &mut rejects)?;
    let listing = args
        .listing
        .as_deref()
        .map(|path| Listing::load(path, &read_options, &mut rejects))
        .transpose()?;
    if let Some(listing) = &listing {
        summary.listing(listing);
    }
    let population = match &listing {
        Some(listing) => Population::Listed(listing),
        None => {
            note(
                Tool::Coc,
                quiet,
                "no --listing given: each visit counts at the unit where it took place",
            );
            Population::Visited
        }
    };
    let shared = Shared::new(&config, population);
    let result = input::read(
        &Source::from_args(&args.visits),
        &continuity::VISITS,
        &read_options,
        &mut rejects,
        |columns| VisitSink::new(&shared, columns),
    )?;
    let visits = RowAccount::new("visits", result.rows, result.rejected);
    let folded = result
        .sinks
        .into_iter()
        .map(VisitSink::into_folded)
        .collect();
    let mut outcome = continuity::finish(folded, shared)?;

    if args.coc.per_patient {
        write_patients(&outcome, &config, style)?;
    } else {
        let report = Report {
            units: units.as_ref(),
            unit_rows: outcome.has_units,
            total: !args.output.no_total,
            targets: &targets,
            min_cell: args.output.min_cell,
        };
        let rows = report.rows(std::mem::take(&mut outcome.measures));
        output::write_indicator_rows(output::stdout(), style, &rows)?;
    }
    summarize(&mut summary, visits, &outcome, &config);
    summary.finish(&args.input, &rejects, quiet)
}

fn config(args: &CocArgs) -> Result<Config> {
    let options = &args.coc;
    let mut indexes: Vec<Index> = Vec::new();
    for choice in &options.index {
        let chosen: &[Index] = match choice {
            IndexChoice::Coc => &[Index::Coc],
            IndexChoice::Upc => &[Index::Upc],
            IndexChoice::Secon => &[Index::Secon],
            IndexChoice::Mmci => &[Index::Mmci],
            IndexChoice::Hhi => &[Index::Hhi],
            IndexChoice::All => &Index::ALL,
        };
        indexes.extend(chosen);
    }
    indexes.sort();
    indexes.dedup();
    let professions = (!options.profession.is_empty()).then(|| {
        options
            .profession
            .iter()
            .map(|p| values::profession(p).into_owned())
            .collect()
    });
    Ok(Config {
        period: args.period.spec(18)?,
        min_visits: options.min_visits,
        professions,
        contact_types: options
            .contact_types
            .iter()
            .map(|c| values::contact_type(c).into_owned())
            .collect(),
        indexes,
        per_patient: options.per_patient,
    })
}

fn write_patients(outcome: &Outcome, config: &Config, style: output::Style) -> Result<()> {
    let mut columns = vec!["unit", "profession", "patient_id", "visits", "providers"];
    columns.extend(config.indexes.iter().map(|i| i.id()));
    let mut writer = RowWriter::new(output::stdout(), style, &columns)?;
    for patient in &outcome.patients {
        let mut cells = vec![
            Cell::text(patient.unit.as_str()),
            Cell::text(patient.group.as_str()),
            Cell::text(patient.patient_id.as_str()),
            Cell::Int(i64::from(patient.counts.visits)),
            Cell::Int(i64::from(patient.counts.providers)),
        ];
        cells.extend(patient.values.iter().map(|v| Cell::num(*v, 6, 3)));
        writer.row(&cells)?;
    }
    writer.finish()
}

fn summarize(summary: &mut Summary, visits: RowAccount, outcome: &Outcome, config: &Config) {
    summary.period(outcome.window, "no visits, so no period");
    summary.rows(
        &visits
            .used(outcome.counted_visits)
            .excluded_each(outcome.excluded.iter().map(|(r, n)| (*n, r.describe()))),
    );
    if outcome.repeated_visit_ids > 0 {
        summary.push(format!(
            "{} rows repeated an earlier visit_id",
            outcome.repeated_visit_ids
        ));
    }
    summary.push(format!(
        "{} of {} patient-profession pairs had at least {} visits",
        outcome.eligible, outcome.patient_groups, config.min_visits
    ));
    if outcome.single_visit > 0 {
        summary.push(format!(
            "{} with a single visit left out of coc/secon/mmci (undefined for N = 1)",
            outcome.single_visit
        ));
    }
    if !outcome.has_units {
        summary.push("no unit column: the input is one unit (ALL)");
    }
    if !outcome.has_professions {
        summary.push("no profession column: all visits form one group");
    }
}
