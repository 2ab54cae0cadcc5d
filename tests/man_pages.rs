//! The man pages in `man/` are generated from the clap definitions, one per
//! command and one per subcommand (`pv-access-phone.1`); this test fails
//! when one is stale or missing. Regenerate with `scripts/gen-man.sh`
//! (which runs this test with PVKIT_UPDATE_MAN=1).

use std::path::PathBuf;

/// The pages of `command` and of its subcommands, as clap_mangen's
/// `generate_to` names them: `pv-access.1`, `pv-access-phone.1` …
fn pages(command: clap::Command) -> Vec<(String, Vec<u8>)> {
    fn collect(command: clap::Command, pages: &mut Vec<(String, Vec<u8>)>) {
        for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
            collect(sub.clone(), pages);
        }
        let man = clap_mangen::Man::new(command);
        let mut page = Vec::new();
        man.render(&mut page)
            .expect("rendering to memory cannot fail");
        pages.push((man.get_filename(), page));
    }
    let mut command = command.disable_help_subcommand(true);
    command.build();
    let mut pages = Vec::new();
    collect(command, &mut pages);
    pages
}

#[test]
fn man_pages_match_the_clap_definitions() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("man");
    let update = std::env::var_os("PVKIT_UPDATE_MAN").is_some();
    let mut stale = Vec::new();
    for (name, page) in pvkit::cli::commands().into_iter().flat_map(pages) {
        let path = dir.join(name);
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &page).unwrap();
        } else if std::fs::read(&path).ok().as_deref() != Some(page.as_slice()) {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "stale man pages (run scripts/gen-man.sh): {stale:?}"
    );
}

#[test]
fn every_subcommand_has_its_own_page() {
    let names: Vec<String> = pvkit::cli::commands()
        .into_iter()
        .flat_map(pages)
        .map(|(name, _)| name)
        .collect();
    for expected in [
        "pv-coc.1",
        "pv-access.1",
        "pv-access-phone.1",
        "pv-access-assessment.1",
    ] {
        assert!(names.iter().any(|n| n == expected), "{expected}: {names:?}");
    }
}
