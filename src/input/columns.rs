//! Header matching: canonical column names, their Swedish and English
//! aliases, and `--col canonical=Header` overrides.

use anyhow::{Result, bail};

/// Built-in aliases per canonical column. Matching folds case, trims, and
/// treats space, `-` and `_` alike, so `Patient-ID` and `patient id` both
/// match `patient_id`.
pub const ALIASES: &[(&str, &[&str])] = &[
    (
        "patient_id",
        &[
            "patient",
            "pid",
            "personnummer",
            "pnr",
            "patientid",
            "person_id",
            "personnr",
        ],
    ),
    (
        "unit",
        &[
            "unit_id",
            "vårdcentral",
            "vardcentral",
            "vårdenhet",
            "vardenhet",
            "enhet",
            "hälsocentral",
            "halsocentral",
            "mottagning",
            "vc",
            "hc",
            "kombika",
        ],
    ),
    (
        "date",
        &[
            "datum",
            "besöksdatum",
            "besoksdatum",
            "visit_date",
            "kontaktdatum",
            "besöksdag",
        ],
    ),
    (
        "provider_id",
        &[
            "provider",
            "vårdgivare",
            "vardgivare",
            "personal",
            "hsa_id",
            "hsaid",
            "caregiver",
            "vårdpersonal",
        ],
    ),
    (
        "profession",
        &[
            "yrkeskategori",
            "yrke",
            "yrkesgrupp",
            "befattning",
            "role",
            "yrkeskod",
        ],
    ),
    (
        "contact_type",
        &[
            "kontakttyp",
            "besökstyp",
            "besokstyp",
            "kontaktform",
            "besöksform",
            "besoksform",
        ],
    ),
    ("care_level", &["vårdnivå", "vardniva", "level", "vårdform"]),
    (
        "visit_id",
        &[
            "besöks_id",
            "besoks_id",
            "besöksid",
            "kontakt_id",
            "kontaktid",
            "vårdkontakt_id",
        ],
    ),
    (
        "listed_since",
        &[
            "listad_sedan",
            "listningsdatum",
            "listad_från",
            "listad_fran",
        ],
    ),
    (
        "birth_date",
        &["födelsedatum", "fodelsedatum", "född", "fodd"],
    ),
    ("sex", &["kön", "kon", "gender"]),
    ("active_choice", &["aktivt_val", "aktivt_vald", "val"]),
    (
        "named_doctor",
        &[
            "fast_läkarkontakt",
            "fast_lakarkontakt",
            "namngiven_läkare",
            "namngiven_lakare",
            "fast_läkare",
        ],
    ),
    (
        "received_at",
        &[
            "inkommande",
            "samtalstid",
            "mottaget",
            "received",
            "call_time",
            "inringd",
        ],
    ),
    ("outcome", &["utfall", "resultat", "status"]),
    (
        "contact_at",
        &[
            "kontakttid",
            "kontakt_tid",
            "återuppringd",
            "contacted_at",
            "besvarad",
        ],
    ),
    (
        "contact_date",
        &["kontaktdatum", "kontakt_datum", "sökdatum"],
    ),
    (
        "assessment_date",
        &[
            "bedömningsdatum",
            "bedomningsdatum",
            "bedömd",
            "bedomd",
            "medicinsk_bedömning",
        ],
    ),
    (
        "patient_chosen_wait",
        &[
            "pvv",
            "patientvald_väntan",
            "patientvald_vantan",
            "patientvald_väntetid",
        ],
    ),
    (
        "code",
        &[
            "kvå",
            "kva",
            "kvå_kod",
            "kva_kod",
            "åtgärdskod",
            "atgardskod",
            "åtgärd",
            "atgard",
        ],
    ),
    (
        "area",
        &["länsdel", "lansdel", "område", "omrade", "region_area"],
    ),
    ("name", &["namn", "enhetsnamn", "unit_name"]),
    ("listed", &["listade", "antal_listade", "listed_count"]),
    ("month", &["månad", "manad", "period"]),
    ("target", &["mål", "mal", "målnivå", "malniva", "full"]),
    ("half", &["halv", "halv_nivå", "halv_niva", "half_target"]),
    ("indicator", &["indikator", "indicator_id"]),
    (
        "doctor_fte",
        &[
            "läkare_heltid",
            "lakare_heltid",
            "läkartjänster",
            "lakartjanster",
            "heltidsläkare",
        ],
    ),
];

