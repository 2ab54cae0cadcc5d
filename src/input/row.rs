//! One input row as the computation modules see it, typed field access, and
//! row errors that never carry a sensitive value.

use csv::ByteRecord;
use jiff::civil::Date;

use super::columns::Col;
use crate::period::{self, DATE_FORMATS, Moment, TIMESTAMP_FORMATS};

/// Where a row is: its chunk's sequence number (in file order across all
/// inputs of one read) and its line inside the chunk. Orders like the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Locator(pub u64);

impl Locator {
    pub fn new(chunk: u32, local_line: u32) -> Locator {
        Locator((u64::from(chunk) << 32) | u64::from(local_line))
    }

    pub fn chunk(self) -> u32 {
        (self.0 >> 32) as u32
    }

    pub fn local_line(self) -> u32 {
        self.0 as u32
    }
}

/// Why a row cannot be used. Messages are built by the constructors below,
/// which leave out the value of sensitive columns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowError {
    /// Position of the offending column in the file, if one column is to blame.
    pub column: Option<usize>,
    pub message: String,
    /// Another row the error is about (the first row of a duplicate pair).
    pub related: Option<Locator>,
    /// The row the error belongs to when it is not the row being read (a
    /// duplicate noticed out of file order).
    pub at: Option<Locator>,
}

impl RowError {
    pub fn new(column: Option<usize>, message: impl Into<String>) -> RowError {
        RowError {
            column,
            message: message.into(),
            related: None,
            at: None,
        }
    }

    /// A value that does not parse as `what` (expected `expected`).
    #[cold]
    #[inline(never)]
    pub fn invalid(col: Col, raw: &[u8], what: &str, expected: &str) -> RowError {
        let message = if col.sensitive || could_be_patient_id(raw) {
            format!("cannot parse the value as {what} (expected {expected}; value not shown)")
        } else {
            let shown = String::from_utf8_lossy(raw.trim_ascii());
            format!("cannot parse {shown:?} as {what} (expected {expected})")
        };
        RowError::new(col.index, message)
    }

    /// Text that is not UTF-8 (checked where a value is first seen).
    pub fn not_utf8(col: Col) -> RowError {
        RowError::new(
            col.index,
            "invalid UTF-8; for a Windows-1252 (Excel) export use --encoding windows-1252",
        )
    }

    #[cold]
    #[inline(never)]
    pub fn empty(col: Col) -> RowError {
        RowError::new(col.index, "empty value where one is required")
    }

    pub fn related_to(mut self, other: Locator) -> RowError {
        self.related = Some(other);
        self
    }

    pub fn located_at(mut self, row: Locator) -> RowError {
        self.at = Some(row);
        self
    }
}

/// Whether a value could be a patient id, and so is never shown in a
/// message, whatever column it is in (a shifted row, a mis-mapped column or
/// a file without its header row puts ids anywhere): a run of ten digits or
/// more, with `-` or `+` inside (a personnummer or samordningsnummer in any
/// of its forms), or a word that mixes letters and digits (a reserve number,
/// a record system's own key).
pub fn could_be_patient_id(raw: &[u8]) -> bool {
    let personal_number = raw
        .split(|b| !(b.is_ascii_digit() || matches!(b, b'-' | b'+')))
        .any(|run| run.iter().filter(|b| b.is_ascii_digit()).count() >= 10);
    personal_number
        || String::from_utf8_lossy(raw).split_whitespace().any(|word| {
            word.chars().any(|c| c.is_ascii_digit()) && word.chars().any(char::is_alphabetic)
        })
}

/// What a message shows instead of a value that could be a patient id.
pub const NOT_SHOWN: &str = "(not shown: it could be a patient id)";

/// A value for a message: quoted, or [`NOT_SHOWN`].
pub fn quoted_for_message(raw: &[u8]) -> String {
    if could_be_patient_id(raw) {
        NOT_SHOWN.to_string()
    } else {
        format!("{:?}", String::from_utf8_lossy(raw))
    }
}

/// A name (a unit's) in a list in a message: as it is, or [`NOT_SHOWN`].
pub fn name_for_message(name: &str) -> &str {
    if could_be_patient_id(name.as_bytes()) {
        NOT_SHOWN
    } else {
        name
    }
}

/// The fields of a row: split directly from an unquoted line (the fast
/// path) or parsed by the csv crate when the chunk has quotes.
#[derive(Clone, Copy)]
pub(crate) enum Fields<'a> {
    Split { line: &'a [u8], ends: &'a [u32] },
    Csv(&'a ByteRecord),
}

impl<'a> Fields<'a> {
    pub(crate) fn len(&self) -> usize {
        match self {
            Fields::Split { ends, .. } => ends.len(),
            Fields::Csv(record) => record.len(),
        }
    }

