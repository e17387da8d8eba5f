#!/usr/bin/env bash
# make submit: a synthetic campaign of every ready benchmark (tiny preset, the official run
# count), one submission tree per round (a tree targets one ruleset: resnet -> 4.0.0,
# llama31_8b -> 6.1.0), each packaged (open division, marked DRY RUN), verified (ours and the
# official package_checker, result_summarizer, repo_checker must all agree and pass) and
# reported (plots + page). Prints where the trees and reports are.
#
# Variables (all optional):
#   BENCHMARKS="resnet llama31_8b"  default: every ready benchmark (benchmarks/registry.py)
#   ROUND=4.0.0                     one ruleset for every benchmark (default: the newest per bm)
#   RUNS=5                          runs per benchmark (default: the official count; not fewer)
#   ORG=DryRunOrg  OUT=out/submit   org folder name, output dir
#   PRESET=tiny  SYSTEM=<host>      train preset, system id
#   JOBS=<cores>                    campaigns run at the same time (default: one per CPU core;
#                                   each tiny run uses one thread, so they do not share a core)
#   PY=.venv/bin/python             the interpreter with mlperf_submit installed
# Layout: OUT/campaigns/<bm>/ (+ <bm>.console: what the campaign printed), OUT/data/<bm>/
#         (synthetic, kept between runs),
#         OUT/<ruleset>/tree/<ORG>/, OUT/<ruleset>/summary/, OUT/<ruleset>/report/index.html,
#         OUT/timings.tsv (seconds per stage; bench/submit_time.py prints it).
# Re-running replaces what a previous `make submit` wrote in OUT (OUT/MAKE_SUBMIT marks it);
# an OUT that it did not write is refused.
set -euo pipefail

PY=${PY:-.venv/bin/python}
ORG=${ORG:-DryRunOrg}
OUT=${OUT:-out/submit}
PRESET=${PRESET:-tiny}
BENCHMARKS=${BENCHMARKS:-}
ROUND=${ROUND:-}
RUNS=${RUNS:-}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 1)}
MS=("$PY" -m mlperf_submit)
MARK="$OUT/MAKE_SUBMIT"

die() { echo "make submit: error: $*" >&2; exit 2; }

[[ -x "$PY" ]] || die "no python at PY=$PY (run make venv)"
[[ "$JOBS" =~ ^[1-9][0-9]*$ ]] || die "JOBS=$JOBS: give a positive whole number"
if [[ -z "${SYSTEM:-}" ]]; then
  SYSTEM=$("$PY" -c 'import socket; from mlperf_submit.submission.names import suggest_name; print(suggest_name("cpu_" + socket.gethostname()))')
fi

# A bad variable stops here, with the plan's own message and exit code 2.
plan_out=$("$PY" -m mlperf_submit.submission.plan --benchmarks "$BENCHMARKS" --round "$ROUND" \
  --runs "$RUNS")
mapfile -t PLAN <<<"$plan_out"
[[ -n "$plan_out" ]] || die "nothing to do"

if [[ -e "$OUT" && ! -e "$MARK" && -n "$(ls -A "$OUT" 2>/dev/null)" ]]; then
  die "$OUT exists and was not written by make submit; choose another OUT=..."
fi
mkdir -p "$OUT"
# Our own previous output: replace it (the synthetic data under OUT/data is kept and reused).
for old in "$OUT"/campaigns "$OUT"/[0-9]*.[0-9]*.[0-9]*; do
  [[ -e "$old" ]] && rm -rf -- "$old"
done
date -u +"written by make submit at %Y-%m-%dT%H:%M:%SZ" >"$MARK"
TIMINGS="$OUT/timings.tsv"
printf 'stage\tseconds\n' >"$TIMINGS"

stage() {  # stage NAME CMD...: run CMD, record its wall time
  local name=$1 t0
  shift
  echo "== $name: $*"
  t0=$EPOCHREALTIME
  "$@"
  awk -v n="$name" -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%s\t%.2f\n", n, b - a }' \
    >>"$TIMINGS"
}

# The campaigns are independent: run up to JOBS of them at once, each into its own console
# file (interleaved progress lines would be unreadable), and report each as it ends.
campaign() {  # campaign BM RULESET RUNS: one benchmark's campaign, timed into timings.tsv
  local bm=$1 ruleset=$2 runs=$3 t0 rc=0
  t0=$EPOCHREALTIME
  "${MS[@]}" campaign "$bm" --out "$OUT/campaigns/$bm" --runs "$runs" --preset "$PRESET" \
    --ruleset "$ruleset" --division open --synthetic "$OUT/data/$bm" --launcher local \
    -- --org "$ORG" --platform "1x$SYSTEM" >"$OUT/campaigns/$bm.console" 2>&1 || rc=$?
  awk -v n="campaign $bm ($runs runs)" -v a="$t0" -v b="$EPOCHREALTIME" \
    'BEGIN { printf "%s\t%.2f\n", n, b - a }' >>"$TIMINGS"
  if ((rc != 0)); then
    echo "== campaign $bm FAILED (exit $rc); the end of $OUT/campaigns/$bm.console:" >&2
    tail -n 30 "$OUT/campaigns/$bm.console" >&2
  else
    echo "== campaign $bm ($runs runs) done: $(tail -n 1 "$OUT/campaigns/$bm.console")"
  fi
  return "$rc"
}

declare -A ROUND_DIRS=()
PIDS=() FAILED=0
mkdir -p "$OUT/campaigns"
trap 'kill "${PIDS[@]}" 2>/dev/null; wait' INT TERM
for line in "${PLAN[@]}"; do
  read -r bm ruleset runs <<<"$line"
  while (($(jobs -rp | wc -l) >= JOBS)); do
    wait -n || FAILED=1
  done
  echo "== campaign $bm: $runs runs, ruleset $ruleset (console: $OUT/campaigns/$bm.console)"
  campaign "$bm" "$ruleset" "$runs" &
  PIDS+=($!)
  ROUND_DIRS[$ruleset]+=" $OUT/campaigns/$bm"
done
for pid in "${PIDS[@]}"; do
  wait "$pid" || FAILED=1
done
trap - INT TERM
((FAILED == 0)) || die "a campaign failed (see above); nothing was packaged"

TREES=() REPORTS=()
for ruleset in $(printf '%s\n' "${!ROUND_DIRS[@]}" | sort -V); do
  read -r -a camps <<<"${ROUND_DIRS[$ruleset]}"
  dir="$OUT/$ruleset"
  stage "package $ruleset" "${MS[@]}" package --org "$ORG" --detect --system-name "$SYSTEM" \
    --division open --ruleset "$ruleset" --out "$dir/tree" --no-verify "${camps[@]}"
  stage "verify $ruleset (ours + official)" "${MS[@]}" verify "$dir/tree/$ORG" \
    --ruleset "$ruleset" --official --summary-dir "$dir/summary"
  stage "report $ruleset" "${MS[@]}" report "$dir/tree/$ORG" --ruleset "$ruleset" \
    --out "$dir/report" --title "$ORG dry run, ruleset $ruleset"
  TREES+=("$dir/tree/$ORG") REPORTS+=("$dir/report/index.html")
done

echo
echo "make submit: done (open division dry run on synthetic data; stage times in $TIMINGS)"
for i in "${!TREES[@]}"; do
  echo "  tree:   ${TREES[$i]}"
  echo "  report: ${REPORTS[$i]}"
done
