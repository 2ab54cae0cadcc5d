//! The man pages in `man/` are generated from the clap definitions; this
//! test fails when one is stale. Regenerate with `scripts/gen-man.sh`
//! (which runs this test with PVKIT_UPDATE_MAN=1).

use std::path::PathBuf;

fn render(command: clap::Command) -> Vec<u8> {
    let mut page = Vec::new();
    clap_mangen::Man::new(command)
        .render(&mut page)
        .expect("rendering to memory cannot fail");
    page
}

#[test]
fn man_pages_match_the_clap_definitions() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("man");
    let update = std::env::var_os("PVKIT_UPDATE_MAN").is_some();
    let mut stale = Vec::new();
    for command in pvkit::cli::man_pages() {
        let path = dir.join(format!("{}.1", command.get_name()));
        let page = render(command);
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
