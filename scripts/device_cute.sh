#!/usr/bin/env bash
# Issue #7 on the lent GPU machine, in one call: unpack the CuTe DSL, probe every suite family
# with backend="cute", then collect cute workloads of the families that ran and checked.
# Carry `.whl` (helion 1.5.0, filecheck, nvidia-cutlass-dsl-libs-core 4.7.0: the DSL's Python
# package `cutlass`) and `.cute/cutesite.tar.xz`: nvidia-cutlass-dsl 4.7.0, -libs-base,
# -libs-cu13 and apache-tvm-ffi installed with `pip install --target` here, then
# `tar cf - . | xz --x86 --lzma2=preset=9e,dict=192MiB` (53 MB: the x86 filter is what makes
# the 88 MB libs wheel fit one call; see reports/cute/README.md).
#   bash scripts/device_cute.sh PROBE_BUDGET_S COLLECT_BUDGET_S [FAMILY,...] [COLLECT-ARGS...]
# PROBE_BUDGET_S 0 skips the probe and collects FAMILY,... as given. COLLECT-ARGS go last, so
# they override the defaults below (argparse: the last value wins), e.g. --procs-per-device 6
# --grid 24 --resume-from data/h200_cute.
set -uo pipefail
probe_s=${1:?probe budget}; collect_s=${2:?collect budget}; families=${3:-}; shift 3 || shift $#
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/site .whl/*.whl || exit 1
xz -T0 -dc .cute/cutesite.tar.xz | tar x -C /tmp/site || exit 1
# The DSL's own .pth adds dsl_packages to sys.path; .pth files are not read from PYTHONPATH.
export PYTHONPATH=/tmp/site:/tmp/site/nvidia_cutlass_dsl/dsl_packages:$PWD PYTHONUNBUFFERED=1
python3 - > "$OUT/cute_env.txt" 2>&1 <<'EOF'
import importlib.metadata as m, torch
for d in ("nvidia-cutlass-dsl", "nvidia-cutlass-dsl-libs-cu13", "apache-tvm-ffi", "helion"):
    print(d, m.version(d))
print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name())
from helion._compiler.cute.cutedsl_compat import _cute_backend_requirement_error
print("cute requirement error:", _cute_backend_requirement_error())
EOF
cat "$OUT/cute_env.txt"
if [ "$probe_s" -gt 0 ]; then
  python3 benchmarks/cute_probe.py --out "$OUT" --time-budget-s "$probe_s" ${families:+--families "$families"} \
    > "$OUT/probe_stdout.txt" 2>&1
  grep '^\[cute_probe\]' "$OUT/probe_stdout.txt"
  ok=$(python3 -c "import json; print(','.join(r['family'] for r in map(json.loads, open('$OUT/cute_probe.jsonl')) if r['stage']=='ok'))")
  echo "families that ran: ${ok:-none}"
else
  ok=$families
fi
[ -n "$ok" ] || exit 0
out=$(mktemp -d /tmp/cute_collect.XXXXXX)  # fresh per call: a warm machine keeps /tmp
python3 -m helion_learned.training.collect --out "$out" --backend cute \
  --families ${ok//,/ } --devices 0 --procs-per-device 4 --random 16 --grid 16 \
  --time-budget-s "$collect_s" "$@" > "$OUT/collect_stdout.txt" 2> "$OUT/collect_stderr.txt"
echo "cute collector rc=$?"
tar czf "$OUT/cute_collect.tgz" -C "$out" .
grep '^\[collect' "$OUT/collect_stdout.txt" | tail -n 25; tail -c 1500 "$OUT/collect_stderr.txt"