/// A column an input kind can have.
#[derive(Clone, Copy, Debug)]
pub struct ColumnSpec {
    pub name: &'static str,
    pub required: bool,
    /// Values never appear in messages (patient identifiers).
    pub sensitive: bool,
}

impl ColumnSpec {
    pub const fn required(name: &'static str) -> ColumnSpec {
        ColumnSpec {
            name,
            required: true,
            sensitive: false,
        }
    }

    pub const fn optional(name: &'static str) -> ColumnSpec {
        ColumnSpec {
            name,
            required: false,
            sensitive: false,
        }
    }

    pub const fn sensitive(self) -> ColumnSpec {
        ColumnSpec {
            sensitive: true,
            ..self
        }
    }
}

/// The columns of one input kind (visits, listing, calls …).
#[derive(Debug)]
pub struct Schema {
    /// What the file is, for messages: "visits", "listing".
    pub what: &'static str,
    pub columns: &'static [ColumnSpec],
}

impl Schema {
    fn spec(&self, name: &str) -> Option<(usize, &ColumnSpec)> {
        self.columns
            .iter()
            .enumerate()
            .find(|(_, c)| c.name == name)
    }
}

/// A resolved column: where it is in the file, if present. Cheap to copy
/// into hot loops.
#[derive(Clone, Copy, Debug)]
pub struct Col {
    pub index: Option<usize>,
    pub sensitive: bool,
}

impl Col {
    pub fn is_present(self) -> bool {
        self.index.is_some()
    }
}

/// A `--col canonical=Header` override.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnOverride {
    pub canonical: String,
    pub header: String,
}

impl std::str::FromStr for ColumnOverride {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (canonical, header) = s
            .split_once('=')
            .ok_or_else(|| format!("expected CANONICAL=HEADER, got {s:?}"))?;
        let canonical = fold(canonical);
        if !ALIASES.iter().any(|(name, _)| *name == canonical) {
            let known: Vec<&str> = ALIASES.iter().map(|(name, _)| *name).collect();
            return Err(format!(
                "unknown column {canonical:?}; known columns: {}",
                known.join(", ")
            ));
        }
        Ok(ColumnOverride {
            canonical,
            header: header.trim().to_string(),
        })
    }
}

/// Lowercase, trimmed, with space and `-` read as `_`.
pub fn fold(header: &str) -> String {
    header
        .trim()
        .chars()
        .flat_map(char::to_lowercase)
        .map(|c| if c == ' ' || c == '-' { '_' } else { c })
        .collect()
}

/// A used header must name one column: with two of the same name it is a
/// guess which one the export meant.
fn check_unique(
    headers: &[String],
    folded: &[String],
    position: usize,
    source: &str,
) -> Result<()> {
    let same: Vec<String> = (0..folded.len())
        .filter(|&i| folded[i] == folded[position])
        .map(|i| (i + 1).to_string())
        .collect();
    if same.len() > 1 {
        bail!(
            "{source}: the header has {} columns named like {:?} (columns {}); rename or remove all but one",
            same.len(),
            headers[position],
            same.join(" and ")
        );
    }
    Ok(())
}

/// The built-in aliases of the column `canonical`.
pub fn aliases_of(canonical: &str) -> &'static [&'static str] {
    ALIASES
        .iter()
        .find(|(name, _)| *name == canonical)
        .map_or(&[], |(_, aliases)| aliases)
}

/// A header resolved against a schema.
#[derive(Clone, Debug)]
pub struct Columns {
    pub schema: &'static Schema,
    /// The file's header names, as written.
    pub headers: Vec<String>,
    /// Per schema column, its position in the file.
    positions: Vec<Option<usize>>,
}

