"""Old path of :mod:`helion_learned.training.collect.replay`, kept runnable because datasheets and
earlier commands cite ``python -m helion_learned.training.collect_replay``."""

from __future__ import annotations

import sys

from .collect.replay import build_plan
from .collect.replay import facts_workloads
from .collect.replay import load_plan
from .collect.replay import main

__all__ = ["build_plan", "facts_workloads", "load_plan", "main"]

if __name__ == "__main__":
    sys.exit(main())
