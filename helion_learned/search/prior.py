"""``LearnedPriorLFBOTreeSearch``: Helion's default search with the cost model as a prior.

Two changes to ``LFBOTreeSearch`` (Helion 1.5's default), nothing else:
1. its initial population leads with the learned top-k (as seeds, after any user seeds: Helion
   pins seeds as finalists, so they are re-checked at the end);
2. each generation, before its surrogate picks the neighbours to benchmark, the cost model keeps
   the ``prescreen`` share of them it ranks highest (never fewer than the surrogate picks). The
   surrogate learns only from this run's few measurements; the cost model from every workload in
   its training logs.
Without a model that can rank the kernel it is ``LFBOTreeSearch`` exactly.
"""

from __future__ import annotations

import inspect
import logging
import math
from collections.abc import Sequence
from typing import Any

from helion.autotuner import LFBOTreeSearch

from ..adapter import describe_error
from ..adapter import resolve_hardware
from ..features.facts import facts_from_env
from .ranking import learned_ranking

log = logging.getLogger("helion_learned")
DEFAULT_LEARNED_K = 8
DEFAULT_PRESCREEN = 0.5


class LearnedPriorLFBOTreeSearch(LFBOTreeSearch):
    """``LFBOTreeSearch`` seeded with the learned top-k and pre-screened by the cost model."""

    def __init__(self, kernel: Any, args: Sequence[object], *,
                 learned_k: int = DEFAULT_LEARNED_K, prescreen: float = DEFAULT_PRESCREEN,
                 **kwargs: Any) -> None:
        if learned_k < 0 or not 0.0 < prescreen <= 1.0:
            raise ValueError(f"learned_k must be >= 0 and prescreen in (0, 1]; got "
                             f"learned_k={learned_k}, prescreen={prescreen}")
        super().__init__(kernel, args, **kwargs)
        self.learned_k = learned_k
        self.prescreen = prescreen
        self._heuristic, learned = (learned_ranking(kernel, learned_k) if learned_k
                                    else (None, []))
        import helion

        self.learned_seeds = [helion.Config(**c) for c in learned]
        self._scorer: tuple[Any, Any] | None = None  # (facts, hardware), built on first use
        self.n_prescreened = 0

    def _algorithm_cache_policy(self) -> dict[str, object] | None:
        policy = super()._algorithm_cache_policy()
        if policy is None:
            return None
        return {**policy, "learned_prior_version": 1, "learned_k": self.learned_k,
                "prescreen": self.prescreen,
                "model": None if self._heuristic is None else self._heuristic.name}

    def _autotune_seed_configs(self) -> Sequence[Any]:
        return [*super()._autotune_seed_configs(), *self.learned_seeds]

    def _cost_scores(self, candidates: list[Any]) -> list[float] | None:
        """The cost model's score of each candidate (higher = faster); None when unavailable."""
        if self._heuristic is None:
            return None
        try:
            if self._scorer is None:
                env = self.kernel.env
                hw = resolve_hardware(env, self._heuristic._target)
                if hw is None:
                    return None
                self._scorer = (facts_from_env(env, self.kernel.host_function.device_ir), hw)
            facts, hw = self._scorer
            configs = [dict(m.config.config) for m in candidates]
            return [float(s) for s in self._heuristic._predictor.score(facts, hw, configs)]
        except Exception as e:
            log.debug("helion_learned: no cost-model pre-screen: %s", describe_error(e))
            self._heuristic = None  # do not try again every generation
            return None

    def _surrogate_select(self, candidates: list[Any], n_sorted: int) -> list[Any]:
        keep = max(n_sorted, math.ceil(len(candidates) * self.prescreen))
        if keep < len(candidates) and (scores := self._cost_scores(candidates)) is not None:
            # Helion passes the incumbent (or the parent) first and relies on it surviving.
            order = {0, *sorted(range(1, len(candidates)), key=lambda i: -scores[i])[:keep - 1]}
            self.n_prescreened += len(candidates) - len(order)
            candidates = [candidates[i] for i in sorted(order)]  # the surrogate sees them in order
        return super()._surrogate_select(candidates, n_sorted)


def _signature() -> inspect.Signature:
    """LFBOTreeSearch's parameters plus ours: Helion passes the effort profile's settings only
    to parameters it can see in the signature (runtime.settings.default_autotuner_fn)."""
    base = inspect.signature(LFBOTreeSearch.__init__)
    params = [p for p in base.parameters.values() if p.kind is not p.VAR_KEYWORD]
    ours = [inspect.Parameter("learned_k", inspect.Parameter.KEYWORD_ONLY,
                              default=DEFAULT_LEARNED_K),
            inspect.Parameter("prescreen", inspect.Parameter.KEYWORD_ONLY,
                              default=DEFAULT_PRESCREEN)]
    return base.replace(parameters=[*params, *ours])


LearnedPriorLFBOTreeSearch.__init__.__signature__ = _signature()  # type: ignore[attr-defined]
