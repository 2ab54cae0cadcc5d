//! synth: a realistic, deterministic synthetic region for trying pvkit at
//! scale and for the benchmark data sets.
//!
//! ```text
//! cargo run --release --example synth -- --out DIR --visits 1000000 [--seed 1] [--swedish]
//! ```
//!
//! writes every input file of DOMAIN.md into DIR. The same arguments give
//! byte-identical files: all randomness comes from one seeded generator per
//! (file, unit) or (file, patient), never from thread timing, so the visits
//! can be built on all cores.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{CommandFactory, Parser, error::ErrorKind};
use encoding_rs::{Encoding, UTF_8, WINDOWS_1252};
use rayon::prelude::*;

// ---------------------------------------------------------------- arguments

/// Write a synthetic region's exports: visits, two listing snapshots, units,
/// listed counts, staffing, phone calls, medical assessments and KVÅ
/// activities, shaped like the real ones (heavy-tailed visits per patient,
/// unit-specific continuity, call-backs on later days, pending assessments).
///
/// Visits span 2023-01-01 … 2024-12-31; the current listing is as of
/// 2024-12-31, the old one as of 2023-12-31. Patient ids are 12-digit
/// personnummer-shaped numbers (YYYYMMDDNNNN, Swedish variant YYYYMMDD-NNNN)
/// with a deliberately wrong check digit, so no generated id is a real
/// person's. The same arguments always give byte-identical files.
#[derive(Parser, Debug)]
#[command(name = "synth", after_help = FILES_HELP)]
struct Args {
    /// Directory to write into (created if missing; existing files are replaced).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,

    /// Number of visit rows, e.g. 1000000, 1_000_000, 3M or 500k. About a
    /// third as many patients are listed.
    #[arg(long, value_name = "N", value_parser = parse_count)]
    visits: u64,

    /// Seed: another seed gives another region of the same shape.
    #[arg(long, value_name = "S", default_value_t = 1)]
    seed: u64,

    /// Number of primary care units (vårdcentraler) [default: one per
    /// ~10 000 listed, at least 3]. About 10 specialist units come on top.
    #[arg(long, value_name = "U", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    units: Option<u32>,

    /// Swedish Excel-style export: `;` delimiter, CRLF line ends, UTF-8 BOM,
    /// Swedish headers and values (Läkare, Besök, Ja/Nej, decimal comma).
    #[arg(long)]
    swedish: bool,

    /// Encode the files in Windows-1252 (no BOM), as old Excel does.
    #[arg(long = "windows-1252")]
    windows_1252: bool,

    /// Add a trailing visit_id column to visits.csv; ~0.5 % of the rows then
    /// repeat an earlier row, as export duplicates do.
    #[arg(long)]
    visit_ids: bool,
}

const FILES_HELP: &str = "\
Files written (English headers shown; Swedish ones with --swedish):
  visits.csv       patient_id,date,unit,provider_id,profession,contact_type,care_level
                   (+ visit_id with --visit-ids)
  listing.csv      patient_id,unit,listed_since,birth_date,sex,active_choice,named_doctor
                   as of 2024-12-31
  listing_old.csv  the same as of 2023-12-31: ~3 % at another unit, ~2 % not yet there,
                   ~2 % since gone
  units.csv        unit,area,name,care_level: vårdcentraler in 3-5 areas, ~10 specialist units
  listed.csv       unit,listed
  staffing.csv     unit,doctor_fte
  calls.csv        unit,received_at,outcome,contact_at: ~0.3 calls per visit
  assessments.csv  unit,contact_date,assessment_date,profession,patient_chosen_wait
  activities.csv   patient_id,date,unit,code: DV200, DV113, other DV1xx, offered/completed

Example:
  cargo run --release --example synth -- --out /tmp/region --visits 1M
  pv-coc --listing /tmp/region/listing.csv --units /tmp/region/units.csv \\
      /tmp/region/visits.csv";

/// Smallest region that still has a few patients per unit.
const MIN_VISITS: u64 = 30;
/// A personnummer has 500 birth numbers per birth date and sex; beyond ~17
/// million listed patients the busiest birth dates would run out. (All of
/// Sweden is 10.5 million people.)
const MAX_VISITS: u64 = 50_000_000;

/// `1000000`, `1_000_000`, `1M`, `500k`.
fn parse_count(raw: &str) -> Result<u64, String> {
    let clean: String = raw.trim().chars().filter(|c| *c != '_').collect();
    let (digits, factor) = match clean.chars().last() {
        Some('k' | 'K') => (&clean[..clean.len() - 1], 1_000),
        Some('m' | 'M') => (&clean[..clean.len() - 1], 1_000_000),
        _ => (clean.as_str(), 1),
    };
    let n = digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(factor))
        .ok_or_else(|| format!("expected a count such as 1000000, 3M or 500k, got {raw:?}"))?;
    if !(MIN_VISITS..=MAX_VISITS).contains(&n) {
        return Err(format!("must be between {MIN_VISITS} and {MAX_VISITS}"));
    }
    Ok(n)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let patients = listed_patients(args.visits);
    if let Some(units) = args.units
        && u64::from(units) > patients
    {
        Args::command()
            .error(
                ErrorKind::ValueValidation,
                format!(
                    "--units {units} needs at least {units} listed patients, but --visits {} \
                     gives only {patients}; lower --units or raise --visits",
                    args.visits
                ),
            )
            .exit();
    }
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("synth: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<()> {
    let started = Instant::now();
    fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let world = World::build(args)?;
    let dir = args.out.as_path();
    // The visits dominate; the other files are built alongside them so the
    // second core never idles while visit chunks are written out.
    let (visits, others) = rayon::join(|| write_visits(&world, dir), || write_others(&world, dir));
    let visits = visits?;
    let [current, old, calls, assessments, activities] = others?;
    eprintln!(
        "synth: {} in {:.1} s: {visits} visits, {current} listed (old snapshot {old}), \
         {} primary care + {} specialist units, {calls} calls, {assessments} assessments, \
         {activities} activities",
        dir.display(),
        started.elapsed().as_secs_f64(),
        world.primary,
        world.units.len() - world.primary,
    );
    Ok(())
}

/// Every file but visits.csv; returns the row counts the summary reports.
fn write_others(world: &World, dir: &Path) -> Result<[u64; 5]> {
    let current = write_listing(world, dir, Snapshot::Current)?;
    let old = write_listing(world, dir, Snapshot::Old)?;
    write_units(world, dir)?;
    write_listed(world, dir)?;
    write_staffing(world, dir)?;
    let calls = write_calls(world, dir)?;
    let assessments = write_assessments(world, dir)?;
    let activities = write_activities(world, dir)?;
    Ok([current, old, calls, assessments, activities])
}

// ------------------------------------------------------------ the calendar

/// Days are counted from 1970-01-01 (negative before), which keeps every
/// date computation integer arithmetic.
type Day = i32;

/// First and last visit day: 24 months, so pv-coc's 18-month window cuts.
fn period_start() -> Day {
    days_from_civil(2023, 1, 1)
}
fn period_end() -> Day {
    days_from_civil(2024, 12, 31)
}
/// The old listing snapshot: one year before the current one.
fn old_snapshot() -> Day {
    days_from_civil(2023, 12, 31)
}

/// Howard Hinnant's `days_from_civil`.
fn days_from_civil(y: i32, m: u32, d: u32) -> Day {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = (y - era * 400) as u32;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe as i32 - 719_468
}

