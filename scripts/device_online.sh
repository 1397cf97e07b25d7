#!/usr/bin/env bash
# One round of benchmarks/online_validation.py on the lent GPU machine (run there through the
# `device` tool, carrying `.whl` = helion 1.5.0 + filecheck + xgboost wheels). Resumable: the
# items already in RESUME_DIR (a folder of earlier rounds' online_shard*.jsonl, in the working
# tree) are copied to $OUT/online first and skipped. Writes $OUT/online/, $OUT/stdout.txt,
# $OUT/stderr.txt and $OUT/env.txt.
#   bash scripts/device_online.sh BUDGET_S RESUME_DIR ONLINE-ARGS...
# e.g. HELION_LEARNED_TARGET=h100 bash scripts/device_online.sh 450 data/online_h200 \
#        --phases seed --autotune-budget-s 35
set -uo pipefail
budget=${1:?budget seconds}; resume=${2:?resume folder (may not exist yet)}; shift 2
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
mkdir -p "$OUT/online"
[ -d "$resume" ] && cp "$resume"/online_shard*.jsonl "$OUT/online/" 2>/dev/null
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  python3 -c "import torch, triton, importlib.metadata as m; print(torch.__version__, triton.__version__, m.version('helion'))"
  nproc; date -u; echo "HELION_LEARNED_TARGET=${HELION_LEARNED_TARGET:-}"; } > "$OUT/env.txt" 2>&1
python3 benchmarks/online_validation.py --out "$OUT/online" --devices 0 \
  --time-budget-s "$budget" "$@" > "$OUT/stdout.txt" 2> "$OUT/stderr.txt"
rc=$?
# Helion's per-search logs as one archive: the tool brings back a limited number of files.
[ -d "$OUT/online/search_logs" ] && tar czf "$OUT/search_logs.tgz" -C "$OUT/online" search_logs \
  && rm -rf "$OUT/online/search_logs"
tail -c 2000 "$OUT/stderr.txt"; tail -n 40 "$OUT/stdout.txt"; cat "$OUT/env.txt"
echo "online rc=$rc"
