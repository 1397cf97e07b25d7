"""Confidence: a calibrated probability that the model's pick is not slower than the fallback.

The fallback is what runs when the gate abstains: Helion's default config with autotuning off (its
promoted heuristic seed, else the fragment defaults). The question a user needs answered is "is
the pick faster than what I get if you stay silent?", not "is it within X% of the best known?":
a pick at 0.92 of best where Helion's default sits at 0.40 is a large win. See :class:`GateSpec`.
Bundles trained before the fallback gate (``metadata.gate`` absent) predict "within X% of best".

Inputs are statistics of the candidate scores (how far the top pick stands out), defined once here
and used by training and by the adapter. The calibrator is a logistic regression stored as plain
numbers in ``metadata.json`` (no pickle); sklearn is only imported to fit it.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np


@dataclasses.dataclass(frozen=True)
class GateSpec:
    """What the gate's confidence predicts and what its wrong-pick budget counts.

    ``margin``: the calibrator learns P(pick not slower than the fallback by more than this).
    ``slowdown_limit``: a fired pick is wrong when it is slower than the fallback by more than
    this; the threshold is the lowest whose fired picks are wrong at most ``wrong_budget`` of
    the time on held-out groups. Where a log does not say which config is the fallback (logs
    without the collector's origins), both fall back to "within X% of the best".
    """

    margin: float = 0.02
    slowdown_limit: float = 0.05

    @staticmethod
    def not_slower(rel_pick: float, rel_fallback: float, by: float, otherwise: bool) -> bool:
        if rel_fallback != rel_fallback:  # NaN: no known fallback
            return otherwise
        return bool(rel_pick >= rel_fallback / (1.0 + by))

    def to_dict(self) -> dict[str, Any]:
        return {"target": "fallback", **dataclasses.asdict(self)}


DEFAULT_GATE = GateSpec()


# No candidate-count features: offline groups and bind-time grids differ in size.
CONFIDENCE_FEATURES = ("top1", "gap12", "gap_top5", "gap_median", "spread")


def confidence_features(scores: np.ndarray) -> np.ndarray:
    """Summary of one group's candidate scores (any order) → fixed-length vector."""
    s = np.sort(np.asarray(scores, dtype=np.float64))[::-1]
    if s.size == 0:
        return np.full(len(CONFIDENCE_FEATURES), np.nan)
    top1 = s[0]
    second = s[1] if s.size > 1 else s[0]
    spread = float(s[0] - s[min(s.size - 1, max(1, s.size // 10))])
    return np.array([top1, top1 - second, top1 - float(np.mean(s[:5])),
                     top1 - float(np.median(s)), spread])


@dataclasses.dataclass
class ConfidenceCalibrator:
    """``p = sigmoid((f - mean) / scale · coef + intercept)`` on :data:`CONFIDENCE_FEATURES`."""

    coef: list[float] = dataclasses.field(default_factory=list)
    intercept: float = 0.0
    mean: list[float] = dataclasses.field(default_factory=list)
    scale: list[float] = dataclasses.field(default_factory=list)

    def fit(self, features: np.ndarray, hits: np.ndarray, *, C: float = 1.0) -> ConfidenceCalibrator:
        from sklearn.linear_model import LogisticRegression

        F = np.nan_to_num(np.asarray(features, dtype=np.float64))
        hits = np.asarray(hits).astype(int)
        self.mean = F.mean(axis=0).tolist()
        self.scale = [float(x) if x > 1e-12 else 1.0 for x in F.std(axis=0)]
        Z = (F - np.array(self.mean)) / np.array(self.scale)
        if len(set(hits.tolist())) < 2:
            # All picks hit (or all missed): the best we can say is the base rate.
            rate = float(np.clip(hits.mean(), 1e-3, 1 - 1e-3)) if hits.size else 0.5
            self.coef = [0.0] * F.shape[1]
            self.intercept = math.log(rate / (1 - rate))
            return self
        lr = LogisticRegression(C=C, max_iter=1000).fit(Z, hits)
        self.coef = [float(c) for c in lr.coef_[0]]
        self.intercept = float(lr.intercept_[0])
        return self

    def predict(self, features: np.ndarray) -> np.ndarray:
        F = np.nan_to_num(np.atleast_2d(np.asarray(features, dtype=np.float64)))
        if not self.coef:
            raise RuntimeError("ConfidenceCalibrator is not fitted")
        z = ((F - np.array(self.mean)) / np.array(self.scale)) @ np.array(self.coef) + self.intercept
        return 1.0 / (1.0 + np.exp(-z))

    def to_dict(self) -> dict[str, Any]:
        return {"features": list(CONFIDENCE_FEATURES), **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConfidenceCalibrator:
        if list(data.get("features", [])) != list(CONFIDENCE_FEATURES):
            raise ValueError(f"calibrator features {data.get('features')} != {CONFIDENCE_FEATURES}")
        return cls(coef=list(data["coef"]), intercept=float(data["intercept"]),
                   mean=list(data["mean"]), scale=list(data["scale"]))


@dataclasses.dataclass(frozen=True)
class ThresholdChoice:
    threshold: float
    precision: float  # share of fired picks that are right (the ``hits`` it was chosen on)
    coverage: float  # share of groups where the heuristic fires
    n_groups: int


def choose_threshold(confidence: np.ndarray, hits: np.ndarray, *,
                     wrong_budget: float = 0.05) -> ThresholdChoice:
    """Lowest threshold whose fired picks are wrong at most ``wrong_budget`` of the time.

    Evaluated on held-out groups; returns threshold 1.01 (never fire) when no threshold meets it.
    """
    conf = np.asarray(confidence, dtype=np.float64)
    hit = np.asarray(hits).astype(bool)
    n = conf.size
    if n == 0:
        return ThresholdChoice(1.01, float("nan"), 0.0, 0)
    order = np.argsort(-conf, kind="stable")
    cum_hits = np.cumsum(hit[order])
    fired = np.arange(1, n + 1)
    precision = cum_hits / fired
    best = None
    for i in range(n):
        # Only cut between distinct confidence values: ties fire together.
        if i + 1 < n and conf[order[i + 1]] == conf[order[i]]:
            continue
        if precision[i] >= 1.0 - wrong_budget:
            best = i
    if best is None:
        return ThresholdChoice(1.01, float("nan"), 0.0, n)
    return ThresholdChoice(float(conf[order[best]]), float(precision[best]),
                           float((best + 1) / n), n)
