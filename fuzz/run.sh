#!/usr/bin/env bash
# Fuzzes the WebSocket frame decoder, the reply decoder, the push decoder, the TLS record
# reader and the V3 decoder with libFuzzer (cargo-fuzz), one target after the other, for the given number of
# seconds each (default 600).
#
#   fuzz/run.sh [seconds] [target...]     targets: frame_decoder reply_decoder push_decoder
#                                         record_reader v3_decoder (default: all five)
#
# Needs the nightly toolchain (installed with rustup if missing) and cargo-fuzz (installed with
# cargo install if missing). Runs at the lowest CPU priority so a shared machine stays usable.
# The working corpus grows in fuzz/corpus/<target> (not committed), seeded from the committed
# fuzz/seeds/<target>; crashes land in fuzz/artifacts/<target>/, and each run's log in
# fuzz/artifacts/<target>.log. Exits non-zero if a target found a crash.
set -euo pipefail
cd "$(dirname "$0")"

seconds="${1:-600}"
case "$seconds" in
    '' | *[!0-9]*) echo "usage: $0 [seconds per target] [target...]" >&2; exit 2 ;;
esac
shift || true
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
    targets=(frame_decoder reply_decoder push_decoder record_reader v3_decoder)
fi

if ! rustup toolchain list | grep -q '^nightly'; then
    rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

# The committed Cargo.lock must already describe the fuzz crate: fail rather than rewrite it
# (cargo fuzz has no --locked of its own).
if ! cargo +nightly metadata --locked --format-version 1 >/dev/null; then
    echo "fuzz/Cargo.lock is out of date: run 'cargo +nightly update --workspace' in fuzz/ and commit it" >&2
    exit 2
fi

status=0
for target in "${targets[@]}"; do
    if [ ! -f "fuzz_targets/$target.rs" ]; then
        echo "no fuzz target $target" >&2
        exit 2
    fi
    mkdir -p "corpus/$target" "artifacts/$target"
    log="artifacts/$target.log"
    echo "==> $target for ${seconds}s (log: fuzz/$log)"
    # -timeout: an input taking 10 s is a hang; -malloc_limit_mb: no hostile length may make a
    # decoder allocate anywhere near this much at once.
    if ! nice -n 19 cargo +nightly fuzz run "$target" "corpus/$target" "seeds/$target" -- \
        -max_total_time="$seconds" -timeout=10 -malloc_limit_mb=64 -print_final_stats=1 \
        >"$log" 2>&1; then
        status=1
        echo "    CRASH: see fuzz/$log and fuzz/artifacts/$target/" >&2
    fi
    grep -E '^#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::peak_rss_mb' "$log" \
        | sed 's/^/    /' || true
done
exit "$status"
