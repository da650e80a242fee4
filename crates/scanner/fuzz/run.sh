#!/usr/bin/env bash
# Runs every fuzz target of the scanner crate briefly; exits non-zero if any target crashes.
#
#   crates/scanner/fuzz/run.sh [SECONDS_PER_TARGET]      (default 20)
#
# Installs cargo-fuzz when it is missing. Only stable Rust is needed: cargo-fuzz passes
# nightly-only flags (-Zsanitizer, sanitizer coverage), which RUSTC_BOOTSTRAP=1 lets the stable
# compiler accept. FUZZ_SANITIZER=none skips AddressSanitizer (faster; the crate has no unsafe
# code). Corpora grow in corpus/TARGET (git-ignored); crashes land in artifacts/TARGET.
set -euo pipefail

seconds="${1:-20}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
    echo "usage: $0 [SECONDS_PER_TARGET]" >&2
    exit 2
fi
sanitizer="${FUZZ_SANITIZER:-address}"
cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

# Seed the corpora with the shared fixtures, in each target's input format (see the comments
# in fuzz_targets/). Inputs found earlier stay in corpus/ and are reused.
fixtures="../../../../shared/fixtures"
mkdir -p corpus/decode_file corpus/hid_pos corpus/keyboard corpus/classify corpus/serial_framer
# The bytes of a hex file (one report per line), each line prefixed with PREFIX (hex).
unhex() { # PREFIX FILE
    local line
    sed 's/[^0-9a-fA-F]//g' "$2" | while read -r line; do
        if [ -n "$line" ]; then
            printf "$(printf '%s%s' "$1" "$line" | sed 's/../\\x&/g')"
        fi
    done
}
# decode_file: a byte selecting format (b % 3) and layout (b / 3 % 6), then the file.
seed_file() { # SELECTOR FILE...
    local selector="$1" file
    shift
    for file in "$@"; do
        { printf "\\x$selector"; cat "$file"; } >"corpus/decode_file/$selector-$(basename "$file")"
    done
}
if [ -d "$fixtures" ]; then
    seed_file 00 "$fixtures"/serial/*.bin
    seed_file 01 "$fixtures"/hid-pos/*.hex
    seed_file 02 "$fixtures"/hid-keyboard/us/*.hex
    seed_file 05 "$fixtures"/hid-keyboard/no/*.hex
    for file in "$fixtures"/serial/*.bin; do
        # serial_framer: mode (newline, strip AIM), max length, chunk size, pause; the bytes.
        { printf '\x40\xff\x07\x01'; cat "$file"; } >"corpus/serial_framer/$(basename "$file")"
    done
    for file in "$fixtures"/hid-pos/*.hex; do
        # hid_pos: max length / 4; then per report its length (64) and a pause (0).
        { printf '\xff'; unhex 4000 "$file"; } >"corpus/hid_pos/$(basename "$file")"
    done
    for layout in us:00 no:01; do
        for file in "$fixtures/hid-keyboard/${layout%:*}"/*.hex; do
            # keyboard: layout selector, max length; then 8-byte reports.
            { printf "\\x${layout#*:}\\xff"; unhex "" "$file"; } \
                >"corpus/keyboard/${layout%:*}-$(basename "$file")"
        done
    done
    # classify: the inputs of the QR table.
    i=0
    cut -f1 "$fixtures/qr/personal-qr.tsv" | while read -r input; do
        i=$((i + 1))
        printf '%s' "$input" >"corpus/classify/qr-$i"
    done
fi

failed=()
for target in $(cargo fuzz list); do
    mkdir -p "corpus/$target"
    echo "== $target: ${seconds}s, sanitizer $sanitizer" >&2
    if ! cargo fuzz run --sanitizer "$sanitizer" "$target" "corpus/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1; then
        failed+=("$target")
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz targets that failed: ${failed[*]} (inputs in artifacts/)" >&2
    exit 1
fi
echo "all fuzz targets ran ${seconds}s without a crash" >&2
