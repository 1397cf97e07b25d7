"""Offline evaluation: grouped cross-validation, pick metrics, baselines.

Every metric is "speed relative to best-known" (best time ÷ time of the pick; 1.0 = as fast as the
best measured config, 0.5 = twice as slow, 0 = the pick failed). Groups never split across folds.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..features.feasibility import ranked_subset
from ..models.calibration import DEFAULT_GATE
from ..models.calibration import GateSpec
from ..models.calibration import confidence_features
from ..models.kernel_experts import KernelExperts
from ..models.ranker import CostModel
from .dataset import Dataset
from .dataset import Group

PROTOCOLS = ("leave_shape_out", "leave_family_out")
_FLOOR = 1e-3  # failed picks count as 1000x slower in geomeans instead of zeroing them


def summarize(rel: np.ndarray | list[float]) -> dict[str, float]:
    r = np.asarray([x for x in rel if x == x], dtype=np.float64)  # drop NaN (baseline absent)
    if r.size == 0:
        return {"n": 0, "geomean": math.nan, "p10": math.nan, "worst": math.nan,
                "within_5pct": math.nan, "within_10pct": math.nan}
    return {
        "n": int(r.size),
        "geomean": float(np.exp(np.mean(np.log(np.clip(r, _FLOOR, None))))),
        "p10": float(np.quantile(r, 0.10)),
        "worst": float(np.min(r)),
        "within_5pct": float(np.mean(r >= 1 / 1.05)),
        "within_10pct": float(np.mean(r >= 1 / 1.10)),
    }


def folds(ds: Dataset, protocol: str, *, n_splits: int = 5, seed: int = 0) -> list[np.ndarray]:
    """Test-group index arrays. Leave-family-out: one fold per kernel family.

    Folds are drawn over the scored groups; a training-only group (``Dataset.scored``) joins the
    fold of its scored twin (same kernel, shapes and dtypes; leave-family-out: same kernel) and
    is otherwise in no fold, so it always trains. Without training-only groups the folds are
    what they were before such groups existed."""
    scored = ds.scored_groups
    fams = ds.families
    if protocol == "leave_family_out":
        return [np.flatnonzero(fams == f) for f in sorted(set(fams[scored].tolist()))]
    if protocol != "leave_shape_out":
        raise ValueError(f"protocol={protocol!r}; expected one of {PROTOCOLS}")
    # Leave-shape-out: shuffle workloads, stratified by family so every fold sees every family.
    # A workload is (kernel, shapes, dtypes): its runs on other GPUs land in the same fold, so a
    # shape's twin on a second GPU never trains the model that is scored on it (one GPU: one run
    # per workload, the same folds as shuffling runs).
    rng = np.random.default_rng(seed)
    k = max(2, min(n_splits, len(scored)))
    keys = [(g.family, g.input_shapes, g.dtypes) for g in ds.groups]
    scored_keys = [keys[i] for i in scored]
    fold_of: dict[tuple[str, str, str], int] = {}
    for fam in sorted(set(fams[scored].tolist())):
        fam_keys = list(dict.fromkeys(key for key in scored_keys if key[0] == fam))  # first seen
        idx = np.arange(len(fam_keys))
        rng.shuffle(idx)
        offset = int(rng.integers(k))
        fold_of.update({fam_keys[i]: (j + offset) % k for j, i in enumerate(idx)})
    assignment = np.array([fold_of.get(key, -1) for key in keys], dtype=int)
    return [np.flatnonzero(assignment == f) for f in range(k) if np.any(assignment == f)]


def grouped_family_folds(ds: Dataset, n_groups: int, *, seed: int = 0) -> list[np.ndarray]:
    """Leave-family-out folds with the families dealt at random into ``n_groups`` folds (one
    family per fold when there are no more families than that): every group is still scored by
    a model that never saw its kernel, from fewer fits."""
    per_family = folds(ds, "leave_family_out", seed=seed)
    if n_groups >= len(per_family):
        return per_family
    order = np.random.default_rng(seed).permutation(len(per_family))
    return [np.sort(np.concatenate([per_family[j] for j in order[i::n_groups]]))
            for i in range(n_groups)]


def fit_experts(X: np.ndarray, y: np.ndarray, row_group: np.ndarray, keys: np.ndarray,
                params: dict[str, Any], feature_names: tuple[str, ...], *,
                only: set[str] | None = None,
                near: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> KernelExperts:
    """The per-kernel experts (``only``: just those kernels', and those the kernels of ``near``
    borrow; see KernelExperts.fit) with the global model's seed and thread count."""
    return KernelExperts().fit(X, y, row_group, keys, feature_names=feature_names,
                               random_state=params.get("random_state", 0),
                               n_jobs=params.get("n_jobs", 1), only=only, near=near)


def fit_models(X: np.ndarray, y: np.ndarray, row_group: np.ndarray, keys: np.ndarray | None,
               params: dict[str, Any], feature_names: tuple[str, ...], *,
               only: set[str] | None = None,
               near: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
               ) -> tuple[CostModel, KernelExperts | None]:
    """The global cost model and, unless ``keys`` is None, the per-kernel experts: what a bundle
    holds, fitted on the given rows. Training and evaluation both call this."""
    model = CostModel(**params).fit(X, y, row_group, feature_names=feature_names)
    experts = None if keys is None else fit_experts(X, y, row_group, keys, params,
                                                    feature_names, only=only, near=near)
    return model, experts


