"""Join logs and facts into model matrices: one row per (workload, config), grouped by workload."""

from __future__ import annotations

import collections
import dataclasses
import functools
import hashlib
from collections.abc import Callable
from typing import Any

import numpy as np

from ..features.facts import KernelFacts
from ..features.feasibility import feasible
from ..features.hardware import HardwareFacts
from ..features.hardware import from_name
from ..features.vectorize import FeatureExtractor
from ..models.kernel_experts import facts_key
from .logs import LogSet
from .logs import Workload


@dataclasses.dataclass
class Group:
    """One workload (kernel × shapes × dtypes × hardware) and every config measured on it."""

    run_id: str
    family: str  # kernel name: leave-family-out holds a whole kernel out
    hardware: str
    input_shapes: str
    dtypes: str
    facts: KernelFacts
    hw: HardwareFacts
    configs: list[dict[str, Any]]
    config_ids: list[str]
    perf_ms: np.ndarray  # inf where the config failed
    rel: np.ndarray  # best_time / time, 0 for failures: the label
    origins: list[str]  # "tag|tag" per config, see training.logs.origins ("" when unknown)
    # The collector's timer (``launch`` or ``cudagraph``; "" for logs that do not say): every row
    # of a group was measured under it, so one label never compares two timers.
    timer: str = ""

    @property
    def best_ms(self) -> float:
        return float(np.min(self.perf_ms))

    @functools.cached_property
    def feasible(self) -> np.ndarray:
        """Per config: not ruled out by features.feasibility (what the adapter ranks from)."""
        return feasible(self.facts, self.hw, self.configs)


@dataclasses.dataclass
class Dataset:
    groups: list[Group]
    X: np.ndarray
    y: np.ndarray
    row_group: np.ndarray  # row -> index into groups
    feature_names: tuple[str, ...]
    dropped: dict[str, int]
    backend: str = "triton"  # the Helion backend of the logs (it picks the feature list)
    # Per group: False for training-only logs (``with_training_only``): they train every model but
    # are never held out on their own, scored, or used to calibrate. None: every group is scored.
    scored: np.ndarray | None = None

    def rows(self, g: int) -> np.ndarray:
        """Row indices of group ``g``, ascending (same as ``flatnonzero(row_group == g)``)."""
        order, starts = self._row_index()
        return order[starts[g]:starts[g + 1]].copy()

    def _row_index(self) -> tuple[np.ndarray, np.ndarray]:
        # Rows sorted by group (stable: ascending within a group) and each group's start: O(1)
        # per rows() call instead of a scan of every row (8,000 groups × 1M rows at scale).
        # Rebuilt if row_group is replaced; callers never modify it in place.
        cached = self.__dict__.get("_row_index_cache")
        if cached is not None and cached[0] is self.row_group:
            return cached[1], cached[2]
        order = np.argsort(self.row_group, kind="stable")
        bounds = np.arange(len(self.groups) + 1)
        starts = np.searchsorted(self.row_group[order], bounds, side="left")
        self.__dict__["_row_index_cache"] = (self.row_group, order, starts)
        return order, starts

    def subset(self, group_indices: np.ndarray | list[int]) -> Dataset:
        keep = np.asarray(sorted(group_indices), dtype=int)
        mask = np.isin(self.row_group, keep)
        row_group = np.searchsorted(keep, self.row_group[mask]).astype(int)  # old id -> new id
        return Dataset([self.groups[i] for i in keep], self.X[mask], self.y[mask], row_group,
                       self.feature_names, dict(self.dropped), self.backend,
                       None if self.scored is None else self.scored[keep])

    def is_scored(self, g: int) -> bool:
        return self.scored is None or bool(self.scored[g])

    @property
    def scored_groups(self) -> np.ndarray:
        """Indices of the groups an evaluation scores (all but training-only ones)."""
        return (np.arange(len(self.groups)) if self.scored is None
                else np.flatnonzero(self.scored))

    def with_training_only(self, extra: Dataset) -> Dataset:
        """These groups (scored) plus ``extra``'s as training-only rows, e.g. another GPU's logs:
        every model learns from them, but metrics, calibration and the GPUs a bundle fires on
        come from this dataset's groups alone. A held-out workload's runs in ``extra`` (same
        kernel, shapes and dtypes) are held out with it (see ``training.evaluate.folds``)."""
        if extra.backend != self.backend:
            raise ValueError(f"the training-only logs hold {extra.backend!r} workloads, the "
                             f"logs {self.backend!r} ones; a model is per backend")
        if extra.feature_names != self.feature_names:
            raise ValueError("the training-only logs were featurized with another feature list; "
                             "build both datasets with the same FeatureExtractor")
        if self.scored is not None or extra.scored is not None:
            raise ValueError("with_training_only takes two plain datasets (call it once)")
        both = {g.run_id for g in self.groups} & {g.run_id for g in extra.groups}
        if both:
            raise ValueError(f"{len(both)} workload(s) are in both the logs and the training-only "
                             f"logs (e.g. Helion run_id {sorted(both)[0][:16]}...): they would "
                             "train twice and be scored once. Fix: pass each log folder once")
        dropped = dict(self.dropped)
        for k, v in extra.dropped.items():
            dropped[f"training_only_{k}"] = v
        return Dataset(self.groups + extra.groups, np.concatenate([self.X, extra.X]),
                       np.concatenate([self.y, extra.y]),
                       np.concatenate([self.row_group, extra.row_group + len(self.groups)]),
                       self.feature_names, dropped, self.backend,
                       np.array([True] * len(self.groups) + [False] * len(extra.groups)))

    @property
    def families(self) -> np.ndarray:
        return np.array([g.family for g in self.groups])

    def row_expert_keys(self, key: Callable[[Any], str | None] = facts_key) -> np.ndarray:
        """Each row's kernel-expert key (see models.kernel_experts), from its group's facts;
        ``key``: a loaded bundle's ``kernel_key`` to score with an older bundle's keys."""
        per_group = np.empty(len(self.groups), dtype=object)
        per_group[:] = [key(g.facts) for g in self.groups]
        return per_group[self.row_group]

    def scored_summary(self) -> dict[str, Any]:
        """Size, kernels and GPUs of the scored groups (metadata and reports)."""
        return _describe([self.groups[i] for i in self.scored_groups])

    def training_only_summary(self) -> dict[str, Any] | None:
        """What the training-only groups add (metadata and reports), None without them."""
        if self.scored is None or self.scored.all():
            return None
        extra = [g for g, s in zip(self.groups, self.scored, strict=True) if not s]
        scored_keys = {(g.family, g.input_shapes, g.dtypes) for g, s
                       in zip(self.groups, self.scored, strict=True) if s}
        # twins are held out with their scored workload; the rest always train
        return {**_describe(extra),
                "twins_of_scored": sum((g.family, g.input_shapes, g.dtypes) in scored_keys
                                       for g in extra)}

    def fingerprint(self) -> str:
        """Content hash of what the model learns from (run ids, configs, timings)."""
        h = hashlib.sha256()
        for g in self.groups:
            h.update(g.run_id.encode())
            for cid, ms in zip(g.config_ids, g.perf_ms, strict=True):
                h.update(f"{cid}:{ms:.6g};".encode())
        return h.hexdigest()[:16]


