//! Dates, timestamps and reporting windows.
//!
//! Dates are `jiff::civil::Date` (4 bytes, `Ord`), so hot paths can store and
//! compare them directly. Parsing is hand-rolled for the three accepted shapes
//! because it runs once per input row; validation is left to jiff.

use anyhow::{Result, bail};
use jiff::ToSpan;
use jiff::civil::Date;

/// What the date parsers accept, for error messages.
pub const DATE_FORMATS: &str = "YYYY-MM-DD or YYYYMMDD";
pub const TIMESTAMP_FORMATS: &str = "YYYY-MM-DD, YYYY-MM-DD HH:MM[:SS] or YYYY-MM-DDTHH:MM[:SS]";

/// A calendar date and, when the value carried one, the time of day in seconds.
/// Eight bytes, so a parsed moment travels in a register on the per-row path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Moment {
    pub date: Date,
    /// The second of the day plus one; 0 when the value had no time (so a
    /// date alone orders before any time on that day).
    time_code: u32,
}

impl Moment {
    pub fn new(date: Date, second_of_day: Option<u32>) -> Moment {
        Moment {
            date,
            time_code: second_of_day.map_or(0, |s| s + 1),
        }
    }

    pub fn second_of_day(self) -> Option<u32> {
        self.time_code.checked_sub(1)
    }

    /// The second of the day plus one, 0 without a time.
    pub fn time_code(self) -> u32 {
        self.time_code
    }
}

fn digits<const N: usize>(bytes: &[u8]) -> Option<u32> {
    if bytes.len() != N {
        return None;
    }
    let mut value = 0u32;
    for &b in bytes {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value * 10 + u32::from(b - b'0');
    }
    Some(value)
}

fn ymd(year: u32, month: u32, day: u32) -> Option<Date> {
    Date::new(i16::try_from(year).ok()?, month as i8, day as i8).ok()
}

/// Parses `YYYY-MM-DD` or `YYYYMMDD`, ignoring surrounding spaces.
pub fn parse_date(raw: &[u8]) -> Option<Date> {
    if let Ok(dashed) = <&[u8; 10]>::try_from(raw)
        && let Some(date) = parse_dashed(dashed)
    {
        return Some(date);
    }
    let s = raw.trim_ascii();
    if let Ok(dashed) = <&[u8; 10]>::try_from(s) {
        return parse_dashed(dashed);
    }
    match s.len() {
        10 if s[4] == b'-' && s[7] == b'-' => ymd(
            digits::<4>(&s[0..4])?,
            digits::<2>(&s[5..7])?,
            digits::<2>(&s[8..10])?,
        ),
        8 => ymd(
            digits::<4>(&s[0..4])?,
            digits::<2>(&s[4..6])?,
            digits::<2>(&s[6..8])?,
        ),
        _ => None,
    }
}

/// `YYYY-MM-DD`, the shape nearly every export uses, read once per input
/// row: the first eight bytes are checked as one word and the last two as
/// another, without early exits. A byte is a digit when its high nibble is
/// 3 and stays 3 after adding 6.
#[inline]
fn parse_dashed(s: &[u8; 10]) -> Option<Date> {
    const ZEROS: u64 = 0x3030_3030_3030_3030;
    const HIGH: u64 = 0xf0f0_f0f0_f0f0_f0f0;
    const SIXES: u64 = 0x0606_0606_0606_0606;
    // Bytes 0-3 and 5-6 of the head are digits, 4 and 7 dashes.
    const DIGITS: u64 = 0x00ff_ff00_ffff_ffff;
    const DASHES: u64 = 0xff00_00ff_0000_0000;
    let all_digits = |word: u64, digits: u64| {
        (word & HIGH & digits) == ZEROS & digits
            && (word.wrapping_add(SIXES & digits) & HIGH & digits) == ZEROS & digits
    };
    let head = u64::from_le_bytes(s[..8].try_into().expect("8 bytes"));
    let tail = u64::from(u16::from_le_bytes([s[8], s[9]]));
    let shaped = all_digits(head, DIGITS)
        & all_digits(tail, 0xffff)
        & (head & DASHES == 0x2d00_002d_0000_0000);
    if !shaped {
        return None;
    }
    let digit = |word: u64, i: u32| ((word >> (8 * i)) & 0xf) as i16;
    let year = digit(head, 0) * 1000 + digit(head, 1) * 100 + digit(head, 2) * 10 + digit(head, 3);
    let month = digit(head, 5) * 10 + digit(head, 6);
    let day = digit(tail, 0) * 10 + digit(tail, 1);
    Date::new(year, month as i8, day as i8).ok()
}