/// Howard Hinnant's `civil_from_days`.
fn civil_from_days(z: Day) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = (z - era * 146_097) as u32;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe as i32 + era * 400;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// 0 = Monday … 6 = Sunday (1970-01-01 was a Thursday).
fn weekday(day: Day) -> i32 {
    (day + 3).rem_euclid(7)
}

fn is_weekend(day: Day) -> bool {
    weekday(day) >= 5
}

/// Pre-rendered `YYYY-MM-DD` for every day a file can contain, so rows copy
/// ten bytes instead of formatting.
struct Calendar {
    first: Day,
    iso: Vec<[u8; 10]>,
}

impl Calendar {
    fn new() -> Calendar {
        let first = days_from_civil(1900, 1, 1);
        let last = days_from_civil(2027, 12, 31);
        let iso = (first..=last)
            .map(|day| {
                let (y, m, d) = civil_from_days(day);
                let mut s = [0u8; 10];
                put_digits(&mut s[0..4], y as u64);
                s[4] = b'-';
                put_digits(&mut s[5..7], u64::from(m));
                s[7] = b'-';
                put_digits(&mut s[8..10], u64::from(d));
                s
            })
            .collect();
        Calendar { first, iso }
    }

    fn iso(&self, day: Day) -> &[u8; 10] {
        &self.iso[(day - self.first) as usize]
    }

    /// `YYYYMMDD` as a number, the first eight digits of a personnummer.
    fn ymd(&self, day: Day) -> u64 {
        let s = self.iso(day);
        s.iter()
            .filter(|b| b.is_ascii_digit())
            .fold(0, |n, b| n * 10 + u64::from(b - b'0'))
    }

    fn index(&self, day: Day) -> usize {
        (day - self.first) as usize
    }
}

