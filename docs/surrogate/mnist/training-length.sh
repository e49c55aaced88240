#!/bin/sh
# DDPM-14's own quality at its checkpoints (seed 003 §4, Tables 4.1–4.2: quality against training
# length). `train mnist-surrogate --kind ddpm14` keeps the EMA weights of every checkpoint (every
# 500 steps) as unet-NNNNNN.safetensors; each is sampled alone (500 class-conditional digits,
# DPM-Solver++(2M) in 20 steps, guidance w = 1, seed 0, doubled to 28×28) and judged by the CNN.
#
#   diffusion train mnist-surrogate --kind ddpm14 --steps 2000 --out runs/ddpm14   # 25 min on this CPU
#   sh docs/surrogate/mnist/training-length.sh runs/ddpm14
set -e
B=${B:-target/release/diffusion}
RUN=${1:-runs/ddpm14}
for step in 000500 001000 001500 002000; do
  $B sample mnist --weights "$RUN/unet-$step.safetensors" --n 500 --steps 20 --seed 0 --out "$RUN/samples-$step" 2>&1 | sed -n '$p'
  echo "step $step: $($B eval mnist --samples "$RUN/samples-$step" | sed -n 1p)"
done