def score_rows(model: CostModel, experts: KernelExperts | None, X: np.ndarray,
               keys: np.ndarray | None, groups: np.ndarray | None = None) -> np.ndarray:
    base = model.score(X)
    return (base if experts is None or keys is None
            else experts.blend_rows(X, keys, base, groups=groups))


def _fit_and_score(X: np.ndarray, y: np.ndarray, row_group: np.ndarray, keys: np.ndarray | None,
                   test: np.ndarray, params: dict[str, Any], feature_names: tuple[str, ...]
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Held-out rows, their global-model scores and (with ``keys``) the expert-blended ones."""
    # Arrays only (not the Dataset): workers then never unpickle every group's configs and facts,
    # and joblib memory-maps the big arrays. Same rows, same order, same model as fitting on
    # ``ds.subset(train_groups)`` (group ids only need to be distinct and ordered).
    is_test = np.isin(row_group, test)
    train = ~is_test
    rows = np.flatnonzero(is_test)
    model, experts = fit_models(X[train], y[train], row_group[train],
                                None if keys is None else keys[train], params, feature_names,
                                only=None if keys is None else set(keys[rows].tolist()),
                                near=None if keys is None else (X[rows], keys[rows],
                                                                row_group[rows]))
    base = model.score(X[rows])
    blended = None if experts is None else experts.blend_rows(X[rows], keys[rows], base,
                                                              groups=row_group[rows])
    return rows, base, blended


def oof_score_pair(ds: Dataset, protocol: str, params: dict[str, Any], *, n_jobs: int = 1,
                   seed: int = 0, experts: bool = True,
                   progress: Callable[[int, int], None] | None = None,
                   fold_list: list[np.ndarray] | None = None
                   ) -> tuple[np.ndarray, np.ndarray | None]:
    """Out-of-fold scores of the global model and, with ``experts``, of the same fold models
    blended with per-kernel experts (None without): one set of fits serves both.

    ``fold_list``: test-group folds to use instead of ``folds(ds, protocol)``."""
    from joblib import Parallel
    from joblib import delayed

    if fold_list is None:
        fold_list = folds(ds, protocol, seed=seed)
    fold_list = [f for f in fold_list if 0 < f.size < len(ds.groups)]
    base = np.full(len(ds.y), np.nan)
    blended = np.full(len(ds.y), np.nan) if experts else None
    keys = ds.row_expert_keys() if experts else None
    # Folds fit in parallel processes; XGBoost inside each stays single-threaded.
    inner = {**params, "n_jobs": 1} if n_jobs > 1 else params
    results = Parallel(n_jobs=n_jobs, return_as="generator")(
        delayed(_fit_and_score)(ds.X, ds.y, ds.row_group, keys, test, inner, ds.feature_names)
        for test in fold_list)
    for i, (rows, b, e) in enumerate(results):
        base[rows] = b
        if blended is not None:
            blended[rows] = e
        if progress is not None:
            progress(i + 1, len(fold_list))
    return base, blended


def oof_scores(ds: Dataset, protocol: str, params: dict[str, Any], *, n_jobs: int = 1,
               seed: int = 0, experts: bool = True,
               progress: Callable[[int, int], None] | None = None,
               fold_list: list[np.ndarray] | None = None) -> np.ndarray:
    """Out-of-fold scores for every row: each group is scored by a model that never saw it.

    ``experts``: blend in per-kernel experts fitted on the fold's training rows (what a shipped
    bundle does); a held-out family never has one, so leave-family-out is the global model's."""
    base, blended = oof_score_pair(ds, protocol, params, n_jobs=n_jobs, seed=seed,
                                   experts=experts, progress=progress, fold_list=fold_list)
    return base if blended is None else blended


@dataclasses.dataclass
class GroupOutcome:
    group: int
    family: str
    pick: int  # index into the group's configs
    rel_pick: float
    rel_top5: float  # best of the model's top 5 (TenSet top-5 score)
    kendall_tau: float
    conf_features: np.ndarray
    hit: bool  # pick within `within` of the best
    # The pick among the configs of the kinds the adapter ranks at bind time (our grid and
    # Helion's own configs; not random ones): NaN when the log has no origins.
    rel_bind_pick: float = math.nan
    # What runs when the gate abstains: Helion's default with autotuning off (its promoted
    # heuristic seed, else the fragment defaults); NaN when the log does not say which it is.
    rel_fallback: float = math.nan
    # The gate's labels (models.calibration.GateSpec): the pick is not slower than the fallback
    # by more than the margin (what the confidence predicts) / the slowdown limit (what the
    # threshold's wrong-pick budget counts). Without a known fallback both are ``hit``.
    gate_hit: bool = False
    safe: bool = False


