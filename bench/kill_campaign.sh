#!/usr/bin/env bash
# Fault campaign: a tiny mini teacher run, offline_transfer run and online run (two mini
# tasks stepped together, the shipped mini teachers, 16-wide nets, 600 steps or rounds,
# a checkpoint every 150), each killed by SIGKILL at N random moments and re-run with the
# same command to its end; each re-run must end exactly as the same command never
# interrupted: the same newest-checkpoint arrays, summary.json tasks and metrics.csv
# (but for its wall-clock column; bench/compare_runs.py).
#
#   bash bench/kill_campaign.sh N [OUT_DIR]      # prints "K/N identical" per command
#
# The command first runs twice uninterrupted (the second run must equal the first, and its
# wall time, with the compilation cache warm, is the span the kills are drawn over). Kill i
# lands at a moment drawn uniformly over that span (start-up, epochs, evaluations,
# checkpoint writes, final files), seeded (KILL_SEED, default 0); a kill that comes after
# its run ended is said, and a run killed once finished is not re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:?usage: bash bench/kill_campaign.sh N [OUT_DIR]}
OUT=${2:-$(mktemp -d "${TMPDIR:-/tmp}/kill_campaign.XXXXXX")}
RANDOM=${KILL_SEED:-0}
mkdir -p "$OUT"
TINY="--benchmark=mini --tasks=InvertedPendulum,InvertedPendulumBigPole --eval_every=150 --hidden=16,16 --eval_episodes=1 --final_episodes=1"
SHIPPED="--teachers=ktmjax/shipped_teachers/mini"
declare -A ARGS=(
  [train_teachers]="$TINY --steps=600 --batch_size=32 --start_steps=100 --episode_length=100"
  [offline_transfer]="$TINY $SHIPPED --rounds=600 --rollout_steps=400 --batch_size=16"
  [online]="$TINY $SHIPPED --rounds=600 --warmup=100 --batch_size=32"
)
echo "kill campaign: N=$N, seed ${KILL_SEED:-0}, out $OUT, $(lscpu | sed -n 's/^Model name: *//p')"

run() {   # run MODULE RUN_DIR: the command to its end, output in RUN_DIR.log
  python -m "experiments.$1" ${ARGS[$1]} --run_dir="$2" >>"$2.log" 2>&1
}

for module in train_teachers offline_transfer online; do
  plain="$OUT/$module/plain"
  mkdir -p "$OUT/$module"
  run "$module" "$plain"
  start=$(date +%s.%N)
  run "$module" "$OUT/$module/plain2"
  wall=$(echo "$(date +%s.%N) - $start" | bc)
  echo "$module: uninterrupted twice: $(python -m bench.compare_runs "$plain" "$OUT/$module/plain2" 2>&1 | tail -1)"
  identical=0 landed=0
  for i in $(seq 1 "$N"); do
    dir="$OUT/$module/kill$i"
    delay=$(echo "scale=2; $wall * $RANDOM / 32767" | bc)
    python -m "experiments.$module" ${ARGS[$module]} --run_dir="$dir" >>"$dir.log" 2>&1 &
    pid=$!
    sleep "$delay"
    kill -KILL "$pid" 2>/dev/null || true
    status=0
    { wait "$pid"; } 2>/dev/null || status=$?     # (bash's own "Killed" line: dropped)
    if [ "$status" = 137 ]; then
      landed=$((landed + 1)) when="killed at ${delay} s"
      # a kill after the run wrote summary.json (it is finished) leaves nothing to re-run
      [ -f "$dir/summary.json" ] || run "$module" "$dir"
    else when="ended (exit $status) before its kill at ${delay} s"; fi
    if verdict=$(python -m bench.compare_runs "$plain" "$dir" 2>&1); then
      identical=$((identical + 1))
    fi
    echo "$module $i/$N: $when ($(grep -c '^\[.*resuming from' "$dir.log" || true) resume); ${verdict##*$'\n'}"
  done
  echo "$module: $identical/$N identical ($landed kills landed; uninterrupted run ${wall%.*} s)"
done
