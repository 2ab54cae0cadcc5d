#!/usr/bin/env bash
# scripts/bench.sh: pvkit against the tools a region statistician already has.
#
# Usage: scripts/bench.sh [--sizes N,N,...] [--runs R] [--quick] [--cases LIST] [--big]
#                         [--threads T] [--seed S] [--regen] [--skip-build]
#                         [--report FILE]
#
#   --sizes    visit counts to generate and measure (default 1000000,3000000,10000000)
#   --runs     timed runs of every case at every size (default 5)
#   --quick    smoke run: --sizes 100000,300000 --runs 3 (numbers mean little)
#   --cases    only these case names, comma-separated (default: all)
#   --threads  threads each program may use (default 2): pvkit's --threads and
#              RAYON_NUM_THREADS, DuckDB `SET threads`, POLARS_MAX_THREADS
#   --seed     generator seed (default 42); data sets are generated once into
#              target/bench-data/<N> and reused (--regen regenerates them)
#   --report   also write the markdown report to FILE
#   --big      instead of the comparison: stream 50 M generated visit rows
#              through pv-coc on stdin and check that its peak memory stays
#              within its distinct keys (tests/big_input.rs; ~5 GB of disk)
#
# What it does (see BENCHMARKS.md): builds release (pv-coc, pv-coverage,
# pv-listing-diff, the parse_floor and synth examples), creates the Python virtual environment target/bench-venv with
# the pinned peers of scripts/bench/requirements.txt if missing, generates each
# data set once, runs every case once per size and checks that the tables agree
# (stops with exit 1 if they do not), then runs the cases round-robin --runs
# times per size, measuring wall time (bash's microsecond clock around the
# process), CPU time (user + sys) and peak RSS (both from `/usr/bin/time -v`),
# and prints a markdown report: machine facts, per-size medians and the ratios
# of the targets. Raw numbers, outputs and the report are kept in
# target/bench-results/<UTC timestamp>/.
#
# Adding a comparison (e.g. for pv-access): the benchmark is a table of cases.
#   1. Add lines "SUITE NAME FUNCTION" to CASES below. FUNCTION DATA_DIR sets the
#      array CMD to the command to time; the command writes its result table to
#      stdout (the runner redirects it to a file) and reads the data set in
#      DATA_DIR (the synth output: visits.csv, listing.csv, calls.csv, ...).
#   2. Define verify_SUITE OUT_DIR SIZE: it compares OUT_DIR/<case>.out of the
#      suite's cases and returns non-zero when they disagree (keep checkers in
#      scripts/bench/).
#   3. Add the suite's ratios to RATIOS (read by scripts/bench/report.py).
#   Python peers go in scripts/bench/ and their packages, pinned, in
#   scripts/bench/requirements.txt.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH="$ROOT/scripts/bench"
TARGET="$ROOT/target"
VENV="$TARGET/bench-venv"
PY="$VENV/bin/python"
PVCOC="$TARGET/release/pv-coc"
PVCOVERAGE="$TARGET/release/pv-coverage"
PVLISTINGDIFF="$TARGET/release/pv-listing-diff"
FLOOR="$TARGET/release/examples/parse_floor"
SYNTH="$TARGET/release/examples/synth"

SIZES="1000000,3000000,10000000"
RUNS=5
THREADS=2
SEED=42
ONLY=""
REGEN=0
BUILD=1
REPORT_FILE=""
BIG=0

# ---------------------------------------------------------------------------
# The cases: "SUITE NAME FUNCTION". Every case of a suite reads the same data
# set (target/bench-data/<N>, passed to FUNCTION as $1).
CASES=(
    "coc pv-coc       case_pvcoc"
    "coc duckdb       case_coc_duckdb"
    "coc duckdb-2step case_coc_duckdb_2step"
    "coc polars       case_coc_polars"
    "coc parse-floor  case_parse_floor"
    "coverage pv-coverage-care case_pvcoverage_care"
    "coverage duckdb-care      case_coverage_duckdb"
    "listing pv-listing-diff case_listing_pv"
    "listing listing-duckdb  case_listing_duckdb"
)

