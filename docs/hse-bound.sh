#!/usr/bin/env bash
# docs/hse-states.md, the bound column: each model's DDPM-chain variational bound (σ² = β, β̃ and,
# for a hybrid file, learned; one x_t draw per step and point) and its PF-ODE NLL (RK4, 100 steps),
# in nats on 2000 STATES points spread evenly through the file. Usage: hse-bound.sh NAME=FILE ...
set -euo pipefail
B=${CARGO_TARGET_DIR:-$HOME/.cache/diffusion-target}/release/diffusion
for pair in "$@"; do
  name=${pair%%=*}; file=${pair#*=}
  ode=$($B likelihood --weights "$file" --n 2000 2>/dev/null)
  row="$name | ODE $ode"
  for v in beta beta-tilde learned; do
    bound=$($B likelihood --weights "$file" --n 2000 --bound --variance "$v" --steps 0 2>&1 >/dev/null | grep -o 'bound [0-9.]* ± [0-9.]*' || echo "-")
    row="$row | $v $bound"
  done
  echo "$row"
done
