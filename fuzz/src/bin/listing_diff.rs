//! pv-listing-diff's row parsers and computation: NEW (fuzzed) against a
//! fixed OLD, or OLD (fuzzed) against a fixed NEW (testdata/listing),
//! with every breakdown and duplicate policy; the change rows and the
//! flows between units and areas, written as the binary writes them.
//!
//! Variant bits 0-1: no breakdown, by sex, age band, active choice; bits
//! 2-3: repeats are errors, keep the first, keep the last, errors with
//! ages as of 2024-12-31; bit 4: the case is OLD, not NEW.

use std::io;

use pvkit::input::{self, ReadOptions, RejectLog, Source};
use pvkit::listing::{Duplicates, LISTING, Listing};
use pvkit::listing_diff::{self, Attributes, Breakdown, Config, Diff, FlowLevel, NewSink, Tally};
use pvkit::output::{Cell, RowWriter, Style};
use pvkit::period::parse_date;
use pvkit::units::Units;
use pvkit_fuzz::{Case, ok};

fn main() {
    pvkit_fuzz::init();
    let old = pvkit_fuzz::fixed_file(
        "old.csv",
        include_bytes!("../../../testdata/listing/old.csv"),
    );
    let new = pvkit_fuzz::fixed_file(
        "new.csv",
        include_bytes!("../../../testdata/listing/new.csv"),
    );
    let units = pvkit_fuzz::fixture(
        "units.csv",
        include_bytes!("../../../testdata/listing/units.csv"),
        Units::load,
    );
    afl::fuzz!(|data: &[u8]| {
        let Some(mut case) = Case::new(data) else {
            return;
        };
        let config = config(&case);
        let fixed = ReadOptions {
            skip_invalid: case.options.skip_invalid,
            ..ReadOptions::default()
        };
        let fuzzed = case.options.clone();
        let (old, new) = if case.bit(4) {
            (
                (Source::File(case.path.clone()), fuzzed),
                (Source::File(new.clone()), fixed),
            )
        } else {
            (
                (Source::File(old.clone()), fixed),
                (Source::File(case.path.clone()), fuzzed),
            )
        };
        if let Some(tally) = diff(&config, old, new, &mut case.rejects) {
            write(&tally, &units, config.by.is_some(), case.style());
        }
    });
    pvkit_fuzz::remove_files();
}

fn config(case: &Case) -> Config {
    let by = match case.variant & 0b11 {
        0 => None,
        1 => Some(Breakdown::Sex),
        2 => Some(Breakdown::AgeBand),
        _ => Some(Breakdown::ActiveChoice),
    };
    let policy = case.variant >> 2 & 0b11;
    let duplicates = match policy {
        1 => Duplicates::KeepFirst,
        2 => Duplicates::KeepLast,
        _ => Duplicates::Error,
    };
    Config {
        by,
        duplicates,
        as_of: (policy == 3).then(|| parse_date(b"2024-12-31").expect("a date")),
        skip_invalid: case.options.skip_invalid,
    }
}

/// What pv-listing-diff does from loading OLD to the tally.
fn diff(
    config: &Config,
    (old, old_options): (Source, ReadOptions),
    (new, new_options): (Source, ReadOptions),
    rejects: &mut RejectLog,
) -> Option<Tally> {
    let attributes = Attributes::new(config.by);
    let old: Listing<_> = ok(Listing::load_with(
        &[old],
        &LISTING,
        &old_options,
        rejects,
        config.duplicates,
        |columns| attributes.old_value(columns, "OLD"),
    ))?;
    let diff = Diff::new(config, &old, &attributes);
    let new_options = ReadOptions {
        threads: if config.rejects_repeats() {
            1
        } else {
            new_options.threads
        },
        ..new_options
    };
    let mut read = ok(input::read(
        &[new],
        &LISTING,
        &new_options,
        rejects,
        |columns| NewSink::new(&diff, columns, "NEW"),
    ))?;
    let parts: Vec<_> = std::mem::take(&mut read.sinks)
        .into_iter()
        .map(NewSink::into_part)
        .collect();
    if let Some((later, error)) = listing_diff::unreported_repeat(&parts) {
        return ok(Err(read.row_error(*later, error)));
    }
    ok(listing_diff::finish(diff, parts))
}

/// The change rows (as data and as a table) and the flows at both levels.
fn write(tally: &Tally, units: &Units, grouped: bool, style: Style) {
    let rows = listing_diff::rows(tally, Some(units), true);
    let columns = listing_diff::row_columns(grouped, false);
    write_cells(style, &columns, listing_diff::row_cells(&rows, grouped));
    let columns = listing_diff::row_columns(grouped, true);
    let cells = listing_diff::table_cells(&rows, Some(units), grouped);
    write_cells(style, &columns, cells);
    for level in [FlowLevel::Unit, FlowLevel::Area] {
        let flows = listing_diff::flows(tally, Some(units), level);
        let columns = listing_diff::flow_columns(level, grouped);
        write_cells(style, &columns, listing_diff::flow_cells(&flows, grouped));
    }
}

fn write_cells(style: Style, columns: &[&str], rows: Vec<Vec<Cell>>) {
    let mut writer = RowWriter::new(io::sink(), style, columns).expect("a sink");
    for cells in rows {
        writer.row(&cells).expect("a sink");
    }
    writer.finish().expect("a sink");
}
