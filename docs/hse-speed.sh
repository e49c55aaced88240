#!/usr/bin/env bash
# docs/hse-states.md, the cost columns: training steps/s of each objective over 150 steps at the
# CLI's defaults (batch 4096), run back to back on an otherwise idle machine, and the peak memory
# (max RSS) of IWDiff at k = 1, 2, 4 with its accumulated gradients.
set -euo pipefail
B=${CARGO_TARGET_DIR:-$HOME/.cache/diffusion-target}/release/diffusion
tmp=$(mktemp -d)
while read -r name flags; do
  [ -z "$name" ] && continue
  rate=$(/usr/bin/time -f '%M' -o "$tmp/rss" $B train states --steps 150 --val-fraction 0 --out "$tmp/$name" $flags 2>&1 \
    | grep -o '([0-9.]* steps/s)' | tr -d '()')
  echo "$name | $flags | $rate | max RSS $(( $(cat "$tmp/rss") / 1024 )) MiB"
done <<'RUNS'
simple --objective simple
cosine --schedule cosine
is --t-sampling importance
is2 --t-sampling importance --is-extra 2
iw1 --objective iwdiff --iw-k 1
iw2 --objective iwdiff --iw-k 2
iw4 --objective iwdiff --iw-k 4
iw2is --objective iwdiff --iw-k 2 --t-sampling importance
hybrid --objective hybrid
RUNS