impl Columns {
    /// Matches `headers` to `schema`: an override naming a present header
    /// wins, then the canonical name, then the aliases. `source` names the
    /// file in errors.
    pub fn resolve(
        schema: &'static Schema,
        headers: Vec<String>,
        overrides: &[ColumnOverride],
        source: &str,
    ) -> Result<Columns> {
        let folded: Vec<String> = headers.iter().map(|h| fold(h)).collect();
        let find = |wanted: &str| folded.iter().position(|h| *h == fold(wanted));
        let mut positions = Vec::with_capacity(schema.columns.len());
        for spec in schema.columns {
            let overridden = overrides
                .iter()
                .filter(|o| o.canonical == spec.name)
                .find_map(|o| find(&o.header));
            let position = overridden
                .or_else(|| find(spec.name))
                .or_else(|| aliases_of(spec.name).iter().find_map(|alias| find(alias)));
            if let Some(p) = position {
                check_unique(&headers, &folded, p, source)?;
            }
            positions.push(position);
        }
        let columns = Columns {
            schema,
            headers,
            positions,
        };
        columns.check_required(overrides, source)?;
        columns.check_ids_stay_ids(source)?;
        Ok(columns)
    }

    /// The patient ids are read as patient_id or not at all: a `--col`
    /// that maps them onto another column would put them into unit names,
    /// counts and messages.
    fn check_ids_stay_ids(&self, source: &str) -> Result<()> {
        let ids: Vec<usize> = self
            .schema
            .columns
            .iter()
            .zip(&self.positions)
            .filter(|(spec, _)| spec.sensitive)
            .filter_map(|(_, position)| *position)
            .collect();
        let named_like_ids = |position: usize| {
            let header = fold(&self.headers[position]);
            header == "patient_id" || aliases_of("patient_id").iter().any(|a| fold(a) == header)
        };
        for (spec, position) in self.schema.columns.iter().zip(&self.positions) {
            let Some(position) = *position else { continue };
            if !spec.sensitive && (ids.contains(&position) || named_like_ids(position)) {
                bail!(
                    "{source}: the column {:?} holds patient ids and cannot be read as {}; \
                     check --col {}=HEADER",
                    self.headers[position],
                    spec.name,
                    spec.name
                );
            }
        }
        Ok(())
    }

    fn check_required(&self, overrides: &[ColumnOverride], source: &str) -> Result<()> {
        for (spec, position) in self.schema.columns.iter().zip(&self.positions) {
            if !spec.required || position.is_some() {
                continue;
            }
            let named = overrides
                .iter()
                .find(|o| o.canonical == spec.name)
                .map(|o| format!(" (--col names {:?}, which is not there)", o.header))
                .unwrap_or_default();
            // A file without a header row shows data here: never echo ids.
            let found: Vec<String> = self
                .headers
                .iter()
                .map(|h| {
                    if super::row::could_be_patient_id(h.as_bytes()) {
                        "(a value that could be a patient id: is the header row missing?)"
                            .to_string()
                    } else {
                        format!("{h:?}")
                    }
                })
                .collect();
            bail!(
                "{source}: missing {} column {:?}{named}; also accepted: {}; found columns: {}{}; \
                 name it with --col {}=HEADER",
                self.schema.what,
                spec.name,
                aliases_of(spec.name).join(", "),
                found.join(", "),
                self.delimiter_hint(),
                spec.name,
            );
        }
        Ok(())
    }

    /// A header read as one column that holds another delimiter was split
    /// on the wrong one (`-d`, or a sniff fooled by the names).
    fn delimiter_hint(&self) -> String {
        let [only] = &self.headers[..] else {
            return String::new();
        };
        [',', ';', '\t', '|']
            .into_iter()
            .find(|d| only.contains(*d))
            .map(|d| format!(" (one column with {d:?} in it: is the delimiter right? see -d)"))
            .unwrap_or_default()
    }

