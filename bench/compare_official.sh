#!/usr/bin/env bash
# Alternates ktmjax's throughput command and the public code's loop (official_style.py) on this
# machine, so both see the same load; prints one JSON line per measurement.
#   bash bench/compare_official.sh [REPEATS] [OFFICIAL_STYLE_PY]
# Needs torch (and gymnasium for --env) besides ktmjax: pip install torch gymnasium
set -euo pipefail
REPEATS=${1:-2}
OFFICIAL=${2:-../shared/bench/official_style.py}
for stage in offline online; do
  for _ in $(seq "$REPEATS"); do
    for update in vmap sequential; do
      python -m experiments.throughput --stage=$stage --update=$update --rounds=50 --repeats=2 2>/dev/null | tail -1
    done
    if [ "$stage" = online ]; then
      python "$OFFICIAL" --stage online --env --rounds 50 | tail -1
    else
      python "$OFFICIAL" --stage offline --rounds 50 | tail -1
    fi
  done
done
