//! pv-coverage against a deliberately simple model of DOMAIN.md's coverage
//! rules: plain loops over rows and BTreeMaps, no shared code with the
//! library.
//!
//! (a) a property test per subcommand on small random regions (periods,
//!     scopes, care levels from visits or units, filters, threads, chunks);
//! (b) the "Done when" on a generated region of 20 000 visits;
//! (c) the same on `examples/synth` output: a 40 000-visit region made by
//!     the test, or a bigger one in the directory PVKIT_SYNTH_DIR names:
//!     `cargo run --release --example synth -- --out /tmp/region --visits 300k`
//!     `PVKIT_SYNTH_DIR=/tmp/region cargo test --release --test coverage_model`

mod common;

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use proptest::test_runner::RngSeed;

use common::{Rng, TempDir, parse_csv, pv_coverage, synth};

// ---------------------------------------------------------------------------
// Calendar days

type Day = (i32, u32, u32);

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

fn next_day((y, m, d): Day) -> Day {
    if d < days_in_month(y, m) {
        (y, m, d + 1)
    } else if m < 12 {
        (y, m + 1, 1)
    } else {
        (y + 1, 1, 1)
    }
}

/// DOMAIN.md: first day = (as_of + 1 day) − months, a missing day clamped.
fn months_ending(as_of: Day, months: u32) -> (Day, Day) {
    let (y, m, d) = next_day(as_of);
    let index = y * 12 + m as i32 - 1 - months as i32;
    let (y, m) = (index.div_euclid(12), index.rem_euclid(12) as u32 + 1);
    ((y, m, d.min(days_in_month(y, m))), as_of)
}

/// The `n`th day (0-based) counted from `start`.
fn nth_day(start: Day, n: u32) -> Day {
    (0..n).fold(start, |day, _| next_day(day))
}

fn show((y, m, d): Day) -> String {
    format!("{y:04}-{m:02}-{d:02}")
}

fn parse_day(text: &str) -> Option<Day> {
    let mut parts = text.trim().split('-');
    let y = parts.next()?.parse().ok()?;
    let m = parts.next()?.parse().ok()?;
    let d = parts.next()?.get(..2)?.parse().ok()?;
    Some((y, m, d))
}

#[test]
fn the_model_calendar() {
    assert_eq!(
        months_ending((2024, 12, 31), 6),
        ((2024, 7, 1), (2024, 12, 31))
    );
    assert_eq!(months_ending((2024, 5, 30), 3).0, (2024, 2, 29));
    assert_eq!(nth_day((2024, 2, 28), 2), (2024, 3, 1));
}

// ---------------------------------------------------------------------------
// Vocabulary: raw values as the generators write them, and their meaning

const PROFESSIONS: &[(&str, &str)] = &[
    ("doctor", "doctor"),
    ("Läkare", "doctor"),
    ("ST-läkare", "doctor"),
    ("nurse", "nurse"),
    ("Distriktssköterska", "nurse"),
    ("Sjuksköterska", "nurse"),
    ("ssk", "nurse"),
    ("physio", "physio"),
    ("Fysioterapeut", "physio"),
    ("psychologist", "psychologist"),
    ("Psykolog", "psychologist"),
    ("counsellor", "counsellor"),
    ("Kurator", "counsellor"),
];

const CONTACTS: &[(&str, &str)] = &[
    ("physical", "physical"),
    ("Besök", "physical"),
    ("home", "home"),
    ("Hembesök", "home"),
    ("phone", "phone"),
    ("Telefon", "phone"),
    ("video", "video"),
    ("Video", "video"),
    ("chat", "chat"),
    ("Chatt", "chat"),
];

const CARE_LEVELS: &[(&str, &str)] = &[
    ("primary", "primary"),
    ("Primärvård", "primary"),
    ("primärvård", "primary"),
    ("specialist", "specialist"),
    ("Specialistvård", "specialist"),
    ("specialistvård", "specialist"),
];

/// named_doctor and active_choice values: yes/no words, and (named doctor
/// only) a doctor's name or HSA-id, which means yes.
const YES_NO: &[(&str, bool)] = &[
    ("true", true),
    ("false", false),
    ("Ja", true),
    ("Nej", false),
    ("1", true),
    ("0", false),
    ("", false),
];
const DOCTORS: &[&str] = &["SE2321000164-L07", "Dr Lind", "Anna Berg"];

fn meaning<'a>(table: &[(&str, &'a str)], raw: &str) -> &'a str {
    table
        .iter()
        .find(|(r, _)| *r == raw)
        .map(|(_, canonical)| *canonical)
        .unwrap_or_else(|| panic!("{raw:?} is not in the test vocabulary"))
}

fn yes(raw: &str, names_mean_yes: bool) -> bool {
    match YES_NO.iter().find(|(r, _)| *r == raw) {
        Some((_, value)) => *value,
        None if names_mean_yes => true,
        None => panic!("{raw:?} is not a yes/no word"),
    }
}

