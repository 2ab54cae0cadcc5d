//! Normalising Swedish and English vocabulary to the canonical values every
//! tool works with. Unknown values pass through lowercased and trimmed, so a
//! region's own categories still form their own groups.

use std::borrow::Cow;

/// Lowercased, trimmed, inner runs of space, `-` and `_` read as one space.
pub fn fold_value(raw: &str) -> String {
    let lower = raw.trim().to_lowercase();
    let mut out = String::with_capacity(lower.len());
    let mut pending_space = false;
    for c in lower.chars() {
        if c == ' ' || c == '-' || c == '_' {
            pending_space = true;
        } else {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.push(c);
        }
    }
    out
}

fn lookup(folded: &str, table: &[(&'static str, &[&str])]) -> Option<&'static str> {
    table
        .iter()
        .find(|(_, words)| words.contains(&folded))
        .map(|(canonical, _)| *canonical)
}

const PROFESSIONS: &[(&str, &[&str])] = &[
    (
        "doctor",
        &[
            "doctor",
            "physician",
            "gp",
            "md",
            "läkare",
            "lakare",
            "läk",
            "lak",
            "dr",
            "allmänläkare",
            "distriktsläkare",
            "distriktslakare",
            "st läkare",
            "at läkare",
            "st lakare",
            "at lakare",
            "specialistläkare",
            "hyrläkare",
            "stafettläkare",
            "underläkare",
            "överläkare",
            "legitimerad läkare",
            "bt läkare",
        ],
    ),
    (
        "nurse",
        &[
            "nurse",
            "registered nurse",
            "rn",
            "district nurse",
            "sjuksköterska",
            "sjukskoterska",
            "ssk",
            "dsk",
            "distriktssköterska",
            "distriktsskoterska",
            "specialistsjuksköterska",
            "sjuksköterska/distriktssköterska",
            "leg sjuksköterska",
            "leg ssk",
            "barnsjuksköterska",
            "diabetessjuksköterska",
            "astmasjuksköterska",
        ],
    ),
    (
        "physio",
        &[
            "physio",
            "physiotherapist",
            "physical therapist",
            "fysioterapeut",
            "sjukgymnast",
            "fysio",
            "leg fysioterapeut",
            "ft",
        ],
    ),
    (
        "psychologist",
        &[
            "psychologist",
            "psykolog",
            "leg psykolog",
            "psykoterapeut",
            "psychotherapist",
        ],
    ),
    (
        "counsellor",
        &["counsellor", "counselor", "kurator", "socialarbetare"],
    ),
    (
        "occupational therapist",
        &[
            "occupational therapist",
            "arbetsterapeut",
            "leg arbetsterapeut",
        ],
    ),
    ("dietitian", &["dietitian", "dietist", "leg dietist"]),
];

/// `doctor`, `nurse`, `physio`, or the value lowercased.
pub fn profession(raw: &str) -> Cow<'static, str> {
    let folded = fold_value(raw);
    if let Some(canonical) = lookup(&folded, PROFESSIONS) {
        return Cow::Borrowed(canonical);
    }
    // Compound Swedish titles: "specialistläkare i allmänmedicin", "st-läkare".
    let first_word = folded.split(' ').next().unwrap_or_default();
    if first_word.ends_with("läkare") || first_word.ends_with("lakare") {
        return Cow::Borrowed("doctor");
    }
    if first_word.ends_with("sjuksköterska") || first_word.ends_with("sjukskoterska") {
        return Cow::Borrowed("nurse");
    }
    Cow::Owned(folded)
}

const CONTACT_TYPES: &[(&str, &[&str])] = &[
    (
        "physical",
        &[
            "physical",
            "visit",
            "in person",
            "office",
            "office visit",
            "besök",
            "besok",
            "fysiskt besök",
            "fysiskt besok",
            "fysiskt",
            "fysisk",
            "mottagningsbesök",
            "mottagningsbesok",
            "mottagning",
            "nybesök",
            "återbesök",
            "akutbesök",
            "planerat besök",
        ],
    ),
    (
        "home",
        &[
            "home",
            "home visit",
            "hembesök",
            "hembesok",
            "hemsjukvårdsbesök",
            "hemsjukvård",
            "hemsjukvard",
        ],
    ),
    (
        "phone",
        &[
            "phone",
            "telephone",
            "tel",
            "phone call",
            "telefon",
            "telefonkontakt",
            "telefonsamtal",
            "telefonrådgivning",
            "telefonbesök",
        ],
    ),
    (
        "video",
        &[
            "video",
            "video visit",
            "videobesök",
            "videobesok",
            "videosamtal",
            "digitalt besök",
            "videomöte",
        ],
    ),
];

/// `physical`, `home`, `phone`, `video`, or the value lowercased.
pub fn contact_type(raw: &str) -> Cow<'static, str> {
    let folded = fold_value(raw);
    lookup(&folded, CONTACT_TYPES).map_or(Cow::Owned(folded), Cow::Borrowed)
}

const CARE_LEVELS: &[(&str, &[&str])] = &[
    (
        "primary",
        &[
            "primary",
            "primary care",
            "pc",
            "primärvård",
            "primarvard",
            "primärvården",
            "pv",
            "närsjukvård",
            "vårdcentral",
            "hälsocentral",
        ],
    ),
    (
        "specialist",
        &[
            "specialist",
            "specialist care",
            "specialised",
            "specialized",
            "sv",
            "specialistvård",
            "specialistvard",
            "specialiserad vård",
            "öppen specialistvård",
            "oppen specialistvard",
            "sjukhus",
            "slutenvård",
            "länssjukvård",
        ],
    ),
];

/// `primary`, `specialist`, or the value lowercased.
pub fn care_level(raw: &str) -> Cow<'static, str> {
    let folded = fold_value(raw);
    lookup(&folded, CARE_LEVELS).map_or(Cow::Owned(folded), Cow::Borrowed)
}

