//! Progress on stderr for long reads of files: shown only when allowed
//! (stderr a terminal, no `--quiet`) and only once a read has run for two
//! seconds, so short runs, pipes and cron jobs never see it.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Source;

const QUIET_PERIOD: Duration = Duration::from_secs(2);

pub(crate) struct Progress {
    enabled: bool,
    started: Instant,
    /// Sizes of the file inputs, when every input is a file.
    sizes: Option<Vec<u64>>,
    bar: Option<ProgressBar>,
}

impl Progress {
    pub(crate) fn new(allowed: bool, sources: &[Source]) -> Progress {
        let sizes: Option<Vec<u64>> = sources
            .iter()
            .map(|s| match s {
                Source::File(path) => std::fs::metadata(path).ok().map(|m| m.len()),
                Source::Stdin => None,
            })
            .collect();
        let enabled = allowed && sizes.is_some() && std::io::stderr().is_terminal();
        Progress {
            enabled,
            started: Instant::now(),
            sizes,
            bar: None,
        }
    }

    /// Reports that input `index` has had `consumed` bytes read.
    pub(crate) fn advance(&mut self, index: usize, consumed: u64, _size: Option<u64>) {
        if !self.enabled {
            return;
        }
        let Some(sizes) = &self.sizes else { return };
        let position = sizes[..index].iter().sum::<u64>() + consumed;
        if self.bar.is_none() && self.started.elapsed() >= QUIET_PERIOD {
            let total = sizes.iter().sum();
            // Start from where the read is, so the rate is not a jump from zero.
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
                .with_position(position)
                .with_elapsed(self.started.elapsed());
            let style = ProgressStyle::with_template(
                "{spinner} reading {binary_bytes}/{binary_total_bytes} {msg} {wide_bar}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            self.bar = Some(bar);
        }
        if let Some(bar) = &self.bar {
            // Rate over the whole read: indicatif's own estimate starts when
            // the bar appears, two seconds in, and jumps at first.
            let seconds = self.started.elapsed().as_secs_f64().max(0.001);
            let rate = position as f64 / seconds;
            let left = (sizes.iter().sum::<u64>().saturating_sub(position)) as f64 / rate.max(1.0);
            bar.set_message(format!(
                "({:.0} MiB/s, {left:.0} s left)",
                rate / 1_048_576.0
            ));
            bar.set_position(position);
        }
    }

    pub(crate) fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
