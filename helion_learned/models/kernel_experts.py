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

**Nearest-structure expert for unseen kernels** (bundle schema 5). A kernel without an expert
borrows the expert of the known kernel nearest to it in structure (:data:`STRUCTURE_COLUMNS`:
op-class counts, loop nest, loads and stores; no shapes, no dtypes, no name), at weight
:data:`NEIGHBOUR_WEIGHT`. Leave-family-out on 176 H100 workloads (3 XGBoost seeds): 0.875 ->
0.887, higher on every seed, flat for weights 0.1-0.35; on 11 H100 workloads of 10 new kernels
the training data never held 0.850 -> 0.857 (experiments table of reports/triton_sm90). Inside
Helion's search populations it does not help (reports/search_population).
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
NEIGHBOUR_WEIGHT = 0.25
# A kernel lends its expert to unseen ones once it has this many logged shapes. Raising it to 5
# (no 2-4-shape expert lends) kept suite leave-family-out from falling when the new kernels'
# thin experts joined the lenders (0.851 -> 0.863, 3 seeds) but cost the new kernels more
# (0.779 -> ~0.73): experiments/new_kernel_training/README.md. Every expert lends, as before.
NEIGHBOUR_MIN_WORKLOADS = MIN_WORKLOADS
# What a kernel is made of, the same at every shape and dtype (features.derived.kernel_columns):
# kind, loop nest, op-class counts (casts left out: they follow the dtypes), loads and stores.
STRUCTURE_COLUMNS: tuple[str, ...] = (
    "k_kind_matmul", "k_kind_reduction", "k_kind_pointwise", "k_kind_other", "k_num_blocks",
    "k_num_grid", "k_num_reduction_loops", "k_num_range_loops", "k_num_matmuls", "k_mm_batched",
    "k_red_reread", "k_num_reductions", "k_pw_slab", "k_pw_sfu", "k_num_loads", "k_num_stores",
    "k_num_atomics", "k_ops_dot", "k_ops_reduce", "k_ops_sfu", "k_ops_elementwise", "k_ops_load",
    "k_ops_store", "k_ops_atomic", "k_ops_loop")


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