const OUTCOMES: &[(&str, &[&str])] = &[
    (
        "answered",
        &["answered", "besvarat", "besvarad", "svar", "answer"],
    ),
    (
        "callback",
        &[
            "callback",
            "call back",
            "återuppringning",
            "ateruppringning",
            "återuppringd",
            "återuppringt",
            "klart",
            "klar",
            "bokad",
        ],
    ),
    ("full", &["full", "fyllt", "fylld", "kö full", "queue full"]),
    (
        "closed",
        &["closed", "stängt", "stangt", "stängd", "utanför telefontid"],
    ),
    (
        "abandoned",
        &[
            "abandoned",
            "avbrutet",
            "avbrutit",
            "avbruten",
            "lagt på",
            "hung up",
        ],
    ),
];

/// A phone call's outcome, or `None` for an unknown word.
pub fn outcome(raw: &str) -> Option<&'static str> {
    lookup(&fold_value(raw), OUTCOMES)
}

/// `female`, `male`, or the value lowercased. Swedish registers code
/// 1 = man, 2 = kvinna.
pub fn sex(raw: &str) -> Cow<'static, str> {
    let folded = fold_value(raw);
    match folded.as_str() {
        "k" | "kvinna" | "f" | "female" | "woman" | "w" | "2" => Cow::Borrowed("female"),
        "m" | "man" | "male" | "1" => Cow::Borrowed("male"),
        _ => Cow::Owned(folded),
    }
}

/// Yes/no values: `true/false`, `ja/nej`, `yes/no`, `1/0`, `j/n`, `x`/empty.
/// Returns `None` for anything else.
pub fn flag(raw: &str) -> Option<bool> {
    match fold_value(raw).as_str() {
        "1" | "true" | "t" | "ja" | "j" | "yes" | "y" | "x" | "sant" => Some(true),
        "0" | "false" | "f" | "nej" | "n" | "no" | "" | "falskt" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn professions() {
        for raw in [
            "Läkare",
            "lakare",
            "Distriktsläkare",
            "ST-läkare",
            "ST läkare",
            "specialistläkare i allmänmedicin",
        ] {
            assert_eq!(profession(raw), "doctor", "{raw}");
        }
        for raw in [
            "Sjuksköterska",
            "Distriktssköterska",
            "ssk",
            "DSK",
            "Registered nurse",
        ] {
            assert_eq!(profession(raw), "nurse", "{raw}");
        }
        for raw in ["Fysioterapeut", "sjukgymnast", "physio"] {
            assert_eq!(profession(raw), "physio", "{raw}");
        }
        assert_eq!(profession("Undersköterska"), "undersköterska");
        assert_eq!(profession("Psykolog"), "psychologist");
        assert_eq!(profession("Kurator"), "counsellor");
        assert_eq!(profession(" Barnmorska "), "barnmorska");
    }

    #[test]
    fn contact_types() {
        assert_eq!(contact_type("Fysiskt besök"), "physical");
        assert_eq!(contact_type("Besök"), "physical");
        assert_eq!(contact_type("Mottagningsbesök"), "physical");
        assert_eq!(contact_type("Hembesök"), "home");
        assert_eq!(contact_type("Telefon"), "phone");
        assert_eq!(contact_type("video"), "video");
        assert_eq!(contact_type("Chatt"), "chatt");
    }

    #[test]
    fn outcomes_and_flags() {
        assert_eq!(outcome("Klart"), Some("callback"));
        assert_eq!(outcome("Fyllt"), Some("full"));
        assert_eq!(outcome("Stängt"), Some("closed"));
        assert_eq!(outcome("besvarat"), Some("answered"));
        assert_eq!(outcome("maybe"), None);
        assert_eq!(flag("Ja"), Some(true));
        assert_eq!(flag(""), Some(false));
        assert_eq!(flag("kanske"), None);
        assert_eq!(sex("K"), "female");
        assert_eq!(sex(" Man "), "male");
        assert_eq!(sex("2"), "female");
        assert_eq!(sex("Okänt"), "okänt");
    }

    #[test]
    fn care_levels() {
        assert_eq!(care_level("Primärvård"), "primary");
        assert_eq!(care_level("Öppen specialistvård"), "specialist");
    }
}
