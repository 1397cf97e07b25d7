#!/usr/bin/env bash
# The main job on the shipped default: set up .venv, train the triton cost model on the bundled
# H100 datasets (scored: data/h100, the 21 original suite kernels, with its short kernels on
# their CUDA-graph re-measurement, data/h100_graph, via --prefer-timer cudagraph; and
# data/h100_new, the suite's newer kernels) with the H200 logs as training-only rows
# (data/h200, data/h200_graph) and the cute one on the H200 cute dataset (data/h200_cute), and
# regenerate both offline evaluation reports (reports/triton_sm90/, reports/cute_sm90/).
# EXTRA="" trains on the H100 logs alone; GRAPH="" scores the short kernels on launch labels;
# NEW="" leaves the newer kernels out (the bundles before 2026-12-08 trained without them).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
DATA=${DATA:-data/h100}
EXTRA=${EXTRA-data/h200 data/h200_graph}
GRAPH=${GRAPH-data/h100_graph}
NEW=${NEW-data/h100_new}
# shellcheck disable=SC2206  # word splitting is the point: a list of log folders
SCORED=($DATA $NEW $GRAPH ${GRAPH:+--prefer-timer cudagraph})
# shellcheck disable=SC2206  # word splitting is the point: a list of log folders
EXTRA_ARGS=(${EXTRA:+--extra-logs $EXTRA})
CLEAN_EXTRA=(${EXTRA:+--extra $EXTRA})
NOTE="Real measurements: Helion autotune logs collected on NVIDIA H100 80GB HBM3 GPUs${NEW:+ (the 21 original suite kernels in $DATA, the newer suite kernels in $NEW)}${EXTRA:+ (scored) and NVIDIA H200 GPUs (training-only rows: $EXTRA)} (see data/README.md)${GRAPH:+; the H100 workloads re-measured under CUDA-graph timing ($GRAPH) are scored and trained on those labels}; every number below comes from them."
helion-learned train "${SCORED[@]}" "${EXTRA_ARGS[@]}" --backend triton -o build/triton_sm90
helion-learned inspect build/triton_sm90
helion-learned evaluate "${SCORED[@]}" "${EXTRA_ARGS[@]}" -o reports/triton_sm90 --data-note "$NOTE" \
  --experiments reports/triton_sm90/experiments.json
CUTE_NOTE="Real measurements: Helion autotune logs collected with Helion's cute backend on an NVIDIA H200 (see data/README.md); every number below comes from them."
helion-learned train data/h200_cute --backend cute -o build/cute_sm90
helion-learned evaluate data/h200_cute --backend cute -o reports/cute_sm90 --data-note "$CUTE_NOTE"
# Run-to-run reproducibility of the two timers (seconds; the triton report's runtime table cites it).
python benchmarks/timing_protocol.py data/h200_timing --original data/h200 -o reports/timing
# The short kernels' picks scored again on CUDA-graph timings of the same configs (~1 min).
python benchmarks/clean_labels.py --source "$DATA" --clean data/h200_short_graph \
  --replicate data/h200_short_graph_rep --model build/triton_sm90 "${CLEAN_EXTRA[@]}" \
  -o reports/clean_labels
echo "reports: reports/triton_sm90/report.md, reports/cute_sm90/report.md (HTML beside them), reports/timing/report.md, reports/clean_labels/report.md"
