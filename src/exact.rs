//! Order-independent sums of fractions.
//!
//! Patient values (indexes in 0..=1) are summed by several threads in an
//! order that depends on scheduling. Floating-point addition is not
//! associative, so the sums are kept in fixed point (2^-64 units, u128):
//! integer addition is, and output bytes stay the same for any thread count.

use std::ops::AddAssign;

const ONE: f64 = 18_446_744_073_709_551_616.0; // 2^64

/// A sum of values in 0..=1, exact up to 2^-64 per term.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExactSum(u128);

impl ExactSum {
    /// Adds one value, clamped to 0..=1.
    pub fn add(&mut self, value: f64) {
        let clamped = value.clamp(0.0, 1.0);
        self.0 += (clamped * ONE).round() as u128;
    }

    pub fn value(self) -> f64 {
        self.0 as f64 / ONE
    }
}

impl AddAssign for ExactSum {
    fn add_assign(&mut self, other: ExactSum) {
        self.0 += other.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_do_not_depend_on_order() {
        let values: Vec<f64> = (1..2000).map(|i| 1.0 / f64::from(i)).collect();
        let mut forward = ExactSum::default();
        values.iter().for_each(|&v| forward.add(v));
        let mut backward = ExactSum::default();
        values.iter().rev().for_each(|&v| backward.add(v));
        assert_eq!(forward, backward);
        let naive: f64 = values.iter().sum();
        assert!((forward.value() - naive).abs() < 1e-9);
    }

    #[test]
    fn partial_sums_merge() {
        let mut a = ExactSum::default();
        a.add(0.25);
        let mut b = ExactSum::default();
        b.add(0.5);
        b.add(1.0);
        a += b;
        assert_eq!(a.value(), 1.75);
    }
}
