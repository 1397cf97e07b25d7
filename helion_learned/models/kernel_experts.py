"""Per-kernel experts: a small model per kernel seen in the training logs, blended with the global one.

The global cost model must generalize across kernels, so it is shallow and regularized; on a
kernel it has logs of at other shapes (the leave-shape-out case: a user re-tuning a known kernel
at a new size) it leaves precision on the table. An expert is an XGBoost model fitted only on that
kernel's workloads; a candidate's score is ``(1 - w) * global + w * expert``. Both predict the same
label (relative speed), so the blend stays on the scale the confidence calibrator was fitted on.

Same estimate on 176 H100 workloads, 3 fold splits x 3 XGBoost seeds (report's experiments table):
leave-shape-out geomean 0.880 -> 0.890, p10 0.764 -> 0.796, within 5 % 51 % -> 57 %. Kernels the
logs never saw (leave-family-out) score exactly as before: they have no expert.

A kernel is matched by its name, kind *and structure signature* (:func:`structure_signature`:
its op classes, block roles, dots and reductions, read off its facts; not its shapes or
dtypes), at training time from the logged facts and at bind time from the bound kernel. A user's
kernel that shares a suite kernel's name but not its body is an unseen kernel: it gets no expert
and the unseen-kernel threshold. Bundles before schema 4 keyed by name and kind alone
(:func:`legacy_facts_key`); they still load and match that way.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

import numpy as np

from .ranker import CostModel

EXPERT_WEIGHT = 0.5
# Deeper and less regularized than the global model: one kernel's data, one kernel's structure.
EXPERT_PARAMS: dict[str, Any] = {"n_estimators": 150, "max_depth": 6, "learning_rate": 0.05,
                                 "subsample": 0.8, "colsample_bytree": 1.0,
                                 "min_child_weight": 1.0}
MIN_WORKLOADS = 2  # one logged shape teaches that shape's ranking, not the kernel's


# Op classes whose count follows the dtypes (casts around an fp32 accumulator), not the body.
_DTYPE_OPS = frozenset({"cast"})


def structure_signature(facts: Any) -> str:
    """8 hex digits over what a kernel is made of, the same at every shape and dtype it binds at:
    its kind, op-class histogram (casts left out), the set of its block roles (a pointwise
    kernel's rank changes how many grid blocks, not which), and how many dots and reductions it
    has. Input metadata is left out: the facts sidecar records it, a bare bind does not."""
    ops = {str(k): int(v) for k, v in sorted((getattr(facts, "op_histogram", None) or {}).items())
           if k not in _DTYPE_OPS and v}
    body = {"kind": getattr(facts, "kind", None), "ops": ops,
            "roles": sorted({str(b.role) for b in getattr(facts, "blocks", ())}),
            "dots": len(getattr(facts, "matmuls", ())),
            "reductions": len(getattr(facts, "reductions", ()))}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def expert_key(kernel_name: str | None, kind: str | None, signature: str | None = None
               ) -> str | None:
    """``"<kernel name>/<kind>/<signature>"`` (``"<name>/<kind>"`` without a signature: bundles
    before schema 4), or None for a kernel without a name (never matched)."""
    if not kernel_name:
        return None
    key = f"{kernel_name}/{kind or 'other'}"
    return f"{key}/{signature}" if signature else key


def facts_key(facts: Any) -> str | None:
    """The expert / known-kernel key of a kernel: name, kind and structure signature."""
    name = getattr(facts, "kernel_name", None)
    if not name:
        return None
    return expert_key(name, getattr(facts, "kind", None), structure_signature(facts))


def legacy_facts_key(facts: Any) -> str | None:
    """The key of bundles before schema 4: name and kind alone."""
    return expert_key(getattr(facts, "kernel_name", None), getattr(facts, "kind", None))


@dataclasses.dataclass
class KernelExperts:
    """``models_``: expert key -> fitted CostModel; ``n_workloads_``: workloads each was fit on."""

    weight: float = EXPERT_WEIGHT
    min_workloads: int = MIN_WORKLOADS
    models_: dict[str, CostModel] = dataclasses.field(default_factory=dict)
    n_workloads_: dict[str, int] = dataclasses.field(default_factory=dict)

    def fit(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray, keys: np.ndarray, *,
            feature_names: tuple[str, ...] | list[str] | None = None, random_state: int = 0,
            n_jobs: int = 1, only: set[str] | None = None) -> KernelExperts:
        """``keys``: one expert key (or None) per row, constant within a group. ``only``: fit
        just these kernels' experts (cross-validation needs only the held-out kernels')."""
        keys = np.asarray(keys, dtype=object)
        if len(keys) != len(y):
            raise ValueError(f"KernelExperts.fit expects one key per row; got {len(keys)} keys "
                             f"for {len(y)} rows")
        self.models_, self.n_workloads_ = {}, {}
        for key in sorted({k for k in keys.tolist() if k is not None and (only is None
                                                                          or k in only)}):
            rows = keys == key
            n = int(np.unique(groups[rows]).size)
            if n < self.min_workloads:
                continue
            self.models_[key] = CostModel(**EXPERT_PARAMS, random_state=random_state,
                                          n_jobs=n_jobs).fit(X[rows], y[rows], groups[rows],
                                                             feature_names=feature_names)
            self.n_workloads_[key] = n
        return self

    def blend(self, key: str | None, X: np.ndarray, base: np.ndarray) -> np.ndarray:
        """Scores for candidates ``X`` of one kernel, given the global model's ``base`` scores."""
        model = self.models_.get(key) if key is not None else None
        if model is None:
            return np.asarray(base, dtype=np.float64)
        return (1.0 - self.weight) * np.asarray(base, dtype=np.float64) + self.weight * model.score(X)

    def blend_rows(self, X: np.ndarray, keys: np.ndarray, base: np.ndarray) -> np.ndarray:
        """:meth:`blend` for rows of many kernels at once (offline evaluation)."""
        keys = np.asarray(keys, dtype=object)
        out = np.asarray(base, dtype=np.float64).copy()
        for key in self.models_:
            rows = np.flatnonzero(keys == key)
            if rows.size:
                out[rows] = self.blend(key, X[rows], out[rows])
        return out
