//! pv-listing-diff: what changed between two listing snapshots.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use clap::FromArgMatches;

use pvkit::catalogue::Tool;
use pvkit::cli::listing_diff::ListingDiffArgs;
use pvkit::cli::{self, RowAccount, Summary, usage};
use pvkit::input::{self, ReadOptions, RejectLog, Source};
use pvkit::listing::{Duplicates, LISTING, Listing};
use pvkit::listing_diff::{self, Attributes, Breakdown, Config, Diff, FlowLevel, NewSink, Tally};
use pvkit::output::{self, Format, RowWriter};
use pvkit::units::Units;

fn main() -> ExitCode {
    cli::main(Tool::ListingDiff, || {
        let matches = cli::listing_diff::command().get_matches();
        run(ListingDiffArgs::from_arg_matches(&matches)?)
    })
}

fn run(args: ListingDiffArgs) -> Result<()> {
    let config = config(&args)?;
    let level = args.diff.level.unwrap_or(FlowLevel::Unit);
    if level == FlowLevel::Area && args.output.units.is_none() {
        return Err(usage(
            "--level area needs --units FILE to know each unit's area",
        ));
    }
    let style = args.output.style();
    let quiet = args.output.quiet;
    let options = args.input.read_options(quiet);
    let mut rejects = RejectLog::default();
    let units = args
        .output
        .units
        .as_deref()
        .map(|path| Units::load(path, &options, &mut rejects))
        .transpose()?;

    let attributes = Attributes::new(config.by);
    let old_name = Source::from_path(&args.old).to_string();
    let old = Listing::load_with(
        &[Source::from_path(&args.old)],
        &LISTING,
        &options,
        &mut rejects,
        config.duplicates,
        |columns| attributes.old_value(columns, &old_name),
    )?;
    let new_name = Source::from_path(&args.new).to_string();
    let diff = Diff::new(&config, &old, &attributes);
    let new_options = ReadOptions {
        threads: if config.rejects_repeats() {
            1
        } else {
            options.threads
        },
        ..options.clone()
    };
    let mut read = input::read(
        &[Source::from_path(&args.new)],
        &LISTING,
        &new_options,
        &mut rejects,
        |columns| NewSink::new(&diff, columns, &new_name),
    )?;
    let parts: Vec<_> = std::mem::take(&mut read.sinks)
        .into_iter()
        .map(NewSink::into_part)
        .collect();
    if let Some((later, error)) = listing_diff::unreported_repeat(&parts) {
        return Err(read.row_error(*later, error));
    }
    let (new_rows, new_rejected) = (read.rows, read.rejected);
    let tally = listing_diff::finish(diff, parts)?;

    let grouped = config.by.is_some();
    let mut writer;
    if args.diff.flows {
        let flows = listing_diff::flows(&tally, units.as_ref(), level);
        writer = RowWriter::new(
            output::stdout(),
            style,
            &listing_diff::flow_columns(level, grouped),
        )?;
        for cells in listing_diff::flow_cells(&flows, grouped) {
            writer.row(&cells)?;
        }
    } else {
        let rows = listing_diff::rows(&tally, units.as_ref(), !args.output.no_total);
        let for_reading = style.format == Format::Table;
        writer = RowWriter::new(
            output::stdout(),
            style,
            &listing_diff::row_columns(grouped, for_reading),
        )?;
        let cells = if for_reading {
            listing_diff::table_cells(&rows, units.as_ref(), grouped)
        } else {
            listing_diff::row_cells(&rows, grouped)
        };
        for cells in cells {
            writer.row(&cells)?;
        }
    }
    writer.finish()?;

    let mut summary = Summary::new(Tool::ListingDiff);
    let old_rows = RowAccount::of_listing("OLD", &old, kept(&config));
    let new_rows = RowAccount::new("NEW", new_rows, new_rejected)
        .used(tally.new_patients)
        .repeats_dropped(tally.new_repeats, kept(&config));
    let names = [old_name.as_str(), new_name.as_str()];
    summarize(&mut summary, names, [old_rows, new_rows], &tally, &config);
    summary.finish(&args.input, &rejects, quiet)
}

fn config(args: &ListingDiffArgs) -> Result<Config> {
    if is_stdin(&args.old) && is_stdin(&args.new) {
        return Err(usage(
            "OLD and NEW cannot both be stdin (-): give at least one as a file",
        ));
    }
    let options = &args.diff;
    if options.as_of.is_some() && options.by != Some(Breakdown::AgeBand) {
        return Err(usage(
            "--as-of is the date ages are taken on; it goes with --by age-band",
        ));
    }
    Ok(Config {
        by: options.by,
        duplicates: options.duplicates(),
        as_of: options.as_of,
        skip_invalid: args.input.skip_invalid,
    })
}

fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Which row of a repeated patient --dedupe keeps.
fn kept(config: &Config) -> &'static str {
    match config.duplicates {
        Duplicates::KeepLast => "the last",
        _ => "the first",
    }
}

fn summarize(
    summary: &mut Summary,
    [old_name, new_name]: [&str; 2],
    [old, new]: [RowAccount; 2],
    tally: &Tally,
    config: &Config,
) {
    summary.push(format!(
        "OLD {old_name}: {} patients at {} units",
        tally.old_patients, tally.old_units
    ));
    summary.rows(&old);
    summary.push(format!(
        "NEW {new_name}: {} patients at {} units",
        tally.new_patients, tally.new_units
    ));
    summary.rows(&new);
    let region = tally.region();
    summary.push(format!(
        "{} moved between units, {} new in the region, {} left it, net {:+}",
        region.moved_in,
        region.new_in_region,
        region.left_region,
        region.net()
    ));
    if let Some(date) = tally.age_date {
        let source = if config.as_of.is_some() {
            "--as-of"
        } else {
            "the latest listed_since in NEW"
        };
        summary.push(format!("ages on {date} ({source})"));
        if tally.born_later > 0 {
            summary.push(format!(
                "{} born after that date counted as unknown",
                tally.born_later
            ));
        }
    }
}