/// Activity codes compare case-insensitively.
fn code(raw: &str) -> String {
    raw.trim().to_lowercase()
}

// ---------------------------------------------------------------------------
// A region

#[derive(Clone, Debug)]
struct Listed {
    patient: String,
    unit: String,
    birth: Option<Day>,
    active: String,
    named: String,
}

#[derive(Clone, Debug)]
struct Visit {
    patient: String,
    date: Day,
    unit: String,
    profession: String,
    contact: String,
    level: String,
}

#[derive(Clone, Debug)]
struct Activity {
    patient: String,
    date: Day,
    code: String,
}

#[derive(Clone, Debug, Default)]
struct Region {
    listing: Vec<Listed>,
    visits: Vec<Visit>,
    /// unit → (area, care level), both possibly empty.
    units: BTreeMap<String, (String, String)>,
    /// unit → doctor_fte as written (empty allowed).
    staffing: Vec<(String, String)>,
    activities: Vec<Activity>,
}

/// Files of a region, as pv-coverage reads them.
struct Files {
    _dir: TempDir,
    listing: String,
    visits: String,
    visits_without_levels: String,
    units: String,
    staffing: String,
    activities: String,
}

fn write_files(region: &Region) -> Files {
    let dir = TempDir::new("coverage-model");
    let mut listing = String::from("patient_id,unit,birth_date,active_choice,named_doctor\n");
    for l in &region.listing {
        let birth = l.birth.map(show).unwrap_or_default();
        listing.push_str(&format!(
            "{},{},{birth},{},{}\n",
            l.patient, l.unit, l.active, l.named
        ));
    }
    let mut visits = String::from("patient_id,date,unit,profession,contact_type,care_level\n");
    let mut without = String::from("patient_id,date,unit,profession,contact_type\n");
    for v in &region.visits {
        let row = format!(
            "{},{},{},{},{}",
            v.patient,
            show(v.date),
            v.unit,
            v.profession,
            v.contact
        );
        visits.push_str(&format!("{row},{}\n", v.level));
        without.push_str(&format!("{row}\n"));
    }
    let mut units = String::from("unit;area;care_level\n");
    for (unit, (area, level)) in &region.units {
        units.push_str(&format!("{unit};{area};{level}\n"));
    }
    // Swedish Excel: semicolons and decimal commas.
    let mut staffing = String::from("Vårdenhet;Läkartjänster\n");
    for (unit, fte) in &region.staffing {
        staffing.push_str(&format!("{unit};{fte}\n"));
    }
    let mut activities = String::from("patient_id,date,code\n");
    for a in &region.activities {
        activities.push_str(&format!("{},{},{}\n", a.patient, show(a.date), a.code));
    }
    Files {
        listing: dir.write("listing.csv", listing),
        visits: dir.write("visits.csv", visits),
        visits_without_levels: dir.write("visits-no-level.csv", without),
        units: dir.write("units.csv", units),
        staffing: dir.write("staffing.csv", staffing),
        activities: dir.write("activities.csv", activities),
        _dir: dir,
    }
}

// ---------------------------------------------------------------------------
// The model

/// How a period is asked for.
#[derive(Clone, Copy, Debug)]
enum Period {
    Span,
    Fixed(Day, Day),
    /// `--months N` alone: ending on the latest visit date.
    Months(u32),
    AsOf(Day, u32),
}

impl Period {
    fn arguments(self) -> Vec<String> {
        match self {
            Period::Span => vec![],
            Period::Fixed(from, to) => vec!["--from".into(), show(from), "--to".into(), show(to)],
            Period::Months(n) => vec!["--months".into(), n.to_string()],
            Period::AsOf(day, n) => {
                vec![
                    "--as-of".into(),
                    show(day),
                    "--months".into(),
                    n.to_string(),
                ]
            }
        }
    }

    fn window(self, visits: &[Visit]) -> Option<(Day, Day)> {
        let earliest = visits.iter().map(|v| v.date).min();
        let latest = visits.iter().map(|v| v.date).max();
        match self {
            Period::Span => Some((earliest?, latest?)),
            Period::Fixed(from, to) => Some((from, to)),
            Period::Months(n) => Some(months_ending(latest?, n)),
            Period::AsOf(day, n) => Some(months_ending(day, n)),
        }
    }
}

#[derive(Clone, Debug)]
struct VisitSettings {
    primary_scope: bool,
    /// Care levels from the visits' column, from --units, or both.
    levels_in_visits: bool,
    levels_in_units: bool,
    period: Period,
    /// Canonical professions; `None` for all.
    professions: Option<Vec<&'static str>>,
    professions_arg: Option<&'static str>,
    contacts: Vec<&'static str>,
    contacts_arg: Option<&'static str>,
}

/// Unit-level (numerator, denominator) per (indicator, unit, group), and
/// the period label.
#[derive(Debug, Default)]
struct Model {
    period: String,
    cells: BTreeMap<(String, String, String), (f64, f64)>,
}

