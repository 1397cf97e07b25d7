"""``LearnedTopKSearch``: benchmark the learned top-k plus Helion's own choices, keep the best.

A policy between autotune effort ``none`` and ``quick``: the configs benchmarked are the model's
top ``k``, Helion's default config (what runs with autotuning off), the fragment defaults and the
seeds of Helion's heuristics (and any user ``autotune_seed_configs``), deduplicated. Benchmarking,
the accuracy check and the cache are Helion's own (``FiniteSearch``'s machinery).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from helion.autotuner.base_search import BaseSearch
from helion.autotuner.finite_search import FiniteSearch

from ..adapter import describe_error
from .ranking import learned_ranking

log = logging.getLogger("helion_learned")
DEFAULT_K = 8


def helion_choices(kernel: Any, user_seeds: Sequence[Any]) -> list[Any]:
    """Helion's own configs for a bound kernel: user seeds, the default with autotuning off, the
    fragment defaults and the heuristics' seeds (ours included when installed), deduplicated."""
    spec = kernel.env.config_spec
    out: list[Any] = [*user_seeds]
    for get in (spec.default_config, spec.autotune_reference_config):
        try:
            out.append(get())
        except Exception as e:
            log.debug("helion_learned: %s unavailable: %s", get.__name__, describe_error(e))
    out.extend(getattr(spec, "compiler_seed_configs", None) or ())
    return out


class LearnedTopKSearch(FiniteSearch):
    """Benchmark the learned top-``k`` and Helion's own configs; return the fastest."""

    def __init__(self, kernel: Any, args: Sequence[object], *, k: int = DEFAULT_K) -> None:
        import helion

        if k < 1:
            raise ValueError(f"LearnedTopKSearch needs k >= 1, got {k}")
        # FiniteSearch's own __init__ insists on 2+ configs from the kernel's config list.
        BaseSearch.__init__(self, kernel, args)
        self.config_gen = self.config_spec.create_config_generation(
            overrides=self.settings.autotune_config_overrides or None,
            advanced_controls_files=self.settings.autotune_search_acf or None,
            process_group_name=kernel.env.process_group_name,
        )
        self.k = k
        ours = helion_choices(kernel, self._autotune_seed_configs())
        heuristic, learned = learned_ranking(kernel, k, exclude=[dict(c.config) for c in ours])
        self.model_name = heuristic.name if heuristic is not None else None
        self.learned_configs = [helion.Config(**c) for c in learned]
        self.configs = self._unique([*self.learned_configs, *ours])

    def _unique(self, configs: Sequence[Any]) -> list[Any]:
        """Normalized, valid and distinct (overrides applied, as Helion's seed transfer does)."""
        out, seen = [], set()
        for cfg in configs:
            try:
                flat, norm = self.config_gen.canonicalize_flat(self.config_gen.flatten(cfg))
            except Exception as e:  # Helion's own transfer would skip it too
                log.debug("helion_learned: config %s dropped: %s", cfg, describe_error(e))
                continue
            key = repr(flat)
            if key not in seen:
                seen.add(key)
                out.append(norm)
        return out

    def _algorithm_cache_policy(self) -> dict[str, object] | None:
        policy = super()._algorithm_cache_policy()
        if policy is None:
            return None
        return {**policy, "learned_topk_version": 1, "k": self.k, "model": self.model_name}

    def _autotune(self) -> Any:
        self.log(f"LearnedTopKSearch: {len(self.configs)} configs "
                 f"({len(self.learned_configs)} learned, model {self.model_name})")
        best_config, best_time = None, float("inf")
        for result in self.benchmark_batch(self.configs, desc="Benchmarking learned top-k"):
            if result.perf < best_time:
                best_time, best_config = result.perf, result.config
        if best_config is None:  # every config failed: what Helion runs without autotuning
            self.log("LearnedTopKSearch: no config ran; using Helion's default config")
            return self.config_spec.default_config()
        return best_config