/// Zero-padded decimal digits filling `out`.
fn put_digits(out: &mut [u8], mut n: u64) {
    for b in out.iter_mut().rev() {
        *b = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

// ------------------------------------------------------------ randomness

/// xoshiro256++ seeded through SplitMix64. Written out here rather than
/// taken from `rand` so the files stay byte-identical across dependency
/// upgrades (rand does not promise value stability) and cost no build time.
#[derive(Clone)]
struct Rng([u64; 4]);

/// One generator stream per file kind, so adding a file or a column to one
/// file never changes the others.
#[derive(Clone, Copy)]
enum Stream {
    Units = 1,
    Patients,
    Counts,
    Visits,
    Calls,
    Assessments,
    Activities,
    Staffing,
}

fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    fn new(seed: u64, stream: Stream, index: u64) -> Rng {
        let mut x = splitmix(splitmix(seed) ^ stream as u64);
        x = splitmix(x ^ index);
        let mut s = [0u64; 4];
        for word in &mut s {
            x = splitmix(x);
            *word = x;
        }
        Rng(s)
    }

    fn next(&mut self) -> u64 {
        let s = &mut self.0;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    fn between(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform in 0..n (Lemire's multiply-shift; the bias is far below
    /// anything a synthetic data set could show).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }

    fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    fn day_in(&mut self, from: Day, to_exclusive: Day) -> Day {
        from + self.below((to_exclusive - from).max(1) as u64) as Day
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    fn normal(&mut self) -> f64 {
        let u = 1.0 - self.unit();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * self.unit()).cos()
    }

    fn poisson(&mut self, lambda: f64) -> u64 {
        if lambda <= 0.0 {
            return 0;
        }
        if lambda > 30.0 {
            return (lambda + lambda.sqrt() * self.normal()).round().max(0.0) as u64;
        }
        let limit = (-lambda).exp();
        let mut k = 0;
        let mut p = self.unit();
        while p > limit {
            k += 1;
            p *= self.unit();
        }
        k
    }

    /// An index drawn by weight from a table of cumulative weights.
    fn pick(&mut self, cumulative: &[f64]) -> usize {
        let Some(total) = cumulative.last() else {
            return 0;
        };
        let x = self.unit() * total;
        cumulative
            .partition_point(|c| *c <= x)
            .min(cumulative.len() - 1)
    }
}

fn cumulative(weights: &[f64]) -> Vec<f64> {
    weights
        .iter()
        .scan(0.0, |sum, w| {
            *sum += w;
            Some(*sum)
        })
        .collect()
}

/// A stable hash, for choices made once per patient (the preferred provider)
/// without storing them.
fn mix(a: u64, b: u64) -> u64 {
    splitmix(a ^ splitmix(b))
}

/// Splits `total` in proportion to `weights`, exactly (largest remainder).
fn apportion(total: u64, weights: &[f64]) -> Vec<u64> {
    let sum: f64 = weights.iter().sum();
    let exact: Vec<f64> = weights.iter().map(|w| total as f64 * w / sum).collect();
    let mut shares: Vec<u64> = exact.iter().map(|x| x.floor() as u64).collect();
    let mut rest = total.saturating_sub(shares.iter().sum());
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|a, b| {
        let fa = exact[*a] - exact[*a].floor();
        let fb = exact[*b] - exact[*b].floor();
        fb.total_cmp(&fa).then(a.cmp(b))
    });
    for i in order.into_iter().cycle() {
        if rest == 0 {
            break;
        }
        shares[i] += 1;
        rest -= 1;
    }
    shares
}

// ------------------------------------------------------------ vocabulary

const DOCTOR: usize = 0;
const NURSE: usize = 1;
const PHYSIO: usize = 2;
const PROFESSIONS: usize = 5;
/// Label index of the second Swedish nurse title (Sjuksköterska).
const NURSE_ALT: usize = 5;

const PROFESSION_EN: [&str; 6] = [
    "doctor",
    "nurse",
    "physio",
    "psychologist",
    "counsellor",
    "nurse",
];
const PROFESSION_SV: [&str; 6] = [
    "Läkare",
    "Distriktssköterska",
    "Fysioterapeut",
    "Psykolog",
    "Kurator",
    "Sjuksköterska",
];
/// Letter in a provider id, so ids of different professions never collide.
const PROFESSION_LETTER: [u8; PROFESSIONS] = *b"DSFPK";

/// Visits to each profession at a vårdcentral and at a specialist clinic.
const PRIMARY_MIX: [f64; PROFESSIONS] = [0.45, 0.33, 0.15, 0.04, 0.03];
const SPECIALIST_MIX: [f64; PROFESSIONS] = [0.72, 0.22, 0.06, 0.0, 0.0];
/// Listed patients per member of staff at a vårdcentral.
const LISTED_PER_STAFF: [f64; PROFESSIONS] = [1500.0, 1100.0, 3000.0, 9000.0, 9000.0];

const CONTACT_EN: [&str; 5] = ["physical", "phone", "video", "home", "chat"];
const CONTACT_SV: [&str; 5] = ["Besök", "Telefon", "Video", "Hembesök", "Chatt"];
const CONTACT_MIX: [f64; 5] = [0.65, 0.20, 0.05, 0.03, 0.07];

const CARE_EN: [&str; 2] = ["primary", "specialist"];
const CARE_SV: [&str; 2] = ["Primärvård", "Specialistvård"];

const ANSWERED: usize = 0;
const CALLBACK: usize = 1;
const FULL: usize = 2;
const CLOSED: usize = 3;
const ABANDONED: usize = 4;
const OUTCOME_EN: [&str; 5] = ["answered", "callback", "full", "closed", "abandoned"];
const OUTCOME_SV: [&str; 5] = ["Besvarat", "Klart", "Fyllt", "Stängt", "Avbrutet"];

/// KVÅ codes with their registrations per 1000 listed and year (a range a
/// unit's own rate is drawn from). DV200 and DV113 carry payment targets.
const KVA: [(&str, f64, f64); 6] = [
    ("DV200", 6.0, 12.0),
    ("DV113", 1.0, 5.0),
    ("DV112", 3.0, 10.0),
    ("DV122", 1.0, 4.0),
    ("DV132", 2.0, 8.0),
    ("DV142", 1.0, 5.0),
];

const AREAS: [&str; 5] = ["Söder", "Norr", "Väster", "Örebro öster", "Örebro väster"];

const PLACES: [&str; 72] = [
    "Askersund",
    "Hallsberg",
    "Kumla",
    "Lindesberg",
    "Karlskoga",
    "Degerfors",
    "Laxå",
    "Nora",
    "Hällefors",
    "Kopparberg",
    "Fellingsbro",
    "Frövi",
    "Pålsboda",
    "Vretstorp",
    "Odensbacken",
    "Glanshammar",
    "Storå",
    "Fjugesta",
    "Adolfsberg",
    "Brickebacken",
    "Baronbackarna",
    "Mikaelsgården",
    "Tybble",
    "Vivalla",
    "Varberga",
    "Lillån",
    "Haga",
    "Eyrafältet",
    "Olaus Petri",
    "Hovsta",
    "Skebäck",
    "Sörbyängen",
    "Väster",
    "Wiveca",
    "Oxhagen",
    "Ekeby",
    "Rynninge",
    "Marieberg",
    "Nyköping",
    "Katrineholm",
    "Flen",
    "Strängnäs",
    "Eskilstuna",
    "Torshälla",
    "Oxelösund",
    "Vingåker",
    "Gnesta",
    "Trosa",
    "Malmköping",
    "Mariefred",
    "Östersund",
    "Strömsund",
    "Krokom",
    "Järpen",
    "Åre",
    "Svenstavik",
    "Hammarstrand",
    "Sveg",
    "Funäsdalen",
    "Brunflo",
    "Lit",
    "Hammerdal",
    "Ljusnarsberg",
    "Örebro city",
    "Kilsmo",
    "Sköllersta",
    "Hampetorp",
    "Viby",
    "Ramsberg",
    "Guldsmedshyttan",
    "Bergslagen",
    "Mosås",
];
const PROVIDERS_PREFIX: [&str; 4] = ["Vårdcentralen ", "Capio ", "Hälsocentralen ", "Läkarhuset "];

const SPECIALIST_CLINICS: [&str; 10] = [
    "Medicinmottagningen USÖ",
    "Ortopedmottagningen USÖ",
    "Kvinnosjukvården USÖ",
    "Barn- och ungdomsmedicin USÖ",
    "Hudmottagningen USÖ",
    "Ögonmottagningen USÖ",
    "Öron-näsa-hals Karlskoga lasarett",
    "Psykiatrisk öppenvård Lindesberg",
    "Kardiologmottagningen Karlskoga lasarett",
    "Reumatologmottagningen USÖ",
];

/// Region Örebro län's organisation number, the stem of its staff HSA-ids.
const HSA_STEM: &str = "SE2321000016-";

/// Output conventions, with every fixed word already encoded, so rows copy
/// bytes and never transcode.
struct Style {
    swedish: bool,
    visit_ids: bool,
    sep: u8,
    eol: &'static [u8],
    bom: bool,
    encoding: &'static Encoding,
    profession: Vec<Vec<u8>>,
    contact: Vec<Vec<u8>>,
    care: Vec<Vec<u8>>,
    outcome: Vec<Vec<u8>>,
    yes: Vec<u8>,
    no: Vec<u8>,
    /// Female, male.
    sex: [Vec<u8>; 2],
}

impl Style {
    fn new(args: &Args) -> Result<Style> {
        let encoding = if args.windows_1252 {
            WINDOWS_1252
        } else {
            UTF_8
        };
        let sv = args.swedish;
        let words = |en: &[&str], sv_words: &[&str]| -> Result<Vec<Vec<u8>>> {
            let list = if sv { sv_words } else { en };
            list.iter().map(|w| encode(encoding, w)).collect()
        };
        Ok(Style {
            swedish: sv,
            visit_ids: args.visit_ids,
            sep: if sv { b';' } else { b',' },
            // Excel on Windows ends lines with CRLF.
            eol: if sv { b"\r\n" } else { b"\n" },
            bom: sv && !args.windows_1252,
            encoding,
            profession: words(&PROFESSION_EN, &PROFESSION_SV)?,
            contact: words(&CONTACT_EN, &CONTACT_SV)?,
            care: words(&CARE_EN, &CARE_SV)?,
            outcome: words(&OUTCOME_EN, &OUTCOME_SV)?,
            yes: encode(encoding, if sv { "Ja" } else { "true" })?,
            no: encode(encoding, if sv { "Nej" } else { "false" })?,
            sex: if sv {
                [b"K".to_vec(), b"M".to_vec()]
            } else {
                [b"F".to_vec(), b"M".to_vec()]
            },
        })
    }

    fn flag(&self, on: bool) -> &[u8] {
        if on { &self.yes } else { &self.no }
    }

    fn text(&self, s: &str) -> Result<Vec<u8>> {
        encode(self.encoding, s)
    }
}

fn encode(encoding: &'static Encoding, s: &str) -> Result<Vec<u8>> {
    let (bytes, _, unmappable) = encoding.encode(s);
    if unmappable {
        bail!("{s:?} cannot be written in {}", encoding.name());
    }
    Ok(bytes.into_owned())
}

// ------------------------------------------------------------ writing

/// A row buffer: cells are appended with the file's delimiter and flushed to
/// the file in large blocks. Generated values never contain the delimiter,
/// a quote or a line break, so nothing needs quoting.
struct Buf {
    bytes: Vec<u8>,
    sep: u8,
    eol: &'static [u8],
    fresh: bool,
}

impl Buf {
    const FLUSH_AT: usize = 1 << 20;

    fn new(style: &Style) -> Buf {
        Buf {
            bytes: Vec::with_capacity(Self::FLUSH_AT + 4096),
            sep: style.sep,
            eol: style.eol,
            fresh: true,
        }
    }

    fn cell(&mut self, value: &[u8]) {
        if !self.fresh {
            self.bytes.push(self.sep);
        }
        self.fresh = false;
        self.bytes.extend_from_slice(value);
    }

    fn date(&mut self, cal: &Calendar, day: Day) {
        self.cell(cal.iso(day));
    }

    /// `YYYY-MM-DD HH:MM`.
    fn stamp(&mut self, cal: &Calendar, day: Day, minute: u32) {
        let mut s = [0u8; 16];
        s[..10].copy_from_slice(cal.iso(day));
        s[10] = b' ';
        put_digits(&mut s[11..13], u64::from(minute / 60));
        s[13] = b':';
        put_digits(&mut s[14..16], u64::from(minute % 60));
        self.cell(&s);
    }

    fn pnr(&mut self, pnr: u64, swedish: bool) {
        let mut digits = [0u8; 12];
        put_digits(&mut digits, pnr);
        if swedish {
            let mut s = [0u8; 13];
            s[..8].copy_from_slice(&digits[..8]);
            s[8] = b'-';
            s[9..].copy_from_slice(&digits[8..]);
            self.cell(&s);
        } else {
            self.cell(&digits);
        }
    }

    fn number(&mut self, n: u64) {
        let mut digits = [0u8; 20];
        let width = n.checked_ilog10().unwrap_or(0) as usize + 1;
        put_digits(&mut digits[..width], n);
        self.cell(&digits[..width]);
    }

    fn end(&mut self) {
        self.bytes.extend_from_slice(self.eol);
        self.fresh = true;
    }

    fn full(&self) -> bool {
        self.bytes.len() >= Self::FLUSH_AT
    }
}

/// One output file.
struct CsvFile {
    path: PathBuf,
    out: BufWriter<File>,
    rows: u64,
}

impl CsvFile {
    fn create(dir: &Path, name: &str, style: &Style, headers: &[&str]) -> Result<CsvFile> {
        let path = dir.join(name);
        let file =
            File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
        let mut csv = CsvFile {
            path,
            out: BufWriter::with_capacity(1 << 20, file),
            rows: 0,
        };
        let mut head = Buf::new(style);
        if style.bom {
            head.bytes.extend_from_slice(b"\xEF\xBB\xBF");
        }
        for h in headers {
            head.cell(&style.text(h)?);
        }
        head.end();
        csv.write(&mut head)?;
        Ok(csv)
    }

    /// Writes and empties `buf`; `rows` is how many rows it held.
    fn write_rows(&mut self, buf: &mut Buf, rows: u64) -> Result<()> {
        self.rows += rows;
        self.write(buf)
    }

    fn write(&mut self, buf: &mut Buf) -> Result<()> {
        self.out
            .write_all(&buf.bytes)
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        buf.bytes.clear();
        Ok(())
    }

    /// Flushes explicitly: `Drop` would swallow a full disk.
    fn finish(mut self) -> Result<u64> {
        self.out
            .flush()
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        Ok(self.rows)
    }
}

// ------------------------------------------------------------ the region

struct Unit {
    /// The join key in every file, e.g. `VC012` or `SP03`.
    code: Vec<u8>,
    name: String,
    /// Index into AREAS; specialist units have none.
    area: Option<usize>,
    primary: bool,
    /// Current listing: patients[listed] (primary care units only).
    listed: Range<u32>,
    /// Providers per profession: providers[staff[p]].
    staff: [Range<u32>; PROFESSIONS],
    /// Chance that a listed patient's visit to a profession goes to their
    /// preferred provider: what drives the unit's continuity indices.
    continuity: f64,
    /// Share of the unit's specialist visits (specialist units only).
    visit_weight: f64,
}

struct Provider {
    id: Vec<u8>,
    /// Index into Style::profession (nurses carry one of two Swedish titles).
    label: u8,
}

const NONE: u32 = u32::MAX;

struct Patient {
    pnr: u64,
    birth: Day,
    /// Unit in the current listing, NONE if the patient left the region.
    unit: u32,
    /// Unit in the old listing, NONE if the patient is new in the region.
    old_unit: u32,
    /// When the patient moved unit, arrived, or left (between the snapshots).
    change: Day,
    since: Day,
    old_since: Day,
    visits: u32,
    female: bool,
    active_choice: bool,
    named_doctor: bool,
}

impl Patient {
    /// Days on which the patient lives in the region and can have visits.
    fn window(&self) -> Range<Day> {
        let from = self.birth.max(period_start());
        let from = if self.old_unit == NONE {
            from.max(self.change)
        } else {
            from
        };
        let to = if self.unit == NONE {
            self.change
        } else {
            period_end() + 1
        };
        from..to.max(from + 1)
    }

    /// The unit the patient is listed at on `day`.
    fn home(&self, day: Day) -> u32 {
        if self.unit == NONE || (self.old_unit != NONE && day < self.change) {
            self.old_unit
        } else {
            self.unit
        }
    }
}

struct World {
    seed: u64,
    style: Style,
    cal: Calendar,
    units: Vec<Unit>,
    /// units[..primary] are vårdcentraler, the rest specialist clinics.
    primary: usize,
    area_units: Vec<Vec<u32>>,
    specialist_weights: Vec<f64>,
    providers: Vec<Provider>,
    /// The current listing first, grouped by unit (Unit::listed), then the
    /// patients who left the region and are only in the old listing.
    patients: Vec<Patient>,
    visits: u64,
}

fn listed_patients(visits: u64) -> u64 {
    (visits / 3).max(1)
}

impl World {
    fn build(args: &Args) -> Result<World> {
        let style = Style::new(args)?;
        let cal = Calendar::new();
        let listed = listed_patients(args.visits);
        let primary = args.units.map_or_else(
            || {
                (listed as f64 / 10_000.0)
                    .round()
                    .max(3.0)
                    .min(listed as f64) as usize
            },
            |u| u as usize,
        );
        let mut world = World {
            seed: args.seed,
            style,
            cal,
            units: Vec::new(),
            primary,
            area_units: Vec::new(),
            specialist_weights: Vec::new(),
            providers: Vec::new(),
            patients: Vec::new(),
            visits: args.visits,
        };
        let sizes = world.make_units(listed);
        world.make_patients(&sizes);
        world.make_staff()?;
        world.count_visits();
        Ok(world)
    }

    fn make_units(&mut self, listed: u64) -> Vec<u64> {
        let mut rng = Rng::new(self.seed, Stream::Units, 0);
        let areas = (3 + self.primary / 20)
            .min(AREAS.len())
            .min(self.primary.max(1));
        self.area_units = vec![Vec::new(); areas];
        // Vårdcentraler range from a few thousand to 25 000 listed.
        let weights: Vec<f64> = (0..self.primary)
            .map(|_| (0.45 * rng.normal()).exp().clamp(0.3, 2.5))
            .collect();
        for i in 0..self.primary {
            let place = PLACES[i % PLACES.len()];
            let prefix = PROVIDERS_PREFIX[(i / PLACES.len()) % PROVIDERS_PREFIX.len()];
            let round = i / (PLACES.len() * PROVIDERS_PREFIX.len());
            let name = if round == 0 {
                format!("{prefix}{place}")
            } else {
                format!("{prefix}{place} {}", round + 1)
            };
            let area = i * areas / self.primary;
            self.area_units[area].push(i as u32);
            self.units.push(Unit {
                code: format!("VC{:03}", i + 1).into_bytes(),
                name,
                area: Some(area),
                primary: true,
                listed: 0..0,
                staff: Default::default(),
                continuity: rng.between(0.25, 0.85),
                visit_weight: 0.0,
            });
        }
        for (i, name) in SPECIALIST_CLINICS.iter().enumerate() {
            self.units.push(Unit {
                code: format!("SP{:02}", i + 1).into_bytes(),
                name: (*name).to_string(),
                area: None,
                primary: false,
                listed: 0..0,
                staff: Default::default(),
                continuity: 0.0,
                visit_weight: rng.between(0.3, 1.5),
            });
        }
        self.specialist_weights = cumulative(
            &self.units[self.primary..]
                .iter()
                .map(|u| u.visit_weight)
                .collect::<Vec<_>>(),
        );
        // Every vårdcentral keeps at least one patient, whatever the weights.
        let spare = listed - self.primary as u64;
        apportion(spare, &weights)
            .into_iter()
            .map(|n| n + 1)
            .collect()
    }

    fn make_patients(&mut self, sizes: &[u64]) {
        let mut rng = Rng::new(self.seed, Stream::Patients, 0);
        let ages = cumulative(&age_weights());
        let mut serials = Serials::new(&self.cal);
        let current: u64 = sizes.iter().sum();
        let left = (current as f64 * 0.02).round() as u64;
        let between = old_snapshot() + 1..period_end() + 1;
        self.patients.reserve((current + left) as usize);
        for (u, &size) in sizes.iter().enumerate() {
            let start = self.patients.len() as u32;
            let named_share = rng.between(0.25, 0.8);
            for _ in 0..size {
                let roll = rng.unit();
                let mut p = self.person(&mut rng, &ages, &mut serials, named_share);
                p.unit = u as u32;
                p.old_unit = u as u32;
                if p.birth > old_snapshot() {
                    // Born between the snapshots (age 0): listed from birth.
                    p.old_unit = NONE;
                    p.change = p.birth;
                    p.since = p.birth;
                } else if roll < 0.01 {
                    // Moved into the region between the snapshots.
                    p.old_unit = NONE;
                    p.change = rng.day_in(between.start, between.end);
                    p.since = p.change;
                } else if roll < 0.04 && self.primary > 1 {
                    p.old_unit = self.neighbour(&mut rng, u as u32);
                    p.change = rng.day_in(between.start, between.end);
                    p.since = p.change;
                }
                self.patients.push(p);
            }
            self.units[u].listed = start..self.patients.len() as u32;
        }
        // Died or moved away between the snapshots: only in the old listing.
        let unit_weights = cumulative(&sizes.iter().map(|s| *s as f64).collect::<Vec<_>>());
        for _ in 0..left {
            let mut p = self.person(&mut rng, &ages, &mut serials, 0.5);
            p.unit = NONE;
            p.old_unit = rng.pick(&unit_weights) as u32;
            p.change = rng.day_in(between.start, between.end);
            self.patients.push(p);
        }
    }

    /// A patient listed since before the old snapshot.
    fn person(
        &self,
        rng: &mut Rng,
        ages: &[f64],
        serials: &mut Serials,
        named_share: f64,
    ) -> Patient {
        let age = rng.pick(ages) as i32;
        let year_start = days_from_civil(2024 - age, 1, 1);
        let year_end = days_from_civil(2025 - age, 1, 1);
        let birth = rng.day_in(year_start, year_end);
        let female = rng.chance(0.5);
        let (birth, pnr) = serials.take(&self.cal, birth, female);
        // Hälsoval began in 2008; earlier listings were carried over then.
        let earliest = birth.max(days_from_civil(2008, 1, 1));
        let since = rng.day_in(earliest, old_snapshot().max(earliest + 1));
        Patient {
            pnr,
            birth,
            unit: NONE,
            old_unit: NONE,
            change: period_end() + 1,
            since,
            old_since: since,
            visits: 0,
            female,
            active_choice: rng.chance(0.8),
            named_doctor: age >= 18 && rng.chance(named_share),
        }
    }

    /// Another vårdcentral, mostly in the same area: patients move and visit
    /// nearby.
    fn neighbour(&self, rng: &mut Rng, unit: u32) -> u32 {
        let area = self.units[unit as usize].area.unwrap_or(0);
        let near = &self.area_units[area];
        for _ in 0..4 {
            let other = if near.len() > 1 && rng.chance(0.7) {
                near[rng.index(near.len())]
            } else {
                rng.index(self.primary) as u32
            };
            if other != unit {
                return other;
            }
        }
        ((unit as usize + 1) % self.primary) as u32
    }

    /// Staff per unit and profession, with HSA-id-like ids.
    fn make_staff(&mut self) -> Result<()> {
        let mut rng = Rng::new(self.seed, Stream::Units, 1);
        let width = (self.units.len().ilog10() as usize + 1).max(3);
        for u in 0..self.units.len() {
            let unit = &self.units[u];
            let listed = unit.listed.len() as f64;
            let primary = unit.primary;
            let mut staff: [Range<u32>; PROFESSIONS] = Default::default();
            for (p, range) in staff.iter_mut().enumerate() {
                let count = if primary {
                    (listed / LISTED_PER_STAFF[p]).round().max(1.0) as u32
                } else {
                    match p {
                        DOCTOR => 10 + rng.below(30) as u32,
                        NURSE => 6 + rng.below(15) as u32,
                        PHYSIO => 1 + rng.below(5) as u32,
                        _ => 0,
                    }
                };
                let start = self.providers.len() as u32;
                for n in 0..count {
                    let id = format!(
                        "{HSA_STEM}U{:0width$}{}{:04}",
                        u + 1,
                        PROFESSION_LETTER[p] as char,
                        n + 1
                    );
                    // Vårdcentralen nurses are mostly district nurses.
                    let label = if p == NURSE && (!primary || rng.chance(0.3)) {
                        NURSE_ALT
                    } else {
                        p
                    };
                    self.providers.push(Provider {
                        id: self.style.text(&id)?,
                        label: label as u8,
                    });
                }
                *range = start..self.providers.len() as u32;
            }
            self.units[u].staff = staff;
        }
        Ok(())
    }

    /// Visits per patient: heavy-tailed (lognormal need × age), scaled so the
    /// total is exactly `--visits`.
    fn count_visits(&mut self) {
        let mut rng = Rng::new(self.seed, Stream::Counts, 0);
        let span = f64::from(period_end() + 1 - period_start());
        let need: Vec<f64> = self
            .patients
            .iter()
            .map(|p| {
                let w = p.window();
                let years = f64::from(2024 - civil_from_days(p.birth).0);
                rng.normal().exp() * age_factor(years) * f64::from(w.end - w.start) / span
            })
            .collect();
        let scale = self.visits as f64 / need.iter().sum::<f64>();
        let mut total = 0u64;
        for (p, n) in self.patients.iter_mut().zip(&need) {
            p.visits = rng.poisson((n * scale).min(60.0)) as u32;
            total += u64::from(p.visits);
        }
        // Poisson noise leaves the total a little off; settle it on patients
        // who already have visits, so the share with none stays as drawn.
        let n = self.patients.len();
        while total != self.visits {
            let p = &mut self.patients[rng.index(n)];
            if total < self.visits && (p.visits > 0 || total == 0) {
                p.visits += 1;
                total += 1;
            } else if total > self.visits && p.visits > 0 {
                p.visits -= 1;
                total -= 1;
            }
        }
    }
}

/// Sweden's age pyramid, roughly: flat to 75, thinning after.
fn age_weights() -> Vec<f64> {
    (0..=104)
        .map(|age| match age {
            0..=74 => 1.0,
            75..=84 => 1.0 - 0.06 * f64::from(age - 74),
            85..=94 => 0.4 - 0.035 * f64::from(age - 84),
            _ => 0.05 - 0.004 * f64::from(age - 94),
        })
        .collect()
}

/// Visits relative to a middle-aged adult.
fn age_factor(age: f64) -> f64 {
    match age as u32 {
        0..=4 => 1.2,
        5..=17 => 0.55,
        18..=44 => 0.75,
        45..=64 => 1.0,
        65..=79 => 1.6,
        _ => 2.3,
    }
}

/// Hands out personnummer birth numbers: unique per birth date, the
/// second-to-last digit odd for men and even for women, scattered like real
/// ones rather than counting up.
struct Serials {
    taken: Vec<u16>,
}

impl Serials {
    fn new(cal: &Calendar) -> Serials {
        Serials {
            taken: vec![0; cal.iso.len() * 2],
        }
    }

    /// The patient's birth day (moved back if that day is full) and id.
    fn take(&mut self, cal: &Calendar, mut birth: Day, female: bool) -> (Day, u64) {
        loop {
            let slot = cal.index(birth) * 2 + usize::from(female);
            let k = u64::from(self.taken[slot]);
            if k < 500 {
                self.taken[slot] += 1;
                // 193 is coprime with 500, so k → serial is one-to-one.
                let scatter = (k * 193 + splitmix(birth as u64) % 500) % 500;
                let serial = scatter * 2 + u64::from(!female);
                let ymd = cal.ymd(birth);
                let check = (luhn(ymd % 1_000_000 * 1000 + serial) + 5) % 10;
                return (birth, ymd * 10_000 + serial * 10 + check);
            }
            // A full day passes the patient to the day before: older days
            // are emptier (the pyramid thins), and no one is born in the future.
            birth -= 1;
        }
    }
}

/// The personnummer check digit of nine digits YYMMDDNNN. `take` adds 5 to
/// it so that no generated id is a valid, possibly real, personnummer.
fn luhn(nine: u64) -> u64 {
    let mut digits = [0u8; 9];
    put_digits(&mut digits, nine);
    let sum: u64 = digits
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let v = u64::from(d - b'0') * if i % 2 == 0 { 2 } else { 1 };
            v / 10 + v % 10
        })
        .sum();
    (10 - sum % 10) % 10
}

// ------------------------------------------------------------ visits

fn write_visits(w: &World, dir: &Path) -> Result<u64> {
    let mut headers = if w.style.swedish {
        vec![
            "Personnummer",
            "Besöksdatum",
            "Vårdenhet",
            "Vårdgivare",
            "Yrkeskategori",
            "Kontakttyp",
            "Vårdnivå",
        ]
    } else {
        vec![
            "patient_id",
            "date",
            "unit",
            "provider_id",
            "profession",
            "contact_type",
            "care_level",
        ]
    };
    if w.style.visit_ids {
        headers.push(if w.style.swedish {
            "Besöks-ID"
        } else {
            "visit_id"
        });
    }
    let mut file = CsvFile::create(dir, "visits.csv", &w.style, &headers)?;
    // Exports come grouped by patient, in personnummer order.
    let mut order: Vec<u32> = (0..w.patients.len() as u32)
        .filter(|i| w.patients[*i as usize].visits > 0)
        .collect();
    order.sort_unstable_by_key(|i| w.patients[*i as usize].pnr);
    const CHUNK: usize = 8192;
    let mut first_row = 0u64;
    let chunks: Vec<(&[u32], u64)> = order
        .chunks(CHUNK)
        .map(|c| {
            let first = first_row;
            first_row += c
                .iter()
                .map(|i| u64::from(w.patients[*i as usize].visits))
                .sum::<u64>();
            (c, first)
        })
        .collect();
    // Batches bound memory; within one, chunks are built in parallel and
    // written in order, so the file does not depend on the thread count.
    for batch in chunks.chunks(4 * rayon::current_num_threads()) {
        let built: Vec<(Buf, u64)> = batch
            .par_iter()
            .map(|(patients, first)| visit_chunk(w, patients, *first))
            .collect();
        for (mut buf, rows) in built {
            file.write_rows(&mut buf, rows)?;
        }
    }
    file.finish()
}

fn visit_chunk(w: &World, patients: &[u32], first_row: u64) -> (Buf, u64) {
    let mut buf = Buf::new(&w.style);
    let mut days: Vec<Day> = Vec::new();
    let mut row = first_row;
    let primary_mix = cumulative(&PRIMARY_MIX);
    let specialist_mix = cumulative(&SPECIALIST_MIX);
    let contact_mix = cumulative(&CONTACT_MIX);
    for &i in patients {
        let p = &w.patients[i as usize];
        let mut rng = Rng::new(w.seed, Stream::Visits, u64::from(i));
        let window = p.window();
        days.clear();
        days.extend((0..p.visits).map(|_| visit_day(&mut rng, &window)));
        days.sort_unstable();
        let mut previous = 0..0;
        for (k, &day) in days.iter().enumerate() {
            let start = buf.bytes.len();
            if w.style.visit_ids && k > 0 && rng.chance(0.0065) {
                // An export duplicate: the previous row again, visit_id and all.
                buf.bytes.extend_from_within(previous.clone());
                row += 1;
                continue;
            }
            let home = p.home(day);
            let roll = rng.unit();
            let (unit, profession) = if roll < 0.2 {
                let u = w.primary + rng.pick(&w.specialist_weights);
                (u, rng.pick(&specialist_mix))
            } else if roll < 0.28 {
                // About a tenth of primary care visits are at another vårdcentral.
                (w.neighbour(&mut rng, home) as usize, rng.pick(&primary_mix))
            } else {
                (home as usize, rng.pick(&primary_mix))
            };
            let u = &w.units[unit];
            let staff = &u.staff[profession];
            let provider = if unit == home as usize && rng.chance(u.continuity) {
                // Chosen once per patient, profession and unit.
                let h = mix(
                    w.seed ^ (u64::from(i) << 20),
                    (profession as u64) << 32 | unit as u64,
                );
                staff.start + (h % staff.len() as u64) as u32
            } else {
                staff.start + rng.below(staff.len() as u64) as u32
            };
            let provider = &w.providers[provider as usize];
            let contact = rng.pick(&contact_mix);

            buf.pnr(p.pnr, w.style.swedish);
            buf.date(&w.cal, day);
            buf.cell(&u.code);
            if rng.chance(0.02) {
                buf.cell(b"");
            } else {
                buf.cell(&provider.id);
            }
            buf.cell(&w.style.profession[provider.label as usize]);
            buf.cell(&w.style.contact[contact]);
            buf.cell(&w.style.care[usize::from(!u.primary)]);
            if w.style.visit_ids {
                let mut id = [0u8; 10];
                put_digits(&mut id, visit_id(row));
                buf.cell(&id);
            }
            buf.end();
            previous = start..buf.bytes.len();
            row += 1;
        }
    }
    (buf, row - first_row)
}

/// Visits fall on weekdays, with a few weekend exceptions (jour, home care).
fn visit_day(rng: &mut Rng, window: &Range<Day>) -> Day {
    loop {
        let day = rng.day_in(window.start, window.end);
        if !is_weekend(day) || rng.chance(0.08) {
            return day;
        }
    }
}

/// Unique ten-digit ids in a scrambled order: the multiplier is coprime with
/// 10^10, so distinct rows get distinct ids.
fn visit_id(row: u64) -> u64 {
    ((u128::from(row) * 2_654_435_761 + 1_000_003_417) % 10_000_000_000) as u64
}

// ------------------------------------------------------------ listings

#[derive(Clone, Copy)]
enum Snapshot {
    Current,
    Old,
}

fn write_listing(w: &World, dir: &Path, snapshot: Snapshot) -> Result<u64> {
    let headers = if w.style.swedish {
        [
            "Personnummer",
            "Vårdenhet",
            "Listad sedan",
            "Födelsedatum",
            "Kön",
            "Aktivt val",
            "Fast läkarkontakt",
        ]
    } else {
        [
            "patient_id",
            "unit",
            "listed_since",
            "birth_date",
            "sex",
            "active_choice",
            "named_doctor",
        ]
    };
    let name = match snapshot {
        Snapshot::Current => "listing.csv",
        Snapshot::Old => "listing_old.csv",
    };
    let mut file = CsvFile::create(dir, name, &w.style, &headers)?;
    // Listing exports are sorted by unit, then personnummer. The personnummer
    // takes 40 bits, so (unit, pnr) packs into one sort key.
    let mut keyed: Vec<(u64, u32)> = w
        .patients
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            let unit = match snapshot {
                Snapshot::Current => p.unit,
                Snapshot::Old => p.old_unit,
            };
            (unit != NONE).then(|| ((u64::from(unit) << 40) | p.pnr, i as u32))
        })
        .collect();
    keyed.sort_unstable();
    let mut buf = Buf::new(&w.style);
    let mut rows = 0;
    for (key, i) in keyed {
        let p = &w.patients[i as usize];
        let since = match snapshot {
            Snapshot::Current => p.since,
            Snapshot::Old => p.old_since,
        };
        buf.pnr(p.pnr, w.style.swedish);
        buf.cell(&w.units[(key >> 40) as usize].code);
        buf.date(&w.cal, since);
        buf.date(&w.cal, p.birth);
        buf.cell(&w.style.sex[usize::from(!p.female)]);
        buf.cell(w.style.flag(p.active_choice));
        buf.cell(w.style.flag(p.named_doctor));
        buf.end();
        rows += 1;
        if buf.full() {
            file.write_rows(&mut buf, rows)?;
            rows = 0;
        }
    }
    file.write_rows(&mut buf, rows)?;
    file.finish()
}

