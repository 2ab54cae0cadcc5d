//! Runs every command of README.md's "Examples" section with the built
//! binaries, so the documented pipelines stay true.

use std::path::Path;
use std::process::Command;

fn examples() -> Vec<String> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = readme
        .split("## Examples")
        .nth(1)
        .expect("README has an Examples section");
    let block = section
        .split("```sh")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a sh block");
    block
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// The directory of the binaries under test first, so that `pv-coc …` in
/// an example runs the build being tested.
fn search_path() -> std::ffi::OsString {
    let built = Path::new(env!("CARGO_BIN_EXE_pv-coc")).parent().unwrap();
    let mut dirs = vec![built.to_path_buf()];
    dirs.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(dirs).unwrap()
}

#[test]
fn readme_examples_run() {
    let examples = examples();
    assert!(
        examples.len() >= 5,
        "expected the README's examples, found {examples:?}"
    );
    for example in examples {
        let output = Command::new("bash")
            .arg("-c")
            .arg(format!("set -eo pipefail; {example}"))
            .env("PATH", search_path())
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{example}\nfailed: {stderr}");
        assert!(!output.stdout.is_empty(), "{example}\nprinted nothing");
        assert!(!stderr.contains("error"), "{example}\n{stderr}");
    }
}
