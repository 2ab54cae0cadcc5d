//! The indicator definitions: one entry per indicator, shared by every tool.
//!
//! Targets here are defaults; a region overrides them with `--target` and
//! `--half`. Sources name the regional report (see `shared/seeds/`) or the
//! national definition the rule follows.

use std::fmt::Write as _;
use std::sync::{Mutex, MutexGuard};

/// The unit an indicator's `value` is expressed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    /// 0–100.
    Percent,
    /// 0–1.
    Index,
    /// Events per 1000 listed.
    Per1000,
    /// A plain quotient, such as listed per doctor FTE.
    Ratio,
    /// Kronor; the value is the numerator itself, not a quotient.
    Sek,
}

impl Scale {
    pub fn as_str(self) -> &'static str {
        match self {
            Scale::Percent => "percent",
            Scale::Index => "index",
            Scale::Per1000 => "per_1000",
            Scale::Ratio => "ratio",
            Scale::Sek => "sek",
        }
    }

    /// The value of a pooled numerator and denominator in this scale; `None`
    /// when it is undefined (an empty denominator).
    pub fn value(self, numerator: f64, denominator: f64) -> Option<f64> {
        let factor = match self {
            Scale::Sek => return Some(numerator),
            Scale::Percent => 100.0,
            Scale::Per1000 => 1000.0,
            Scale::Index | Scale::Ratio => 1.0,
        };
        // Scaled before dividing: whole counts whose quotient is exact
        // (57 of 100 = 57 %) then give it exactly, never a hair below the
        // target (57.0 / 100.0 * 100.0 = 56.99999999999999).
        (denominator != 0.0).then(|| numerator * factor / denominator)
    }

    /// Decimals written in machine-readable output: enough to recompute.
    pub fn precise_decimals(self) -> usize {
        match self {
            Scale::Index => 6,
            Scale::Percent | Scale::Per1000 | Scale::Ratio => 4,
            Scale::Sek => 2,
        }
    }

    /// Decimals shown in a table meant for reading.
    pub fn display_decimals(self) -> usize {
        match self {
            Scale::Index => 3,
            Scale::Percent | Scale::Per1000 | Scale::Ratio => 1,
            Scale::Sek => 0,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    HigherIsBetter,
    LowerIsBetter,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::HigherIsBetter => "higher is better",
            Direction::LowerIsBetter => "lower is better",
        }
    }

    /// Whether `value` reaches `level` in this direction.
    pub fn reaches(self, value: f64, level: f64) -> bool {
        match self {
            Direction::HigherIsBetter => value >= level,
            Direction::LowerIsBetter => value <= level,
        }
    }
}

/// The binaries of the toolkit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    Coc,
    Access,
    Coverage,
    Far,
    ListingDiff,
}

impl Tool {
    pub fn binary(self) -> &'static str {
        match self {
            Tool::Coc => "pv-coc",
            Tool::Access => "pv-access",
            Tool::Coverage => "pv-coverage",
            Tool::Far => "pv-far",
            Tool::ListingDiff => "pv-listing-diff",
        }
    }
}

/// Indicators are compared by id.
#[derive(Debug)]
pub struct Indicator {
    pub id: &'static str,
    pub tool: Tool,
    pub name_sv: &'static str,
    pub name_en: &'static str,
    pub scale: Scale,
    pub direction: Direction,
    /// Full target level, when the catalogue has a default.
    pub target: Option<f64>,
    /// Half target level (partial payment), when there is one.
    pub half: Option<f64>,
    pub source: &'static str,
    pub definition: &'static str,
}

