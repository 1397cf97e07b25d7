"""Candidate configs → per-role numeric columns.

Block sizes are mapped onto *role slots* (m, n, k, reduction, grid axes, other loops) rather than
block ids, so the model can transfer what it learned on one kernel to another of a different shape.
Fields a partial config leaves out take Helion's fragment defaults, because that is what Helion will
fill in when it normalizes the seed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .facts import KernelFacts

# Role slots. "g0" is the contiguous (stride-1) grid axis, "g1"/"g2" the other grid axes.
SLOTS = ("m", "n", "k", "red", "g0", "g1", "g2", "loop")
PID_TYPES = ("flat", "persistent_blocked", "persistent_interleaved")
# Fields the model decides; everything else is left for Helion to fill with its defaults.
DECIDED_FIELDS = ("block_sizes", "num_warps", "num_stages", "pid_type", "l2_groupings",
                  "reduction_loops", "flatten_loops")


def next_pow2(n: int) -> int:
    return 1 if n <= 1 else 1 << (int(n) - 1).bit_length()


def slot_assignment(facts: KernelFacts) -> dict[str, int]:
    """slot name → index into ``facts.blocks`` (each block lands in at most one slot)."""
    slots: dict[str, int] = {}
    grid: list[int] = []
    for i, b in enumerate(facts.blocks):
        if b.role in ("m", "n", "k") and b.role not in slots:
            slots[b.role] = i
        elif b.role == "reduction" and "red" not in slots:
            slots["red"] = i
        elif b.role == "grid":
            grid.append(i)
        elif "loop" not in slots:
            slots["loop"] = i
    # Contiguous grid axis first (it decides coalescing), then the others in config order.
    grid.sort(key=lambda i: (not facts.blocks[i].contiguous, -i))
    for name, i in zip(("g0", "g1", "g2"), grid, strict=False):
        slots[name] = i
    return slots


def _log2(x: float) -> float:
    return math.log2(x) if x and x > 0 else float("nan")


_EXACT = 2**40  # sums of fewer than 2**12 such ints stay exact in float64


def _mean(values: Sequence[Any]) -> float:
    """``float(np.mean(values))``, without numpy's per-call overhead for the usual int lists
    (exact: a sum of small ints is exact in float64, then one correctly rounded division)."""
    if all(type(v) is int and -_EXACT < v < _EXACT for v in values):
        return sum(values) / len(values)
    return float(np.mean(values))


def config_columns(facts: KernelFacts, configs: Sequence[dict[str, Any]]) -> dict[str, np.ndarray]:
    """Numeric columns describing each config, aligned with ``configs``."""
    n = len(configs)
    slots = slot_assignment(facts)
    nb = len(facts.blocks)
    blocks = np.full((n, max(nb, 1)), np.nan)
    cols: dict[str, np.ndarray] = {}
    warps = np.empty(n)
    stages = np.empty(n)
    pid = np.zeros((n, len(PID_TYPES)))
    l2 = np.full(n, np.nan)
    red_looped = np.full(n, np.nan)
    red_block = np.full(n, np.nan)
    tma_share = np.zeros(n)
    sm_mult = np.full(n, np.nan)
    range_stages = np.zeros(n)
    range_unroll = np.zeros(n)
    flatten = np.zeros(n)
    flat_first = np.zeros(n, dtype=bool)
    natural_order = np.ones(n, dtype=bool)
    for r, cfg in enumerate(configs):
        sizes = cfg.get("block_sizes") or []
        for j in range(min(nb, len(sizes))):
            blocks[r, j] = float(sizes[j])
        warps[r] = float(cfg.get("num_warps", 4))
        stages[r] = float(cfg.get("num_stages", 1))
        pid_type = cfg.get("pid_type", "flat")
        if pid_type in PID_TYPES:
            pid[r, PID_TYPES.index(pid_type)] = 1.0
        if facts.num_l2_groupings:
            groupings = cfg.get("l2_groupings") or [1]
            l2[r] = _log2(float(groupings[0]))
        if facts.num_reduction_loops:
            loops = cfg.get("reduction_loops") or [None]
            extent = facts.reduction_loop_extents[0] if facts.reduction_loop_extents else 0
            if loops[0] is None:
                red_looped[r] = 0.0
                red_block[r] = float(next_pow2(extent)) if extent else np.nan
            else:
                red_looped[r] = 1.0
                red_block[r] = float(loops[0])
        indexing = cfg.get("indexing") or []
        if isinstance(indexing, str):
            indexing = [indexing]
        if indexing:
            tma_share[r] = sum(1 for x in indexing if x == "tensor_descriptor") / len(indexing)
        if pid_type != "flat":
            sm_mult[r] = _log2(float(cfg.get("num_sm_multiplier", 1)))
        rs = cfg.get("range_num_stages") or []
        range_stages[r] = _mean(rs) if rs else 0.0
        ru = cfg.get("range_unroll_factors") or []
        range_unroll[r] = _mean(ru) if ru else 0.0
        fl = cfg.get("flatten_loops") or []
        if fl:
            flatten[r] = sum(1 for x in fl if x) / len(fl)
            flat_first[r] = bool(fl[0])
        orders = cfg.get("loop_orders") or []
        if orders and list(orders[0]) != sorted(orders[0]):
            natural_order[r] = False
    with np.errstate(divide="ignore", invalid="ignore"):
        for slot in SLOTS:
            if slot == "red" and "red" not in slots:
                block = red_block  # persistent / looped reduction acts as the reduction tile
                hint = (float(next_pow2(facts.reduction_loop_extents[0]))
                        if facts.reduction_loop_extents else np.nan)
            elif slot in slots:
                block = blocks[:, slots[slot]]
                hint = float(next_pow2(facts.blocks[slots[slot]].size_hint))
            else:
                block = np.full(n, np.nan)
                hint = np.nan
            cols[f"cfg_{slot}_log2"] = np.log2(block)
            cols[f"cfg_{slot}_fill"] = np.log2(block / hint)  # <= 0: share of the extent a tile covers
        cols["cfg_warps_log2"] = np.log2(warps)
        cols["cfg_stages"] = stages
        for k, name in enumerate(PID_TYPES):
            cols[f"cfg_pid_{name}"] = pid[:, k]
        cols["cfg_l2_grouping_log2"] = l2
        cols["cfg_red_looped"] = red_looped
        cols["cfg_tma_share"] = tma_share
        cols["cfg_sm_multiplier_log2"] = sm_mult
        cols["cfg_range_stages_mean"] = range_stages
        cols["cfg_range_unroll_mean"] = range_unroll
        cols["cfg_flatten"] = flatten
    cols["_blocks"] = blocks  # raw sizes for derived features (not a model feature)
    cols["_red_block"] = red_block
    # The first multi-dimensional tile flattened (one 1-D block of the sizes' product) and its
    # loop order: what the derived tile, padding and contiguity features read.
    cols["_flat_first"] = flat_first
    cols["_natural_order"] = natural_order
    return cols


CONFIG_FEATURES = (
    *(f"cfg_{s}_{kind}" for s in SLOTS for kind in ("log2", "fill")),
    "cfg_warps_log2", "cfg_stages",
    *(f"cfg_pid_{p}" for p in PID_TYPES),
    "cfg_l2_grouping_log2", "cfg_red_looped", "cfg_tma_share", "cfg_sm_multiplier_log2",
    "cfg_range_stages_mean", "cfg_range_unroll_mean",
)
# Triton-only columns, after the derived ones (cute has its own flatten column, cfg_cute_flatten).
TRITON_CONFIG_FEATURES = ("cfg_flatten",)


def partial_config(config: dict[str, Any], facts: KernelFacts) -> dict[str, Any]:
    """Keep only the fields the model decides, with plain Python types (Helion fills the rest)."""
    out: dict[str, Any] = {}
    for key in DECIDED_FIELDS:
        if key not in config:
            continue
        value = config[key]
        if key == "l2_groupings" and not facts.num_l2_groupings:
            continue
        if key == "reduction_loops" and not facts.num_reduction_loops:
            continue
        out[key] = _plain(value)
    return out


def plain_config(config: dict[str, Any]) -> dict[str, Any]:
    """A whole config with builtin types only (keeps every field, unlike :func:`partial_config`)."""
    return {str(k): _plain(v) for k, v in config.items()}


def _plain(value: Any) -> Any:
    """numpy scalars break Helion's cache key: cast everything to builtins."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    return value