def group_outcomes(ds: Dataset, scores: np.ndarray, *, within: float = 0.05,
                   gate: GateSpec = DEFAULT_GATE) -> list[GroupOutcome]:
    from scipy.stats import kendalltau

    out = []
    for gi in ds.scored_groups:
        gi, group = int(gi), ds.groups[gi]
        rows = ds.rows(gi)
        s = scores[rows]
        if np.isnan(s).any():
            continue  # group not scored under this protocol (e.g. the only family)
        # Picks, top 5 and confidence come from the configs the adapter would rank (the
        # feasibility rule's); Kendall tau judges the scores of all of them.
        ranked = ranked_subset(group.feasible)
        order = ranked[np.argsort(-s[ranked], kind="stable")]
        pick = int(order[0])
        rel = group.rel
        tau = kendalltau(s, rel).statistic if len(rel) > 2 else math.nan
        bind = np.intersect1d(np.flatnonzero([bind_time_kind(o) for o in group.origins]), ranked)
        hit = bool(rel[pick] >= 1 / (1 + within))
        fallback = origin_rel(group, FALLBACK_TAG)
        out.append(GroupOutcome(
            group=gi, family=group.family, pick=pick, rel_pick=float(rel[pick]),
            rel_top5=float(np.max(rel[order[:5]])), kendall_tau=float(tau),
            conf_features=confidence_features(s[ranked]), hit=hit,
            rel_bind_pick=float(rel[bind[np.argmax(s[bind])]]) if bind.size else math.nan,
            rel_fallback=fallback,
            gate_hit=gate.not_slower(float(rel[pick]), fallback, gate.margin, hit),
            safe=gate.not_slower(float(rel[pick]), fallback, gate.slowdown_limit, hit),
        ))
    return out


# The origin tag of the config Helion runs with autotuning off (training.logs.origins).
FALLBACK_TAG = "helion_effective_default"


_BIND_TIME_TAGS = {"grid", "default", "helion_default", "helion_effective_default",
                   "heuristic_rank0"}


def bind_time_kind(origin: str) -> bool:
    """A config of a kind the adapter ranks at bind time (see training.logs.origins for the tags)."""
    return any(t in _BIND_TIME_TAGS or t.startswith("heuristic:") for t in origin.split("|"))


# -- baselines ------------------------------------------------------------------------------------
def expected_best_of_random(rel: np.ndarray, k: int) -> float:
    """E[max of k configs drawn without replacement] over the group's measured configs."""
    r = np.sort(np.asarray(rel, dtype=np.float64))
    n = r.size
    k = min(k, n)
    i = np.arange(1, n + 1)
    # P(max is the i-th smallest) = C(i-1, k-1) / C(n, k)
    logc = _log_comb(i - 1, k - 1) - _log_comb(np.array([n]), k)[0]
    return float(np.sum(np.exp(logc) * r))


def _log_comb(n: np.ndarray, k: int) -> np.ndarray:
    from scipy.special import gammaln

    n = np.asarray(n, dtype=np.float64)
    out = gammaln(n + 1) - gammaln(k + 1) - gammaln(np.maximum(n - k, 0) + 1)
    return np.where(n >= k, out, -np.inf)


def origin_rel(group: Group, tag: str) -> float:
    """Relative speed of the config carrying an origin tag (see training.logs.origins), NaN if absent."""
    rels = [r for r, o in zip(group.rel, group.origins, strict=True) if tag in o.split("|")]
    return float(rels[0]) if rels else math.nan


def _shape_vector(group: Group) -> np.ndarray:
    from ..features.derived import kernel_columns

    cols = kernel_columns(group.facts)
    keys = ("k_mm_m_log2", "k_mm_n_log2", "k_mm_k_log2", "k_red_size_log2", "k_pw_numel_log2",
            "k_bytes_log2", "k_grid_numel_log2", "k_mm_batch_log2")
    return np.nan_to_num(np.array([cols[k] for k in keys]))


def _config_vector(ds: Dataset, gi: int) -> np.ndarray:
    idx = [i for i, n in enumerate(ds.feature_names) if n.startswith("cfg_") and n.endswith("log2")]
    idx += [ds.feature_names.index("cfg_stages")]
    return np.nan_to_num(ds.X[ds.rows(gi)][:, idx])


def nearest_neighbour_rel(ds: Dataset, test: int, train: np.ndarray) -> float:
    """AOT-style picker: best config of the nearest same-kernel training shape, mapped onto the
    closest config measured on the test workload. NaN when no same-kernel training shape exists."""
    group = ds.groups[test]
    same = [int(t) for t in train if ds.groups[int(t)].family == group.family
            and ds.groups[int(t)].dtypes == group.dtypes]
    if not same:
        same = [int(t) for t in train if ds.groups[int(t)].family == group.family]
    if not same:
        return math.nan
    target = _shape_vector(group)
    nearest = min(same, key=lambda t: float(np.sum((_shape_vector(ds.groups[t]) - target) ** 2)))
    src_rows = _config_vector(ds, nearest)
    best_src = src_rows[int(np.argmax(ds.groups[nearest].rel))]
    dst = _config_vector(ds, test)
    j = int(np.argmin(np.sum((dst - best_src) ** 2, axis=1)))
    return float(group.rel[j])
