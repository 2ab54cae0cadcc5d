//! Seed 002 (Region Örebro län, Hälsoval annual report 2024), table
//! "Listning": the listing change of 2024 per vårdcentral with area
//! subtotals, reproduced from snapshots built at test time from the
//! checked-in table `testdata/listing/seed002/listning-2024.csv` (see
//! `testdata/listing/README.md`).
//!
//! The snapshots hold every listed patient (308 103 in January, 308 470 in
//! December), so they are generated here rather than checked in. Besides
//! the net change the seed gives, the builder decides how many patients of
//! each unit leave the region and move to the next unit, so moved_in,
//! moved_out, new_in_region and left_region are known too.

mod common;

use std::fmt::Write as _;
use std::path::Path;

use common::{Table, TempDir, parse_csv, pv_listing_diff};

struct SeedUnit {
    area: String,
    unit: String,
    net: i64,
    december: i64,
}

fn seed_table() -> Vec<SeedUnit> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/listing/seed002/listning-2024.csv");
    let table = parse_csv(&std::fs::read_to_string(path).unwrap());
    table
        .rows
        .iter()
        .map(|r| SeedUnit {
            area: table.get(r, "area").to_string(),
            unit: table.get(r, "unit").to_string(),
            net: table.get(r, "net").parse().unwrap(),
            december: table.get(r, "listed_december").parse().unwrap(),
        })
        .collect()
}

/// The seed's area subtotals, as printed in the report.
const AREAS: [(&str, i64); 5] = [
    ("Söder", 96),
    ("Norr", -442),
    ("Väster", -143),
    ("Örebro väster", -57),
    ("Örebro öster", 913),
];

/// What the builder put into the snapshots for one unit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Planned {
    before: i64,
    after: i64,
    moved_in: i64,
    moved_out: i64,
    new_in_region: i64,
    left_region: i64,
}

/// Each unit loses 1 % of its January patients to outside the region and
/// 2.5 % to the next unit in the table (the last to the first); the rest of
/// its change comes from patients new in the region, or, where that would
/// be negative, from more patients leaving.
fn plan(units: &[SeedUnit]) -> Vec<Planned> {
    let n = units.len();
    let before: Vec<i64> = units.iter().map(|u| u.december - u.net).collect();
    let moving: Vec<i64> = before.iter().map(|b| b / 40).collect();
    (0..n)
        .map(|i| {
            let moved_in = moving[(i + n - 1) % n];
            let mut left = before[i] / 100;
            let mut new = units[i].december - before[i] + left + moving[i] - moved_in;
            if new < 0 {
                left -= new;
                new = 0;
            }
            Planned {
                before: before[i],
                after: units[i].december,
                moved_in,
                moved_out: moving[i],
                new_in_region: new,
                left_region: left,
            }
        })
        .collect()
}

/// Writes OLD and NEW (`;`-separated NEW, as a Swedish export would be)
/// and the units file; returns their paths.
fn write_snapshots(dir: &TempDir, units: &[SeedUnit], planned: &[Planned]) -> [String; 3] {
    let n = units.len();
    let (mut old, mut new) = (
        String::from("patient_id,unit\n"),
        String::from("Personnummer;Vårdcentral\n"),
    );
    let mut next_id = 0u64;
    let mut id = || {
        next_id += 1;
        format!("19{:010}", next_id * 7919 % 10_000_000_000)
    };
    for (i, (unit, p)) in units.iter().zip(planned).enumerate() {
        let next = &units[(i + 1) % n].unit;
        let stay = p.before - p.moved_out - p.left_region;
        for _ in 0..stay {
            let pid = id();
            writeln!(old, "{pid},{}", unit.unit).unwrap();
            writeln!(new, "{pid};{}", unit.unit).unwrap();
        }
        for _ in 0..p.moved_out {
            let pid = id();
            writeln!(old, "{pid},{}", unit.unit).unwrap();
            writeln!(new, "{pid};{next}").unwrap();
        }
        for _ in 0..p.left_region {
            writeln!(old, "{},{}", id(), unit.unit).unwrap();
        }
        for _ in 0..p.new_in_region {
            writeln!(new, "{};{}", id(), unit.unit).unwrap();
        }
    }
    let mut units_file = String::from("unit,area\n");
    for unit in units {
        writeln!(units_file, "\"{}\",{}", unit.unit, unit.area).unwrap();
    }
    [
        dir.write("listning-2024-01.csv", old),
        dir.write("listning-2024-12.csv", new),
        dir.write("enheter.csv", units_file),
    ]
}

