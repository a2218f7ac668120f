#!/usr/bin/env bash
# Rounds per second of N seeds in one program (--seeds=N) against N separate runs, on the
# offline stage of `mini` with the shipped teachers. Prints each run's per-epoch rate and
# wall time (`wall_s`: epochs and evaluations, without start-up).
#     bash bench/seeds.sh [SEEDS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-3}
ROUNDS=${2:-3000}
OUT=$(mktemp -d)
ARGS=(--benchmark=mini --teachers=ktmjax/shipped_teachers/mini --rounds="$ROUNDS"
      --eval_every=1000 --eval_episodes=1 --final_episodes=1)
rate() { grep -o '[0-9,]* rounds/s' "$1" | tail -n +2 | tr -d , | awk '{s += $1; n++} END {printf "%.1f", s / n}'; }
wall() { python -c "import json,sys; print(json.load(open(sys.argv[1]))['wall_s'])" "$1"; }
python -m experiments.offline_transfer "${ARGS[@]}" --seeds="$N" --run_dir="$OUT/together" > "$OUT/together.log" 2>&1
echo "{\"seeds\": $N, \"one_program\": {\"rounds_per_s\": $(rate "$OUT/together.log"), \"wall_s\": $(wall "$OUT/together/summary.json")}}"
for ((s = 0; s < N; s++)); do
  python -m experiments.offline_transfer "${ARGS[@]}" --seed="$s" --run_dir="$OUT/alone$s" > "$OUT/alone$s.log" 2>&1
  echo "{\"seed\": $s, \"alone\": {\"rounds_per_s\": $(rate "$OUT/alone$s.log"), \"wall_s\": $(wall "$OUT/alone$s/summary.json")}}"
done
rm -rf "$OUT"
