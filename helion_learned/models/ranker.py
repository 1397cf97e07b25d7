"""The XGBoost cost model: scores candidate configs within a workload (higher = faster).

scikit-learn conventions: keyword-only hyperparameters, ``fit(...) -> self``, learned state in
``*_`` attributes. The label is *relative performance within a group* (best_time / time, failed
configs 0), so workloads of very different scale share one model.
"""

from __future__ import annotations

from typing import Any

import numpy as np

OBJECTIVES = ("regression", "pairwise", "ndcg")
_XGB_OBJECTIVE = {"regression": "reg:squarederror", "pairwise": "rank:pairwise",
                  "ndcg": "rank:ndcg"}


def training_arrays(X: np.ndarray, y: np.ndarray, groups: np.ndarray, *,
                    who: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """float32 X/y and a groups array of matching lengths, or a ValueError naming ``who``."""
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y, dtype=np.float32)
    groups = np.asarray(groups)
    if X.ndim != 2 or len(X) != len(y) or len(y) != len(groups):
        raise ValueError(f"{who} expects X (n, f), y (n,), groups (n,); got {X.shape}, "
                         f"{y.shape}, {groups.shape}")
    return X, y, groups


class CostModel:
    """Gradient-boosted config scorer. Use :meth:`score` at runtime, :meth:`fit` offline."""

    # Defaults chosen on 176 H100 workloads, 3 XGBoost seeds each (report's experiments table):
    # shallow, slow and regularized trees keep leave-family-out at 0.835 ± 0.014 (depth 7,
    # eta 0.08: 0.711 ± 0.089) for 0.02 less leave-shape-out (0.864 vs 0.884).
    def __init__(self, *, objective: str = "regression", n_estimators: int = 300,
                 max_depth: int = 5, learning_rate: float = 0.03, subsample: float = 0.6,
                 colsample_bytree: float = 1.0, min_child_weight: float = 10.0,
                 random_state: int = 0, n_jobs: int = 2) -> None:
        if objective not in OBJECTIVES:
            raise ValueError(f"objective={objective!r}; expected one of {OBJECTIVES}")
        self.objective = objective
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.min_child_weight = min_child_weight
        self.random_state = random_state
        self.n_jobs = n_jobs

    def get_params(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("objective", "n_estimators", "max_depth",
                                              "learning_rate", "subsample", "colsample_bytree",
                                              "min_child_weight", "random_state", "n_jobs")}

    def _xgb_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {
            "objective": _XGB_OBJECTIVE[self.objective],
            "max_depth": self.max_depth,
            "eta": self.learning_rate,
            "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree,
            "min_child_weight": self.min_child_weight,
            "seed": self.random_state,
            "nthread": self.n_jobs,
            "tree_method": "hist",
        }
        if self.objective == "ndcg":
            params["ndcg_exp_gain"] = False  # labels are continuous relative speeds in [0, 1]
        if self.objective != "regression":
            params["lambdarank_pair_method"] = "topk"
            params["lambdarank_num_pair_per_sample"] = 16
        return params

    def fit(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray, *,
            feature_names: tuple[str, ...] | list[str] | None = None) -> CostModel:
        """``groups``: one id per row; rows of a group must be contiguous (we sort to be sure)."""
        import xgboost as xgb

        X, y, groups = training_arrays(X, y, groups, who="fit")
        if len(X) == 0:
            raise ValueError("fit got no rows: is the dataset empty?")
        order = np.argsort(groups, kind="stable")
        _, qid = np.unique(groups[order], return_inverse=True)
        names = list(feature_names) if feature_names is not None else None
        dtrain = xgb.DMatrix(X[order], label=y[order], qid=qid if self.objective != "regression"
                             else None, feature_names=names, missing=np.nan)
        self.booster_ = xgb.train(self._xgb_params(), dtrain, num_boost_round=self.n_estimators)
        self.feature_names_ = tuple(names) if names else None
        self.n_features_in_ = X.shape[1]
        return self

    def score(self, X: np.ndarray) -> np.ndarray:
        """Higher is better. Deterministic for a given booster and input."""
        booster = getattr(self, "booster_", None)
        if booster is None:
            raise RuntimeError("CostModel is not fitted: call fit() or load a bundle first")
        X = np.asarray(X, dtype=np.float32)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"expected {self.n_features_in_} features, got {X.shape[1]}")
        return booster.inplace_predict(X, missing=np.nan).astype(np.float64)

    def feature_importance(self, *, kind: str = "gain") -> dict[str, float]:
        scores = self.booster_.get_score(importance_type=kind)
        total = sum(scores.values()) or 1.0
        return {k: v / total for k, v in sorted(scores.items(), key=lambda kv: -kv[1])}

    @classmethod
    def from_booster(cls, booster: Any, *, params: dict[str, Any] | None = None,
                     n_features: int) -> CostModel:
        model = cls(**(params or {}))
        booster.set_param({"nthread": 1})  # bind-time inference: no thread-pool spin-up
        model.booster_ = booster
        model.n_features_in_ = n_features
        names = booster.feature_names
        model.feature_names_ = tuple(names) if names else None
        return model