impl Model {
    fn add(&mut self, indicator: &str, unit: &str, group: &str, numerator: f64, denominator: f64) {
        let cell = self
            .cells
            .entry((indicator.to_string(), unit.to_string(), group.to_string()))
            .or_default();
        cell.0 += numerator;
        cell.1 += denominator;
    }
}

fn listing_units(region: &Region) -> BTreeSet<String> {
    region.listing.iter().map(|l| l.unit.clone()).collect()
}

fn listed_at(region: &Region) -> BTreeMap<&str, &str> {
    region
        .listing
        .iter()
        .map(|l| (l.patient.as_str(), l.unit.as_str()))
        .collect()
}

/// Whether a visit counts at all (contact type, profession, period).
fn counts(v: &Visit, s: &VisitSettings, window: (Day, Day)) -> bool {
    window.0 <= v.date
        && v.date <= window.1
        && s.contacts.contains(&meaning(CONTACTS, &v.contact))
        && s.professions
            .as_ref()
            .is_none_or(|list| list.contains(&meaning(PROFESSIONS, &v.profession)))
}

/// Täckningsgrad.
fn model_care(region: &Region, s: &VisitSettings) -> Model {
    let mut model = Model::default();
    let Some(window) = s.period.window(&region.visits) else {
        return model;
    };
    model.period = format!("{}/{}", show(window.0), show(window.1));
    let listed = listed_at(region);
    for unit in listing_units(region) {
        model.add("coverage", &unit, "", 0.0, 0.0);
    }
    for v in &region.visits {
        let Some(&home) = listed.get(v.patient.as_str()) else {
            continue;
        };
        if !counts(v, s, window) {
            continue;
        }
        let level_of_row = if s.levels_in_visits && !v.level.is_empty() {
            Some(meaning(CARE_LEVELS, &v.level))
        } else {
            None
        };
        let level_of_unit = region
            .units
            .get(&v.unit)
            .filter(|_| s.levels_in_units)
            .map(|(_, level)| level.as_str())
            .filter(|level| !level.is_empty())
            .map(|level| meaning(CARE_LEVELS, level));
        let primary = level_of_row.or(level_of_unit) == Some("primary");
        let in_scope = v.unit == home || (s.primary_scope && primary);
        model.add("coverage", home, "", f64::from(u8::from(in_scope)), 1.0);
    }
    model
}

/// Listed patients with a visit at their unit.
fn model_reach(region: &Region, s: &VisitSettings) -> Model {
    let mut model = Model::default();
    let Some(window) = s.period.window(&region.visits) else {
        return model;
    };
    model.period = format!("{}/{}", show(window.0), show(window.1));
    let visited: BTreeSet<(&str, &str)> = region
        .visits
        .iter()
        .filter(|v| counts(v, s, window))
        .map(|v| (v.patient.as_str(), v.unit.as_str()))
        .collect();
    for l in &region.listing {
        let came = visited.contains(&(l.patient.as_str(), l.unit.as_str()));
        model.add("visited_share", &l.unit, "", f64::from(u8::from(came)), 1.0);
    }
    model
}

fn model_named_doctor(region: &Region, by_choice: bool) -> Model {
    let mut model = Model::default();
    for unit in listing_units(region) {
        let groups: &[&str] = if by_choice { &["false", "true"] } else { &[""] };
        for group in groups {
            model.add("named_doctor_share", &unit, group, 0.0, 0.0);
        }
    }
    for l in &region.listing {
        let group = if !by_choice {
            ""
        } else if yes(&l.active, false) {
            "true"
        } else {
            "false"
        };
        let named = f64::from(u8::from(yes(&l.named, true)));
        model.add("named_doctor_share", &l.unit, group, named, 1.0);
    }
    model
}

fn model_doctors(region: &Region) -> Model {
    let mut model = Model::default();
    for l in &region.listing {
        model.add("listed_per_doctor", &l.unit, "", 1.0, 0.0);
    }
    for (unit, fte) in &region.staffing {
        let fte: f64 = if fte.is_empty() {
            0.0
        } else {
            fte.replace(',', ".").parse().unwrap()
        };
        model.add("listed_per_doctor", unit, "", 0.0, fte);
    }
    model
}

#[derive(Clone, Debug)]
struct DialogueSettings {
    year: i32,
    ages: Vec<i32>,
    by_age: bool,
    offered: Vec<&'static str>,
    completed: Vec<&'static str>,
    codes_args: Vec<String>,
}