fn row_counts(table: &Table, level: &str, unit: &str) -> Planned {
    let row = table
        .rows
        .iter()
        .find(|r| table.get(r, "level") == level && table.get(r, "unit") == unit)
        .unwrap_or_else(|| panic!("no {level} row for {unit}"));
    let n = |c: &str| table.get(row, c).parse::<i64>().unwrap();
    assert_eq!(n("net"), n("listed_after") - n("listed_before"));
    Planned {
        before: n("listed_before"),
        after: n("listed_after"),
        moved_in: n("moved_in"),
        moved_out: n("moved_out"),
        new_in_region: n("new_in_region"),
        left_region: n("left_region"),
    }
}

#[test]
fn the_seed_table_sums_to_its_printed_totals() {
    let units = seed_table();
    assert_eq!(units.len(), 29);
    assert_eq!(units.iter().map(|u| u.december).sum::<i64>(), 308_470);
    assert_eq!(units.iter().map(|u| u.net).sum::<i64>(), 367);
    for (area, net) in AREAS {
        let sum: i64 = units.iter().filter(|u| u.area == area).map(|u| u.net).sum();
        assert_eq!(sum, net, "{area}");
    }
    for (unit, p) in units.iter().zip(plan(&units)) {
        assert!(p.new_in_region >= 0 && p.left_region >= 0, "{}", unit.unit);
        assert_eq!(
            p.before + p.moved_in + p.new_in_region - p.moved_out - p.left_region,
            p.after,
            "{}",
            unit.unit
        );
    }
}

#[test]
fn seed_002_listing_change_is_reproduced_with_area_subtotals() {
    let units = seed_table();
    let planned = plan(&units);
    let dir = TempDir::new("seed002");
    let [old, new, units_file] = write_snapshots(&dir, &units, &planned);
    let out = pv_listing_diff(&["--units", &units_file, &old, &new]).run();
    let table = parse_csv(out.ok());

    for (unit, want) in units.iter().zip(&planned) {
        let got = row_counts(&table, "unit", &unit.unit);
        assert_eq!(got.after - got.before, unit.net, "net of {}", unit.unit);
        assert_eq!(got.after, unit.december, "December count of {}", unit.unit);
        assert_eq!(got, *want, "{}", unit.unit);
    }
    // Backa opened in September 2024 and had 2 414 listed at the end of
    // the year; Brickegården lost the most in Väster (1 062).
    let backa = row_counts(&table, "unit", "Praktikertjänst Backa vårdcentral");
    assert_eq!((backa.before, backa.after), (0, 2414));
    let brickegarden = row_counts(&table, "unit", "Brickegården");
    assert_eq!(brickegarden.after - brickegarden.before, -1062);

    for (area, net) in AREAS {
        let got = row_counts(&table, "area", area);
        assert_eq!(got.after - got.before, net, "area {area}");
    }
    let region = row_counts(&table, "all", "ALL");
    assert_eq!((region.before, region.after), (308_103, 308_470));
    assert_eq!(region.after - region.before, 367);
    assert_eq!(region.moved_in, region.moved_out);
    assert_eq!(region.new_in_region - region.left_region, 367);
    assert_eq!(table.rows.len(), 29 + 5 + 1);

    // The table prints it the way the report does: Söder +96 with
    // Askersund −140, Capio vårdcentral Hallsberg +456 and Kumla −220
    // under it.
    let shown = pv_listing_diff(&["-q", "-f", "table", "--units", &units_file, &old, &new]).run();
    let lines: Vec<Vec<String>> = shown
        .ok()
        .lines()
        .filter(|l| l.starts_with('│'))
        .map(|l| {
            l.trim_matches('│')
                .split('┆')
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect();
    let names_and_nets: Vec<(&str, &str)> = lines
        .iter()
        .map(|c| (c[0].as_str(), c[3].as_str()))
        .collect();
    let soder = names_and_nets
        .iter()
        .position(|&(name, _)| name == "Söder")
        .unwrap();
    assert_eq!(
        names_and_nets[soder..soder + 4],
        [
            ("Söder", "+96"),
            ("Askersund", "-140"),
            ("Capio vårdcentral Hallsberg", "+456"),
            ("Kumla", "-220"),
        ]
    );
    assert_eq!(names_and_nets.last(), Some(&("ALL", "+367")));
}
