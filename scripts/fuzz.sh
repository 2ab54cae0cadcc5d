#!/usr/bin/env bash
# scripts/fuzz.sh: run the AFL++ fuzz targets of fuzz/ (stable Rust, cargo-afl).
#
# Usage: scripts/fuzz.sh [--minutes M] [TARGET...]
#
#   TARGET     fuzz/src/bin/<TARGET>.rs; default: every target, one after the
#              other (two at a time on a machine with 2 or more cores)
#   --minutes  how long each target runs (default 10)
#
# The record of issue 8: `nice -n 19 scripts/fuzz.sh --minutes 10` (every
# target 10 minutes, about an hour on 2 cores); the table it ends with is
# also in fuzz/out/summary.txt. A run that saved a crash exits 1.
#
# Targets (each runs the library as its binary does, from the read to the
# written rows):
#   input              the input layer: sniffing, BOM, decoding, header
#                      matching, chunked splitting, every field accessor
#   coc                pv-coc: visits through the continuity sink and indexes
#   access_phone       pv-access phone: calls, same-day shares, the payment
#   access_assessment  pv-access assessment: contacts, assessed within N days
#   coverage_visits    pv-coverage care/reach: visits against a fixed listing
#   coverage_dialogue  pv-coverage health-dialogue: activities, fixed listing
#   coverage_listing   pv-coverage named-doctor/doctors/health-dialogue with
#                      the listing fuzzed
#   far                pv-far: activities per 1000 listed, the payment
#   listing_diff       pv-listing-diff: NEW against a fixed OLD, or OLD against
#                      a fixed NEW; rows and flows
#   listing            the listing loader with each duplicate policy
#   side_files         units, listed counts, staffing, monthly targets files
# Fixed side files are fixtures of testdata/ compiled into the targets.
#
# Needs cargo-afl once: `cargo install cargo-afl && cargo afl config --build`
# (a C compiler and make; no nightly, no LLVM). Seeds are fuzz/corpus/<TARGET>/:
# byte 1 of a test case picks delimiter, encoding, --skip-invalid and threads;
# for every target but input and coc byte 2 picks what the target varies
# (period, breakdown, duplicate policy …, see the target's header and
# fuzz/src/lib.rs); the rest is the file. A seed from a fixture:
#   { printf '\x00\x06'; cat testdata/access/calls.csv; } > fuzz/corpus/access_phone/calls-0006.csv
# Findings go to fuzz/out/<TARGET>/default/{crashes,hangs}/ (ignored by git; a
# rerun moves the previous out/<TARGET> to out/<TARGET>.prev); a hang is a
# test case running over 1 s. To triage one:
#   PVKIT_FUZZ_VERBOSE=1 fuzz/target/release/<TARGET> < FILE   (prints errors)
#   cd fuzz && cargo afl tmin -i FILE -o min.bin -- target/release/<TARGET>
# far's hangs so far are slow, not stuck: --by month over a period of
# centuries (a typo year such as 1024) is one row per unit and month.
# A crash becomes a regression test: the file without its option bytes goes
# to testdata/bad/fuzz/, its case (through the real binary: exit 0 or 1, a
# clear message, no panic) to tests/fuzz_regressions.rs (made with the first).
# The targets write their files in a directory of this run (in /dev/shm when
# there is one), removed at the end.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here/../fuzz"
MINUTES=10
TARGETS=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --minutes) MINUTES="$2"; shift 2 ;;
        -h|--help) sed -n '2,50p' "$here/fuzz.sh"; exit 0 ;;
        *) TARGETS+=("$1"); shift ;;
    esac
done
if [[ ${#TARGETS[@]} -eq 0 ]]; then
    for file in src/bin/*.rs; do TARGETS+=("$(basename "$file" .rs)"); done
fi

cargo afl build --release
# No CPU binding: the machine is shared. A test case running over 1 s is a hang.
export AFL_SKIP_CPUFREQ=1 AFL_NO_UI=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1
base=/dev/shm
[[ -d $base ]] || base="${TMPDIR:-/tmp}"
PVKIT_FUZZ_DIR="$(mktemp -d "$base/pvkit-fuzz-run.XXXXXX")"
export PVKIT_FUZZ_DIR
trap 'rm -rf "$PVKIT_FUZZ_DIR"' EXIT
mkdir -p out
run() {
    local target="$1"
    echo "fuzzing $target for $MINUTES minutes"
    if [[ -e "out/$target" ]]; then
        rm -rf "out/$target.prev"
        mv "out/$target" "out/$target.prev"
    fi
    cargo afl fuzz -i "corpus/$target" -o "out/$target" -t 1000 -V "$((MINUTES * 60))" \
        "target/release/$target" > "out/$target.log" 2>&1 || true
    echo "$target done"
}
parallel=$(( $(nproc) >= 2 ? 2 : 1 ))
for target in "${TARGETS[@]}"; do
    run "$target" &
    while [[ $(jobs -r | wc -l) -ge $parallel ]]; do wait -n; done
done
wait

stat() { grep -E "^$1 " "$2" | sed 's/.*: *//'; }
failed=0
{
    printf '%-18s %12s %8s %8s %6s\n' target execs minutes crashes hangs
    for target in "${TARGETS[@]}"; do
        stats="out/$target/default/fuzzer_stats"
        if [[ ! -f $stats ]]; then
            printf '%-18s did not run, see fuzz/out/%s.log\n' "$target" "$target"
            failed=1
            continue
        fi
        crashes=$(stat saved_crashes "$stats")
        printf '%-18s %12s %8s %8s %6s\n' "$target" "$(stat execs_done "$stats")" \
            "$(( $(stat run_time "$stats") / 60 ))" "$crashes" "$(stat saved_hangs "$stats")"
        [[ $crashes -eq 0 ]] || failed=1
    done
} > out/summary.txt
cat out/summary.txt
exit "$failed"
