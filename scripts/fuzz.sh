#!/usr/bin/env bash
# scripts/fuzz.sh: run the AFL++ fuzz targets of fuzz/ (stable Rust, cargo-afl).
#
# Usage: scripts/fuzz.sh [--minutes M] [TARGET...]
#
#   TARGET     fuzz/src/bin/<TARGET>.rs; default: every target, one after the
#              other (two at a time on a machine with 2 or more cores)
#   --minutes  how long each target runs (default 10)
#
# Needs cargo-afl once: `cargo install cargo-afl && cargo afl config --build`
# (a C compiler and make; no nightly, no LLVM). Seeds are fuzz/corpus/<TARGET>/
# (the first byte of each seed picks delimiter, encoding, --skip-invalid and
# threads, see fuzz/src/lib.rs); findings go to fuzz/out/<TARGET>/ (ignored by
# git). A crash found there becomes a regression test: copy the file to
# testdata/bad/fuzz/ and add its case to tests/bad_input.rs.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../fuzz"
MINUTES=10
TARGETS=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --minutes) MINUTES="$2"; shift 2 ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) TARGETS+=("$1"); shift ;;
    esac
done
if [[ ${#TARGETS[@]} -eq 0 ]]; then
    for file in src/bin/*.rs; do TARGETS+=("$(basename "$file" .rs)"); done
fi

cargo afl build --release
export AFL_SKIP_CPUFREQ=1 AFL_NO_UI=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
mkdir -p out
run() {
    local target="$1"
    echo "fuzzing $target for $MINUTES minutes"
    cargo afl fuzz -i "corpus/$target" -o "out/$target" -V "$((MINUTES * 60))" \
        "target/release/$target" > "out/$target.log" 2>&1 || true
    local stats="out/$target/default/fuzzer_stats"
    echo "$target: $(grep -E '^(execs_done|run_time|saved_crashes|saved_hangs)' "$stats" | tr -s ' ' | tr '\n' ' ')"
}
parallel=$(( $(nproc) >= 2 ? 2 : 1 ))
for target in "${TARGETS[@]}"; do
    run "$target" &
    while [[ $(jobs -r | wc -l) -ge $parallel ]]; do wait -n; done
done
wait
crashes=$(find out/*/default/crashes -type f ! -name README.txt 2>/dev/null | wc -l)
echo "crashes saved: $crashes"
[[ $crashes -eq 0 ]]
