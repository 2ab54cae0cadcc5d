//! pv-listing-diff's command line.

use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, ValueEnum};
use jiff::civil::Date;

use super::InputArgs;
use crate::listing::Duplicates;
use crate::listing_diff::{Breakdown, FlowLevel};
use crate::output::{Format, Style};
use crate::period;

const ABOUT: &str = "What changed between two listing snapshots: listed before and after, moves, new and departed patients per vårdcentral and area";

const LONG_ABOUT: &str = "\
What changed between two listing snapshots (listning): listed before and after, moves, new and \
departed patients per vårdcentral, area and region.

Compares the snapshot OLD with the later snapshot NEW (patient_id, unit; see COLUMNS) by patient \
and writes one row per unit, plus area subtotals (with --units) and the region's row:

  level,unit,listed_before,listed_after,net,moved_in,moved_out,new_in_region,left_region

moved_in counts patients listed at another unit in OLD, moved_out patients listed at another \
unit in NEW; new_in_region counts patients absent from OLD (born, moved into the region), \
left_region patients absent from NEW (died, moved away). Every row satisfies listed_after = \
listed_before + moved_in + new_in_region - moved_out - left_region and net = listed_after - \
listed_before. Area and region rows are sums of their units' rows (so an area's moves include \
moves between its own units); over the region moves cancel and net = new_in_region - \
left_region. A unit in only one snapshot (a new or a closed vårdcentral) has 0 on the other side.

--flows writes who went where instead: from_unit,to_unit,patients, most patients first, with \
(new) as the origin of patients new in the region and (gone) as the destination of those who \
left; patients listed at the same unit (area) in both are not flows.

--by breaks rows and flows down by a column of the snapshots. A patient's group comes from NEW \
(from OLD for those who left), so the equation above holds in every group; an empty value is \
group 'unknown'. Ages are whole years on NEW's date (--as-of).

A patient listed twice in one snapshot is an error naming both lines; --dedupe first|last \
keeps one of the rows and reports how many were dropped.

Memory: OLD is held as a compact patient index: about 40 bytes per patient, including the \
marks NEW's rows leave on it, when patient ids are up to 15 digits (a personnummer, with or \
without its dash), and 60 for other ids; while OLD is being indexed the peak is about 45 and \
80 bytes per patient. Add about 50 bytes per patient new in the region. NEW is streamed and \
never held. Two snapshots of 3.3 million patients peak at about 170 MB, ten million at about \
0.5 GB.";

#[derive(Parser, Debug)]
#[command(name = "pv-listing-diff", version, about = ABOUT, long_about = LONG_ABOUT)]
pub struct ListingDiffArgs {
    /// The earlier listing snapshot (- for stdin)
    #[arg(value_name = "OLD")]
    pub old: PathBuf,

    /// The later listing snapshot (- for stdin, unless OLD is)
    #[arg(value_name = "NEW")]
    pub new: PathBuf,

    #[command(flatten)]
    pub diff: DiffOptions,

    #[command(flatten)]
    pub input: InputArgs,

    #[command(flatten)]
    pub output: DiffOutputArgs,
}

/// What pv-listing-diff computes.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Listing changes")]
pub struct DiffOptions {
    /// Write the flows instead: from_unit,to_unit,patients, with (new) and (gone) for patients entering and leaving the region
    #[arg(long)]
    pub flows: bool,

    /// With --flows: flows between units, or between areas (needs --units; units without an area form "(no area)") [default: unit]
    #[arg(long, value_enum, value_name = "LEVEL", requires = "flows")]
    pub level: Option<FlowLevel>,

    /// Break the rows (or flows) down by sex, age band or active choice; the column must be in both snapshots
    #[arg(long, value_enum, value_name = "COLUMN")]
    pub by: Option<Breakdown>,

    /// NEW's date, on which ages are taken with --by age-band [default: the latest listed_since in NEW]
    #[arg(long, value_name = "DATE", value_parser = period::parse_cli_date)]
    pub as_of: Option<Date>,

    /// A patient listed twice in one snapshot: keep the first or the last of the rows (the number dropped is reported) instead of stopping with an error
    #[arg(long, value_enum, value_name = "ROW")]
    pub dedupe: Option<Keep>,
}

/// Which of a patient's rows --dedupe keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Keep {
    /// The row that comes first in the file
    First,
    /// The row that comes last in the file
    Last,
}

impl DiffOptions {
    pub fn duplicates(&self) -> Duplicates {
        match self.dedupe {
            None => Duplicates::Error,
            Some(Keep::First) => Duplicates::KeepFirst,
            Some(Keep::Last) => Duplicates::KeepLast,
        }
    }
}

/// How results are written: the shared output options that apply to counts.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Output")]
pub struct DiffOutputArgs {
    /// Output format [default: table on a terminal, csv otherwise]; the table shows areas with their units under them and signed net changes
    #[arg(short = 'f', long, value_enum, value_name = "FORMAT")]
    pub format: Option<Format>,

    /// Separate CSV fields with ; as Swedish Excel expects (every number here is whole, so there are no decimals to change)
    #[arg(long)]
    pub decimal_comma: bool,

    /// Units file (unit, area, name, care_level): adds area subtotal rows, and areas for --flows --level area
    #[arg(long, value_name = "FILE")]
    pub units: Option<PathBuf>,

    /// Leave out the level=all row (the whole region)
    #[arg(long, conflicts_with = "flows")]
    pub no_total: bool,

    /// No summary on stderr and no progress bar
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

impl DiffOutputArgs {
    pub fn style(&self) -> Style {
        Style {
            format: Format::resolve(self.format),
            decimal_comma: self.decimal_comma,
        }
    }
}

const EXAMPLES: &str = "  pv-listing-diff --units units.csv listing_2023-12.csv listing_2024-12.csv
      Listed before and after, net change, moves, new and departed patients per unit and
      area, and the region's row; a table on a terminal, CSV in a pipe.
  pv-listing-diff --flows old.csv new.csv | head
      The largest flows between units, (new) and (gone) included.
  pv-listing-diff --flows --level area --units units.csv old.csv new.csv
      Flows between areas.
  pv-listing-diff --by age-band --as-of 2024-12-31 old.csv new.csv
      Each unit's changes by age band (0-5, 6-17, 18-64, 65-79, 80+).
  pv-listing-diff --dedupe last --encoding windows-1252 gammal.csv ny.csv > diff.csv
      Windows-1252 exports; a patient listed twice keeps the last row.
  export_listing | pv-listing-diff old.csv -
      NEW from a pipe.
";

/// The clap command; also used for the man page.
pub fn command() -> clap::Command {
    ListingDiffArgs::command()
        .after_long_help(super::reference(&[&crate::listing::LISTING], EXAMPLES))
}