// ------------------------------------------------------------ unit files

fn write_units(w: &World, dir: &Path) -> Result<u64> {
    let headers = if w.style.swedish {
        ["Vårdenhet", "Länsdel", "Namn", "Vårdnivå"]
    } else {
        ["unit", "area", "name", "care_level"]
    };
    let mut file = CsvFile::create(dir, "units.csv", &w.style, &headers)?;
    let mut buf = Buf::new(&w.style);
    for u in &w.units {
        buf.cell(&u.code);
        buf.cell(&w.style.text(u.area.map_or("", |a| AREAS[a]))?);
        buf.cell(&w.style.text(&u.name)?);
        buf.cell(&w.style.care[usize::from(!u.primary)]);
        buf.end();
    }
    file.write_rows(&mut buf, w.units.len() as u64)?;
    file.finish()
}

fn write_listed(w: &World, dir: &Path) -> Result<u64> {
    let headers = if w.style.swedish {
        ["Vårdenhet", "Listade"]
    } else {
        ["unit", "listed"]
    };
    let mut file = CsvFile::create(dir, "listed.csv", &w.style, &headers)?;
    let mut buf = Buf::new(&w.style);
    for u in &w.units[..w.primary] {
        buf.cell(&u.code);
        buf.number(u.listed.len() as u64);
        buf.end();
    }
    file.write_rows(&mut buf, w.primary as u64)?;
    file.finish()
}