impl PartialEq for Indicator {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

const fn entry(
    id: &'static str,
    tool: Tool,
    names: [&'static str; 2],
    (scale, direction): (Scale, Direction),
    targets: (Option<f64>, Option<f64>),
    source: &'static str,
    definition: &'static str,
) -> Indicator {
    Indicator {
        id,
        tool,
        name_sv: names[0],
        name_en: names[1],
        scale,
        direction,
        target: targets.0,
        half: targets.1,
        source,
        definition,
    }
}

use Direction::{HigherIsBetter as Higher, LowerIsBetter as Lower};

const NO_TARGET: (Option<f64>, Option<f64>) = (None, None);

const CONTINUITY_POPULATION: &str = "Population as in SKR Primärvårdskvalitet: patients \
listed at the unit, counting their physical visits (incl. home visits) at that unit to the \
profession (the group column), who made at least 3 such visits in the last 18 months. The unit \
value is the mean of the patients' values; numerator = sum of patient values, denominator = \
eligible patients.";

/// Every indicator of the toolkit, in output order.
pub static CATALOGUE: &[Indicator] = &[
    entry(
        "coc",
        Tool::Coc,
        [
            "Kontinuitetsindex (COC)",
            "Continuity of care index (Bice-Boxerman COC)",
        ],
        (Scale::Index, Higher),
        NO_TARGET,
        "SKR Primärvårdskvalitet; Region Jämtland Härjedalen, uppföljning 2022, 2.3.6-2.3.7 \
         (GNV 2022 goal: +20 % vs previous year)",
        "Per patient with N visits, n_j of them to provider j: COC = (sum n_j^2 - N) / (N(N - 1)). \
         0 when every visit is to a different provider, 1 when all are to the same one. Undefined \
         for N = 1.",
    ),
    entry(
        "upc",
        Tool::Coc,
        [
            "Andel besök hos vanligaste vårdgivare (UPC)",
            "Usual provider of care (UPC)",
        ],
        (Scale::Index, Higher),
        NO_TARGET,
        "Breslau & Reeb 1975; continuity population of SKR Primärvårdskvalitet",
        "Per patient: the share of visits made to the provider the patient saw most, max n_j / N. \
         1 for a patient with one visit.",
    ),
    entry(
        "secon",
        Tool::Coc,
        [
            "Sekventiell kontinuitet (SECON)",
            "Sequential continuity (SECON)",
        ],
        (Scale::Index, Higher),
        NO_TARGET,
        "Steinwachs 1979; continuity population of SKR Primärvårdskvalitet",
        "Per patient: the share of the N - 1 consecutive visit pairs (ordered by date, then time \
         when the date column carries one, then provider id) that are with the same provider. \
         Undefined for N = 1.",
    ),
    entry(
        "mmci",
        Tool::Coc,
        [
            "Modifierat index för vårdkontinuitet (MMCI)",
            "Modified modified continuity index (MMCI)",
        ],
        (Scale::Index, Higher),
        NO_TARGET,
        "Magill & Senf 1987; continuity population of SKR Primärvårdskvalitet",
        "Per patient with N visits to P providers: (1 - P/(N + 0.1)) / (1 - 1/(N + 0.1)). \
         Undefined for N = 1.",
    ),
    entry(
        "hhi",
        Tool::Coc,
        ["Herfindahlindex (HHI)", "Herfindahl-Hirschman index (HHI)"],
        (Scale::Index, Higher),
        NO_TARGET,
        "Herfindahl concentration of visits over providers; continuity population of SKR \
         Primärvårdskvalitet",
        "Per patient: sum over providers of (n_j / N)^2. 1 for a patient with one visit.",
    ),
    entry(
        "phone_same_day",
        Tool::Access,
        [
            "Telefontillgänglighet (0:an)",
            "Phone accessibility, same day",
        ],
        (Scale::Percent, Higher),
        (Some(90.0), Some(80.0)),
        "Region Örebro län, Hälsoval årsrapport 2024 (målrelaterad ersättning); \
         vårdgarantin 0-3-90-90",
        "Counted calls where the patient was reached (answered or called back) on the calendar day \
         the call was received / counted calls. Counted by default: answered, callback, queue full \
         and abandoned; calls outside phone hours (closed) are reported separately.",
    ),
    entry(
        "phone_outcome",
        Tool::Access,
        ["Fördelning inkommande samtal", "Incoming calls by outcome"],
        (Scale::Percent, Higher),
        NO_TARGET,
        "Region Sörmland, Fördelning inkommande samtal (Klart, Fyllt och Stängt)",
        "Share of all incoming calls with each outcome (answered, callback, full, closed, \
         abandoned); the outcome is in the group column.",
    ),
    entry(
        "phone_payment",
        Tool::Access,
        [
            "Ersättning telefontillgänglighet",
            "Phone accessibility payment",
        ],
        (Scale::Sek, Higher),
        NO_TARGET,
        "Region Örebro län, Hälsoval årsrapport 2024: 83 kr per listed and year",
        "Kronor earned month by month: listed x yearly amount / 12 for a month at or above the \
         full target, half of that at or above the half target. Targets can differ by month.",
    ),
    entry(
        "assessment_3d",
        Tool::Access,
        [
            "Medicinsk bedömning inom 3 dagar (3:an)",
            "Medical assessment within 3 days",
        ],
        (Scale::Percent, Higher),
        NO_TARGET,
        "SKR väntetider i vården; Region Jämtland Härjedalen 2.4.11 (riket 2022: 83.8 %)",
        "Contacts assessed within 0-3 calendar days (contact day = day 0) / counted contacts. \
         Patient-chosen waits are excluded; unassessed contacts older than 3 days count as \
         outside, younger ones are pending and excluded.",
    ),
    entry(
        "assessment_0d",
        Tool::Access,
        [
            "Medicinsk bedömning samma dag",
            "Medical assessment the same day",
        ],
        (Scale::Percent, Higher),
        NO_TARGET,
        "SKR väntetider i vården",
        "As assessment_3d with a limit of 0 days.",
    ),
    entry(
        "assessment_7d",
        Tool::Access,
        [
            "Medicinsk bedömning inom 7 dagar",
            "Medical assessment within 7 days",
        ],
        (Scale::Percent, Higher),
        NO_TARGET,
        "SKR väntetider i vården",
        "As assessment_3d with a limit of 7 days.",
    ),
    entry(
        "coverage",
        Tool::Coverage,
        [
            "Täckningsgrad",
            "Coverage (share of visits provided by the listing unit)",
        ],
        (Scale::Percent, Higher),
        (Some(60.0), None),
        "Region Örebro län, Hälsoval årsrapport 2024; Region Jämtland Härjedalen 2.3.5",
        "Over the unit's listed patients' outpatient visits in the period to doctor, nurse or \
         physio: visits at the listing unit / all such visits, primary and specialist care. \
         With scope primary-care, visits at any primary care unit count in the numerator.",
    ),
    entry(
        "visited_share",
        Tool::Coverage,
        ["Andel listade med besök", "Listed patients with a visit"],
        (Scale::Percent, Higher),
        NO_TARGET,
        "Region Örebro län, Hälsoval årsrapport 2024",
        "Listed patients with at least one visit at their unit in the period / listed patients.",
    ),
    entry(
        "named_doctor_share",
        Tool::Coverage,
        [
            "Andel listade med fast läkarkontakt",
            "Listed patients with a named doctor",
        ],
        (Scale::Percent, Higher),
        (Some(55.0), None),
        "God och nära vård (GNV) goal; Region Örebro län, God och nära vård 2024",
        "Listed patients with a named regular doctor (fast läkarkontakt) / listed patients.",
    ),
    entry(
        "listed_per_doctor",
        Tool::Coverage,
        [
            "Listade per heltidsläkare",
            "Listed patients per full-time doctor",
        ],
        (Scale::Ratio, Lower),
        (Some(1100.0), None),
        "Region Örebro län, God och nära vård 2024 (1 doctor per 1 100 listed); Region Jämtland \
         Härjedalen 2.3.8",
        "Listed patients / doctor full-time equivalents at the unit.",
    ),
    entry(
        "health_dialogue_offered",
        Tool::Coverage,
        [
            "Riktade hälsosamtal, erbjudna",
            "Targeted health dialogues offered",
        ],
        (Scale::Percent, Higher),
        NO_TARGET,
        "Region Jämtland Härjedalen 2.4.21 (2022: 6096 in cohort, 4300 offered)",
        "Listed patients turning 40, 50, 60 or 70 in the calendar year who were offered a health \
         dialogue / that cohort.",
    ),
    entry(
        "health_dialogue_done",
        Tool::Coverage,
        [
            "Riktade hälsosamtal, genomförda",
            "Targeted health dialogues completed",
        ],
        (Scale::Percent, Higher),
        NO_TARGET,
        "Region Jämtland Härjedalen 2.4.21 (2022: 1091 completed)",
        "Listed patients turning 40, 50, 60 or 70 in the calendar year who completed a health \
         dialogue / that cohort.",
    ),
    entry(
        "far_per_1000",
        Tool::Far,
        [
            "FaR per 1000 listade",
            "Physical activity on prescription per 1000 listed",
        ],
        (Scale::Per1000, Higher),
        (Some(8.0), Some(7.0)),
        "Region Örebro län, Hälsoval årsrapport 2024 (KVÅ DV200; 11.70 kr per listed)",
        "Registrations of KVÅ DV200 in the period at the unit / listed patients x 1000.",
    ),
    entry(
        "tobacco_qualified_per_1000",
        Tool::Far,
        [
            "Kvalificerat rökslutarstöd per 1000 listade",
            "Qualified tobacco cessation support per 1000 listed",
        ],
        (Scale::Per1000, Higher),
        (Some(3.0), None),
        "Region Örebro län, Hälsoval årsrapport 2024 (KVÅ DV113; 10.70 kr per listed)",
        "Registrations of KVÅ DV113 in the period at the unit / listed patients x 1000.",
    ),
    entry(
        "far_payment",
        Tool::Far,
        [
            "Ersättning FaR",
            "Payment for physical activity on prescription",
        ],
        (Scale::Sek, Higher),
        NO_TARGET,
        "Region Örebro län, Hälsoval årsrapport 2024",
        "Kronor earned: listed x amount per listed when the unit reaches the rate target (half \
         the amount at the half level, where one is set).",
    ),
    entry(
        "tobacco_qualified_payment",
        Tool::Far,
        [
            "Ersättning kvalificerat rökslutarstöd",
            "Payment for qualified tobacco cessation support",
        ],
        (Scale::Sek, Higher),
        NO_TARGET,
        "Region Örebro län, Hälsoval årsrapport 2024: 10.70 kr per listed",
        "Kronor earned: listed x amount per listed when the unit reaches the DV113 rate target.",
    ),
];

/// Indicators defined at run time (pv-far's `--code … --name ID`), after
/// the catalogue in output order. They are leaked: a run defines a few.
static DEFINED: Mutex<Vec<&'static Indicator>> = Mutex::new(Vec::new());

fn defined() -> MutexGuard<'static, Vec<&'static Indicator>> {
    DEFINED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The words of an indicator defined at run time.
#[derive(Clone, Debug)]
pub struct Definition {
    pub id: String,
    pub name_sv: String,
    pub name_en: String,
    pub source: String,
    pub definition: String,
}

/// Defines an indicator at run time, with the tool, scale and direction of
/// `like` and no default targets (the run sets them with `--target` and
/// `--half`). Its id must be new and shaped like the catalogue's.
pub fn define(words: Definition, like: &Indicator) -> Result<&'static Indicator, String> {
    let id = words.id.as_str();
    if id.is_empty()
        || !id.starts_with(|c: char| c.is_ascii_lowercase())
        || !id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(format!(
            "indicator id {id:?}: use lowercase letters, digits and _, starting with a letter"
        ));
    }
    let mut defined = defined();
    if CATALOGUE
        .iter()
        .chain(defined.iter().copied())
        .any(|i| i.id == id)
    {
        return Err(format!(
            "{id:?} is already an indicator (see --list-indicators); choose another id"
        ));
    }
    let text = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    let indicator: &'static Indicator = Box::leak(Box::new(Indicator {
        id: text(words.id),
        tool: like.tool,
        name_sv: text(words.name_sv),
        name_en: text(words.name_en),
        scale: like.scale,
        direction: like.direction,
        target: None,
        half: None,
        source: text(words.source),
        definition: text(words.definition),
    }));
    defined.push(indicator);
    Ok(indicator)
}

