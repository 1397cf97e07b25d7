"""Cute-only config columns: the knobs Helion's cute backend has and triton has not.

Appended after the shared config columns for ``backend="cute"`` only, so triton bundles keep their
feature list (and their shipped model) unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np


def _share(values: Any, test: Any) -> float:
    items = list(values) if isinstance(values, (list, tuple)) else ([values] if values else [])
    return sum(1 for v in items if test(v)) / len(items) if items else 0.0


def _log2_of(values: Any, reduce: Any) -> float:
    """log2 of ``reduce`` over the positive numbers in a list (NaN when there are none)."""
    items = [int(v) for v in values if isinstance(v, (int, float)) and v > 0] if isinstance(
        values, (list, tuple)) else []
    return math.log2(reduce(items)) if items else float("nan")


_COLUMNS: dict[str, Any] = {
    # 16-byte vectors on the contiguous axis are what the fastest H200 pointwise configs used.
    "cfg_cute_vector_log2": lambda c: _log2_of(c.get("cute_vector_widths") or [1], max),
    # Threads of a CTA: num_threads has one entry per block and they multiply (0 = Helion picks
    # that one; all 0 or absent = NaN).
    "cfg_cute_threads_log2": lambda c: _log2_of(c.get("num_threads") or [], math.prod),
    "cfg_cute_evict_last": lambda c: _share(c.get("load_eviction_policies"),
                                            lambda v: "last" in str(v)),
    "cfg_cute_evict_first": lambda c: _share(c.get("load_eviction_policies"),
                                             lambda v: "first" in str(v)),
    "cfg_cute_lane_strided": lambda c: _share(c.get("cute_lane_layouts"),
                                              lambda v: v == "strided"),
    "cfg_cute_cluster_n_log2": lambda c: math.log2(max(int(c.get("cute_cluster_n", 1) or 1), 1)),
    "cfg_cute_flatten": lambda c: _share(c.get("flatten_loops"), bool),
    "cfg_cute_proven_bounds": lambda c: float(bool(c.get("cute_proven_bounds", False))),
    "cfg_cute_collective_mma": lambda c: float(bool(c.get("cute_collective_mma", False))),
    "cfg_cute_collective_stages": lambda c: float(c.get("cute_collective_stages", 1) or 1),
    "cfg_cute_lane_unroll_log2": lambda c: math.log2(max(int(c.get("cute_lane_unroll", 1) or 1), 1)),
    "cfg_cute_min_blocks_per_mp": lambda c: float(c.get("cute_min_blocks_per_mp", 0) or 0),
    "cfg_cute_reduction_gmem": lambda c: _share(c.get("cute_reduction_reloads"),
                                                lambda v: v == "gmem"),
}
CUTE_CONFIG_FEATURES = tuple(_COLUMNS)


def cute_columns(configs: Sequence[dict[str, Any]]) -> dict[str, np.ndarray]:
    """One column per name in :data:`CUTE_CONFIG_FEATURES`, aligned with ``configs``."""
    out = {name: np.empty(len(configs)) for name in _COLUMNS}
    for r, cfg in enumerate(configs):
        for name, fn in _COLUMNS.items():
            try:
                out[name][r] = fn(cfg)
            except (TypeError, ValueError):  # a value of an unexpected type is "missing"
                out[name][r] = np.nan
    return out
