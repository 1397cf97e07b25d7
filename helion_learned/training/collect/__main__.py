"""``python -m helion_learned.training.collect``: the collector's command line (:mod:`.run`)."""

from __future__ import annotations

import sys

from .run import main

if __name__ == "__main__":  # Helion spawns workers: keep all work under this guard
    sys.exit(main())