/// The indicator with this id, in the catalogue or defined at run time.
pub fn get(id: &str) -> Option<&'static Indicator> {
    CATALOGUE
        .iter()
        .find(|ind| ind.id == id)
        .or_else(|| defined().iter().copied().find(|ind| ind.id == id))
}

/// The indicators a tool can emit, in catalogue order, then those defined
/// at run time.
pub fn for_tool(tool: Tool) -> impl Iterator<Item = &'static Indicator> {
    let runtime = defined().clone();
    CATALOGUE
        .iter()
        .chain(runtime)
        .filter(move |ind| ind.tool == tool)
}

/// Position in the catalogue (indicators defined at run time follow in
/// the order they were defined), the primary sort key of output rows.
pub fn order(ind: &Indicator) -> usize {
    CATALOGUE
        .iter()
        .position(|other| std::ptr::eq(other, ind))
        .or_else(|| {
            defined()
                .iter()
                .position(|other| std::ptr::eq(*other, ind))
                .map(|i| CATALOGUE.len() + i)
        })
        .unwrap_or(usize::MAX)
}

/// The continuity population note shared by the pv-coc indexes.
pub fn population_note(ind: &Indicator) -> Option<&'static str> {
    (ind.tool == Tool::Coc).then_some(CONTINUITY_POPULATION)
}