# Ratios: "SUITE|LABEL|METRIC|NUMERATOR CASE|DENOMINATOR CASE|OP|TARGET".
# METRIC is wall, cpu or rss (medians); OP is >= or <= (or - for no target).
# The target is judged at the largest size. A "scaling" line compares the
# case's median at the largest size with the smallest: its TARGET is a factor
# of the size ratio (1.1: 10x the visits may cost at most 11x).
RATIOS=(
    "coc|DuckDB wall / pv-coc wall (pv-coc faster)|wall|duckdb|pv-coc|>=|4"
    "coc|pv-coc peak RSS / DuckDB peak RSS|rss|pv-coc|duckdb|<=|0.5"
    "coc|pv-coc wall / parse-floor wall|wall|pv-coc|parse-floor|<=|2"
    "coc|DuckDB two-step wall / pv-coc wall|wall|duckdb-2step|pv-coc|-|"
    "coc|pv-coc peak RSS / DuckDB two-step peak RSS|rss|pv-coc|duckdb-2step|-|"
    "coc|polars wall / pv-coc wall|wall|polars|pv-coc|-|"
    "coc|pv-coc peak RSS / polars peak RSS|rss|pv-coc|polars|-|"
    "coc|DuckDB CPU / pv-coc CPU|cpu|duckdb|pv-coc|-|"
    "coc|polars CPU / pv-coc CPU|cpu|polars|pv-coc|-|"
    "coc|pv-coc CPU / parse-floor CPU|cpu|pv-coc|parse-floor|-|"
    "coc|scaling: pv-coc wall, largest / smallest size|wall|pv-coc|scaling|<=|1.1"
    "coverage|DuckDB wall / pv-coverage care wall (pv-coverage faster)|wall|duckdb-care|pv-coverage-care|>=|3"
    "coverage|pv-coverage care peak RSS / DuckDB peak RSS|rss|pv-coverage-care|duckdb-care|<=|0.5"
    "coverage|DuckDB CPU / pv-coverage care CPU|cpu|duckdb-care|pv-coverage-care|-|"
    "coverage|scaling: pv-coverage care wall, largest / smallest size|wall|pv-coverage-care|scaling|<=|1.1"
    "listing|DuckDB wall / pv-listing-diff wall (pv-listing-diff faster)|wall|listing-duckdb|pv-listing-diff|>=|3"
    "listing|DuckDB CPU / pv-listing-diff CPU|cpu|listing-duckdb|pv-listing-diff|-|"
    "listing|pv-listing-diff peak RSS / DuckDB peak RSS|rss|pv-listing-diff|listing-duckdb|-|"
)

case_pvcoc() {
    CMD=(env "RAYON_NUM_THREADS=$THREADS" "$PVCOC" --threads "$THREADS"
        --listing "$1/listing.csv" "$1/visits.csv" -q -f csv)
}
case_coc_duckdb() {
    CMD=("$PY" "$BENCH/coc_duckdb.py" --threads "$THREADS" "$1/visits.csv" "$1/listing.csv")
}
case_coc_duckdb_2step() {
    CMD=("$PY" "$BENCH/coc_duckdb.py" --two-step --threads "$THREADS" "$1/visits.csv" "$1/listing.csv")
}
case_coc_polars() {
    CMD=(env "POLARS_MAX_THREADS=$THREADS" "$PY" "$BENCH/coc_polars.py" "$1/visits.csv" "$1/listing.csv")
}
case_parse_floor() {
    CMD=("$FLOOR" "$1/visits.csv" "$1/listing.csv")
}
case_pvcoverage_care() {
    CMD=(env "RAYON_NUM_THREADS=$THREADS" "$PVCOVERAGE" care --threads "$THREADS"
        --listing "$1/listing.csv" "$1/visits.csv" -q -f csv)
}
case_coverage_duckdb() {
    CMD=("$PY" "$BENCH/coverage_duckdb.py" --threads "$THREADS" "$1/visits.csv" "$1/listing.csv")
}
# The two listing snapshots a year apart (about a third as many patients as
# visits: 3.3 M each at 10 M visits).
case_listing_pv() {
    CMD=(env "RAYON_NUM_THREADS=$THREADS" "$PVLISTINGDIFF" --threads "$THREADS"
        "$1/listing_old.csv" "$1/listing.csv" -q -f csv)
}
case_listing_duckdb() {
    CMD=("$PY" "$BENCH/listing_diff_duckdb.py" --threads "$THREADS" "$1/listing_old.csv" "$1/listing.csv")
}

