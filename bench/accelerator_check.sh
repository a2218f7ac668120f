#!/usr/bin/env bash
# The prepared accelerator check (python -m bench.accelerator_check): run it first on a lent
# GPU or TPU machine. About 5 to 8 minutes there; --dry-run runs it at tiny sizes on any CPU.
#   bash bench/accelerator_check.sh [--dry-run] [--out=DIR]     (PYTHON=... picks the interpreter)
set -euo pipefail
cd "$(dirname "$0")/.."
"${PYTHON:-python}" -m bench.accelerator_check "$@"
