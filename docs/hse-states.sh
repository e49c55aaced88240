#!/usr/bin/env bash
# docs/hse-states.md: STATES, L_simple, cosine schedule, IWDiff k = 2 (both weightings), importance-sampled t
# (IS, IS+2, IWDiff + IS) and L_hybrid with a learned variance at the CLI's defaults, seed 0;
# 5000 ancestral samples (all 500 steps) each, graded.
set -euo pipefail
B=${CARGO_TARGET_DIR:-$HOME/.cache/diffusion-target}/release/diffusion
# Usage: hse-states.sh [OUT [NAME...]] (the named rows only; default all).
out=${1:-/tmp/hse/runs}
shift || true
mkdir -p "$out"
while read -r name flags; do
  [ -z "$name" ] && continue
  [ $# -gt 0 ] && [[ ! " $* " == *" $name "* ]] && continue
  start=$(date +%s)
  [ -f "$out/$name/denoiser.safetensors" ] || $B train states --out "$out/$name" $flags > "$out/$name.train.log" 2>&1
  end=$(date +%s)
  $B sample states --weights "$out/$name/denoiser.safetensors" --n 5000 --out "$out/$name/samples.csv" > /dev/null 2>&1
  nll=$($B eval nll "$out/$name/samples.csv" 2> "$out/$name.eval.log")
  $B sample states --weights "$out/$name/denoiser.safetensors" --n 5000 --steps 25 --out "$out/$name/samples25.csv" > /dev/null 2>&1
  nll25=$($B eval nll "$out/$name/samples25.csv" 2> "$out/$name.eval25.log")
  echo "$name | $flags | $((end - start)) s | $nll | $(grep -o '[0-9.]*$' "$out/$name.eval.log" | paste -sd' ') | 25 steps: $nll25 | $(grep -o '[0-9.]*$' "$out/$name.eval25.log" | paste -sd' ')"
done <<'RUNS'
simple --objective simple
cosine --schedule cosine
iw2 --objective iwdiff --iw-k 2
iw2best --objective iwdiff --iw-k 2 --iw-weights best
is --t-sampling importance
is2 --t-sampling importance --is-extra 2
iw2is --objective iwdiff --iw-k 2 --t-sampling importance
hybrid --objective hybrid
RUNS
