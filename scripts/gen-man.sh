#!/bin/sh
# Regenerates man/*.1 from the clap definitions (see tests/man_pages.rs).
set -eu
cd "$(dirname "$0")/.."
PVKIT_UPDATE_MAN=1 cargo test --quiet --test man_pages
ls -l man/