fn write_staffing(w: &World, dir: &Path) -> Result<u64> {
    let headers = if w.style.swedish {
        ["Vårdenhet", "Läkartjänster"]
    } else {
        ["unit", "doctor_fte"]
    };
    let mut file = CsvFile::create(dir, "staffing.csv", &w.style, &headers)?;
    let mut rng = Rng::new(w.seed, Stream::Staffing, 0);
    let mut buf = Buf::new(&w.style);
    for u in &w.units[..w.primary] {
        // Tenths of a full-time doctor; some units are well staffed, some
        // lean on locums.
        let tenths = (u.listed.len() as f64 / 1300.0 * rng.between(0.75, 1.25) * 10.0)
            .round()
            .max(5.0) as u64;
        let decimal = if w.style.swedish { "," } else { "." };
        let fte = format!("{}{decimal}{}", tenths / 10, tenths % 10);
        buf.cell(&u.code);
        buf.cell(fte.as_bytes());
        buf.end();
    }
    file.write_rows(&mut buf, w.primary as u64)?;
    file.finish()
}

/// Splits `total` over the vårdcentraler by listed population.
fn per_unit(w: &World, total: u64) -> Vec<u64> {
    let weights: Vec<f64> = w.units[..w.primary]
        .iter()
        .map(|u| u.listed.len() as f64)
        .collect();
    apportion(total, &weights)
}

