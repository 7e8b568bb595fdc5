#!/usr/bin/env bash
# Runs every cargo-fuzz target of wml-native for a fixed number of runs.
#
#   bash fuzz/run.sh                 # CI: 20,000 runs per target (the default)
#   fuzz/run.sh 10000000             # by hand: ten million runs per target
#   fuzz/run.sh -1 -max_total_time=600   # by hand: ten minutes per target
#
# Arguments: RUNS (runs per target; -1 = no limit), then any libFuzzer
# options, passed to every target. Environment:
#   FUZZ_TARGETS="sse_parser jwt_claims"   only these targets (default: all)
#   FUZZ_BUILD=release|dev   default release (optimised, with debug
#                            assertions); dev builds in about half the CPU
#                            time but fuzzes ~10x slower
#   FUZZ_SANITIZER=address|none    default address
#
# Works on a stable toolchain: cargo fuzz passes nightly-only flags
# (-Zsanitizer=...) to rustc, which RUSTC_BOOTSTRAP=1 lets stable accept (its
# ASan runtime ships with the stable std). Installs cargo-fuzz from crates.io
# if it is missing. Each target starts from its committed seeds
# (fuzz/seeds/<target>) plus what earlier runs kept (fuzz/corpus/<target>,
# gitignored); a crash is saved under fuzz/artifacts/<target>/ and makes the
# script exit non-zero after the other targets have run.
set -euo pipefail

RUNS=${1:-20000}
if [ $# -gt 0 ]; then shift; fi
LIBFUZZER_ARGS=("$@")

if ! [[ "$RUNS" =~ ^(-1|[0-9]+)$ ]]; then
  echo "fuzz/run.sh: RUNS must be a whole number or -1, got '$RUNS'" >&2
  exit 2
fi

cd "$(dirname "${BASH_SOURCE[0]}")"
export RUSTC_BOOTSTRAP=1

FUZZ_BUILD=${FUZZ_BUILD:-release}
case "$FUZZ_BUILD" in
  dev) BUILD_FLAGS=(--dev) ;;
  release) BUILD_FLAGS=() ;; # cargo fuzz default: release + debug assertions (-O would drop them)
  *) echo "fuzz/run.sh: FUZZ_BUILD must be dev or release" >&2; exit 2 ;;
esac
BUILD_FLAGS+=(--sanitizer "${FUZZ_SANITIZER:-address}")

now() { date +%s; }

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz (cargo install cargo-fuzz --locked)"
  t0=$(now)
  cargo install cargo-fuzz --locked
  echo "== cargo-fuzz installed in $(($(now) - t0)) s"
fi
echo "== $(cargo fuzz --version), $(rustc --version)"

if [ -n "${FUZZ_TARGETS:-}" ]; then
  read -r -a TARGETS <<<"$FUZZ_TARGETS"
else
  mapfile -t TARGETS < <(cargo fuzz list --fuzz-dir .)
fi

echo "== building ${TARGETS[*]} ($FUZZ_BUILD, sanitizer ${FUZZ_SANITIZER:-address})"
t0=$(now)
cargo fuzz build --fuzz-dir . "${BUILD_FLAGS[@]}"
echo "== built in $(($(now) - t0)) s"

failed=()
for t in "${TARGETS[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  seeds=()
  [ -d "seeds/$t" ] && seeds=("seeds/$t")
  echo "== $t: $RUNS runs ${LIBFUZZER_ARGS[*]}"
  t0=$(now)
  # -max_len bounds the inputs libFuzzer makes up (seeds may be longer);
  # -print_final_stats gives the run count and speed.
  if cargo fuzz run --fuzz-dir . "${BUILD_FLAGS[@]}" "$t" "corpus/$t" "${seeds[@]}" -- \
    -runs="$RUNS" -max_len=4096 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    "${LIBFUZZER_ARGS[@]}" >"artifacts/$t/last-run.log" 2>&1; then
    runs=$(grep -m1 'stat::number_of_executed_units' "artifacts/$t/last-run.log" | awk '{print $2}')
    echo "== $t: ok, ${runs:-?} runs in $(($(now) - t0)) s"
  else
    echo "== $t: FAILED after $(($(now) - t0)) s; the end of its log (artifacts/$t/last-run.log):"
    grep -E 'panicked at|assertion|left:|right:|ERROR:|Test unit written' \
      "artifacts/$t/last-run.log" | head -20 | sed 's/^/   /'
    crash=$(grep -o 'Test unit written to [^ ]*' "artifacts/$t/last-run.log" | tail -1 | cut -d' ' -f5)
    if [ -n "$crash" ]; then
      echo "   reproduce: cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir . ${BUILD_FLAGS[*]} $t $crash"
    fi
    failed+=("$t")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "== FAILED: ${failed[*]} (inputs under fuzz/artifacts/<target>/; see fuzz/README.md)"
  exit 1
fi
echo "== all ${#TARGETS[@]} targets passed"
