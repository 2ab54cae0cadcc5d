//! pvkit: Swedish primary care (primärvård) follow-up indicators from CSV
//! exports.
//!
//! Data flows one way: bytes → records ([`input`]) → typed rows folded by a
//! computation module ([`continuity`], [`access`], [`coverage`] …, pure, no I/O) → unit-level
//! measures → rows ([`report`]) → writers ([`output`]). The binaries in
//! `src/bin/` only wire these together.

pub mod access;
pub mod catalogue;
pub mod cli;
pub mod continuity;
pub mod coverage;
pub mod dayfolds;
pub mod exact;
pub mod far;
pub mod filed;
pub mod input;
pub mod intern;
pub mod keyindex;
pub mod listing;
pub mod listing_diff;
pub mod output;
pub mod period;
pub mod report;
pub mod staffing;
pub mod suppress;
pub mod units;