/// Parses a date or a timestamp `YYYY-MM-DD[ T]HH:MM[:SS]` (a trailing
/// fraction or zone suffix after the seconds is ignored). Always inlined:
/// returned through memory, its result stalls the caller's reads.
#[inline(always)]
pub fn parse_moment(raw: &[u8]) -> Option<Moment> {
    // The common case, a plain date, needs no trimming.
    if let Ok(dashed) = <&[u8; 10]>::try_from(raw)
        && let Some(date) = parse_dashed(dashed)
    {
        return Some(Moment::new(date, None));
    }
    parse_other_moment(raw)
}

#[inline(never)]
fn parse_other_moment(raw: &[u8]) -> Option<Moment> {
    let s = raw.trim_ascii();
    if let Ok(dashed) = <&[u8; 10]>::try_from(s) {
        return parse_dashed(dashed).map(|date| Moment::new(date, None));
    }
    if s.len() < 10 {
        return parse_date(s).map(|date| Moment::new(date, None));
    }
    let (date_part, time_part) = (&s[..10], &s[11..]);
    if !matches!(s[10], b' ' | b'T') {
        return None;
    }
    let date = parse_date(date_part)?;
    let second_of_day = parse_time(time_part)?;
    Some(Moment::new(date, Some(second_of_day)))
}

fn parse_time(s: &[u8]) -> Option<u32> {
    if s.len() < 5 || s[2] != b':' {
        return None;
    }
    let hour = digits::<2>(&s[0..2])?;
    let minute = digits::<2>(&s[3..5])?;
    let second = match s.get(5) {
        None => 0,
        Some(b':') => digits::<2>(s.get(6..8)?)?,
        Some(_) => return None,
    };
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    Some(hour * 3600 + minute * 60 + second.min(59))
}

/// Parses a date given on the command line.
pub fn parse_cli_date(s: &str) -> Result<Date, String> {
    parse_date(s.as_bytes())
        .ok_or_else(|| format!("cannot parse {s:?} as a date (expected {DATE_FORMATS})"))
}

/// A closed interval of calendar days, both ends inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub first: Date,
    pub last: Date,
}

impl Window {
    pub fn new(first: Date, last: Date) -> Result<Window> {
        if first > last {
            bail!("the period starts ({first}) after it ends ({last})");
        }
        Ok(Window { first, last })
    }

    /// The `months` calendar months that end on `as_of`: first day =
    /// (as_of + 1 day) − months, clamped to the month's last day by jiff.
    pub fn months_ending(as_of: Date, months: u32) -> Result<Window> {
        let next = as_of.tomorrow()?;
        let first = next.checked_sub(i64::from(months).months())?;
        Window::new(first, as_of)
    }

    pub fn contains(&self, date: Date) -> bool {
        self.first <= date && date <= self.last
    }

    /// The ISO 8601 interval used in the `period` column.
    pub fn label(&self) -> String {
        format!("{}/{}", self.first, self.last)
    }
}

/// A period as asked for: fixed now, ending on the latest input date, or
/// the whole span of dates in the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeriodSpec {
    Fixed(Window),
    EndingAtLatest { months: u32 },
    InputSpan,
}

impl PeriodSpec {
    /// The window once the earliest and latest dates in the input are
    /// known; `None` when the input had no dates and nothing was fixed.
    pub fn window(self, earliest: Option<Date>, latest: Option<Date>) -> Result<Option<Window>> {
        match self {
            PeriodSpec::Fixed(window) => Ok(Some(window)),
            PeriodSpec::EndingAtLatest { months } => {
                latest.map(|d| Window::months_ending(d, months)).transpose()
            }
            PeriodSpec::InputSpan => match (earliest, latest) {
                (Some(first), Some(last)) => Window::new(first, last).map(Some),
                _ => Ok(None),
            },
        }
    }
}

/// How a period is cut into the `period` column's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Granularity {
    /// One row for the whole window, labelled with its interval.
    #[default]
    Whole,
    /// One row per calendar month (`2024-03`), clipped to the window.
    Month,
}

impl Window {
    /// The calendar months the window touches, each clipped to the window,
    /// in order.
    pub fn months(&self) -> Vec<Window> {
        let mut months = Vec::new();
        let mut start = self.first;
        while start <= self.last {
            let month_end = start.last_of_month();
            let end = month_end.min(self.last);
            months.push(Window {
                first: start,
                last: end,
            });
            match month_end.tomorrow() {
                Ok(next) => start = next,
                Err(_) => break,
            }
        }
        months
    }

    /// The parts of the window that rows are reported for: itself, or its
    /// months.
    pub fn parts(&self, granularity: Granularity) -> Vec<Window> {
        match granularity {
            Granularity::Whole => vec![*self],
            Granularity::Month => self.months(),
        }
    }

    /// The `period` column's value for this window as a part cut with
    /// `granularity`: the interval, or the month label.
    pub fn period_label(&self, granularity: Granularity) -> String {
        match granularity {
            Granularity::Whole => self.label(),
            Granularity::Month => month_label(self.first),
        }
    }
}