def structure_vector(X: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Mean of the structure columns ``index`` over candidate rows ``X`` of one kernel (constant
    across a workload's candidates); a column missing everywhere counts 0."""
    cols = np.asarray(X, dtype=np.float64)[:, index]
    ok = np.isfinite(cols)
    n = ok.sum(axis=0)
    return np.where(n > 0, np.where(ok, cols, 0.0).sum(axis=0) / np.maximum(n, 1), 0.0)


def mix(base: np.ndarray, expert: np.ndarray, weight: float) -> np.ndarray:
    """The blended score: ``(1 - weight) * base + weight * expert`` (one formula everywhere)."""
    return (1.0 - weight) * base + weight * expert


@dataclasses.dataclass
class KernelExperts:
    """``models_``: expert key -> fitted CostModel; ``n_workloads_``: workloads each was fit on.

    Nearest-structure fallback (``neighbour_weight`` > 0): ``centroids_`` holds the mean
    :data:`STRUCTURE_COLUMNS` (positions ``column_index_`` in the feature rows) of each kernel
    with at least ``neighbour_min_workloads`` workloads (the lenders), compared after
    ``(v - center_) / scale_`` (over the lenders); empty: no fallback (bundles before schema 5,
    or features without those columns)."""

    weight: float = EXPERT_WEIGHT
    min_workloads: int = MIN_WORKLOADS
    neighbour_weight: float = NEIGHBOUR_WEIGHT
    neighbour_min_workloads: int = NEIGHBOUR_MIN_WORKLOADS
    models_: dict[str, CostModel] = dataclasses.field(default_factory=dict)
    n_workloads_: dict[str, int] = dataclasses.field(default_factory=dict)
    centroids_: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    column_index_: np.ndarray | None = None
    center_: np.ndarray | None = None
    scale_: np.ndarray | None = None

    def fit(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray, keys: np.ndarray, *,
            feature_names: tuple[str, ...] | list[str] | None = None, random_state: int = 0,
            n_jobs: int = 1, only: set[str] | None = None,
            near: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> KernelExperts:
        """``keys``: one expert key (or None) per row, constant within a group. ``only``: fit
        just these kernels' experts (cross-validation needs only the held-out kernels'), and,
        with ``near`` = (rows, their keys, their groups) of the kernels to be scored, the
        experts those without one of their own would borrow."""
        keys = np.asarray(keys, dtype=object)
        if len(keys) != len(y):
            raise ValueError(f"KernelExperts.fit expects one key per row; got {len(keys)} keys "
                             f"for {len(y)} rows")
        self.models_, self.n_workloads_, self.centroids_ = {}, {}, {}
        eligible = {}
        for key in sorted({k for k in keys.tolist() if k is not None}):
            rows = keys == key
            n = int(np.unique(groups[rows]).size)
            if n >= self.min_workloads:
                eligible[key] = (rows, n)
        centroids = self._fit_structure(
            X, {k: rows for k, (rows, n) in eligible.items() if n >= self.neighbour_min_workloads},
            feature_names)
        if only is not None and near is not None and centroids:
            only = set(only) | self._borrowed(near, centroids)
        for key, (rows, n) in eligible.items():
            if only is not None and key not in only:
                continue
            self.models_[key] = CostModel(**EXPERT_PARAMS, random_state=random_state,
                                          n_jobs=n_jobs).fit(X[rows], y[rows], groups[rows],
                                                             feature_names=feature_names)
            self.n_workloads_[key] = n
            if key in centroids:
                self.centroids_[key] = centroids[key]
        return self

    def _fit_structure(self, X: np.ndarray, rows_of: dict[str, np.ndarray],
                       feature_names: tuple[str, ...] | list[str] | None
                       ) -> dict[str, np.ndarray]:
        """Each kernel's structure centroid and the scaling, or {} (no fallback) when the
        features lack the structure columns or the fallback is off."""
        self.column_index_ = self.center_ = self.scale_ = None
        names = list(feature_names or ())
        if self.neighbour_weight <= 0 or not rows_of or not set(STRUCTURE_COLUMNS) <= set(names):
            return {}
        self.column_index_ = np.array([names.index(c) for c in STRUCTURE_COLUMNS])
        centroids = {k: structure_vector(X[rows], self.column_index_) for k, rows in rows_of.items()}
        stacked = np.stack(list(centroids.values()))
        self.center_ = stacked.mean(axis=0)
        scale = stacked.std(axis=0)
        self.scale_ = np.where(scale > 0, scale, 1.0)  # a column all kernels share counts 0
        return centroids

    def _borrowed(self, near: tuple[np.ndarray, np.ndarray, np.ndarray],
                  centroids: dict[str, np.ndarray]) -> set[str]:
        X, keys, groups = near
        keys = np.asarray(keys, dtype=object)
        out = set()
        for g in np.unique(groups):
            rows = groups == g
            if keys[rows][0] not in centroids:
                out.add(self._nearest(structure_vector(X[rows], self.column_index_), centroids))
        return out

    def _nearest(self, vector: np.ndarray, centroids: dict[str, np.ndarray]) -> str:
        z = (vector - self.center_) / self.scale_
        # Sorted keys and a strict minimum: ties go to the first key, the same on every run.
        keys = sorted(centroids)
        # All distances in one matrix pass (a bind paid ~0.1 ms for one per centroid); each row's
        # sum is the same number. argmin picks the first minimum too, unless a distance is NaN.
        dist = np.sum((z - (np.stack([centroids[k] for k in keys]) - self.center_)
                       / self.scale_) ** 2, axis=1)
        if np.isfinite(dist).all():
            return keys[int(np.argmin(dist))]
        return keys[min(range(len(keys)), key=lambda i: float(dist[i]))]

    @property
    def borrows(self) -> bool:
        """Whether a kernel without its own expert borrows one (the fallback is fitted and on)."""
        return self.neighbour_weight > 0 and bool(self.centroids_) and self.column_index_ is not None

    def neighbour(self, X: np.ndarray) -> str | None:
        """The expert key a kernel without its own expert borrows (its candidates ``X``), or
        None when the fallback is off."""
        if not self.borrows:
            return None
        return self._nearest(structure_vector(X, self.column_index_), self.centroids_)

    def blend(self, key: str | None, X: np.ndarray, base: np.ndarray) -> np.ndarray:
        """Scores for candidates ``X`` of one kernel, given the global model's ``base`` scores:
        its own expert at ``weight``, else the nearest-structure one at ``neighbour_weight``."""
        base = np.asarray(base, dtype=np.float64)
        picked = self.pick(key, X)
        if picked is None:
            return base
        model, w = picked
        return mix(base, model.score(X), w)

    def pick(self, key: str | None, X: np.ndarray) -> tuple[CostModel, float] | None:
        """The expert :meth:`blend` mixes in for candidates ``X`` and its weight, or None."""
        model = self.models_.get(key) if key is not None else None
        if model is not None:
            return model, self.weight
        if len(X) == 0 or (near := self.neighbour(X)) is None:
            return None
        return self.models_[near], self.neighbour_weight

    def blend_rows(self, X: np.ndarray, keys: np.ndarray, base: np.ndarray,
                   groups: np.ndarray | None = None) -> np.ndarray:
        """:meth:`blend` for rows of many kernels at once (offline evaluation). ``groups`` (one
        workload id per row) lets a kernel without an expert borrow per workload, as binding
        does; without them rows borrow per key (rows without a key keep the global score)."""
        keys = np.asarray(keys, dtype=object)
        out = np.asarray(base, dtype=np.float64).copy()
        own = np.zeros(len(keys), dtype=bool)
        for key in self.models_:
            rows = np.flatnonzero(keys == key)
            if rows.size:
                out[rows] = self.blend(key, X[rows], out[rows])
                own[rows] = True
        if not self.borrows:
            return out
        if groups is None:
            own |= np.array([k is None for k in keys.tolist()], dtype=bool)
            groups = np.unique(np.array([k or "" for k in keys.tolist()], dtype=str),
                               return_inverse=True)[1]
        groups = np.asarray(groups)
        for g in np.unique(groups[~own]):
            rows = np.flatnonzero((groups == g) & ~own)
            out[rows] = self.blend(None, X[rows], out[rows])
        return out
