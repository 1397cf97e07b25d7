"""Runtime prediction: kernel facts + hardware → ranked partial configs and a calibrated confidence."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..features.config import plain_config
from ..features.facts import KernelFacts
from ..features.feasibility import ranked_subset
from ..features.hardware import HardwareFacts
from ..features.vectorize import FeatureExtractor
from .bundle import ModelBundle
from .calibration import confidence_features
from .candidates import SPLIT_K_RANGE_MIN_WORKLOADS
from .candidates import candidate_grid
from .candidates import canonical_key
from .candidates import split_k_axes
from .keying import key_generation

_MAX_VALIDATION_TRIES = 24
# Score with the expert on a helper thread from this many candidates on (models.overlap): the
# global and expert models then take ~max instead of the sum where a second core is free (400
# candidates, 2-core host: 6.3 -> 3.2 ms). Below it the hand-off (~0.1-0.2 ms) can cost more than
# it saves when another process holds the second core.
_OVERLAP_MIN_ROWS = 64


def split_k_range_workloads(bundle: ModelBundle) -> int:
    """How many of the bundle's training workloads measured split-K ranges (0: unknown)."""
    rule = bundle.metadata.get("candidate_rule")
    n = rule.get("split_k_range_workloads", 0) if isinstance(rule, dict) else 0
    return n if type(n) is int else 0


def offers_split_k_ranges(bundle: ModelBundle) -> bool:
    """Wider split-K ranges (candidates.structured_grid's ``explore``) only from a model trained
    on logs that measured them: the logs before them never did, so it would rank them blind."""
    return split_k_range_workloads(bundle) >= SPLIT_K_RANGE_MIN_WORKLOADS


@dataclasses.dataclass(frozen=True)
class Prediction:
    configs: list[dict[str, Any]]  # ranked, valid partial configs (plain Python types)
    scores: list[float]
    confidence: float  # P(best pick within `within` of the best), calibrated
    n_candidates: int
    latency_ms: float
    kernel_key: str | None = None  # ModelBundle.kernel_key: which expert and threshold apply


