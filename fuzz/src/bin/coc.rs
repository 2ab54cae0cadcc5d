//! pv-coc's row parser and computation: visits through the continuity
//! sink, every index, without a listing.

use pvkit::continuity::{self, Config, Index, Population, Shared, VisitSink};
use pvkit::input::{self, Source};
use pvkit::period::PeriodSpec;

fn main() {
    pvkit_fuzz::init();
    let config = Config {
        period: PeriodSpec::EndingAtLatest { months: 18 },
        min_visits: 1,
        professions: None,
        contact_types: vec!["physical".into(), "home".into()],
        indexes: Index::ALL.to_vec(),
        per_patient: true,
    };
    afl::fuzz!(|data: &[u8]| {
        let Some((options, file)) = pvkit_fuzz::options_and_file(data) else {
            return;
        };
        let path = pvkit_fuzz::scratch_file(file);
        let mut rejects = pvkit_fuzz::rejects();
        let shared = Shared::new(&config, Population::Visited);
        let Ok(result) = input::read(
            &[Source::File(path)],
            &continuity::VISITS,
            &options,
            &mut rejects,
            |columns| VisitSink::new(&shared, columns),
        ) else {
            return;
        };
        let folded = result
            .sinks
            .into_iter()
            .map(VisitSink::into_folded)
            .collect();
        let _ = continuity::finish(folded, shared);
    });
    pvkit_fuzz::remove_files();
}
