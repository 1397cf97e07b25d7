#!/usr/bin/env bash
# Set up .venv (scripts/setup.sh) and run the test suite: real Helion kernels on CPU (TRITON_INTERPRET=1).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest -q "$@"