// ------------------------------------------------------------ calls

/// Opening hours of the phone line, in minutes after midnight.
const PHONE_OPENS: u32 = 8 * 60;
const PHONE_CLOSES: u32 = 16 * 60;

fn write_calls(w: &World, dir: &Path) -> Result<u64> {
    let headers = if w.style.swedish {
        ["Vårdenhet", "Inkommande", "Utfall", "Kontakttid"]
    } else {
        ["unit", "received_at", "outcome", "contact_at"]
    };
    let mut file = CsvFile::create(dir, "calls.csv", &w.style, &headers)?;
    let calls = per_unit(w, (w.visits as f64 * 0.3).round() as u64);
    // Mondays are the busiest; weekend calls meet a closed line.
    let days: Vec<Day> = (period_start()..=period_end()).collect();
    let day_weights = cumulative(
        &days
            .iter()
            .map(|d| [1.5, 1.1, 1.0, 1.0, 0.9, 0.05, 0.05][weekday(*d) as usize])
            .collect::<Vec<_>>(),
    );
    let mut buf = Buf::new(&w.style);
    let mut times: Vec<(Day, u32)> = Vec::new();
    for (u, &count) in calls.iter().enumerate() {
        let mut rng = Rng::new(w.seed, Stream::Calls, u as u64);
        let shares = PhoneShares::draw(&mut rng);
        times.clear();
        times.extend((0..count).map(|_| (days[rng.pick(&day_weights)], call_minute(&mut rng))));
        // Telephony exports list each unit's calls in time order.
        times.sort_unstable();
        for &(day, minute) in &times {
            let outcome = shares.outcome(&mut rng, day, minute);
            buf.cell(&w.units[u].code);
            buf.stamp(&w.cal, day, minute);
            buf.cell(&w.style.outcome[outcome]);
            match outcome {
                ANSWERED => {
                    let wait = rng.below(9) as u32;
                    buf.stamp(&w.cal, day, minute + wait);
                }
                CALLBACK if rng.chance(shares.later) => {
                    let (later, at) = later_callback(&mut rng, day);
                    buf.stamp(&w.cal, later, at);
                }
                CALLBACK => {
                    let room = (PHONE_CLOSES + 55 - minute).min(240);
                    let at = minute + 10 + rng.below(u64::from(room - 10)) as u32;
                    buf.stamp(&w.cal, day, at);
                }
                _ => buf.cell(b""),
            }
            buf.end();
            if buf.full() {
                file.write(&mut buf)?;
            }
        }
        file.rows += count;
    }
    file.write(&mut buf)?;
    file.finish()
}

