//! pv-coc against a deliberately simple model of DOMAIN.md's continuity
//! rules: plain loops and BTreeMaps, no shared code with the library.
//!
//! (a) a property test on random small visit sets around the window edges;
//! (b) the "Done when" check on a generated set of ~20 000 visits.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use proptest::sample::Index as Pick;
use proptest::test_runner::RngSeed;

use common::{Rng, TempDir, parse_csv, pv_coc};

// ---------------------------------------------------------------------------
// Calendar days, just enough for the window rule

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Day {
    y: i32,
    m: u32,
    d: u32,
}

const fn day(y: i32, m: u32, d: u32) -> Day {
    Day { y, m, d }
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

fn next_day(t: Day) -> Day {
    if t.d < days_in_month(t.y, t.m) {
        day(t.y, t.m, t.d + 1)
    } else if t.m < 12 {
        day(t.y, t.m + 1, 1)
    } else {
        day(t.y + 1, 1, 1)
    }
}

fn prev_day(t: Day) -> Day {
    if t.d > 1 {
        day(t.y, t.m, t.d - 1)
    } else if t.m > 1 {
        day(t.y, t.m - 1, days_in_month(t.y, t.m - 1))
    } else {
        day(t.y - 1, 12, 31)
    }
}

fn add_days(mut t: Day, n: i32) -> Day {
    for _ in 0..n.max(0) {
        t = next_day(t);
    }
    for _ in 0..(-n).max(0) {
        t = prev_day(t);
    }
    t
}

/// DOMAIN.md: first day = (as_of + 1 day) − months, a missing day clamped
/// to the month's last; last day = as_of.
fn window(as_of: Day, months: u32) -> (Day, Day) {
    let next = next_day(as_of);
    let index = next.y * 12 + next.m as i32 - 1 - months as i32;
    let (y, m) = (index.div_euclid(12), index.rem_euclid(12) as u32 + 1);
    (day(y, m, next.d.min(days_in_month(y, m))), as_of)
}

fn show(t: Day) -> String {
    format!("{:04}-{:02}-{:02}", t.y, t.m, t.d)
}

#[test]
fn the_model_window_follows_the_spec_examples() {
    assert_eq!(
        window(day(2024, 12, 31), 18),
        (day(2023, 7, 1), day(2024, 12, 31))
    );
    assert_eq!(
        window(day(2024, 2, 29), 18),
        (day(2022, 9, 1), day(2024, 2, 29))
    );
    assert_eq!(window(day(2024, 8, 30), 18).0, day(2023, 2, 28));
    assert_eq!(add_days(day(2024, 2, 28), 2), day(2024, 3, 1));
    assert_eq!(add_days(day(2024, 1, 1), -1), day(2023, 12, 31));
}

// ---------------------------------------------------------------------------
// Vocabulary: raw values as exports spell them, and what they mean

const PROFESSIONS: &[(&str, &str)] = &[
    ("doctor", "doctor"),
    ("Läkare", "doctor"),
    ("ST-läkare", "doctor"),
    ("distriktsläkare", "doctor"),
    ("nurse", "nurse"),
    ("Distriktssköterska", "nurse"),
    ("ssk", "nurse"),
    ("Fysioterapeut", "physio"),
    ("sjukgymnast", "physio"),
    ("Psykolog", "psychologist"),
    ("Barnmorska", "barnmorska"),
];

const CONTACTS: &[(&str, &str)] = &[
    ("physical", "physical"),
    ("Besök", "physical"),
    ("Mottagningsbesök", "physical"),
    ("home", "home"),
    ("Hembesök", "home"),
    ("phone", "phone"),
    ("Telefon", "phone"),
    ("video", "video"),
    ("Videobesök", "video"),
];

fn meaning(table: &[(&str, &'static str)], raw: &str) -> &'static str {
    table
        .iter()
        .find(|(r, _)| *r == raw)
        .map(|(_, canonical)| *canonical)
        .unwrap_or_else(|| panic!("{raw} is not in the test vocabulary"))
}

const INDEXES: [&str; 5] = ["coc", "upc", "secon", "mmci", "hhi"];

// ---------------------------------------------------------------------------
// The model

#[derive(Clone, Debug)]
struct Visit {
    visit_id: Option<String>,
    patient: String,
    date: Day,
    /// Minutes after midnight, when the export has a time.
    time: Option<u32>,
    unit: String,
    /// Empty when the export left it blank.
    provider: String,
    profession: &'static str,
    contact: &'static str,
}

#[derive(Clone, Debug, Default)]
struct Settings {
    /// patient → listed unit.
    listing: Option<BTreeMap<String, String>>,
    /// unit → area.
    areas: Option<BTreeMap<String, String>>,
    as_of: Option<Day>,
    months: u32,
    min_visits: usize,
    /// Canonical professions to keep; `None` for all.
    professions: Option<Vec<&'static str>>,
    /// Canonical contact types that count.
    contacts: Vec<&'static str>,
}

#[derive(Clone, Debug, PartialEq)]
struct PatientRow {
    unit: String,
    group: String,
    patient: String,
    visits: usize,
    providers: usize,
    values: [Option<f64>; 5],
}

#[derive(Clone, Debug, PartialEq)]
struct IndicatorRow {
    indicator: String,
    level: String,
    unit: String,
    group: String,
    numerator: Option<f64>,
    denominator: u64,
    value: Option<f64>,
}

#[derive(Debug, Default)]
struct Model {
    period: Option<String>,
    patients: Vec<PatientRow>,
    rows: Vec<IndicatorRow>,
}

/// The five indexes of one patient's providers in visit order.
fn indexes(providers_in_order: &[&str]) -> [Option<f64>; 5] {
    let n = providers_in_order.len();
    let mut per_provider: BTreeMap<&str, usize> = BTreeMap::new();
    for p in providers_in_order {
        *per_provider.entry(p).or_insert(0) += 1;
    }
    let big_n = n as f64;
    let p = per_provider.len() as f64;
    let mut sum_sq = 0.0;
    let mut most = 0;
    for &count in per_provider.values() {
        sum_sq += (count * count) as f64;
        most = most.max(count);
    }
    let mut same = 0;
    for i in 1..n {
        if providers_in_order[i] == providers_in_order[i - 1] {
            same += 1;
        }
    }
    let upc = Some(most as f64 / big_n);
    let hhi = Some(sum_sq / (big_n * big_n));
    if n == 1 {
        return [None, upc, None, None, hhi];
    }
    let coc = (sum_sq - big_n) / (big_n * (big_n - 1.0));
    let secon = same as f64 / (big_n - 1.0);
    let mmci = (1.0 - p / (big_n + 0.1)) / (1.0 - 1.0 / (big_n + 0.1));
    [Some(coc), upc, Some(secon), Some(mmci), hhi]
}

/// (unit, profession, patient).
type GroupKey = (String, String, String);
/// A counted visit: date, time, provider.
type Counted = (Day, Option<u32>, String);

fn model(visits: &[Visit], s: &Settings) -> Model {
    if visits.is_empty() {
        return Model::default();
    }
    // The window: --as-of, or the latest date anywhere in the input.
    let mut latest = visits[0].date;
    for v in visits {
        if v.date > latest {
            latest = v.date;
        }
    }
    let (first, last) = window(s.as_of.unwrap_or(latest), s.months);

    // A repeated visit_id is the same visit: only its first row exists.
    let mut seen_ids = BTreeSet::new();
    // (unit, profession, patient) → (date, time, provider) of counted visits.
    let mut counted: BTreeMap<GroupKey, Vec<Counted>> = BTreeMap::new();
    for v in visits {
        if let Some(id) = &v.visit_id
            && !seen_ids.insert(id.clone())
        {
            continue;
        }
        if v.date < first || v.date > last {
            continue;
        }
        if !s.contacts.contains(&meaning(CONTACTS, v.contact)) {
            continue;
        }
        let profession = meaning(PROFESSIONS, v.profession);
        if let Some(wanted) = &s.professions
            && !wanted.contains(&profession)
        {
            continue;
        }
        if let Some(listing) = &s.listing {
            match listing.get(&v.patient) {
                Some(unit) if *unit == v.unit => {}
                _ => continue,
            }
        }
        if v.provider.is_empty() {
            continue;
        }
        counted
            .entry((v.unit.clone(), profession.to_string(), v.patient.clone()))
            .or_default()
            .push((v.date, v.time, v.provider.clone()));
    }

    // Per (unit, group): per index, the sum of defined values and their count.
    let mut pools: BTreeMap<(String, String), [(f64, u64); 5]> = BTreeMap::new();
    let mut patients = Vec::new();
    for ((unit, group, patient), mut list) in counted {
        let pool = pools.entry((unit.clone(), group.clone())).or_default();
        if list.len() < s.min_visits {
            continue;
        }
        // Visit order: date, then time, then provider id.
        list.sort();
        let order: Vec<&str> = list.iter().map(|(_, _, p)| p.as_str()).collect();
        let values = indexes(&order);
        for i in 0..5 {
            if let Some(v) = values[i] {
                pool[i].0 += v;
                pool[i].1 += 1;
            }
        }
        let providers: BTreeSet<&str> = order.iter().copied().collect();
        patients.push(PatientRow {
            unit,
            group,
            patient,
            visits: list.len(),
            providers: providers.len(),
            values,
        });
    }

    let mut rows = Vec::new();
    for (i, indicator) in INDEXES.iter().enumerate() {
        let mut areas: BTreeMap<(String, String), (f64, u64)> = BTreeMap::new();
        let mut all: BTreeMap<String, (f64, u64)> = BTreeMap::new();
        let mut push = |level: &str, unit: &str, group: &str, (sum, count): (f64, u64)| {
            rows.push(IndicatorRow {
                indicator: indicator.to_string(),
                level: level.to_string(),
                unit: unit.to_string(),
                group: group.to_string(),
                numerator: Some(sum),
                denominator: count,
                value: (count > 0).then(|| sum / count as f64),
            });
        };
        for ((unit, group), pool) in &pools {
            push("unit", unit, group, pool[i]);
            if let Some(area) = s.areas.as_ref().and_then(|a| a.get(unit)) {
                let entry = areas.entry((area.clone(), group.clone())).or_default();
                entry.0 += pool[i].0;
                entry.1 += pool[i].1;
            }
            let entry = all.entry(group.clone()).or_default();
            entry.0 += pool[i].0;
            entry.1 += pool[i].1;
        }
        for ((area, group), pool) in areas {
            push("area", &area, &group, pool);
        }
        for (group, pool) in all {
            push("all", "ALL", &group, pool);
        }
    }
    Model {
        period: Some(format!("{}/{}", show(first), show(last))),
        patients,
        rows,
    }
}

// ---------------------------------------------------------------------------
// Running pv-coc on the same data

struct Files {
    _dir: TempDir,
    visits: String,
    listing: Option<String>,
    units: Option<String>,
}

fn write_files(label: &str, visits: &[Visit], s: &Settings) -> Files {
    let dir = TempDir::new(label);
    let with_ids = visits.iter().any(|v| v.visit_id.is_some());
    let mut text = String::new();
    text.push_str(if with_ids { "visit_id," } else { "" });
    text.push_str("patient_id,date,unit,provider_id,profession,contact_type\n");
    for v in visits {
        if with_ids {
            text.push_str(v.visit_id.as_deref().unwrap_or(""));
            text.push(',');
        }
        let time = v
            .time
            .map(|m| format!(" {:02}:{:02}", m / 60, m % 60))
            .unwrap_or_default();
        text.push_str(&format!(
            "{},{}{time},{},{},{},{}\n",
            v.patient,
            show(v.date),
            v.unit,
            v.provider,
            v.profession,
            v.contact
        ));
    }
    let visits_path = dir.write("visits.csv", &text);
    let listing = s.listing.as_ref().map(|listing| {
        let mut text = String::from("patient_id,unit\n");
        for (patient, unit) in listing {
            text.push_str(&format!("{patient},{unit}\n"));
        }
        dir.write("listing.csv", text)
    });
    let units = s.areas.as_ref().map(|areas| {
        let mut text = String::from("unit,area\n");
        for (unit, area) in areas {
            text.push_str(&format!("{unit},{area}\n"));
        }
        dir.write("units.csv", text)
    });
    Files {
        _dir: dir,
        visits: visits_path,
        listing,
        units,
    }
}

/// pv-coc's arguments for `s` (the visits file last).
fn arguments(files: &Files, s: &Settings, per_patient: bool) -> Vec<String> {
    let mut args: Vec<String> = vec!["--index".into(), "all".into(), "--quiet".into()];
    if let Some(listing) = &files.listing {
        args.extend(["--listing".into(), listing.clone()]);
    }
    if let Some(units) = &files.units {
        args.extend(["--units".into(), units.clone()]);
    }
    if let Some(as_of) = s.as_of {
        args.extend(["--as-of".into(), show(as_of)]);
    }
    args.extend(["--months".into(), s.months.to_string()]);
    args.extend(["--min-visits".into(), s.min_visits.to_string()]);
    if per_patient {
        args.push("--per-patient".into());
    }
    args
}

fn number(text: &str) -> Result<Option<f64>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .map_err(|_| format!("not a number: {text:?}"))
}

fn close(a: Option<f64>, b: Option<f64>, tolerance: f64) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => (a - b).abs() <= tolerance,
        _ => false,
    }
}

const TOLERANCE: f64 = 2e-6;

/// Compares pv-coc's indicator CSV with the model, row by row, in order.
fn compare_rows(csv: &str, want: &Model) -> Result<(), String> {
    let table = parse_csv(csv);
    let header = "indicator,level,unit,period,group,numerator,denominator,value,target,status";
    if table.header.join(",") != header {
        return Err(format!("header {:?}", table.header));
    }
    if table.rows.len() != want.rows.len() {
        let got: Vec<String> = table.rows.iter().map(|r| r[..5].join(",")).collect();
        let wanted: Vec<String> = want
            .rows
            .iter()
            .map(|r| format!("{},{},{},{}", r.indicator, r.level, r.unit, r.group))
            .collect();
        return Err(format!(
            "{} rows, model has {}\npv-coc: {got:#?}\nmodel: {wanted:#?}",
            table.rows.len(),
            want.rows.len()
        ));
    }
    for (row, w) in table.rows.iter().zip(&want.rows) {
        let keys = [&row[0], &row[1], &row[2], &row[4]];
        let want_keys = [&w.indicator, &w.level, &w.unit, &w.group];
        let period_ok = Some(&row[3]) == want.period.as_ref();
        let denominator: u64 = row[6].parse().map_err(|_| format!("denominator {row:?}"))?;
        if keys != want_keys
            || !period_ok
            || denominator != w.denominator
            || !close(number(&row[5])?, w.numerator, TOLERANCE)
            || !close(number(&row[7])?, w.value, TOLERANCE)
            || !row[8].is_empty()
            || !row[9].is_empty()
        {
            return Err(format!(
                "pv-coc: {row:?}\nmodel:  {w:?} period {:?}",
                want.period
            ));
        }
    }
    Ok(())
}

/// Compares pv-coc's `--per-patient` CSV with the model, in order.
fn compare_patients(csv: &str, want: &Model) -> Result<(), String> {
    let table = parse_csv(csv);
    let header = "unit,profession,patient_id,visits,providers,coc,upc,secon,mmci,hhi";
    if table.header.join(",") != header {
        return Err(format!("header {:?}", table.header));
    }
    let mut expected = want.patients.clone();
    expected.sort_by(|a, b| (&a.unit, &a.group, &a.patient).cmp(&(&b.unit, &b.group, &b.patient)));
    if table.rows.len() != expected.len() {
        return Err(format!(
            "{} patient rows, model has {}:\npv-coc: {:#?}\nmodel: {expected:#?}",
            table.rows.len(),
            expected.len(),
            table.rows
        ));
    }
    for (row, w) in table.rows.iter().zip(&expected) {
        let mut same = row[0] == w.unit
            && row[1] == w.group
            && row[2] == w.patient
            && row[3] == w.visits.to_string()
            && row[4] == w.providers.to_string();
        for i in 0..5 {
            same &= close(number(&row[5 + i])?, w.values[i], TOLERANCE);
        }
        if !same {
            return Err(format!("pv-coc: {row:?}\nmodel:  {w:?}"));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// (a) Random small visit sets

const PATIENTS: [&str; 5] = ["p1", "p2", "p10", "q", "19121212-1212"];
const UNITS: [&str; 3] = ["U1", "U2", "Örebro"];
const PROVIDERS: [&str; 4] = ["D1", "D2", "D10", "N1"];
const AS_OFS: [Day; 4] = [
    day(2024, 12, 31),
    day(2024, 2, 29),
    day(2024, 8, 30),
    day(2023, 3, 31),
];
const TIMES: [u32; 3] = [8 * 60, 8 * 60 + 30, 13 * 60 + 15];
const CONTACT_SETS: [(Option<&str>, &[&str]); 4] = [
    (None, &["physical", "home"]),
    (Some("physical"), &["physical"]),
    (Some("physical,home,phone"), &["physical", "home", "phone"]),
    (Some("telefon,Video"), &["phone", "video"]),
];
const PROFESSION_FILTERS: [(Option<&str>, &[&str]); 3] = [
    (None, &[]),
    (Some("läkare"), &["doctor"]),
    (
        Some("ssk,fysioterapeut,psykolog"),
        &["nurse", "physio", "psychologist"],
    ),
];

#[derive(Clone, Debug)]
struct GenVisit {
    patient: usize,
    unit: usize,
    provider: Option<usize>,
    profession: usize,
    contact: usize,
    date: usize,
    time: usize,
}

#[derive(Clone, Debug)]
struct Case {
    as_of: Option<usize>,
    months: u32,
    with_times: bool,
    listing: Option<Vec<Option<usize>>>,
    with_units: bool,
    min_visits: usize,
    professions: usize,
    contacts: usize,
    with_ids: bool,
    visits: Vec<GenVisit>,
    repeats: Vec<(Pick, Pick)>,
    threads: usize,
    small_blocks: bool,
}

fn visit_strategy() -> impl Strategy<Value = GenVisit> {
    (
        0..PATIENTS.len(),
        prop_oneof![3 => Just(0usize), 1 => 0..UNITS.len()],
        prop::option::weighted(0.9, 0..PROVIDERS.len()),
        prop_oneof![3 => 0..4usize, 2 => 0..PROFESSIONS.len()],
        prop_oneof![3 => 0..3usize, 2 => 0..CONTACTS.len()],
        0..10usize,
        0..TIMES.len(),
    )
        .prop_map(
            |(patient, unit, provider, profession, contact, date, time)| GenVisit {
                patient,
                unit,
                provider,
                profession,
                contact,
                date,
                time,
            },
        )
}

fn case_strategy() -> impl Strategy<Value = Case> {
    (
        (
            prop::option::weighted(0.7, 0..AS_OFS.len()),
            prop_oneof![3 => Just(18u32), 1 => Just(6u32)],
            any::<bool>(),
            prop::option::weighted(
                0.75,
                prop::collection::vec(
                    prop_oneof![3 => Just(Some(0usize)), 1 => prop::option::of(0..UNITS.len())],
                    PATIENTS.len(),
                ),
            ),
            any::<bool>(),
            prop_oneof![1 => Just(1usize), 2 => Just(2usize), 3 => Just(3usize), 1 => Just(4usize)],
        ),
        (
            prop_oneof![3 => Just(0usize), 1 => 1..PROFESSION_FILTERS.len()],
            prop_oneof![2 => Just(0usize), 1 => 1..CONTACT_SETS.len()],
            any::<bool>(),
            prop_oneof![
                1 => prop::collection::vec(visit_strategy(), 0..8),
                4 => prop::collection::vec(visit_strategy(), 8..80),
            ],
            prop::collection::vec((any::<Pick>(), any::<Pick>()), 0..4),
            1..=2usize,
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                (as_of, months, with_times, listing, with_units, min_visits),
                (professions, contacts, with_ids, visits, repeats, threads, small_blocks),
            )| Case {
                as_of,
                months,
                with_times,
                listing,
                with_units,
                min_visits,
                professions,
                contacts,
                with_ids,
                visits,
                repeats,
                threads,
                small_blocks,
            },
        )
}

/// The case as visits and settings. Dates sit on and around both window
/// ends (of --as-of, or of 2024-12-31 when the latest date decides).
fn realize(case: &Case) -> (Vec<Visit>, Settings) {
    let base = case.as_of.map_or(day(2024, 12, 31), |i| AS_OFS[i]);
    let (first, last) = window(base, case.months);
    let dates = [
        prev_day(first),
        first,
        next_day(first),
        add_days(first, 17),
        add_days(first, 40),
        add_days(last, -40),
        add_days(last, -3),
        prev_day(last),
        last,
        next_day(last),
    ];
    let mut visits: Vec<Visit> = case
        .visits
        .iter()
        .enumerate()
        .map(|(i, g)| Visit {
            visit_id: case.with_ids.then(|| format!("V{i}")),
            patient: PATIENTS[g.patient].to_string(),
            date: dates[g.date],
            time: case.with_times.then_some(TIMES[g.time]),
            unit: UNITS[g.unit].to_string(),
            provider: g
                .provider
                .map_or(String::new(), |p| PROVIDERS[p].to_string()),
            profession: PROFESSIONS[g.profession].0,
            contact: CONTACTS[g.contact].0,
        })
        .collect();
    // Repeated visit ids: exact copies of earlier rows, anywhere in the file.
    if case.with_ids && !visits.is_empty() {
        for (source, position) in &case.repeats {
            let copy = visits[source.index(visits.len())].clone();
            let at = position.index(visits.len() + 1);
            visits.insert(at, copy);
        }
    }
    let listing = case.listing.as_ref().map(|units| {
        PATIENTS
            .iter()
            .zip(units)
            .filter_map(|(p, u)| u.map(|u| (p.to_string(), UNITS[u].to_string())))
            .collect()
    });
    let areas = case.with_units.then(|| {
        [("U1", "Syd"), ("U2", "Syd"), ("Örebro", "Nord")]
            .iter()
            .map(|(u, a)| (u.to_string(), a.to_string()))
            .collect()
    });
    let settings = Settings {
        listing,
        areas,
        as_of: case.as_of.map(|i| AS_OFS[i]),
        months: case.months,
        min_visits: case.min_visits,
        professions: PROFESSION_FILTERS[case.professions]
            .0
            .map(|_| PROFESSION_FILTERS[case.professions].1.to_vec()),
        contacts: CONTACT_SETS[case.contacts].1.to_vec(),
    };
    (visits, settings)
}

fn check_case(case: &Case) -> Result<(), String> {
    let (visits, settings) = realize(case);
    let want = model(&visits, &settings);
    let files = write_files("model", &visits, &settings);
    let input = std::fs::read_to_string(&files.visits).unwrap();
    for per_patient in [false, true] {
        let mut args = arguments(&files, &settings, per_patient);
        if let Some(list) = PROFESSION_FILTERS[case.professions].0 {
            args.extend(["--profession".into(), list.into()]);
        }
        if let Some(list) = CONTACT_SETS[case.contacts].0 {
            args.extend(["--contact-types".into(), list.into()]);
        }
        args.extend(["--threads".into(), case.threads.to_string()]);
        args.push(files.visits.clone());
        let mut command = pv_coc(&args);
        if case.small_blocks {
            command = command.env("PVKIT_BLOCK_SIZE", "64");
        }
        let run = command.run();
        let context = || {
            format!(
                "\nargs: {args:?}\nlisting: {:?}\nvisits:\n{input}",
                settings.listing
            )
        };
        if run.code != 0 {
            return Err(format!("exit {}: {}{}", run.code, run.stderr, context()));
        }
        let compared = if per_patient {
            compare_patients(&run.stdout, &want)
        } else {
            compare_rows(&run.stdout, &want)
        };
        compared.map_err(|e| format!("{e}{}", context()))?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 128,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(0x0c0c_2024),
        ..ProptestConfig::default()
    })]

    #[test]
    fn pv_coc_agrees_with_the_model_on_small_visit_sets(case in case_strategy()) {
        let result = check_case(&case);
        prop_assert!(result.is_ok(), "{}", result.unwrap_err());
    }
}

// ---------------------------------------------------------------------------
// (b) The "Done when": ~20 000 generated visits

const BIG_UNITS: [(&str, &str); 8] = [
    ("VC Askersund", "Söder"),
    ("VC Hallsberg", "Söder"),
    ("VC Kumla", "Söder"),
    ("VC Laxå", "Söder"),
    ("VC Hällefors", "Norr"),
    ("VC Lindesberg", "Norr"),
    ("VC Ljusnarsberg", "Norr"),
    ("VC Nora", "Norr"),
];

/// Listing plus ~20 000 visits: physical, home, phone and video contacts in
/// Swedish and English spelling, empty providers, visits at other units,
/// unlisted patients, repeated visit ids, dates on both sides of the window.
fn generated() -> (Vec<Visit>, Settings) {
    let mut rng = Rng(0x5eed_2024_1231);
    let patients = 2_500;
    let doctors = ["doctor", "Läkare", "ST-läkare", "distriktsläkare"];
    let nurses = ["nurse", "Distriktssköterska", "ssk"];
    let physios = ["Fysioterapeut", "sjukgymnast"];
    let physical = ["physical", "Besök", "Mottagningsbesök"];
    let home = ["home", "Hembesök"];
    let phone = ["phone", "Telefon"];
    let video = ["video", "Videobesök"];

    let mut listing = BTreeMap::new();
    let mut home_unit = Vec::new();
    for p in 0..patients {
        let unit = rng.below(BIG_UNITS.len());
        home_unit.push(unit);
        if !rng.percent(4) {
            listing.insert(format!("pat{p:05}"), BIG_UNITS[unit].0.to_string());
        }
    }
    let mut visits: Vec<Visit> = Vec::new();
    let start = day(2023, 5, 1);
    let mut last_patient = None;
    for i in 0..20_000 {
        if i > 100 && rng.percent(1) {
            // The same visit exported twice.
            let copy = visits[rng.below(visits.len())].clone();
            visits.push(copy);
            continue;
        }
        // Exports often list a patient's visits together: runs of one
        // patient exercise the repeated-patient path.
        let p = match last_patient {
            Some(p) if rng.percent(40) => p,
            _ => rng.below(patients),
        };
        last_patient = Some(p);
        let unit = if rng.percent(85) {
            home_unit[p]
        } else {
            rng.below(BIG_UNITS.len())
        };
        let kind = rng.below(10);
        let (profession, prefix, staff) = match kind {
            0..=4 => (*rng.pick(&doctors), "L", 6),
            5..=8 => (*rng.pick(&nurses), "S", 4),
            _ => (*rng.pick(&physios), "F", 2),
        };
        // Each patient has a usual provider per profession at each unit.
        let usual = (p * 7 + kind / 5) % staff;
        let k = if rng.percent(60) {
            usual
        } else {
            rng.below(staff)
        };
        let provider = if rng.percent(3) {
            String::new()
        } else {
            format!("SE2321000164-{unit}{prefix}{k:02}")
        };
        let contact = match rng.below(100) {
            0..=54 => *rng.pick(&physical),
            55..=61 => *rng.pick(&home),
            62..=86 => *rng.pick(&phone),
            _ => *rng.pick(&video),
        };
        visits.push(Visit {
            visit_id: Some(format!("K{i:06}")),
            patient: format!("pat{p:05}"),
            date: add_days(start, rng.below(640) as i32),
            time: None,
            unit: BIG_UNITS[unit].0.to_string(),
            provider,
            profession,
            contact,
        });
    }
    let settings = Settings {
        listing: Some(listing),
        areas: Some(
            BIG_UNITS
                .iter()
                .map(|(u, a)| (u.to_string(), a.to_string()))
                .collect(),
        ),
        as_of: Some(day(2024, 12, 31)),
        months: 18,
        min_visits: 3,
        professions: None,
        contacts: vec!["physical", "home"],
    };
    (visits, settings)
}

#[test]
fn generated_visits_match_the_model_at_every_level() {
    let (visits, settings) = generated();
    assert!(visits.len() == 20_000);
    let want = model(&visits, &settings);
    // The data must exercise what it is meant to.
    assert!(want.rows.iter().any(|r| r.level == "area"));
    assert!(want.rows.iter().any(|r| r.level == "all"));
    assert!(
        want.patients.len() > 1_000,
        "{} eligible",
        want.patients.len()
    );
    assert_eq!(want.period.as_deref(), Some("2023-07-01/2024-12-31"));

    let files = write_files("generated", &visits, &settings);
    let mut args = arguments(&files, &settings, false);
    args.push(files.visits.clone());
    let run = pv_coc(&args).run();
    if let Err(e) = compare_rows(run.ok(), &want) {
        panic!("{e}");
    }
    let default_bytes = run.stdout.clone();

    let mut args = arguments(&files, &settings, true);
    args.push(files.visits.clone());
    let run = pv_coc(&args).run();
    if let Err(e) = compare_patients(run.ok(), &want) {
        panic!("{e}");
    }

    // Same bytes whatever the thread count, with ~4 KiB chunks.
    let mut outputs = Vec::new();
    for threads in ["1", "2"] {
        let mut args = arguments(&files, &settings, false);
        args.extend(["--threads".into(), threads.into(), files.visits.clone()]);
        let run = pv_coc(&args).env("PVKIT_BLOCK_SIZE", "4096").run();
        outputs.push(run.ok().to_string());
    }
    assert!(outputs[0] == outputs[1], "--threads 1 and 2 differ");
    assert!(
        outputs[0] == default_bytes,
        "small blocks change the output"
    );
}
