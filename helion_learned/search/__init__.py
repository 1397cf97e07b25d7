"""Search algorithms for Helion's autotuner that use the learned cost model.

* :class:`LearnedTopKSearch` benchmarks only the model's top-k, Helion's default config and the
  seeds of Helion's heuristics, and returns the fastest: seconds instead of minutes
  (``HELION_AUTOTUNER=LearnedTopKSearch`` or ``autotuner_fn=helion_learned.autotuner(k=8)``).
* :class:`LearnedPriorLFBOTreeSearch` is Helion's default search (``LFBOTreeSearch``) with the
  learned top-k leading its initial population and the cost model pre-screening the neighbours
  its surrogate would otherwise pick from blindly (``HELION_AUTOTUNER=LearnedPriorLFBOTreeSearch``).

Both are registered in ``helion.autotuner.search_algorithms`` by :func:`register` (which
``helion_learned.install()`` calls). Runtime code: no training imports.
"""

from __future__ import annotations

from .register import SEARCH_NAMES
from .register import autotuner
from .register import register
from .register import unregister

__all__ = ["SEARCH_NAMES", "autotuner", "register", "unregister"]
