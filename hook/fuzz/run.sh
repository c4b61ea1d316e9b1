#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 1200), one after the other, starting from
# the committed seeds and the repository's fixtures. New inputs go to hook/fuzz/corpus/
# (not committed); a crash is saved under hook/fuzz/artifacts/ and stops the run.
#
#   hook/fuzz/run.sh [SECONDS] [TARGET...]
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`) and a nightly toolchain; on a stable one,
# RUSTC_BOOTSTRAP=1 lets it use the nightly flags cargo-fuzz passes.
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds="${1:-1200}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(hook_event template_render stack_template)

toolchain=()
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    toolchain=(+nightly)
else
    export RUSTC_BOOTSTRAP=1
fi

# Extra read-only corpus directories: the fixtures each target's input is made of.
fixtures() {
    case "$1" in
        hook_event) echo tests/fixtures/events tests/fixtures/whole-events ;;
        template_render) echo templates tests/fixtures/faulty-templates ;;
        stack_template) echo tests/fixtures/corpus tests/fixtures/stacks stacksets ;;
    esac
}

for target in "${targets[@]}"; do
    mkdir -p "hook/fuzz/corpus/$target"
    # shellcheck disable=SC2046
    cargo "${toolchain[@]}" fuzz run --fuzz-dir hook/fuzz --sanitizer none "$target" \
        "hook/fuzz/corpus/$target" "hook/fuzz/seeds/$target" $(fixtures "$target") \
        -- -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -max_len=262144 \
        -dict=hook/fuzz/cloudformation.dict -print_final_stats=1
done
