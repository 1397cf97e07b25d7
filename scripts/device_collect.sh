#!/usr/bin/env bash
# One collection round on the lent GPU machine (run there through the `device` tool, carrying
# `.whl` = helion 1.5.0 + filecheck wheels). Writes $OUT/collect.tgz, $OUT/stdout.txt,
# $OUT/stderr.txt and $OUT/env.txt; ingest here with scripts/ingest_round.py.
#   bash scripts/device_collect.sh BUDGET_S COLLECT-ARGS...
# e.g. bash scripts/device_collect.sh 470 --devices 0 --procs-per-device 4 --random 16 --grid 0 \
#        --replay data/replay_plans/h100_top8_sample40.json.gz --resume-from data/h200
set -uo pipefail
budget=${1:?budget seconds}; shift
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
# A fresh folder per call: a warm machine keeps /tmp, and an old round's files in the archive
# would be ingested twice.
out=$(mktemp -d /tmp/collect.XXXXXX)
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  python3 -c "import torch, triton, importlib.metadata as m; print(torch.__version__, triton.__version__, m.version('helion'))"
  nproc; date -u; } > "$OUT/env.txt" 2>&1
# stdout to files, not a pipe: an orphaned compile child must not hold the call open.
python3 -m helion_learned.training.collect --out "$out" --time-budget-s "$budget" "$@" \
  > "$OUT/stdout.txt" 2> "$OUT/stderr.txt"
rc=$?
tar czf "$OUT/collect.tgz" -C "$out" .
tail -c 3000 "$OUT/stderr.txt"; tail -n 40 "$OUT/stdout.txt"; cat "$OUT/env.txt"
echo "collector rc=$rc"