    /// Whether every field is empty or white space (a blank line, or
    /// only delimiters). A first field that starts with a visible byte
    /// settles it at once.
    #[inline(always)]
    pub(crate) fn is_blank(&self) -> bool {
        if let Some(first) = self.get(0)
            && first.first().is_some_and(|&b| b > b' ')
        {
            return false;
        }
        (0..self.len()).all(|i| self.get(i).is_none_or(|f| f.trim_ascii().is_empty()))
    }

    #[inline(always)]
    pub(crate) fn get(&self, i: usize) -> Option<&'a [u8]> {
        match *self {
            Fields::Split { line, ends } => {
                if i >= ends.len() {
                    return None;
                }
                // SAFETY: the splitter records each delimiter of `line` in
                // increasing order and the line's length last, so for `i`
                // in bounds `start <= end <= line.len()`.
                unsafe {
                    let end = *ends.get_unchecked(i) as usize;
                    let start = if i == 0 {
                        0
                    } else {
                        *ends.get_unchecked(i - 1) as usize + 1
                    };
                    debug_assert!(start <= end && end <= line.len());
                    Some(line.get_unchecked(start..end))
                }
            }
            Fields::Csv(record) => record.get(i),
        }
    }
}

/// One data row.
pub struct Row<'a> {
    pub(crate) fields: Fields<'a>,
    pub locator: Locator,
}

impl<'a> Row<'a> {
    /// The raw bytes of `col`, untrimmed; `None` when the column is absent.
    #[inline(always)]
    pub fn raw(&self, col: Col) -> Option<&'a [u8]> {
        col.index.and_then(|i| self.fields.get(i))
    }

    /// The trimmed bytes of `col`; `None` when absent or empty.
    #[inline(always)]
    pub fn bytes(&self, col: Col) -> Option<&'a [u8]> {
        let raw = self.raw(col)?;
        // Nearly every value starts and ends with a visible character, so
        // two compares settle it; bytes up to b' ' include all whitespace.
        match raw {
            [first, .., last] if *first > b' ' && *last > b' ' => Some(raw),
            [only] if *only > b' ' => Some(raw),
            _ => Some(raw.trim_ascii()).filter(|b| !b.is_empty()),
        }
    }

    /// The trimmed text of `col`; `None` when absent or empty.
    pub fn text(&self, col: Col) -> Result<Option<&'a str>, RowError> {
        match self.bytes(col) {
            None => Ok(None),
            Some(bytes) => std::str::from_utf8(bytes)
                .map(Some)
                .map_err(|_| RowError::not_utf8(col)),
        }
    }

    /// The trimmed, non-empty bytes of a required column.
    #[inline(always)]
    pub fn required(&self, col: Col) -> Result<&'a [u8], RowError> {
        match self.bytes(col) {
            Some(bytes) => Ok(bytes),
            None => Err(RowError::empty(col)),
        }
    }

    /// The trimmed, non-empty text of a required column.
    pub fn required_text(&self, col: Col) -> Result<&'a str, RowError> {
        self.text(col)?.ok_or_else(|| RowError::empty(col))
    }

    pub fn date(&self, col: Col) -> Result<Date, RowError> {
        let raw = self.required(col)?;
        period::parse_date(raw).ok_or_else(|| RowError::invalid(col, raw, "a date", DATE_FORMATS))
    }

    /// A date that may be empty or absent.
    pub fn optional_date(&self, col: Col) -> Result<Option<Date>, RowError> {
        self.bytes(col)
            .map(|raw| {
                period::parse_date(raw)
                    .ok_or_else(|| RowError::invalid(col, raw, "a date", DATE_FORMATS))
            })
            .transpose()
    }

    /// A date with an optional time of day.
    #[inline(always)]
    pub fn moment(&self, col: Col) -> Result<Moment, RowError> {
        let raw = self.required(col)?;
        period::parse_moment(raw)
            .ok_or_else(|| RowError::invalid(col, raw, "a date or time", TIMESTAMP_FORMATS))
    }

    pub fn optional_moment(&self, col: Col) -> Result<Option<Moment>, RowError> {
        self.bytes(col)
            .map(|raw| {
                period::parse_moment(raw)
                    .ok_or_else(|| RowError::invalid(col, raw, "a date or time", TIMESTAMP_FORMATS))
            })
            .transpose()
    }

    /// A non-negative decimal number: `.` or `,` as decimal separator,
    /// spaces (also no-break spaces) between thousands, as Swedish Excel
    /// writes `1 234,5`. Ten digits or more in a row are a patient id in
    /// the wrong column, not a number: it would end up in sums and summaries.
    pub fn number(&self, col: Col) -> Result<f64, RowError> {
        let raw = self.required(col)?;
        parse_number(raw).ok_or_else(|| {
            RowError::invalid(
                col,
                raw,
                "a number",
                "a non-negative number such as 12, 1,5 or 1 234",
            )
        })
    }

    /// A non-negative whole number, written as [`Row::number`] accepts.
    pub fn count(&self, col: Col) -> Result<u64, RowError> {
        let raw = self.required(col)?;
        parse_number(raw)
            .filter(|v| v.fract() == 0.0 && *v < 2f64.powi(53))
            .map(|v| v as u64)
            .ok_or_else(|| {
                RowError::invalid(col, raw, "a whole number", "a count such as 0, 12 or 1 234")
            })
    }
}