fn model_dialogue(region: &Region, s: &DialogueSettings) -> Model {
    let mut model = Model {
        period: format!("{0}-01-01/{0}-12-31", s.year),
        ..Model::default()
    };
    let groups: Vec<String> = if s.by_age {
        s.ages.iter().map(i32::to_string).collect()
    } else {
        vec![String::new()]
    };
    for unit in listing_units(region) {
        for group in &groups {
            model.add("health_dialogue_offered", &unit, group, 0.0, 0.0);
            model.add("health_dialogue_done", &unit, group, 0.0, 0.0);
        }
    }
    let mut registrations: BTreeMap<&str, Vec<&Activity>> = BTreeMap::new();
    for a in &region.activities {
        registrations.entry(a.patient.as_str()).or_default().push(a);
    }
    for l in &region.listing {
        let Some(birth) = l.birth else { continue };
        let age = s.year - birth.0;
        if !s.ages.contains(&age) {
            continue;
        }
        let own = registrations
            .get(l.patient.as_str())
            .map_or(&[][..], Vec::as_slice);
        let this_year = |codes: &[&str]| {
            own.iter()
                .any(|a| a.date.0 == s.year && codes.iter().any(|c| code(c) == code(&a.code)))
        };
        let completed = this_year(&s.completed);
        let offered = completed || this_year(&s.offered);
        let group = if s.by_age {
            age.to_string()
        } else {
            String::new()
        };
        let (o, c) = (f64::from(u8::from(offered)), f64::from(u8::from(completed)));
        model.add("health_dialogue_offered", &l.unit, &group, o, 1.0);
        model.add("health_dialogue_done", &l.unit, &group, c, 1.0);
    }
    model
}

/// Scale factor, target and whether lower is better, per indicator.
fn catalogue(indicator: &str) -> (f64, Option<f64>, bool) {
    match indicator {
        "coverage" => (100.0, Some(60.0), false),
        "named_doctor_share" => (100.0, Some(55.0), false),
        "listed_per_doctor" => (1.0, Some(1100.0), true),
        _ => (100.0, None, false),
    }
}

/// Every output row the model expects: unit rows, area rows for units with
/// an area in `areas`, and the all row. Values: (numerator, denominator,
/// value, status).
type Expected = BTreeMap<(String, String, String, String), (f64, f64, Option<f64>, String)>;

fn expected(model: &Model, areas: Option<&BTreeMap<String, (String, String)>>) -> Expected {
    let mut pooled: BTreeMap<(String, String, String, String), (f64, f64)> = BTreeMap::new();
    for ((indicator, unit, group), &(n, d)) in &model.cells {
        let mut levels = vec![("unit", unit.clone()), ("all", "ALL".to_string())];
        if let Some((area, _)) = areas.and_then(|a| a.get(unit))
            && !area.is_empty()
        {
            levels.push(("area", area.clone()));
        }
        for (level, name) in levels {
            let key = (indicator.clone(), level.to_string(), name, group.clone());
            let cell = pooled.entry(key).or_default();
            cell.0 += n;
            cell.1 += d;
        }
    }
    pooled
        .into_iter()
        .map(|(key, (n, d))| {
            let (scale, target, lower) = catalogue(&key.0);
            let value = (d != 0.0).then(|| n / d * scale);
            let status = match (value, target) {
                (Some(v), Some(t)) if (lower && v <= t) || (!lower && v >= t) => "met",
                (Some(_), Some(_)) => "not_met",
                _ => "",
            };
            (key, (n, d, value, status.to_string()))
        })
        .collect()
}

fn number(text: &str) -> Option<f64> {
    (!text.is_empty()).then(|| text.parse().unwrap_or_else(|_| panic!("{text:?}")))
}

fn close(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => (a - b).abs() <= 1e-4 * a.abs().max(1.0),
        _ => false,
    }
}