/// Morning peak at 08:00, some calls before the line opens and after it closes.
fn call_minute(rng: &mut Rng) -> u32 {
    let roll = rng.unit();
    let (from, to) = if roll < 0.04 {
        (7 * 60, PHONE_OPENS)
    } else if roll < 0.10 {
        (PHONE_CLOSES, 18 * 60)
    } else if roll < 0.70 {
        (PHONE_OPENS, 12 * 60)
    } else {
        (12 * 60, PHONE_CLOSES)
    };
    from + rng.below(u64::from(to - from)) as u32
}

/// A unit's phone performance: what spreads phone_same_day between units.
struct PhoneShares {
    /// Cumulative answered, callback, full, abandoned.
    cumulative: Vec<f64>,
    /// Share of call-backs made on a later day.
    later: f64,
}

impl PhoneShares {
    fn draw(rng: &mut Rng) -> PhoneShares {
        let answered = rng.between(0.15, 0.45);
        // Most units seldom fill their queue; a few often do.
        let full = 0.12 * rng.unit().powi(2);
        let abandoned = rng.between(0.01, 0.06);
        let callback = 1.0 - answered - full - abandoned;
        PhoneShares {
            cumulative: cumulative(&[answered, callback, full, abandoned]),
            later: 0.25 * rng.unit().powf(1.5),
        }
    }