# pv-coc and every peer that ran (all of them unless --cases) must give the
# same unit-level COC table.
verify_coc() {
    local peers=() peer
    for peer in duckdb duckdb-2step polars; do
        [ ! -f "$1/$peer.out" ] || peers+=("$peer=$1/$peer.out")
    done
    if [ ! -f "$1/pv-coc.out" ] || [ ${#peers[@]} = 0 ]; then
        say "coc: agreement not checked at $2 visits (pv-coc or both peers not selected)"
        return 0
    fi
    "$PY" "$BENCH/compare.py" "$1/pv-coc.out" "${peers[@]}" >&2
}

# pv-coverage care and DuckDB must give the same unit-level täckningsgrad.
verify_coverage() {
    if [ ! -f "$1/pv-coverage-care.out" ] || [ ! -f "$1/duckdb-care.out" ]; then
        say "coverage: agreement not checked at $2 visits (a case not selected)"
        return 0
    fi
    "$PY" "$BENCH/coverage_compare.py" "$1/pv-coverage-care.out" "duckdb-care=$1/duckdb-care.out" >&2
}

# pv-listing-diff's unit rows and DuckDB's must be equal.
verify_listing() {
    if [ ! -f "$1/pv-listing-diff.out" ] || [ ! -f "$1/listing-duckdb.out" ]; then
        say "listing: agreement not checked at $2 visits (pv-listing-diff or its peer not selected)"
        return 0
    fi
    "$PY" "$BENCH/listing_diff_compare.py" "$1/pv-listing-diff.out" "$1/listing-duckdb.out" >&2
}
# ---------------------------------------------------------------------------

die() { echo "bench: $*" >&2; exit 1; }
say() { echo "bench: $*" >&2; }

need_value() { if [ $# -lt 2 ] || [ -z "$2" ]; then die "$1 needs a value (see --help)"; fi; }
while [ $# -gt 0 ]; do
    case "$1" in
        --sizes|--runs|--cases|--threads|--seed|--report) need_value "$@" ;;&
        --sizes) SIZES="$2"; shift 2 ;;
        --runs) RUNS="$2"; shift 2 ;;
        --quick) SIZES="100000,300000"; RUNS=3; shift ;;
        --cases) ONLY="$2"; shift 2 ;;
        --threads) THREADS="$2"; shift 2 ;;
        --seed) SEED="$2"; shift 2 ;;
        --regen) REGEN=1; shift ;;
        --big) BIG=1; shift ;;
        --skip-build) BUILD=0; shift ;;
        --report) REPORT_FILE="$2"; shift 2 ;;
        -h|--help) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done
if [ "$BIG" = 1 ]; then
    cd "$ROOT" && exec cargo test --release --test big_input -- --ignored --nocapture