/// `YYYY-MM`, the `period` label of a calendar month.
pub fn month_label(date: Date) -> String {
    format!("{:04}-{:02}", date.year(), date.month())
}

/// Whole calendar days from `from` to `to` (negative when `to` is earlier).
pub fn days_between(from: Date, to: Date) -> i32 {
    day_number(to) - day_number(from)
}

/// Days since 1970-01-01, by the civil-from-days algorithm's inverse; cheap
/// enough to call per row, unlike a jiff span computation.
pub fn day_number(date: Date) -> i32 {
    let (y, m, d) = (
        i32::from(date.year()),
        i32::from(date.month()),
        i32::from(date.day()),
    );
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let month_index = (m + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + d - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    /// The plain reading of `YYYY-MM-DD`, to check [`parse_dashed`] against.
    fn dashed_by_bytes(s: &[u8; 10]) -> Option<Date> {
        let shaped = s.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        });
        if !shaped {
            return None;
        }
        let number = |range: std::ops::Range<usize>| {
            s[range]
                .iter()
                .fold(0i16, |n, b| n * 10 + i16::from(b - b'0'))
        };
        Date::new(number(0..4), number(5..7) as i8, number(8..10) as i8).ok()
    }

    #[test]
    fn dashed_dates_parse_as_read_byte_by_byte() {
        let mut day = Date::new(1599, 12, 25).unwrap();
        while day < Date::new(2401, 1, 5).unwrap() {
            let text = day.to_string();
            let bytes: &[u8; 10] = text.as_bytes().try_into().unwrap();
            assert_eq!(parse_dashed(bytes), Some(day), "{text}");
            day = day.tomorrow().unwrap();
        }
        // Every byte of a date swapped for neighbours of digits and dashes,
        // and impossible months and days.
        let alphabet = b"/0189:-,.a \x00\xff";
        for base in [
            *b"2024-02-29",
            *b"2023-02-29",
            *b"2024-13-01",
            *b"2024-00-10",
            *b"0000-01-01",
        ] {
            assert_eq!(parse_dashed(&base), dashed_by_bytes(&base));
            for i in 0..10 {
                for &b in alphabet {
                    let mut text = base;
                    text[i] = b;
                    assert_eq!(parse_dashed(&text), dashed_by_bytes(&text), "{text:?}");
                }
            }
        }
        for text in [b"2024-12-32", b"2024-04-31", b"9999-12-31", b"2024-1a-01"] {
            assert_eq!(parse_dashed(text), dashed_by_bytes(text));
        }
    }

    #[test]
    fn dashed_dates_read_like_compact_ones() {
        // The compact YYYYMMDD path is the reference for the dashed fast path.
        let mut texts: Vec<String> = Vec::new();
        for year in [
            "0000", "1899", "1900", "2000", "2023", "2024", "9999", "20a4", " 202",
        ] {
            for month in ["00", "01", "02", "09", "12", "13", "1-", "x1"] {
                for day in ["00", "01", "28", "29", "30", "31", "32", "0/", "3:"] {
                    texts.push(format!("{year}-{month}-{day}"));
                }
            }
        }
        for text in &texts {
            let compact: String = text.chars().filter(|c| *c != '-').collect();
            let expected = if compact.len() == 8 {
                parse_date(compact.as_bytes())
            } else {
                None
            };
            assert_eq!(parse_date(text.as_bytes()), expected, "{text}");
            assert_eq!(
                parse_moment(text.as_bytes()).map(|m| m.date),
                expected,
                "{text}"
            );
        }
        for wrong in ["2024/01/01", "2024-01/01", "2024_01-01", "+2024-1-01"] {
            assert_eq!(parse_date(wrong.as_bytes()), None, "{wrong}");
        }
    }

    #[test]
    fn parses_the_accepted_date_shapes() {
        assert_eq!(parse_date(b"2024-02-29"), Some(date(2024, 2, 29)));
        // Ten bytes that are not a dashed date are still trimmed and read.
        assert_eq!(parse_date(b" 20240229 "), Some(date(2024, 2, 29)));
        assert_eq!(
            parse_moment(b" 20240229 ").map(|m| m.date),
            Some(date(2024, 2, 29))
        );
        assert_eq!(parse_date(b"  2024-2-9"), None);
        assert_eq!(parse_date(b"2023-02-29"), None);
        assert_eq!(parse_date(b"2024-13-01"), None);
        assert_eq!(parse_date(b"2024-1-01"), None);
        assert_eq!(parse_date(b""), None);
        assert_eq!(parse_date(b"2024/01/01"), None);
    }

    #[test]
    fn parses_timestamps() {
        let m = parse_moment(b"2024-03-05 08:30").unwrap();
        assert_eq!(m.date, date(2024, 3, 5));
        assert_eq!(m.second_of_day(), Some(8 * 3600 + 30 * 60));
        let m = parse_moment(b"2024-03-05T23:59:59").unwrap();
        assert_eq!(m.second_of_day(), Some(86_399));
        assert_eq!(parse_moment(b"2024-03-05").unwrap().second_of_day(), None);
        assert_eq!(parse_moment(b"2024-03-05 24:00"), None);
        assert_eq!(parse_moment(b"2024-03-05x08:30"), None);
    }

    #[test]
    fn eighteen_month_windows_match_the_spec() {
        let w = Window::months_ending(date(2024, 12, 31), 18).unwrap();
        assert_eq!((w.first, w.last), (date(2023, 7, 1), date(2024, 12, 31)));
        let w = Window::months_ending(date(2024, 2, 29), 18).unwrap();
        assert_eq!((w.first, w.last), (date(2022, 9, 1), date(2024, 2, 29)));
        // 2024-08-30 + 1 day = 2024-08-31; minus 18 months = 2023-02-31, clamped.
        let w = Window::months_ending(date(2024, 8, 30), 18).unwrap();
        assert_eq!(w.first, date(2023, 2, 28));
        assert_eq!(w.label(), "2023-02-28/2024-08-30");
    }

    #[test]
    fn window_bounds_are_inclusive() {
        let w = Window::months_ending(date(2024, 12, 31), 18).unwrap();
        assert!(w.contains(date(2023, 7, 1)));
        assert!(!w.contains(date(2023, 6, 30)));
        assert!(w.contains(date(2024, 12, 31)));
        assert!(!w.contains(date(2025, 1, 1)));
    }

    #[test]
    fn input_span_is_the_first_to_the_last_date() {
        let span = PeriodSpec::InputSpan;
        let w = span
            .window(Some(date(2024, 1, 5)), Some(date(2024, 3, 2)))
            .unwrap()
            .unwrap();
        assert_eq!(w.label(), "2024-01-05/2024-03-02");
        assert_eq!(span.window(None, None).unwrap(), None);
        let fixed = PeriodSpec::Fixed(w);
        assert_eq!(fixed.window(None, None).unwrap(), Some(w));
    }

    #[test]
    fn months_are_clipped_to_the_window() {
        let w = Window::new(date(2024, 1, 15), date(2024, 3, 2)).unwrap();
        let labels: Vec<String> = w
            .months()
            .iter()
            .map(|m| format!("{} {}", m.period_label(Granularity::Month), m.label()))
            .collect();
        assert_eq!(
            labels,
            [
                "2024-01 2024-01-15/2024-01-31",
                "2024-02 2024-02-01/2024-02-29",
                "2024-03 2024-03-01/2024-03-02",
            ]
        );
        assert_eq!(w.parts(Granularity::Whole), vec![w]);
        let one_day = Window::new(date(2024, 12, 31), date(2024, 12, 31)).unwrap();
        assert_eq!(one_day.months(), vec![one_day]);
    }

    #[test]
    fn month_labels() {
        assert_eq!(month_label(date(2024, 3, 31)), "2024-03");
        assert_eq!(month_label(date(987, 12, 1)), "0987-12");
    }

    #[test]
    fn day_numbers_count_days_across_leap_years_and_eras() {
        assert_eq!(day_number(date(1970, 1, 1)), 0);
        assert_eq!(
            day_number(date(2000, 3, 1)) - day_number(date(2000, 2, 28)),
            2
        );
        assert_eq!(
            day_number(date(1900, 3, 1)) - day_number(date(1900, 2, 28)),
            1
        );
        let epoch = date(1970, 1, 1);
        for day in [
            date(-9999, 1, 1),
            date(1, 1, 1),
            date(1600, 2, 29),
            date(9999, 12, 31),
        ] {
            assert_eq!(day_number(day), epoch.until(day).unwrap().get_days());
        }
        let mut previous = day_number(date(1599, 12, 31));
        let mut day = date(1600, 1, 1);
        while day < date(2401, 1, 1) {
            let number = day_number(day);
            assert_eq!(number, previous + 1, "{day}");
            previous = number;
            day = day.tomorrow().unwrap();
        }
    }

    #[test]
    fn day_numbers_count_calendar_days() {
        assert_eq!(day_number(date(1970, 1, 1)), 0);
        assert_eq!(days_between(date(2024, 3, 5), date(2024, 3, 8)), 3);
        assert_eq!(days_between(date(2024, 2, 28), date(2024, 3, 1)), 2);
        assert_eq!(days_between(date(2023, 12, 31), date(2024, 1, 1)), 1);
        let a = date(1999, 5, 17);
        let b = date(2031, 11, 2);
        let jiff_days = a.until(b).unwrap().get_days();
        assert_eq!(days_between(a, b), jiff_days);
    }
}
