//! pv-access's computation: phone accessibility (0:an, [`phone`]) and
//! medical assessment within 3 days (3:an, [`assessment`]). No I/O.
//!
//! Both fold their rows on every reader thread into small counts keyed by
//! unit × day × group ([`DayCounts`]), so memory grows with units × days,
//! never with rows. After the read the sinks are merged, the window is
//! resolved (by default the span of days in the input), and the day counts
//! are summed into the window's parts (the whole window or its months),
//! which become one measure per indicator × unit × part × group.

pub mod assessment;
pub mod phone;

use hashbrown::HashMap;
use jiff::civil::Date;

use crate::input::{Col, Row, RowError};
use crate::intern::{NameCache, Names};
use crate::output::ALL_UNITS;
use crate::period::{Granularity, Window};

/// What day counts are: added up when sinks merge and when days are
/// summed into parts.
pub trait Tally: Default + Clone {
    fn add(&mut self, other: &Self);
}

/// Where a day cell is: unit, day and group ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct DayKey {
    unit: u32,
    day: Date,
    group: u32,
}

/// One thread's counts per unit × day × group, and the days it saw.
#[derive(Clone, Debug)]
pub struct DayCounts<T> {
    cells: HashMap<DayKey, T>,
    earliest: Option<Date>,
    latest: Option<Date>,
}

impl<T> Default for DayCounts<T> {
    fn default() -> Self {
        DayCounts {
            cells: HashMap::new(),
            earliest: None,
            latest: None,
        }
    }
}

impl<T: Tally> DayCounts<T> {
    /// The counts of one cell, created empty.
    pub fn cell(&mut self, unit: u32, day: Date, group: u32) -> &mut T {
        self.earliest = Some(self.earliest.map_or(day, |d| d.min(day)));
        self.latest = Some(self.latest.map_or(day, |d| d.max(day)));
        self.cells.entry(DayKey { unit, day, group }).or_default()
    }

    pub fn merge(&mut self, other: DayCounts<T>) {
        for (key, counts) in other.cells {
            self.cells.entry(key).or_default().add(&counts);
        }
        self.earliest = match (self.earliest, other.earliest) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        // None is below every date, so max keeps a known one.
        self.latest = self.latest.max(other.latest);
    }

    pub fn earliest(&self) -> Option<Date> {
        self.earliest
    }

    pub fn latest(&self) -> Option<Date> {
        self.latest
    }

    /// Sums the days inside `window` into its parts, each day's counts
    /// first turned into `U` by `resolve` (which may depend on the day).
    /// Days outside the window are summed into the returned `outside`.
    pub fn into_parts<U: Tally>(
        self,
        window: Window,
        granularity: Granularity,
        resolve: impl Fn(Date, &T) -> U,
    ) -> (Parts<U>, T) {
        let parts = window.parts(granularity);
        let mut cells: HashMap<(u32, usize, u32), U> = HashMap::new();
        let mut outside = T::default();
        for (key, counts) in self.cells {
            match part_of(&parts, key.day) {
                Some(part) => cells
                    .entry((key.unit, part, key.group))
                    .or_default()
                    .add(&resolve(key.day, &counts)),
                None => outside.add(&counts),
            }
        }
        let parts = Parts {
            granularity,
            parts,
            cells,
        };
        (parts, outside)
    }
}

/// Counts per unit × part of the window × group.
pub struct Parts<U> {
    granularity: Granularity,
    parts: Vec<Window>,
    cells: HashMap<(u32, usize, u32), U>,
}

/// One cell of [`Parts`] with its names.
pub struct PartCell<'a, U> {
    pub unit: &'a str,
    /// The `period` column's value.
    pub period: String,
    pub group: &'a str,
    pub counts: &'a U,
}

impl<U: Tally> Parts<U> {
    /// Every cell, named (in no particular order: the report sorts).
    pub fn cells<'a>(
        &'a self,
        units: &'a Names,
        groups: &'a Names,
    ) -> impl Iterator<Item = PartCell<'a, U>> + 'a {
        let labels: Vec<String> = self
            .parts
            .iter()
            .map(|p| p.period_label(self.granularity))
            .collect();
        self.cells
            .iter()
            .map(move |(&(unit, part, group), counts)| PartCell {
                unit: units.name(unit),
                period: labels[part].clone(),
                group: groups.name(group),
                counts,
            })
    }

    /// The counts of every cell added up.
    pub fn total(&self) -> U {
        let mut total = U::default();
        for counts in self.cells.values() {
            total.add(counts);
        }
        total
    }
}

/// Which of the contiguous, ordered `parts` holds `day`.
fn part_of(parts: &[Window], day: Date) -> Option<usize> {
    let i = parts.partition_point(|p| p.last < day);
    parts.get(i).filter(|p| p.contains(day)).map(|_| i)
}

/// Groups when the run has none: the one group with an empty name.
pub fn no_groups() -> Names {
    let mut names = Names::default();
    names.id("");
    names
}

/// A row's interned unit; without a unit column the whole input is one
/// unit, ALL.
fn unit_id(units: &mut NameCache<'_>, row: &Row<'_>, col: Col) -> Result<u32, RowError> {
    if !col.is_present() {
        return Ok(units.id(ALL_UNITS));
    }
    units
        .id_bytes(row.required(col)?)
        .map_err(|_| RowError::not_utf8(col))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[derive(Clone, Debug, Default, PartialEq)]
    struct N(u64);

    impl Tally for N {
        fn add(&mut self, other: &Self) {
            self.0 += other.0;
        }
    }

    #[test]
    fn days_fall_into_the_months_of_the_window() {
        let mut counts = DayCounts::<N>::default();
        for (day, n) in [
            (date(2024, 1, 31), 1),
            (date(2024, 2, 1), 2),
            (date(2024, 2, 29), 4),
            (date(2024, 3, 1), 8),
            (date(2023, 12, 31), 16),
        ] {
            counts.cell(0, day, 0).0 += n;
        }
        let mut other = DayCounts::<N>::default();
        other.cell(0, date(2024, 2, 1), 0).0 += 32;
        counts.merge(other);
        assert_eq!(counts.earliest(), Some(date(2023, 12, 31)));
        assert_eq!(counts.latest(), Some(date(2024, 3, 1)));
        let window = Window::new(date(2024, 1, 1), date(2024, 2, 29)).unwrap();
        let (parts, outside) = counts.into_parts(window, Granularity::Month, |_, n| n.clone());
        assert_eq!(outside, N(24));
        let units = {
            let mut names = Names::default();
            names.id("A");
            names
        };
        let groups = no_groups();
        let mut cells: Vec<(String, u64)> = parts
            .cells(&units, &groups)
            .map(|c| (c.period, c.counts.0))
            .collect();
        cells.sort();
        assert_eq!(
            cells,
            [("2024-01".to_string(), 1), ("2024-02".to_string(), 38)]
        );
        assert_eq!(parts.total(), N(39));
    }

    #[test]
    fn a_day_between_parts_is_in_none() {
        let parts = [Window::new(date(2024, 1, 1), date(2024, 1, 31)).unwrap()];
        assert_eq!(part_of(&parts, date(2024, 1, 31)), Some(0));
        assert_eq!(part_of(&parts, date(2024, 2, 1)), None);
        assert_eq!(part_of(&parts, date(2023, 12, 31)), None);
    }
}
