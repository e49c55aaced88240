#!/usr/bin/env bash
# docs/hse-states.md, variance × K: 5000 ancestral samples of each model at K respaced steps with
# σ² = β, β̃ and (for a hybrid-trained file) the learned Σ_θ, graded; then each model's chain bound
# (5000 points, one x_t draw per step) beside its PF-ODE NLL. Usage: hse-variance.sh NAME=FILE ...
set -euo pipefail
B=${CARGO_TARGET_DIR:-$HOME/.cache/diffusion-target}/release/diffusion
tmp=$(mktemp -d)
for pair in "$@"; do
  name=${pair%%=*}; file=${pair#*=}
  variances="beta beta-tilde"
  $B sample states --weights "$file" --n 1 --steps 2 --variance learned --out "$tmp/s.csv" > /dev/null 2>&1 \
    && variances="beta beta-tilde learned"
  for k in 10 25 50 100 500; do
    for v in $variances; do
      $B sample states --weights "$file" --n 5000 --steps "$k" --variance "$v" --out "$tmp/s.csv" > /dev/null 2>&1
      nll=$($B eval nll "$tmp/s.csv" 2> "$tmp/eval.log")
      echo "$name | K $k | $v | $nll | $(grep -o '[0-9.]*$' "$tmp/eval.log" | paste -sd' ')"
    done
  done
  for v in $variances; do
    out=$($B likelihood --weights "$file" --bound --variance "$v" 2>&1 >/dev/null | grep -E 'bound|NLL' | paste -sd' ')
    echo "$name | bound | $v | $out"
  done
done
