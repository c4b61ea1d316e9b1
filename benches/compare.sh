#!/usr/bin/env bash
# Compares rcfge with its peers in the same run, on the same inputs, and prints ratios
# (peer time ÷ rcfge time):
#   - a 300-resource template of compliant fixtures (JSON and YAML): rcfge validate, the
#     Python jsonschema hook (benches/peers/jsonschema_hook.py), cfn-lint, cfn-guard;
#   - cfn-lint's own `good` fixture templates: rcfge, cfn-lint, cfn-guard, one invocation each;
#   - 3,000 S3 buckets in one JSON template: rcfge with its schemas only and with Guard rules,
#     the Python hook, cloudformation-validate;
#   - the reference CDK app (tests/cdk, synthesised if needed): rcfge, cfn-lint;
#   - AWS's cloudformation-validate (benches/peers/cfn_validate.py) on every input but the
#     warm decisions;
#   - warm single decisions per type: rcfge's `cargo bench --bench decision -- types` against
#     the Python hook.
# The report is printed and written to target/compare/results.md.
#
# Environment:
#   COMPARE_RUNS=5                 runs per whole-run measurement (the median is reported)
#   COMPARE_WARM_ITERATIONS=2000   measured Python decisions per type (after 1,000 warm-up)
#   COMPARE_SKIP_RUST_BENCH=1      skip `cargo bench --bench decision` (no rcfge warm column)
#   COMPARE_SKIP_BUILD=1           use target/release/rcfge as it is (no `cargo build`)
#
# Peers are installed from their registries into target/peers/ on first use.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

RUNS=${COMPARE_RUNS:-5}
WARM_ITERATIONS=${COMPARE_WARM_ITERATIONS:-2000}
SKIP_RUST_BENCH=${COMPARE_SKIP_RUST_BENCH:-0}
SKIP_BUILD=${COMPARE_SKIP_BUILD:-0}

JSONSCHEMA_VERSION=4.26.0
CFN_LINT_VERSION=1.58.0
CFN_VALIDATE_VERSION=1.14.0
CFN_GUARD_VERSION=3.2.1

# The deployment context the fixtures are written for (tests/it/templates.rs uses the same
# account and Region; no template uses the stack name).
CONTEXT=(--account-id 111122223333 --region eu-west-1 --stack-name payments)

PEERS=target/peers
OUT=target/compare
PY=$PEERS/venv/bin/python
CFN_LINT=$PEERS/venv/bin/cfn-lint
CFN_GUARD=$PEERS/bin/cfn-guard
RCFGE=target/release/rcfge
STARTED=$SECONDS
# Other work on the machine skews every number; the report shows how busy it was.
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

say() { printf '\n== %s\n' "$*" >&2; }

# --- peers -----------------------------------------------------------------------------------
PINS="jsonschema==$JSONSCHEMA_VERSION cfn-lint==$CFN_LINT_VERSION cloudformation-validate==$CFN_VALIDATE_VERSION"
if [[ ! -x $PY || "$(cat "$PEERS/venv/.pins" 2>/dev/null)" != "$PINS" ]]; then
    say "installing $PINS into $PEERS/venv"
    rm -rf "$PEERS/venv"
    python3 -m venv "$PEERS/venv"
    # shellcheck disable=SC2086 # PINS is a list of requirements
    "$PY" -m pip install --quiet --disable-pip-version-check $PINS
    echo "$PINS" >"$PEERS/venv/.pins"
fi

if [[ ! -x $CFN_GUARD ]]; then
    say "installing cfn-guard $CFN_GUARD_VERSION into $PEERS (a few minutes of compiling)"
    cargo install --locked cfn-guard --version "$CFN_GUARD_VERSION" --root "$PEERS"
fi
guard_version=$("$CFN_GUARD" --version)
if [[ $guard_version != "cfn-guard ${CFN_GUARD_VERSION%.*}."* ]]; then
    echo "compare.sh: $CFN_GUARD is '$guard_version', expected $CFN_GUARD_VERSION; delete it to reinstall" >&2
    exit 1
fi

SDIST=$PEERS/sdist/cfn_lint-$CFN_LINT_VERSION.tar.gz
if [[ ! -f $SDIST ]]; then
    say "downloading the cfn-lint $CFN_LINT_VERSION source distribution (for its fixture templates)"
    "$PY" -m pip download --quiet --disable-pip-version-check --no-binary :all: --no-deps \
        "cfn-lint==$CFN_LINT_VERSION" -d "$PEERS/sdist"
fi

# --- inputs ----------------------------------------------------------------------------------
if [[ $SKIP_BUILD != 1 ]]; then
    say "building rcfge (release)"
    cargo build --release --bin rcfge
fi

rm -rf "$OUT"
mkdir -p "$OUT/schemas" "$OUT/times" "$OUT/cfn-lint-good"

GOOD=$OUT/cfn-lint-good
tar -xzf "$SDIST" -C "$GOOD" --strip-components=5 --wildcards \
    "cfn_lint-$CFN_LINT_VERSION/test/fixtures/templates/good/*"