    /// The resolved column `name`; `name` must belong to the schema.
    pub fn col(&self, name: &str) -> Col {
        let (i, spec) = self
            .schema
            .spec(name)
            .unwrap_or_else(|| panic!("column {name} is not in the {} schema", self.schema.what));
        Col {
            index: self.positions[i],
            sensitive: spec.sensitive,
        }
    }

    /// The header name at file position `index`, for messages.
    pub fn header(&self, index: usize) -> &str {
        self.headers.get(index).map_or("?", String::as_str)
    }

    /// Same columns in the same places: what several input files must share.
    pub fn same_layout(&self, other: &Columns) -> bool {
        self.positions == other.positions && self.headers.len() == other.headers.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static VISITS: Schema = Schema {
        what: "visits",
        columns: &[
            ColumnSpec::required("patient_id").sensitive(),
            ColumnSpec::required("date"),
            ColumnSpec::optional("unit"),
            ColumnSpec::optional("provider_id"),
        ],
    };

    fn headers(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn matches_swedish_aliases_case_and_space_insensitively() {
        let cols = Columns::resolve(
            &VISITS,
            headers(&[" Personnummer ", "BESÖKSDATUM", "Vårdenhet"]),
            &[],
            "v",
        )
        .unwrap();
        assert_eq!(cols.col("patient_id").index, Some(0));
        assert_eq!(cols.col("date").index, Some(1));
        assert_eq!(cols.col("unit").index, Some(2));
        assert_eq!(cols.col("provider_id").index, None);
        assert!(cols.col("patient_id").sensitive);
    }

    #[test]
    fn separators_fold_together() {
        let cols =
            Columns::resolve(&VISITS, headers(&["Patient-ID", "visit date"]), &[], "v").unwrap();
        assert_eq!(cols.col("patient_id").index, Some(0));
        assert_eq!(cols.col("date").index, Some(1));
    }

    #[test]
    fn overrides_win_over_aliases() {
        let overrides = vec!["date=Dag".parse::<ColumnOverride>().unwrap()];
        let cols =
            Columns::resolve(&VISITS, headers(&["pnr", "datum", "dag"]), &overrides, "v").unwrap();
        assert_eq!(cols.col("date").index, Some(2));
    }

    #[test]
    fn missing_required_column_lists_what_was_found() {
        let err =
            Columns::resolve(&VISITS, headers(&["pnr", "when"]), &[], "visits.csv").unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains("missing visits column \"date\""), "{text}");
        assert!(text.contains("\"pnr\", \"when\""), "{text}");
        assert!(text.contains("--col date=HEADER"), "{text}");
    }

    #[test]
    fn patient_ids_are_never_read_as_another_column() {
        for (headers, overrides) in [
            (&["pnr", "datum", "enhet"][..], "unit=pnr"),
            (&["id", "datum", "enhet"][..], "patient_id=id"),
        ] {
            let mut overrides = vec![overrides.parse::<ColumnOverride>().unwrap()];
            if headers[0] == "id" {
                overrides.push("unit=id".parse().unwrap());
            }
            let err =
                Columns::resolve(&VISITS, self::headers(headers), &overrides, "v.csv").unwrap_err();
            let text = format!("{err:#}");
            assert!(
                text.contains("holds patient ids and cannot be read as unit"),
                "{text}"
            );
        }
    }

    #[test]
    fn a_header_split_on_the_wrong_delimiter_says_so() {
        let err = Columns::resolve(&VISITS, headers(&["pnr;datum"]), &[], "v.csv").unwrap_err();
        let text = format!("{err:#}");
        assert!(
            text.contains("one column with ';' in it: is the delimiter right? see -d"),
            "{text}"
        );
    }

    #[test]
    fn override_syntax_is_checked() {
        assert!("date".parse::<ColumnOverride>().is_err());
        assert!("nonsense=x".parse::<ColumnOverride>().is_err());
        assert_eq!(
            "Date = Dag".parse::<ColumnOverride>().unwrap().canonical,
            "date"
        );
    }
}
