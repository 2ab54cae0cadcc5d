//! pv-coverage's computations: whether the listed population gets its care
//! from its own vårdcentral (täckningsgrad, listed with a visit), named
//! doctors, listed patients per doctor, and targeted health dialogues.
//!
//! [`visits`] folds visit rows against a loaded listing; [`listed`] counts
//! listing snapshots per unit; [`dialogue`] folds activity registrations
//! against a listing with birth dates. No I/O happens here.

pub mod dialogue;
pub mod listed;
pub mod visits;

use std::collections::BTreeMap;

use crate::input::{Col, RowError, values};
use crate::intern::Memo;

/// A date packed so that later dates are larger numbers and 0 is "none":
/// what per-patient atomics store.
pub(crate) fn packed_date(date: jiff::civil::Date) -> u32 {
    let year = (i32::from(date.year()) + 10_000) as u32;
    (year << 9) | (u32::from(date.month() as u8) << 5) | u32::from(date.day() as u8)
}

/// One thread's memo of whether a raw vocabulary value (profession,
/// contact type, activity code) is among the chosen canonical ones.
pub(crate) struct Chosen {
    memo: Memo<bool>,
    normalize: fn(&str) -> std::borrow::Cow<'static, str>,
}

impl Chosen {
    pub(crate) fn new(normalize: fn(&str) -> std::borrow::Cow<'static, str>) -> Chosen {
        Chosen {
            memo: Memo::default(),
            normalize,
        }
    }

    /// Whether `raw` normalises to one of `chosen`.
    #[inline]
    pub(crate) fn contains(
        &mut self,
        raw: &[u8],
        col: Col,
        chosen: &[String],
    ) -> Result<bool, RowError> {
        let normalize = self.normalize;
        self.memo.get_or_try_insert_with(raw, || {
            let canonical = normalize(utf8(raw, col)?);
            Ok(chosen.iter().any(|c| *c == canonical))
        })
    }
}

pub(crate) fn utf8(raw: &[u8], col: Col) -> Result<&str, RowError> {
    std::str::from_utf8(raw).map_err(|_| RowError::not_utf8(col))
}

/// Canonical values of a list given on the command line.
pub fn canonical_list(
    raw: &[String],
    normalize: fn(&str) -> std::borrow::Cow<'static, str>,
) -> Vec<String> {
    let mut list: Vec<String> = raw.iter().map(|r| normalize(r).into_owned()).collect();
    list.sort();
    list.dedup();
    list
}

/// Canonical professions (`läkare` → `doctor`).
pub fn professions(raw: &[String]) -> Vec<String> {
    canonical_list(raw, values::profession)
}

/// Canonical contact types (`hembesök` → `home`).
pub fn contact_types(raw: &[String]) -> Vec<String> {
    canonical_list(raw, values::contact_type)
}

/// Counts of rows that did not count, by reason, for the stderr summary.
pub type Excluded<R> = BTreeMap<R, u64>;