fn level_text(level: Option<f64>) -> String {
    level.map_or_else(|| "none".to_string(), |v| v.to_string())
}

/// The text `--explain ID` prints.
pub fn explain(ind: &Indicator) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "{}: {}", ind.id, ind.name_sv);
    let _ = writeln!(text, "  {}", ind.name_en);
    let _ = writeln!(text, "tool:       {}", ind.tool.binary());
    let _ = writeln!(text, "scale:      {}", ind.scale.as_str());
    let _ = writeln!(text, "direction:  {}", ind.direction.as_str());
    let _ = writeln!(text, "target:     {}", level_text(ind.target));
    let _ = writeln!(text, "half:       {}", level_text(ind.half));
    let _ = writeln!(text, "source:     {}", ind.source);
    let _ = writeln!(text);
    let _ = writeln!(text, "{}", ind.definition);
    if let Some(note) = population_note(ind) {
        let _ = writeln!(text);
        let _ = writeln!(text, "{note}");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_ascii_and_targets_consistent() {
        for (i, ind) in CATALOGUE.iter().enumerate() {
            assert!(
                ind.id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            );
            assert!(
                CATALOGUE[i + 1..].iter().all(|other| other.id != ind.id),
                "{}",
                ind.id
            );
            if let (Some(full), Some(half)) = (ind.target, ind.half) {
                assert!(
                    ind.direction.reaches(full, half),
                    "{}: half must be easier",
                    ind.id
                );
            }
            assert_eq!(order(ind), i);
        }
    }

    #[test]
    fn every_tool_with_ratio_rows_has_indicators() {
        for tool in [Tool::Coc, Tool::Access, Tool::Coverage, Tool::Far] {
            assert!(for_tool(tool).count() > 0);
        }
        assert_eq!(for_tool(Tool::ListingDiff).count(), 0);
    }

    #[test]
    fn scale_values() {
        assert_eq!(Scale::Percent.value(1.0, 4.0), Some(25.0));
        assert_eq!(Scale::Per1000.value(8.0, 1000.0), Some(8.0));
        assert_eq!(Scale::Index.value(1.0, 0.0), None);
        assert_eq!(Scale::Sek.value(830.0, 120.0), Some(830.0));
        assert_eq!(Scale::Percent.value(57.0, 100.0), Some(57.0));
        assert_eq!(Scale::Percent.value(7.0, 10.0), Some(70.0));
        assert_eq!(Scale::Per1000.value(7.0, 875.0), Some(8.0));
    }

    #[test]
    fn indicators_defined_at_run_time_follow_the_catalogue() {
        let like = get("far_per_1000").unwrap();
        let words = |id: &str| Definition {
            id: id.to_string(),
            name_sv: "DV112 per 1000 listade".to_string(),
            name_en: "DV112 per 1000 listed".to_string(),
            source: "--code DV112".to_string(),
            definition: "Registrations of DV112 / listed x 1000.".to_string(),
        };
        let first = define(words("test_dv112_per_1000"), like).unwrap();
        let second = define(words("test_dv112_payment"), get("far_payment").unwrap()).unwrap();
        assert_eq!(first.scale, Scale::Per1000);
        assert_eq!((first.target, first.half), (None, None));
        assert_eq!(second.scale, Scale::Sek);
        assert!(std::ptr::eq(get("test_dv112_per_1000").unwrap(), first));
        assert!(order(first) >= CATALOGUE.len());
        assert!(order(second) > order(first));
        assert!(for_tool(Tool::Far).any(|i| i.id == "test_dv112_payment"));
        assert!(explain(first).contains("--code DV112"));
        for taken in ["coc", "test_dv112_per_1000"] {
            assert!(define(words(taken), like).unwrap_err().contains("already"));
        }
        for bad in ["", "DV112", "9x", "dv 112", "dv-112"] {
            assert!(define(words(bad), like).unwrap_err().contains("lowercase"));
        }
    }

    #[test]
    fn explain_names_the_rule() {
        let text = explain(get("coc").unwrap());
        assert!(text.contains("Kontinuitetsindex"));
        assert!(text.contains("N(N - 1)"));
        assert!(text.contains("at least 3"));
    }
}