fn parse_number(raw: &[u8]) -> Option<f64> {
    if could_be_patient_id(raw) {
        return None;
    }
    let text = std::str::from_utf8(raw).ok()?;
    let plain: String = text
        .chars()
        .filter(|c| !matches!(c, ' ' | '\u{a0}' | '\u{202f}'))
        .map(|c| if c == ',' { '.' } else { c })
        .collect();
    let all_digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    let shaped = match plain.split_once('.') {
        Some((whole, fraction)) => all_digits(whole) && all_digits(fraction),
        None => all_digits(&plain),
    };
    shaped.then(|| plain.parse::<f64>().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_bytes_are_trimmed_as_the_definition_says() {
        // Every value of up to three bytes drawn from whitespace, control,
        // visible and non-ASCII bytes, alone and between delimiters.
        let alphabet = [b' ', b'\t', b'\r', 0x0c, 0x01, b'!', b'a', 0x7f, 0xc3, 0xa9];
        let mut values: Vec<Vec<u8>> = vec![Vec::new()];
        for len in 1..=3u32 {
            for n in 0..alphabet.len().pow(len) {
                let digits = (0..len).map(|i| n / alphabet.len().pow(i) % alphabet.len());
                values.push(digits.map(|d| alphabet[d]).collect());
            }
        }
        for value in &values {
            let line = [b"x,".as_slice(), value, b",y"].concat();
            let ends = [1, 2 + value.len() as u32, line.len() as u32];
            let row = Row {
                fields: Fields::Split {
                    line: &line,
                    ends: &ends,
                },
                locator: Locator::new(0, 1),
            };
            let col = Col {
                index: Some(1),
                sensitive: false,
            };
            let expected = Some(value.trim_ascii()).filter(|b| !b.is_empty());
            assert_eq!(row.bytes(col), expected, "{value:?}");
        }
    }

    #[test]
    fn blank_rows_are_those_whose_every_field_is_white_space() {
        let pieces: [&[u8]; 5] = [b"", b" ", b"\t", b"a", b" b "];
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    let line = [a, b",", b, b",", c].concat();
                    let ends = [
                        a.len() as u32,
                        (a.len() + 1 + b.len()) as u32,
                        line.len() as u32,
                    ];
                    let fields = Fields::Split {
                        line: &line,
                        ends: &ends,
                    };
                    let expected = [a, b, c].iter().all(|f| f.trim_ascii().is_empty());
                    assert_eq!(fields.is_blank(), expected, "{line:?}");
                }
            }
        }
    }

    #[test]
    fn numbers_in_swedish_and_english_shapes() {
        assert_eq!(parse_number(b"12"), Some(12.0));
        assert_eq!(parse_number(b"1,5"), Some(1.5));
        assert_eq!(parse_number(b"1.5"), Some(1.5));
        assert_eq!(parse_number(b"1 234,5"), Some(1234.5));
        assert_eq!(parse_number("1\u{a0}234".as_bytes()), Some(1234.0));
        assert_eq!(parse_number(b"-1"), None);
        assert_eq!(parse_number(b"1e3"), None);
        assert_eq!(parse_number(b"1,2,3"), None);
        assert_eq!(parse_number(b"inf"), None);
        assert_eq!(parse_number(b",5"), None);
        assert_eq!(parse_number(b"201212121212"), None);
        assert_eq!(parse_number(b"1 234 567 890"), Some(1_234_567_890.0));
    }

    #[test]
    fn personal_numbers_are_never_echoed() {
        let col = Col {
            index: Some(1),
            sensitive: false,
        };
        for raw in [
            "19121212-1212",
            "191212121212",
            "121212-1212",
            "1212121212",
            "x2024-19121212-1212",
            "P-SECRET-42",
            "Pat 12ab",
        ] {
            let error = RowError::invalid(col, raw.as_bytes(), "a date", "YYYY-MM-DD");
            assert!(!error.message.contains(raw), "{}", error.message);
        }
        for shown in [
            "2024-13-01",
            "2024/03/01",
            "1 000,5",
            "vidarekopplat",
            "VC Kumla 2",
        ] {
            let error = RowError::invalid(col, shown.as_bytes(), "a date", "YYYY-MM-DD");
            assert!(
                error.message.contains(&format!("{shown:?}")),
                "{}",
                error.message
            );
        }
        assert_eq!(name_for_message("VC1"), NOT_SHOWN);
        assert_eq!(
            name_for_message("Vårdcentralen Lekeberg"),
            "Vårdcentralen Lekeberg"
        );
        assert_eq!(quoted_for_message(b"201212121212"), NOT_SHOWN);
    }
}
