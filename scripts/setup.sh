#!/usr/bin/env bash
# Create .venv and install helion_learned with its test/training extras (idempotent).
# Torch is pinned to 2.13.0 first: on CPU machines of this workplace that takes the local CPU
# build; an unpinned torch would pull a multi-GB CUDA build. Elsewhere, install a CPU torch first
# (e.g. from PyTorch's CPU wheel index) and this script leaves it alone.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
python -m pip install -q --upgrade pip >/dev/null
if ! python -c "import torch" 2>/dev/null; then
  python -m pip install -q "torch==2.13.0"
fi
python -m pip install -q "triton>=3.6" 2>/dev/null || true   # CPU interpreter for the tests
python -m pip install -q -e ".[test]"
python -c "import helion, torch, xgboost; import importlib.metadata as m; print('helion', m.version('helion'), 'torch', torch.__version__, 'xgboost', xgboost.__version__)"
