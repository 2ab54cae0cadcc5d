//! Counts per small key (a reason, a unit id) and day, for rows whose
//! period is only known once every row has been read (`--months` ending at
//! the latest date): each day may still fall in or out of it.
//!
//! Hot loops fold millions of rows into these, so the days a run actually
//! has (a few years at most) sit in one dense vector indexed by day and
//! key; a date far from them (a typo like 1024-05-01) goes to a map, so a
//! bad row costs a map entry, not memory for every day in between.

use hashbrown::HashMap;
use jiff::civil::Date;

use crate::period;

/// Most days the dense part spans (about forty years) …
const MAX_DENSE_DAYS: i64 = 40 * 366;
/// … and most folds it holds, so that many keys (units) times a typo'd
/// date decades away cannot make it big; such days go to the map.
const MAX_DENSE_FOLDS: usize = 1 << 20;

pub struct DayFolds<V> {
    /// Keys per day in the dense part; larger keys go to the map.
    width: usize,
    /// Most days the dense part may span.
    max_days: i64,
    /// The first day of the dense part, as a day number and a date.
    first: Option<(i64, Date)>,
    dense: Vec<V>,
    sparse: HashMap<(u32, Date), V>,
}

impl<V: Default + Clone + PartialEq> DayFolds<V> {
    /// Folds for keys below `width` (others are kept too, less compactly).
    pub fn new(width: usize) -> DayFolds<V> {
        let width = width.max(1);
        DayFolds {
            width,
            max_days: MAX_DENSE_DAYS.min((MAX_DENSE_FOLDS / width).max(1) as i64),
            first: None,
            dense: Vec::new(),
            sparse: HashMap::new(),
        }
    }

    /// The fold of `key` on `date`.
    #[inline]
    pub fn at(&mut self, key: u32, date: Date) -> &mut V {
        let day = i64::from(period::day_number(date));
        match self.first {
            Some((first, _)) if day >= first && (key as usize) < self.width => {
                let index = (day - first) as usize * self.width + key as usize;
                if index < self.dense.len() {
                    return &mut self.dense[index];
                }
                self.slow(key, date, day)
            }
            _ => self.slow(key, date, day),
        }
    }

    /// Grows the dense part to cover `day` when that keeps it within
    /// its limits, or else uses the map.
    #[cold]
    fn slow(&mut self, key: u32, date: Date, day: i64) -> &mut V {
        if (key as usize) >= self.width {
            return self.sparse.entry((key, date)).or_default();
        }
        let (first, first_date) = *self.first.get_or_insert((day, date));
        let days = (self.dense.len() / self.width) as i64;
        if day < first {
            // Room for as many days again before, so a run that meets its
            // dates in falling order re-lays the vector only a few times.
            let new_first = (first - days.max(first - day)).max(first + days - self.max_days);
            if day < new_first {
                return self.sparse.entry((key, date)).or_default();
            }
            let added = (first - new_first) as usize * self.width;
            let mut dense = vec![V::default(); added];
            dense.append(&mut self.dense);
            self.dense = dense;
            self.first = Some((new_first, date_after(first_date, new_first - first)));
        } else if day - first >= self.max_days {
            return self.sparse.entry((key, date)).or_default();
        } else {
            let wanted = (day - first + 1).max(days * 2).min(self.max_days) as usize;
            self.dense.resize(wanted * self.width, V::default());
        }
        let (first, _) = self.first.expect("set above");
        &mut self.dense[(day - first) as usize * self.width + key as usize]
    }

    /// Every fold that differs from the default, with its key and day.
    pub fn each(&self, mut each: impl FnMut(u32, Date, &V)) {
        let empty = V::default();
        if let Some((_, first_date)) = self.first {
            for (day, row) in self.dense.chunks(self.width).enumerate() {
                if row.iter().all(|value| *value == empty) {
                    continue;
                }
                let date = date_after(first_date, day as i64);
                for (key, value) in row.iter().enumerate() {
                    if *value != empty {
                        each(key as u32, date, value);
                    }
                }
            }
        }
        for (&(key, date), value) in &self.sparse {
            if *value != empty {
                each(key, date, value);
            }
        }
    }
}

fn date_after(date: Date, days: i64) -> Date {
    date.checked_add(jiff::Span::new().days(days))
        .expect("dense days lie between dates that were read")
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn folds_match_a_map_whatever_order_dates_come_in() {
        let dates = [
            date(2024, 6, 1),
            date(2024, 5, 31),
            date(2023, 1, 1),
            date(2025, 12, 31),
            date(1024, 5, 1),
            date(9999, 12, 31),
            date(2024, 6, 1),
            date(2020, 2, 29),
        ];
        let edges = [
            date(9999, 1, 1),
            date(9999, 12, 31),
            date(0, 3, 1),
            date(0, 1, 1),
        ];
        // Growing by doubling reaches past the last day jiff knows.
        let last_month: Vec<Date> = (1..=31).map(|d| date(9999, 12, d)).collect();
        for order in [&dates[..], &edges[..], &last_month[..]] {
            check_against_a_map(order, 3);
        }
        // Many keys: the dense part spans few days, the rest use the map.
        check_against_a_map(&last_month, MAX_DENSE_FOLDS / 10);
    }

    fn check_against_a_map(dates: &[Date], width: usize) {
        let mut folds = DayFolds::<u64>::new(width);
        let mut expected: HashMap<(u32, Date), u64> = HashMap::new();
        for (i, &day) in dates.iter().cycle().take(50).enumerate() {
            let key = (i * 7 % (width + 1)) as u32;
            *folds.at(key, day) += i as u64;
            *expected.entry((key, day)).or_default() += i as u64;
        }
        let mut got: HashMap<(u32, Date), u64> = HashMap::new();
        folds.each(|key, day, &n| assert!(got.insert((key, day), n).is_none()));
        expected.retain(|_, n| *n > 0);
        assert_eq!(got, expected);
        assert!(folds.dense.len() / folds.width <= folds.max_days as usize);
        assert!(folds.dense.len() <= MAX_DENSE_FOLDS.max(folds.width));
    }
}