/// Compares pv-coverage's CSV with the model: the same rows, numbers and
/// status, and the model's period on every row.
fn compare(
    csv: &str,
    model: &Model,
    areas: Option<&BTreeMap<String, (String, String)>>,
) -> Result<(), String> {
    let want = expected(model, areas);
    let table = parse_csv(csv);
    let mut got = BTreeMap::new();
    for row in &table.rows {
        let field = |name: &str| table.get(row, name).to_string();
        if field("period") != model.period {
            return Err(format!(
                "period {:?}, model {:?}",
                field("period"),
                model.period
            ));
        }
        let key = (
            field("indicator"),
            field("level"),
            field("unit"),
            field("group"),
        );
        let cell = (
            number(&field("numerator")).unwrap_or(f64::NAN),
            number(&field("denominator")).unwrap_or(f64::NAN),
            number(&field("value")),
            field("status"),
        );
        if got.insert(key.clone(), cell).is_some() {
            return Err(format!("{key:?} twice"));
        }
    }
    let got_keys: BTreeSet<_> = got.keys().collect();
    let want_keys: BTreeSet<_> = want.keys().collect();
    if got_keys != want_keys {
        return Err(format!(
            "rows differ\nonly pv-coverage: {:?}\nonly model: {:?}",
            got_keys.difference(&want_keys).collect::<Vec<_>>(),
            want_keys.difference(&got_keys).collect::<Vec<_>>()
        ));
    }
    for (key, (n, d, v, status)) in &want {
        let (gn, gd, gv, gs) = &got[key];
        if !close(Some(*n), Some(*gn))
            || !close(Some(*d), Some(*gd))
            || !close(*v, *gv)
            || status != gs
        {
            return Err(format!(
                "{key:?}: pv-coverage {gn}/{gd} = {gv:?} {gs:?}, model {n}/{d} = {v:?} {status:?}"
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Running pv-coverage

struct Knobs {
    threads: u32,
    small_blocks: bool,
    with_areas: bool,
}

fn run(args: Vec<String>, knobs: &Knobs) -> Result<String, String> {
    let mut args = args;
    args.extend(["-f".into(), "csv".into(), "-q".into()]);
    args.extend(["--threads".into(), knobs.threads.to_string()]);
    let mut command = pv_coverage(&args);
    if knobs.small_blocks {
        command = command.env("PVKIT_BLOCK_SIZE", "64");
    }
    let result = command.run();
    if result.code != 0 {
        return Err(format!("{args:?}: exit {}: {}", result.code, result.stderr));
    }
    Ok(result.stdout)
}

fn visit_arguments(
    subcommand: &str,
    files: &Files,
    s: &VisitSettings,
    knobs: &Knobs,
) -> Vec<String> {
    let mut args: Vec<String> = vec![subcommand.into(), "--listing".into(), files.listing.clone()];
    if s.levels_in_units || knobs.with_areas {
        args.extend(["--units".into(), files.units.clone()]);
    }
    if s.primary_scope {
        args.extend(["--scope".into(), "primary-care".into()]);
    }
    if let Some(list) = s.professions_arg {
        args.extend(["--professions".into(), list.into()]);
    }
    if let Some(list) = s.contacts_arg {
        args.extend(["--contact-types".into(), list.into()]);
    }
    args.extend(s.period.arguments());
    args.push(if s.levels_in_visits {
        files.visits.clone()
    } else {
        files.visits_without_levels.clone()
    });
    args
}

/// Runs every subcommand on `region` and compares each with the model.
fn check_region(
    region: &Region,
    visit: &VisitSettings,
    dialogue: &DialogueSettings,
    by_choice: bool,
    knobs: &Knobs,
) -> Result<(), String> {
    let files = write_files(region);
    // --units, given for areas, also gives care levels.
    let visit = &VisitSettings {
        levels_in_units: visit.levels_in_units || knobs.with_areas,
        ..visit.clone()
    };
    let areas = visit.levels_in_units.then_some(&region.units);
    let context = |e: String, what: &str| format!("{what}: {e}\nsettings: {visit:?}\n{dialogue:?}");

    let care = run(visit_arguments("care", &files, visit, knobs), knobs)?;
    compare(&care, &model_care(region, visit), areas).map_err(|e| context(e, "care"))?;

    // reach counts every profession unless told otherwise.
    let reach_settings = VisitSettings {
        primary_scope: false,
        professions: visit.professions_arg.and(visit.professions.clone()),
        ..visit.clone()
    };
    let reach = run(
        visit_arguments("reach", &files, &reach_settings, knobs),
        knobs,
    )?;
    compare(&reach, &model_reach(region, &reach_settings), areas)
        .map_err(|e| context(e, "reach"))?;

    let listing_areas = knobs.with_areas.then_some(&region.units);
    let mut args: Vec<String> = vec!["named-doctor".into(), files.listing.clone()];
    if by_choice {
        args.extend(["--by".into(), "active-choice".into()]);
    }
    if knobs.with_areas {
        args.extend(["--units".into(), files.units.clone()]);
    }
    let named = run(args, knobs)?;
    compare(
        &named,
        &model_named_doctor(region, by_choice),
        listing_areas,
    )
    .map_err(|e| context(e, "named-doctor"))?;

    let mut args: Vec<String> = vec![
        "doctors".into(),
        "--staffing".into(),
        files.staffing.clone(),
        files.listing.clone(),
    ];
    if knobs.with_areas {
        args.extend(["--units".into(), files.units.clone()]);
    }
    let doctors = run(args, knobs)?;
    compare(&doctors, &model_doctors(region), listing_areas).map_err(|e| context(e, "doctors"))?;

    let mut args: Vec<String> = vec![
        "health-dialogue".into(),
        "--listing".into(),
        files.listing.clone(),
        "--year".into(),
        dialogue.year.to_string(),
        "--ages".into(),
        dialogue
            .ages
            .iter()
            .map(i32::to_string)
            .collect::<Vec<_>>()
            .join(","),
        files.activities.clone(),
    ];
    args.extend(dialogue.codes_args.iter().cloned());
    if dialogue.by_age {
        args.extend(["--by".into(), "age".into()]);
    }
    if knobs.with_areas {
        args.extend(["--units".into(), files.units.clone()]);
    }
    let dialogues = run(args, knobs)?;
    compare(&dialogues, &model_dialogue(region, dialogue), listing_areas)
        .map_err(|e| context(e, "health-dialogue"))?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Generating regions

const VC: [(&str, &str); 4] = [
    ("VC Askersund", "Söder"),
    ("VC Kumla", "Söder"),
    ("VC Nora", "Norr"),
    ("VC Tomteboda", ""),
];
const HOSPITAL: &str = "USÖ Ortopedi";
const PRIVATE: &str = "Privatläkare Berg";
const UNKNOWN: &str = "Okänd mottagning";

/// A region of `patients` patients (about 85 % listed) and `visits` visits
/// around 2024, with every kind of row the rules treat differently.
fn region(seed: u64, patients: usize, visits: usize) -> Region {
    let mut rng = Rng(seed);
    let mut region = Region::default();
    for (unit, area) in VC {
        region.units.insert(
            unit.into(),
            (
                area.into(),
                (*rng.pick(&["primärvård", "Primärvård", "primary"])).into(),
            ),
        );
    }
    region
        .units
        .insert(HOSPITAL.into(), (String::new(), "specialistvård".into()));
    region
        .units
        .insert(PRIVATE.into(), (String::new(), "primary".into()));
    let born = [
        1953, 1954, 1955, 1963, 1964, 1973, 1974, 1975, 1983, 1984, 1985, 2001,
    ];
    let mut home = Vec::new();
    for p in 0..patients {
        let unit = VC[rng.below(VC.len())].0;
        home.push(unit);
        if rng.percent(15) {
            continue;
        }
        let year = *rng.pick(&born);
        let birth = match rng.below(20) {
            0 => None,
            1..=6 => Some((year, 1, 1)),
            7..=12 => Some((year, 12, 31)),
            _ => Some((year, 1 + rng.below(12) as u32, 1 + rng.below(28) as u32)),
        };
        let named = if rng.percent(30) {
            (*rng.pick(DOCTORS)).to_string()
        } else {
            rng.pick(YES_NO).0.to_string()
        };
        region.listing.push(Listed {
            patient: format!("P{p:05}"),
            unit: unit.into(),
            birth,
            active: rng.pick(YES_NO).0.into(),
            named,
        });
    }
    let all_units = [
        VC[0].0, VC[1].0, VC[2].0, VC[3].0, HOSPITAL, PRIVATE, UNKNOWN,
    ];
    let mut last = None;
    for _ in 0..visits {
        // Exports often list a patient's visits together: runs of one
        // patient exercise the repeated-patient path.
        let p = match last {
            Some(p) if rng.percent(40) => p,
            _ => rng.below(patients),
        };
        last = Some(p);
        let unit = if rng.percent(55) {
            home[p]
        } else {
            *rng.pick(&all_units)
        };
        let level = match unit {
            HOSPITAL => *rng.pick(&["specialistvård", "Specialistvård", "specialist", ""]),
            PRIVATE | UNKNOWN => "",
            _ => *rng.pick(&["primärvård", "primary", "", "Primärvård"]),
        };
        // Around 2024, a few days on either side.
        let date = nth_day((2023, 12, 25), rng.below(380) as u32);
        region.visits.push(Visit {
            patient: format!("P{p:05}"),
            date,
            unit: unit.into(),
            profession: rng.pick(PROFESSIONS).0.into(),
            contact: rng.pick(CONTACTS).0.into(),
            level: level.into(),
        });
    }
    for (unit, _) in VC.iter().skip(usize::from(rng.percent(50))) {
        let fte = *rng.pick(&["1", "2,5", "0,75", "3.25", "0", ""]);
        region.staffing.push(((*unit).into(), fte.into()));
    }
    if rng.percent(50) {
        region.staffing.push(("VC Ny".into(), "1,5".into()));
    }
    let codes = [
        "offered",
        "Completed",
        "genomförd",
        "Erbjuden",
        "DV200",
        "KVÅ1",
        "kvå2",
    ];
    for _ in 0..visits / 4 {
        let p = rng.below(patients);
        let date = *rng.pick(&[
            (2023, 12, 31),
            (2024, 1, 1),
            (2024, 6, 15),
            (2024, 12, 31),
            (2025, 1, 1),
        ]);
        region.activities.push(Activity {
            patient: format!("P{p:05}"),
            date,
            code: (*rng.pick(&codes)).into(),
        });
    }
    region
}

const PERIODS: [Period; 5] = [
    Period::Span,
    Period::Fixed((2024, 1, 1), (2024, 12, 31)),
    Period::Fixed((2024, 3, 1), (2024, 3, 31)),
    Period::Months(3),
    Period::AsOf((2024, 6, 30), 6),
];

/// (--professions argument, canonical list).
const PROFESSION_FILTERS: [(Option<&str>, Option<&[&str]>); 3] = [
    (None, Some(&["doctor", "nurse", "physio"])),
    (Some("all"), None),
    (Some("läkare,ssk"), Some(&["doctor", "nurse"])),
];

#[allow(clippy::too_many_arguments)]
fn settings(
    scope: bool,
    levels: usize,
    period: usize,
    professions: usize,
    phone: bool,
    year: i32,
    own_codes: bool,
    by_age: bool,
) -> (VisitSettings, DialogueSettings) {
    let (professions_arg, professions) = PROFESSION_FILTERS[professions];
    let visit = VisitSettings {
        primary_scope: scope,
        levels_in_visits: levels != 1,
        levels_in_units: levels != 0,
        period: PERIODS[period],
        professions: professions.map(<[&str]>::to_vec),
        professions_arg,
        contacts: if phone {
            vec!["physical", "home", "phone"]
        } else {
            vec!["physical", "home"]
        },
        contacts_arg: phone.then_some("besök,hembesök,telefon"),
    };
    let dialogue = if own_codes {
        DialogueSettings {
            year,
            ages: vec![40, 41, 50],
            by_age,
            offered: vec!["KVÅ1"],
            completed: vec!["kvå2", "DV200"],
            codes_args: vec![
                "--offered-codes".into(),
                "KVÅ1".into(),
                "--completed-codes".into(),
                "kvå2,DV200".into(),
            ],
        }
    } else {
        DialogueSettings {
            year,
            ages: vec![40, 50, 60, 70],
            by_age,
            offered: vec!["offered", "erbjuden", "erbjudet"],
            completed: vec!["completed", "genomförd", "genomfört"],
            codes_args: vec![],
        }
    };
    (visit, dialogue)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 48,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(0xc0fe_2024),
        ..ProptestConfig::default()
    })]

    #[test]
    fn pv_coverage_agrees_with_the_model_on_small_regions(
        seed in any::<u64>(),
        patients in 1usize..25,
        visits in 0usize..60,
        scope in any::<bool>(),
        levels in 0usize..3,
        period in 0usize..PERIODS.len(),
        professions in 0usize..PROFESSION_FILTERS.len(),
        phone in any::<bool>(),
        year in 2024i32..=2025,
        own_codes in any::<bool>(),
        by_age in any::<bool>(),
        by_choice in any::<bool>(),
        threads in 1u32..4,
        small_blocks in any::<bool>(),
        with_areas in any::<bool>(),
    ) {
        let mut region = region(seed, patients, visits);
        if region.listing.is_empty() {
            region.listing.push(Listed {
                patient: "P00000".into(),
                unit: VC[0].0.into(),
                birth: Some((1984, 12, 31)),
                active: "Ja".into(),
                named: String::new(),
            });
        }
        let (visit, dialogue) =
            settings(scope, levels, period, professions, phone, year, own_codes, by_age);
        // Without care levels anywhere the primary-care scope is a usage error.
        let visit = VisitSettings {
            primary_scope: visit.primary_scope && (visit.levels_in_visits || visit.levels_in_units),
            ..visit
        };
        let knobs = Knobs { threads, small_blocks, with_areas };
        let result = check_region(&region, &visit, &dialogue, by_choice, &knobs);
        prop_assert!(result.is_ok(), "{}", result.unwrap_err());
    }
}

#[test]
fn generated_region_matches_the_model_at_every_level() {
    let region = region(0x5eed_c0fe, 6_000, 20_000);
    assert_eq!(region.visits.len(), 20_000);
    let knobs = Knobs {
        threads: 2,
        small_blocks: false,
        with_areas: true,
    };
    for (scope, levels, period, professions) in [(false, 0, 0, 0), (true, 2, 4, 2), (true, 1, 3, 1)]
    {
        let (visit, dialogue) = settings(
            scope,
            levels,
            period,
            professions,
            false,
            2024,
            false,
            false,
        );
        // The data must exercise what it is meant to.
        let care = model_care(&region, &visit);
        assert!(care.cells.values().all(|(n, d)| *n > 0.0 && *d > *n));
        if let Err(e) = check_region(&region, &visit, &dialogue, scope, &knobs) {
            panic!("{e}");
        }
    }
    let (_, dialogue) = settings(false, 0, 0, 0, false, 2024, false, true);
    let model = model_dialogue(&region, &dialogue);
    let cohort: f64 = model
        .cells
        .iter()
        .filter(|((i, _, _), _)| i == "health_dialogue_offered")
        .map(|(_, (_, d))| d)
        .sum();
    assert!(cohort > 500.0, "cohort {cohort}");
}

// ---------------------------------------------------------------------------
// (c) examples/synth output

fn read_csv(path: &std::path::Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader =
        csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let header = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    (header, rows)
}

fn column(header: &[String], name: &str) -> usize {
    header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no {name}"))
}

/// A synth region (the English default export) as the model reads it.
fn synth_region(dir: &std::path::Path) -> Region {
    let mut region = Region::default();
    let (h, rows) = read_csv(&dir.join("listing.csv"));
    let [p, u, b, a, n] = [
        "patient_id",
        "unit",
        "birth_date",
        "active_choice",
        "named_doctor",
    ]
    .map(|c| column(&h, c));
    for r in rows {
        region.listing.push(Listed {
            patient: r[p].clone(),
            unit: r[u].clone(),
            birth: parse_day(&r[b]),
            active: r[a].clone(),
            named: r[n].clone(),
        });
    }
    let (h, rows) = read_csv(&dir.join("visits.csv"));
    let [p, d, u, pr, c, l] = [
        "patient_id",
        "date",
        "unit",
        "profession",
        "contact_type",
        "care_level",
    ]
    .map(|c| column(&h, c));
    for r in rows {
        region.visits.push(Visit {
            patient: r[p].clone(),
            date: parse_day(&r[d]).unwrap(),
            unit: r[u].clone(),
            profession: r[pr].clone(),
            contact: r[c].clone(),
            level: r[l].clone(),
        });
    }
    let (h, rows) = read_csv(&dir.join("units.csv"));
    let [u, a, l] = ["unit", "area", "care_level"].map(|c| column(&h, c));
    for r in rows {
        region
            .units
            .insert(r[u].clone(), (r[a].clone(), r[l].clone()));
    }
    let (h, rows) = read_csv(&dir.join("staffing.csv"));
    let [u, f] = ["unit", "doctor_fte"].map(|c| column(&h, c));
    region.staffing = rows
        .into_iter()
        .map(|r| (r[u].clone(), r[f].clone()))
        .collect();
    let (h, rows) = read_csv(&dir.join("activities.csv"));
    let [p, d, c] = ["patient_id", "date", "code"].map(|c| column(&h, c));
    for r in rows {
        region.activities.push(Activity {
            patient: r[p].clone(),
            date: parse_day(&r[d]).unwrap(),
            code: r[c].clone(),
        });
    }
    region
}

/// Runs every subcommand on the synth files themselves and compares with
/// the model.
fn check_synth(dir: &std::path::Path, region: &Region) -> Result<(), String> {
    let file = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let knobs = Knobs {
        threads: 2,
        small_blocks: false,
        with_areas: true,
    };
    let units = Some(&region.units);
    let listing = file("listing.csv");
    for (scope, period) in [(false, 0), (true, 1), (false, 4)] {
        let (visit, _) = settings(scope, 2, period, 0, false, 2024, false, false);
        let mut args = vec!["care".to_string(), "--listing".into(), listing.clone()];
        args.extend(["--units".into(), file("units.csv")]);
        if scope {
            args.extend(["--scope".into(), "primary-care".into()]);
        }
        args.extend(visit.period.arguments());
        args.push(file("visits.csv"));
        compare(&run(args, &knobs)?, &model_care(region, &visit), units)
            .map_err(|e| format!("care {visit:?}: {e}"))?;
        let reach = VisitSettings {
            primary_scope: false,
            professions: None,
            ..visit
        };
        let mut args = vec!["reach".to_string(), "--listing".into(), listing.clone()];
        args.extend(["--units".into(), file("units.csv")]);
        args.extend(reach.period.arguments());
        args.push(file("visits.csv"));
        compare(&run(args, &knobs)?, &model_reach(region, &reach), units)
            .map_err(|e| format!("reach {reach:?}: {e}"))?;
    }
    for by_choice in [false, true] {
        let mut args = vec![
            "named-doctor".to_string(),
            "--units".into(),
            file("units.csv"),
            listing.clone(),
        ];
        if by_choice {
            args.extend(["--by".into(), "active-choice".into()]);
        }
        compare(
            &run(args, &knobs)?,
            &model_named_doctor(region, by_choice),
            units,
        )
        .map_err(|e| format!("named-doctor: {e}"))?;
    }
    let args = vec![
        "doctors".to_string(),
        "--units".into(),
        file("units.csv"),
        "--staffing".into(),
        file("staffing.csv"),
        listing.clone(),
    ];
    compare(&run(args, &knobs)?, &model_doctors(region), units)
        .map_err(|e| format!("doctors: {e}"))?;
    for (year, by_age) in [(2023, false), (2024, true)] {
        let (_, dialogue) = settings(false, 0, 0, 0, false, year, false, by_age);
        let mut args = vec![
            "health-dialogue".to_string(),
            "--units".into(),
            file("units.csv"),
            "--listing".into(),
            listing.clone(),
            "--year".into(),
            year.to_string(),
            file("activities.csv"),
        ];
        if by_age {
            args.extend(["--by".into(), "age".into()]);
        }
        compare(
            &run(args, &knobs)?,
            &model_dialogue(region, &dialogue),
            units,
        )
        .map_err(|e| format!("health-dialogue {year}: {e}"))?;
    }
    Ok(())
}

/// The "Done when" on `examples/synth` output: a small region made
/// here, or the one PVKIT_SYNTH_DIR names (e.g. a 300k-visit run).
#[test]
fn synth_region_matches_the_model_at_every_level() {
    let made = TempDir::new("coverage-synth");
    let dir = match std::env::var_os("PVKIT_SYNTH_DIR") {
        Some(dir) => std::path::PathBuf::from(dir),
        None => {
            let dir = made.path("region");
            synth(&dir, &["--visits", "40000", "--seed", "5"]);
            dir
        }
    };
    let region = synth_region(&dir);
    assert!(!region.visits.is_empty() && !region.activities.is_empty());
    if let Err(e) = check_synth(&dir, &region) {
        panic!("{e}");
    }
}