def _describe(groups: list[Group]) -> dict[str, Any]:
    return {"n_workloads": len(groups), "n_rows": int(sum(len(g.configs) for g in groups)),
            "hardware": sorted({g.hardware for g in groups}),
            "families": sorted({g.family for g in groups}),
            **({"timers": dict(sorted(timers.items()))}
               if (timers := collections.Counter(g.timer for g in groups if g.timer)) else {})}


def group_from_workload(w: Workload,
                        origins: dict[tuple[str, str], str] | None = None) -> Group | str:
    """A Group, or a short reason string when the workload cannot train anything."""
    if w.facts is None:
        return "missing_facts"
    hw = w.hardware_facts or from_name(w.hardware or "")
    if hw is None:
        return "unknown_hardware"
    ok = [m for m in w.measurements if m.status == "ok" and m.perf_ms is not None]
    if len(ok) < 2:
        return "fewer_than_2_ok"
    perf = np.array([m.perf_ms if (m.status == "ok" and m.perf_ms is not None) else np.inf
                     for m in w.measurements], dtype=np.float64)
    best = float(np.min(perf))
    rel = np.where(np.isfinite(perf), best / perf, 0.0)
    origins = origins or {}
    return Group(
        run_id=w.run_id, family=w.kernel_name or w.facts.kernel_name, hardware=w.hardware,
        input_shapes=w.input_shapes, dtypes=w.dtypes, facts=w.facts, hw=hw,
        configs=[m.config for m in w.measurements], config_ids=[m.config_id for m in w.measurements],
        perf_ms=perf, rel=rel,
        origins=[origins.get((w.run_id, m.config_id), "") for m in w.measurements],
    )


def logs_backend(logset: LogSet) -> str:
    """The Helion backend the logs were collected with (``triton`` when they do not say)."""
    backends = {w.facts.backend for w in logset.workloads if w.facts is not None}
    if len(backends) > 1:
        raise ValueError(f"the logs mix Helion backends {sorted(backends)}; a model is per "
                         "backend: train on one backend's log folders at a time")
    return backends.pop() if backends else "triton"


def build_dataset(logset: LogSet, *, extractor: FeatureExtractor | None = None,
                  backend: str | None = None,
                  origins: dict[tuple[str, str], str] | None = None,
                  timers: dict[str, set[str]] | None = None,
                  progress: Callable[[int, int], None] | None = None) -> Dataset:
    """Feature matrix of every usable workload. ``backend`` (default: what the logs say) picks the
    feature list; asking for one the logs were not collected with is refused. ``timers``
    (``logs.origins.timing_by_run``) records each group's timer."""
    found = logs_backend(logset)
    for asked in (backend, extractor.backend if extractor is not None else None):
        if asked is not None and asked != found:
            raise ValueError(f"the logs were collected with Helion's {found!r} backend, not "
                             f"{asked!r}; pass --backend {found} (or point at {asked} logs)")
    extractor = extractor or FeatureExtractor(backend=found)
    groups: list[Group] = []
    dropped: dict[str, int] = {}
    blocks_X: list[np.ndarray] = []
    blocks_y: list[np.ndarray] = []
    blocks_g: list[np.ndarray] = []
    total = len(logset.workloads)
    timers = timers or {}
    for i, w in enumerate(logset.workloads):
        group = group_from_workload(w, origins)
        if isinstance(group, str):
            dropped[group] = dropped.get(group, 0) + 1
        else:
            if len(found_timers := timers.get(group.run_id, ())) == 1:
                group.timer = next(iter(found_timers))
            blocks_X.append(extractor.transform(group.facts, group.hw, group.configs))
            blocks_y.append(group.rel)
            blocks_g.append(np.full(len(group.configs), len(groups)))
            groups.append(group)
        if progress is not None:
            progress(i + 1, total)
    n_features = len(extractor.feature_names)
    X = np.concatenate(blocks_X) if blocks_X else np.empty((0, n_features), np.float32)
    y = np.concatenate(blocks_y) if blocks_y else np.empty(0)
    g = np.concatenate(blocks_g) if blocks_g else np.empty(0, dtype=int)
    return Dataset(groups, X, y, g.astype(int), extractor.feature_names, dropped, found)