fi
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "--runs needs a positive number"
[[ "$THREADS" =~ ^[1-9][0-9]*$ ]] || die "--threads needs a positive number"
[[ "$SEED" =~ ^[0-9]+$ ]] || die "--seed needs a number"
[[ "$SIZES" =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || die "--sizes needs numbers separated by commas"
IFS=, read -r -a SIZE_LIST <<<"$SIZES"

# The selected cases, in table order.
SELECTED=()
for line in "${CASES[@]}"; do
    read -r suite name fn <<<"$line"
    if [ -z "$ONLY" ] || [[ ",$ONLY," == *",$name,"* ]]; then
        SELECTED+=("$suite $name $fn")
    fi
done
[ ${#SELECTED[@]} -gt 0 ] || die "no case matches --cases $ONLY"

# --- tools ------------------------------------------------------------------
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if [ ! -x /usr/bin/time ]; then
    say "installing GNU time (Debian package 'time') for /usr/bin/time"
    as_root apt-get update -qq && as_root apt-get install -y -qq time >/dev/null
fi
[ -x /usr/bin/time ] || die "/usr/bin/time is missing"

if [ "$BUILD" = 1 ]; then
    say "building release: pv-coc, pv-coverage, pv-listing-diff, examples parse_floor and synth"
    (cd "$ROOT" && cargo build --release --quiet --bin pv-coc --bin pv-coverage --bin pv-listing-diff --example parse_floor --example synth) \
        || die "cargo build failed"
fi
for bin in "$PVCOC" "$PVCOVERAGE" "$PVLISTINGDIFF" "$FLOOR"; do
    [ -x "$bin" ] || die "$bin is missing (run without --skip-build)"
done

REQS="$BENCH/requirements.txt"
if [ ! -x "$PY" ] || ! cmp -s "$REQS" "$VENV/.requirements"; then
    say "creating $VENV with $(tr '\n' ' ' <"$REQS")"
    rm -rf "$VENV"
    python3 -m venv "$VENV" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQS" || die "pip install failed"
    cp "$REQS" "$VENV/.requirements"
fi

# --- data -------------------------------------------------------------------
mkdir -p "$TARGET/bench-data"
for size in "${SIZE_LIST[@]}"; do
    dir="$TARGET/bench-data/$size"
    if [ "$REGEN" = 1 ] || [ ! -f "$dir/.complete" ]; then
        say "generating $size visits (seed $SEED) into $dir"
        [ -x "$SYNTH" ] || die "$SYNTH is missing (run without --skip-build)"
        rm -rf "$dir" "$dir.partial"
        "$SYNTH" --out "$dir.partial" --visits "$size" --seed "$SEED" >&2 || die "synth failed"
        for f in visits.csv listing.csv listing_old.csv; do
            [ -s "$dir.partial/$f" ] || die "synth wrote no $f"
        done
        echo "seed=$SEED visits=$size" >"$dir.partial/.complete"
        mv "$dir.partial" "$dir"
    elif ! grep -qx "seed=$SEED visits=$size" "$dir/.complete"; then
        die "$dir was generated with $(cat "$dir/.complete"), not seed $SEED: use --regen"
    fi
done

# --- measuring ----------------------------------------------------------------
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
RESULTS="$TARGET/bench-results/$STAMP"
mkdir -p "$RESULTS"
RAW="$RESULTS/raw.tsv"
printf 'suite\tsize\tcase\trun\twall_s\tuser_s\tsys_s\trss_kb\n' >"$RAW"

# run_case SUITE NAME FUNCTION SIZE RUN: one measured run; the table goes to
# $RESULTS/<size>/<name>.out, the measurement to $RAW.
run_case() {
    local suite="$1" name="$2" fn="$3" size="$4" run="$5"
    local dir="$RESULTS/$size" timing start end wall
    mkdir -p "$dir"
    timing="$dir/$name.time"
    "$fn" "$TARGET/bench-data/$size"
    start=$EPOCHREALTIME
    if ! /usr/bin/time -v -o "$timing" "${CMD[@]}" >"$dir/$name.out" 2>"$dir/$name.err"; then
        end=$EPOCHREALTIME
        cat "$dir/$name.err" >&2
        die "$name failed at $size visits: ${CMD[*]}"
    fi
    end=$EPOCHREALTIME
    wall=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.6f", b - a }')
    awk -F': ' -v suite="$suite" -v size="$size" -v name="$name" -v run="$run" -v wall="$wall" '
        /User time \(seconds\)/ { user = $2 }
        /System time \(seconds\)/ { sys = $2 }
        /Maximum resident set size \(kbytes\)/ { rss = $2 }
        END {
            if (user == "" || rss == "") { exit 1 }
            printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", suite, size, name, run, wall, user, sys, rss
        }' "$timing" >>"$RAW" || die "could not read $timing"
}

# CPU ticks "busy steal total" from /proc/stat: steal shows a shared host.
cpu_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }
TICKS_START=$(cpu_ticks)
MACHINE="$RESULTS/machine.txt"
{
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), nproc $(nproc)"
    echo "memory: $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
    echo "kernel: $(uname -sr); os: $(sed -n 's/^PRETTY_NAME="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' /etc/os-release 2>/dev/null)"
    echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "rustc: $(rustc --version 2>/dev/null || echo unknown)"
    echo "peers: $("$PY" -c 'import duckdb, polars; print("duckdb", duckdb.__version__ + ", polars", polars.__version__)'), $("$PY" --version)"
    echo "pvkit: $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)$(cd "$ROOT" && [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] && echo ' (with uncommitted changes)')"
    echo "threads per program: $THREADS; runs per case and size: $RUNS; seed: $SEED"
} >"$MACHINE"

for size in "${SIZE_LIST[@]}"; do
    data="$TARGET/bench-data/$size"
    say "$size visits: $(du -sh "$data/visits.csv" | cut -f1) visits.csv, $(du -sh "$data/listing.csv" | cut -f1) listing.csv"
    # Warm-up run of every case (also fills the page cache), then agreement.
    for line in "${SELECTED[@]}"; do
        read -r suite name fn <<<"$line"
        run_case "$suite" "$name" "$fn" "$size" 0
    done
    for suite in $(printf '%s\n' "${SELECTED[@]}" | cut -d' ' -f1 | uniq); do
        if declare -F "verify_$suite" >/dev/null; then
            "verify_$suite" "$RESULTS/$size" "$size" \
                || die "suite $suite: the implementations DISAGREE at $size visits (outputs in $RESULTS/$size): no timings reported"
        fi
    done
    # Timed runs, round-robin; each round starts one case later so that no
    # case always follows the same other case.
    count=${#SELECTED[@]}
    for ((run = 1; run <= RUNS; run++)); do
        say "$size visits: round $run of $RUNS"
        for ((k = 0; k < count; k++)); do
            read -r suite name fn <<<"${SELECTED[$(((k + run - 1) % count))]}"
            run_case "$suite" "$name" "$fn" "$size" "$run"
        done
    done
done
{
    echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
    read -r busy0 steal0 total0 <<<"$TICKS_START"
    read -r busy1 steal1 total1 <<<"$(cpu_ticks)"
    awk -v b=$((busy1 - busy0)) -v s=$((steal1 - steal0)) -v t=$((total1 - total0)) -v n="$(nproc)" \
        'BEGIN { if (t > 0) printf "CPU during the run: %.0f %% busy of %d cores, %.1f %% stolen by the host\n", 100 * b / t, n, 100 * s / t }'
} >>"$MACHINE"

# --- report -------------------------------------------------------------------
REPORT="$RESULTS/report.md"
COMMANDS="$RESULTS/commands.txt"
for line in "${SELECTED[@]}"; do
    read -r suite name fn <<<"$line"
    "$fn" "target/bench-data/<N>"
    printf '%s\t%s\t%s\n' "$suite" "$name" "${CMD[*]//$ROOT\//}" >>"$COMMANDS"
done
"$PY" "$BENCH/report.py" --raw "$RAW" --machine "$MACHINE" --commands "$COMMANDS" \
    "${RATIOS[@]/#/--ratio=}" >"$REPORT"
cp "$REPORT" "$TARGET/bench-results/latest.md"
[ -z "$REPORT_FILE" ] || cp "$REPORT" "$REPORT_FILE"
cat "$REPORT"
say "raw timings, outputs and this report: $RESULTS"