find "$GOOD" -type f ! -name '*.yaml' ! -name '*.yml' ! -name '*.json' -delete
mapfile -t GOOD_FILES < <(find "$GOOD" -type f | LC_ALL=C sort)

say "generating the 300-resource template and rendering the restricted schemas"
"$PY" benches/peers/gen_template.py "$OUT/stack-300.json" --yaml "$OUT/stack-300.yaml"
for template in templates/aws-*.json; do
    type_name=$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["typeName"])' "$template")
    "$RCFGE" render "${CONTEXT[@]}" "$type_name" >"$OUT/schemas/$(basename "$template")"
done
# The comparison is only meaningful if rcfge finds every generated resource compliant.
for stack in "$OUT/stack-300.json" "$OUT/stack-300.yaml"; do
    if ! "$RCFGE" validate "${CONTEXT[@]}" "$stack" >"$OUT/check.txt"; then
        grep -v '^  PASS' "$OUT/check.txt" >&2
        echo "compare.sh: rcfge does not find every resource of $stack compliant" >&2
        exit 1
    fi
done
resources=$("$PY" -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["Resources"]))' "$OUT/stack-300.json")

say "generating 3,000 S3 buckets and a template set without Guard rules"
"$PY" benches/peers/gen_template.py "$OUT/buckets-3000.json" --count 3000 --type AWS::S3::Bucket --minimal
# Schema only: the same templates with their Guard rules switched off, and no rule files.
SCHEMA_ONLY=$OUT/schema-only
mkdir -p "$SCHEMA_ONLY/templates" "$SCHEMA_ONLY/guard-rules"
cp -r templates/. "$SCHEMA_ONLY/templates/"
sed -i 's/"guardRules": true/"guardRules": false/' "$SCHEMA_ONLY"/templates/*.json
for templates in templates "$SCHEMA_ONLY/templates"; do
    if ! "$RCFGE" validate "${CONTEXT[@]}" --templates "$templates" "$OUT/buckets-3000.json" >"$OUT/check.txt"; then
        tail -n 3 "$OUT/check.txt" >&2
        echo "compare.sh: rcfge does not find every bucket compliant with $templates" >&2
        exit 1
    fi
done

CDK_FILES=(tests/cdk/cdk.out/ReferenceApp.template.json tests/cdk/cdk.out/ReferenceAppInsecure.template.json)
if [[ ! -s ${CDK_FILES[0]} || ! -s ${CDK_FILES[1]} ]]; then
    say "synthesising the reference CDK app"
    bash .ci/cdk-synth >&2
fi
cdk_resources=$("$PY" -c 'import json, sys; print(sum(len(json.load(open(f))["Resources"]) for f in sys.argv[1:]))' "${CDK_FILES[@]}")

# cfn-guard stops at the first data file it cannot parse (exit 255), so it is timed on the
# files it can read; those it cannot are listed in the report.
GUARD_FILES=() GUARD_SKIPPED=()
for file in "${GOOD_FILES[@]}"; do
    code=0
    "$CFN_GUARD" validate -r guard-rules/ -d "$file" >/dev/null 2>&1 || code=$?
    if [[ $code == 0 || $code == 19 ]]; then GUARD_FILES+=(-d "$file"); else GUARD_SKIPPED+=("${file#"$GOOD"/}"); fi
done

# --- whole runs ------------------------------------------------------------------------------
measure() {
    local name=$1 tool=$2 input=$3 ok=$4
    shift 4
    "$PY" benches/peers/measure.py --name "$name" --tool "$tool" --input "$input" --runs "$RUNS" \
        --ok "$ok" --out "$OUT/times" -- "$@"
}

# Exit codes that are verdicts: rcfge 0-2 (2: a template it cannot resolve); the Python hook
# 0-1; cfn-lint's bit mask of finding levels; cfn-guard 19 for a failed rule. Anything else,
# or a signal, is a crash and stops the script.
for format in json yaml; do
    stack=$OUT/stack-300.$format
    say "whole template ($resources resources, $format), $RUNS runs each"
    measure "stack-$format.1" rcfge "$stack" 0-2 "$RCFGE" validate "${CONTEXT[@]}" "$stack"
    measure "stack-$format.2" python "$stack" 0-1 "$PY" benches/peers/jsonschema_hook.py stack "$stack" --schemas "$OUT/schemas"
    measure "stack-$format.3" cfn-lint "$stack" 0-127 "$CFN_LINT" --regions eu-west-1 -- "$stack"
    measure "stack-$format.4" cfn-guard "$stack" 0,19 "$CFN_GUARD" validate -r guard-rules/ -d "$stack"
    measure "stack-$format.5" cfn-validate "$stack" 0 "$PY" benches/peers/cfn_validate.py "$stack"
done

say "cfn-lint's good fixture templates (${#GOOD_FILES[@]} files), $RUNS runs each"
measure lint-good.1 rcfge "$GOOD" 0-2 "$RCFGE" validate "${CONTEXT[@]}" "${GOOD_FILES[@]}"
measure lint-good.3 cfn-lint "$GOOD" 0-127 "$CFN_LINT" --regions eu-west-1 -- "${GOOD_FILES[@]}"
measure lint-good.4 cfn-guard "$GOOD" 0,19 "$CFN_GUARD" validate -r guard-rules/ "${GUARD_FILES[@]}"
measure lint-good.5 cfn-validate "$GOOD" 0 "$PY" benches/peers/cfn_validate.py "${GOOD_FILES[@]}"

BUCKETS=$OUT/buckets-3000.json
say "3,000 S3 buckets ($(stat -c %s "$BUCKETS") bytes), $RUNS runs each"
measure buckets.0 rcfge-schema "$BUCKETS" 0 "$RCFGE" validate "${CONTEXT[@]}" --templates "$SCHEMA_ONLY/templates" "$BUCKETS"
measure buckets.1 rcfge "$BUCKETS" 0 "$RCFGE" validate "${CONTEXT[@]}" "$BUCKETS"
measure buckets.2 python "$BUCKETS" 0-1 "$PY" benches/peers/jsonschema_hook.py stack "$BUCKETS" --schemas "$OUT/schemas"
measure buckets.5 cfn-validate "$BUCKETS" 0 "$PY" benches/peers/cfn_validate.py "$BUCKETS"

say "the reference CDK app ($cdk_resources resources), $RUNS runs each"
measure cdk.1 rcfge tests/cdk/cdk.out 0-1 "$RCFGE" validate "${CONTEXT[@]}" "${CDK_FILES[@]}"
measure cdk.3 cfn-lint tests/cdk/cdk.out 0-127 "$CFN_LINT" --regions eu-west-1 -- "${CDK_FILES[@]}"
measure cdk.5 cfn-validate tests/cdk/cdk.out 0 "$PY" benches/peers/cfn_validate.py "${CDK_FILES[@]}"

# --- warm decisions --------------------------------------------------------------------------
say "warm decisions per type: Python ($WARM_ITERATIONS measured after 1,000 warm-up, per type)"
"$PY" benches/peers/jsonschema_hook.py warm --schemas "$OUT/schemas" --warmup 1000 \
    --iterations "$WARM_ITERATIONS" --out "$OUT/python-warm.json" >/dev/null

RCFGE_WARM=()
if [[ $SKIP_RUST_BENCH != 1 ]]; then
    say "warm decisions per type: rcfge (cargo bench --bench decision -- types)"
    # Only the per-type section: the others measure what no peer here does.
    RCFGE_BENCH_JSON="$PWD/$OUT/rcfge-warm.json" cargo bench --bench decision -- types
    RCFGE_WARM=(--rcfge-warm "$OUT/rcfge-warm.json")
fi

# --- report ----------------------------------------------------------------------------------
versions="$("$RCFGE" --version) (release), $(rustc --version | cut -d' ' -f1-2), $("$PY" --version),"
versions+=" jsonschema $("$PY" -c 'import importlib.metadata as m; print(m.version("jsonschema"))'),"
versions+=" $("$CFN_LINT" --version), $guard_version,"
versions+=" cloudformation-validate $("$PY" -c 'import importlib.metadata as m; print(m.version("cloudformation-validate"))')"
good_note="rcfge refuses the types it has no template for and reports templates it cannot resolve (exit 1 or 2): the work is timed, not the verdict."
if ((${#GUARD_SKIPPED[@]})); then
    good_note+=" cfn-guard cannot parse ${#GUARD_SKIPPED[@]} of the files (it stops the whole run on one), so it is timed on the other $((${#GOOD_FILES[@]} - ${#GUARD_SKIPPED[@]})): ${GUARD_SKIPPED[*]}."
fi
stack_note="Every resource is a compliant fixture (tests/fixtures/<type>/valid-full.json or valid-minimal.json), scalars written as a hook receives them (\"true\", \"365\"). cfn-guard runs rcfge's Guard rules on the template as it is, without rcfge's per-resource isolation and scalar normalisation."

"$PY" benches/peers/report.py --times "$OUT/times" --python-warm "$OUT/python-warm.json" "${RCFGE_WARM[@]}" \
    --guard-rules guard-rules --out "$OUT/results.md" \
    --meta "versions=$versions" --meta "runs=$RUNS" --meta "stack_resources=$resources" \
    --meta "good_files=${#GOOD_FILES[@]}" --meta "good_note=$good_note" --meta "stack_note=$stack_note" \
    --meta "context=${CONTEXT[*]}" \
    --meta "buckets_bytes=$(stat -c %s "$BUCKETS")" --meta "cdk_resources=$cdk_resources" \
    --meta "buckets_note=Each bucket is tests/fixtures/aws-s3-bucket/valid-minimal.json with its own name. Schema only: the bundled templates with \"guardRules\" false. rcfge judges them all compliant." \
    --meta "cdk_note=tests/cdk/cdk.out: ReferenceApp (compliant) and ReferenceAppInsecure (one insecure setting per resource, refused: exit 1)." \
    --meta "load=$LOAD_BEFORE at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end" \
    --meta "python_warm=$WARM_ITERATIONS measured decisions after 1,000 warm-up, each timed with perf_counter_ns"

echo "compare.sh: done in $((SECONDS - STARTED)) s; report in $OUT/results.md" >&2