    fn outcome(&self, rng: &mut Rng, day: Day, minute: u32) -> usize {
        if is_weekend(day) || !(PHONE_OPENS..PHONE_CLOSES).contains(&minute) {
            return CLOSED;
        }
        [ANSWERED, CALLBACK, FULL, ABANDONED][rng.pick(&self.cumulative)]
    }
}

/// A call-back one or two working days later, during office hours.
fn later_callback(rng: &mut Rng, day: Day) -> (Day, u32) {
    let mut later = day;
    let mut working_days = 1 + u32::from(rng.chance(0.3));
    while working_days > 0 {
        later += 1;
        if !is_weekend(later) {
            working_days -= 1;
        }
    }
    (
        later,
        PHONE_OPENS + rng.below(u64::from(PHONE_CLOSES + 30 - PHONE_OPENS)) as u32,
    )
}

// ------------------------------------------------------------ assessments

fn write_assessments(w: &World, dir: &Path) -> Result<u64> {
    let headers = if w.style.swedish {
        [
            "Vårdenhet",
            "Kontaktdatum",
            "Bedömningsdatum",
            "Yrkeskategori",
            "PVV",
        ]
    } else {
        [
            "unit",
            "contact_date",
            "assessment_date",
            "profession",
            "patient_chosen_wait",
        ]
    };
    let mut file = CsvFile::create(dir, "assessments.csv", &w.style, &headers)?;
    let counts = per_unit(w, w.visits / 10);
    let mix = cumulative(&[0.55, 0.35, 0.07, 0.02, 0.01]);
    let first_days = cumulative(&[0.45, 0.25, 0.15, 0.15]);
    let mut buf = Buf::new(&w.style);
    let mut contacts: Vec<Day> = Vec::new();
    for (u, &count) in counts.iter().enumerate() {
        let mut rng = Rng::new(w.seed, Stream::Assessments, u as u64);
        // Share assessed within three days, before weekends push some out.
        let prompt = rng.between(0.82, 0.99);
        contacts.clear();
        contacts
            .extend((0..count).map(|_| visit_day(&mut rng, &(period_start()..period_end() + 1))));
        contacts.sort_unstable();
        for &contact in &contacts {
            let chosen = rng.chance(0.03);
            let wait = if chosen {
                7 + rng.below(35) as Day
            } else if rng.chance(prompt) {
                rng.pick(&first_days) as Day
            } else {
                4 + (-5.0 * (1.0 - rng.unit()).ln()) as Day
            };
            let mut assessed = contact + wait;
            if wait > 0 {
                while is_weekend(assessed) {
                    assessed += 1;
                }
            }
            let profession = rng.pick(&mix);
            buf.cell(&w.units[u].code);
            buf.date(&w.cal, contact);
            // Not assessed (yet): lost in the system, or still waiting when
            // the export was taken.
            if rng.chance(0.01) || assessed > period_end() {
                buf.cell(b"");
            } else {
                buf.date(&w.cal, assessed);
            }
            buf.cell(&w.style.profession[profession]);
            buf.cell(w.style.flag(chosen));
            buf.end();
            if buf.full() {
                file.write(&mut buf)?;
            }
        }
        file.rows += count;
    }
    file.write(&mut buf)?;
    file.finish()
}

// ------------------------------------------------------------ activities

fn write_activities(w: &World, dir: &Path) -> Result<u64> {
    let headers = if w.style.swedish {
        ["Personnummer", "Datum", "Vårdenhet", "KVÅ"]
    } else {
        ["patient_id", "date", "unit", "code"]
    };
    let mut file = CsvFile::create(dir, "activities.csv", &w.style, &headers)?;
    let codes: Vec<Vec<u8>> = KVA
        .iter()
        .map(|(code, _, _)| code)
        .chain(&["offered", "completed"])
        .map(|c| w.style.text(c))
        .collect::<Result<_>>()?;
    let (offered, completed) = (KVA.len(), KVA.len() + 1);
    let years = [2023, 2024];
    let mut buf = Buf::new(&w.style);
    // (day, patient, code): each unit's registrations in date order.
    let mut rows: Vec<(Day, u32, usize)> = Vec::new();
    for u in 0..w.primary {
        let unit = &w.units[u];
        let mut rng = Rng::new(w.seed, Stream::Activities, u as u64);
        rows.clear();
        for (code, (_, lo, hi)) in KVA.iter().enumerate() {
            let per_year = rng.between(*lo, *hi) * unit.listed.len() as f64 / 1000.0;
            for _ in 0..rng.poisson(per_year * years.len() as f64) {
                let patient = adult(&mut rng, w, &unit.listed);
                rows.push((
                    visit_day(&mut rng, &(period_start()..period_end() + 1)),
                    patient,
                    code,
                ));
            }
        }
        // Riktade hälsosamtal: offered to part of those turning 40, 50, 60
        // or 70 that year; some of them come.
        let offer_share = rng.between(0.5, 0.9);
        let done_share = rng.between(0.15, 0.45);
        for i in unit.listed.clone() {
            let born = civil_from_days(w.patients[i as usize].birth).0;
            for year in years {
                if ![40, 50, 60, 70].contains(&(year - born)) || !rng.chance(offer_share) {
                    continue;
                }
                // Offered by October, so a completed dialogue stays in the year.
                let offer = rng.day_in(days_from_civil(year, 1, 2), days_from_civil(year, 11, 1));
                rows.push((offer, i, offered));
                if rng.chance(done_share) {
                    rows.push((offer + 7 + rng.below(54) as Day, i, completed));
                }
            }
        }
        rows.sort_unstable();
        for &(day, i, code) in &rows {
            buf.pnr(w.patients[i as usize].pnr, w.style.swedish);
            buf.date(&w.cal, day);
            buf.cell(&unit.code);
            buf.cell(&codes[code]);
            buf.end();
        }
        file.write_rows(&mut buf, rows.len() as u64)?;
    }
    file.finish()
}

/// Lifestyle counselling is for adults: a listed patient of 18 or more when
/// the unit has one.
fn adult(rng: &mut Rng, w: &World, listed: &Range<u32>) -> u32 {
    let adult_from = days_from_civil(2006, 1, 1);
    let mut pick = listed.start;
    for _ in 0..8 {
        pick = listed.start + rng.below(listed.len() as u64) as u32;
        if w.patients[pick as usize].birth < adult_from {
            break;
        }
    }
    pick
}
