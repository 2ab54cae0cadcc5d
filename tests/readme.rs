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

#[test]
fn readme_examples_run() {
    let examples = examples();
    assert!(
        examples.len() >= 5,
        "expected the README's examples, found {examples:?}"
    );
    for example in examples {
        let command = [
            ("pv-coc ", env!("CARGO_BIN_EXE_pv-coc")),
            ("pv-listing-diff ", env!("CARGO_BIN_EXE_pv-listing-diff")),
        ]
        .iter()
        .fold(example.clone(), |command, (name, binary)| {
            command.replace(name, &format!("{binary} "))
        });
        let output = Command::new("bash")
            .arg("-c")
            .arg(format!("set -eo pipefail; {command}"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{example}\nfailed: {stderr}");
        assert!(!output.stdout.is_empty(), "{example}\nprinted nothing");
        assert!(!stderr.contains("error"), "{example}\n{stderr}");
    }
}
