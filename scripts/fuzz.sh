#!/usr/bin/env bash
# Fuzzes tensorjson with cargo-fuzz (libFuzzer, AddressSanitizer) on stable Rust.
#
#   scripts/fuzz.sh [seconds-per-target] [target...]
#
# Targets: npy json png roundtrip safetensors npz (default: all, 60 s each). Installs cargo-fuzz if it is
# missing, seeds fuzz/corpus/<target> from fixtures/ (corpora are not committed), replays the
# committed reproducers in fuzz/regressions/, then runs each target. Exits non-zero if any
# target finds a crash, timeout or OOM; the input is left in fuzz/artifacts/<target>/.
#
# cargo-fuzz needs nightly features (-Zsanitizer); RUSTC_BOOTSTRAP=1 unlocks them on stable.
# Every input fuzzing ever found (fuzz/regressions/<target>-*) is replayed first and must pass.
#
# Environment: FUZZ_SANITIZER (default address; "none" runs faster but catches less),
# FUZZ_JOBS (parallel libFuzzer workers per target, default 1).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
fuzz="$root/fuzz"
seconds="${1:-60}"
if [[ $# -gt 0 ]]; then shift; fi
all_targets=(npy json png roundtrip safetensors npz)
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then targets=("${all_targets[@]}"); fi
sanitizer="${FUZZ_SANITIZER:-address}"
jobs="${FUZZ_JOBS:-1}"

if ! [[ "$seconds" =~ ^[0-9]+$ ]]; then
    echo "usage: $0 [seconds-per-target] [target...]  (targets: ${all_targets[*]})" >&2
    exit 2
fi
for target in "${targets[@]}"; do
    if [[ ! -f "$fuzz/fuzz_targets/$target.rs" ]]; then
        echo "unknown target '$target' (targets: ${all_targets[*]})" >&2
        exit 2
    fi
done

export RUSTC_BOOTSTRAP=1
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

# Seeds: copies of the fixtures, named by content so reseeding never duplicates them.
seed() {
    local corpus="$fuzz/corpus/$1"
    shift
    mkdir -p "$corpus"
    local file
    for file in "$@"; do
        [[ -f "$file" ]] || continue
        cp "$file" "$corpus/seed-$(sha1sum "$file" | cut -c1-16)"
    done
}
shopt -s nullglob globstar
seed npy "$root"/fixtures/npy/*.npy "$root"/fixtures/example.npy
seed png "$root"/fixtures/png/*.png "$root"/fixtures/example.png
seed npz "$root"/fixtures/npz/*.npz
seed json "$root"/fixtures/json/*.json "$root"/fixtures/dialects/**/*.json "$root"/fixtures/npy/*.json \
    "$root"/fixtures/png/*.json
seed safetensors "$root"/fixtures/safetensors/*.safetensors
# Lists past 64 KiB are let go and read again from a file input (json's second half): two
# documents long enough for that, made here rather than committed.
if [[ ! -f "$fuzz/corpus/json/seed-long-lists" ]]; then
    python3 - "$fuzz/corpus/json/seed-long-lists" <<'PY'
import sys
numbers = ",".join(str(i * 37 % 1000 - 500) for i in range(16000))
spaced = numbers.replace(",", ",\n  ")
doc = ('{"inputs": [{"data": [%s], "name": "x", "shape": [16000], "datatype": "INT16"}],'
       ' "note": [%s, "mixed"]}\n{"instances": [\n [%s],\n [%s]\n]}\n') % (
           numbers, numbers, spaced, spaced)
open(sys.argv[1], "w").write(doc)
PY
fi
# roundtrip's input is structured; a few small byte strings get it going.
mkdir -p "$fuzz/corpus/roundtrip"
for dtype in $(seq 0 13); do
    printf "\\x$(printf %02x "$dtype")\\x02\\x03\\x04\\x0f0123456789abcdef" \
        >"$fuzz/corpus/roundtrip/seed-dtype-$dtype"
done
shopt -u nullglob globstar

cd "$fuzz"
echo "== building (sanitizer: $sanitizer)"
cargo fuzz build -s "$sanitizer"

failed=()
for target in "${targets[@]}"; do
    binary="$fuzz/target/x86_64-unknown-linux-gnu/release/$target"
    for reproducer in "$fuzz"/regressions/"$target"-*; do
        [[ -f "$reproducer" ]] || continue
        name="$(basename "$reproducer")"
        if "$binary" -rss_limit_mb=2048 -timeout=10 "$reproducer" >"$fuzz/target/replay-$name.log" 2>&1; then
            echo "== regression $name: passes"
        else
            echo "!! regression $name: fails again; log: fuzz/target/replay-$name.log"
            failed+=("regression $name")
        fi
    done
    echo "== $target: fuzzing for ${seconds}s"
    dict=()
    if [[ "$target" == json ]]; then dict=(-dict="$fuzz/json.dict"); fi
    fork=()
    if [[ "$jobs" -gt 1 ]]; then fork=(-fork="$jobs"); fi
    if ! cargo fuzz run -s "$sanitizer" "$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        "${dict[@]}" "${fork[@]}"; then
        echo "!! $target: found a crash, timeout or OOM; see fuzz/artifacts/$target/"
        failed+=("$target")
    fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
    echo "== FAILED: ${failed[*]}"
    exit 1
fi
echo "== all targets ran ${seconds}s without a finding: ${targets[*]}"