class Predictor:
    def __init__(self, bundle: ModelBundle, *, extractor: FeatureExtractor | None = None) -> None:
        self.bundle = bundle
        self.extractor = extractor or FeatureExtractor(backend=bundle.backend)
        self.split_k_ranges = offers_split_k_ranges(bundle)

    def score(self, facts: KernelFacts, hw: HardwareFacts,
              candidates: Sequence[dict[str, Any]]) -> np.ndarray:
        X = self.extractor.transform(facts, hw, candidates)
        return self.bundle.score(X, self.bundle.kernel_key(facts))

    def confidence(self, scores: np.ndarray) -> float:
        return float(self.bundle.calibrator.predict(confidence_features(scores))[0])

    def predict(self, facts: KernelFacts, hw: HardwareFacts, *, config_spec: Any = None,
                top_k: int = 1, extra_candidates: Sequence[dict[str, Any]] = (),
                reference: dict[str, Any] | None = None,
                exclude: Sequence[dict[str, Any]] = ()) -> Prediction:
        """``reference``: Helion's fragment defaults for this kernel (the cute grid varies them).

        ``exclude``: configs the caller's autotuner already tries (Helion's own seeds): after the
        pick, which stays first even if it is one of them (Helion promotes ``seeds[0]``), the
        ranking skips configs Helion would run identically to one of these, and duplicates. With
        ``config_spec`` every returned config passed Helion's seed-transfer path."""
        start = time.perf_counter()
        # Extra candidates (Helion's own seeds) stay whole: a re-ranked Helion seed must be that seed.
        explore = self.split_k_ranges and split_k_axes(facts) is not None
        candidates = candidate_grid(facts, reference=reference, explore=explore)  # all unique
        for extra in map(plain_config, extra_candidates):
            if extra not in candidates:
                candidates.append(extra)
        key = self.bundle.kernel_key(facts)
        if not candidates:
            return Prediction([], [], 0.0, 0, (time.perf_counter() - start) * 1e3, key)
        # Configs the shared-memory rule rules out are never ranked (as in training's scoring);
        # the rule reads the same config columns as the features, computed once.
        X, mask = self.extractor.transform_with_feasible(facts, hw, candidates)
        ranked = ranked_subset(mask)
        candidates = [candidates[int(i)] for i in ranked]
        scores = self.bundle.score(X[ranked], key, overlap=len(ranked) >= _OVERLAP_MIN_ROWS)
        bad = int(np.count_nonzero(~np.isfinite(scores)))
        if bad:  # a model with absurd leaf values: its ranking and confidence mean nothing
            raise ValueError(f"the model gave {bad} non-finite scores for {len(scores)} candidates")
        with np.errstate(all="ignore"):  # an overflow is reported just below, not as a warning
            confidence = self.confidence(scores)
        if not math.isfinite(confidence):
            raise ValueError(f"the calibrator gave a non-finite confidence ({confidence})")
        order = np.argsort(-scores, kind="stable")  # stable: ties resolve by candidate order
        picked, picked_scores = self._valid_top(order, candidates, scores, config_spec, top_k,
                                                exclude)
        return Prediction(picked, picked_scores, confidence, len(candidates),
                          (time.perf_counter() - start) * 1e3, key)

    @staticmethod
    def _valid_top(order: np.ndarray, candidates: list[dict[str, Any]], scores: np.ndarray,
                   config_spec: Any, top_k: int, exclude: Sequence[dict[str, Any]]
                   ) -> tuple[list[dict[str, Any]], list[float]]:
        """Walk the ranking: the first ``top_k`` configs that are valid and, after the pick, not
        already in ``exclude`` or picked. One canonicalization per config serves both checks
        (it is most of the prediction's time), and it stops as soon as ``top_k`` are found.
        An excluded config is canonicalized only when it could be the candidate at hand
        (:func:`_may_equal`): most binds then canonicalize none of Helion's seeds."""
        gen = None
        if config_spec is not None:
            try:
                gen = key_generation(config_spec)
            except Exception:
                gen = None  # canonical_key() then builds its own per candidate

        def key(cfg: dict[str, Any]) -> str | None:
            if config_spec is None:  # offline: nothing to validate against; compare as given
                return repr(sorted(cfg.items()))
            return canonical_key(config_spec, cfg, gen=gen)

        picked: list[dict[str, Any]] = []
        picked_scores: list[float] = []
        seen: set[str] = set()
        pending = list(exclude)  # excluded configs not keyed yet
        for tries, i in enumerate(order):
            if len(picked) >= top_k or tries >= _MAX_VALIDATION_TRIES:
                break
            cfg = candidates[int(i)]
            k = key(cfg)
            if k is None:
                continue
            if picked:  # the pick stays first even if Helion seeds it too
                unkeyed = []
                for x in pending:  # key those that could be this config; keep the rest for later
                    if not _may_equal(cfg, x):
                        unkeyed.append(x)
                    elif (kx := key(x)) is not None:
                        seen.add(kx)
                pending = unkeyed
            if k in seen:
                continue
            seen.add(k)
            picked.append(cfg)
            picked_scores.append(float(scores[int(i)]))
        return picked, picked_scores


# Fields that tell two configs apart cheaply. Helion's normalization only fills in what a
# partial config leaves out and clamps values to the kernel's limits, so two configs that give
# different values to one of these are different configs, except where both values are clamped
# to one limit: then a duplicate seed costs one extra benchmark, nothing else.
_DISTINCT_FIELDS = ("block_sizes", "num_warps", "num_stages", "pid_type")


def _may_equal(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """False when ``a`` and ``b`` cannot be one config once Helion normalizes them."""
    for name in _DISTINCT_FIELDS:
        if name in a and name in b and a[name] != b[name]:
            return False
    return True
