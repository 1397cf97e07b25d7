"""The learned ranking for a bound kernel, as the search algorithms need it.

They run at autotune time, after bind: they reuse the heuristic ``install()`` registered for the
kernel's backend (its bundle, target and threshold) or, without ``install()``, build one from the
shipped bundle for the live device (``$HELION_LEARNED_TARGET`` on CPU). Anything unexpected →
no learned configs (logged at DEBUG): the search then runs without them, never fails for them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from ..adapter import LearnedHeuristicBase
from ..adapter import describe_error
from ..adapter import make_heuristic

log = logging.getLogger("helion_learned")
_fallback_heuristics: dict[str, type[LearnedHeuristicBase] | None] = {}


def installed_heuristic(backend: str) -> type[LearnedHeuristicBase] | None:
    """The learned heuristic ``install()`` registered for ``backend``, else one built from the
    shipped bundle (cached per backend; None when there is none)."""
    from helion._compiler import autotuner_heuristics as ah

    for h in ah.HEURISTICS_BY_BACKEND.get(backend, ()):
        if isinstance(h, type) and issubclass(h, LearnedHeuristicBase):
            return h
    if backend not in _fallback_heuristics:
        _fallback_heuristics[backend] = _shipped_heuristic(backend)
    return _fallback_heuristics[backend]


def _shipped_heuristic(backend: str) -> type[LearnedHeuristicBase] | None:
    from ..features.hardware import resolve_target
    from ..models.bundle import ModelBundle
    from ..models.bundle import shipped_bundles

    try:
        paths = shipped_bundles(backend)
        if not paths:
            return None
        return make_heuristic(ModelBundle.load(paths[0]), target=resolve_target(None),
                              promote=False)
    except Exception as e:
        log.debug("helion_learned: no shipped %s model for the search: %s", backend,
                  describe_error(e))
        return None


def learned_ranking(kernel: Any, k: int, *, exclude: Sequence[dict[str, Any]] = ()
                    ) -> tuple[type[LearnedHeuristicBase] | None, list[dict[str, Any]]]:
    """The heuristic used and the model's top ``k`` partial configs for a bound kernel (the pick
    first, then configs not among ``exclude`` or Helion's own); ``[]`` when it cannot rank."""
    try:
        env = kernel.env
        heuristic = installed_heuristic(str(env.backend_name))
        if heuristic is None:
            return None, []
        device_ir = kernel.host_function.device_ir
        with env:  # Helion's heuristics (re-ranked with the grid) expect the bind-time env
            bound = heuristic.ranked(env, device_ir, k, exclude=exclude)
        if bound is None or not bound.prediction.configs:
            return heuristic, []
        return heuristic, list(bound.prediction.configs)
    except Exception as e:
        log.debug("helion_learned: no learned ranking for the search: %s", describe_error(e),
                  exc_info=True)
        return None, []
