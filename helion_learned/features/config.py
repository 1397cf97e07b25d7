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
    cols: dict[str, np.ndarray] = {}
    # Column by column over the configs, made arrays once: one loop per config with numpy's
    # per-item assignment took ~1.0 ms for a bind's 400 candidates, this ~0.55 ms (2-core host).
    # Fields the candidate grid never sets are read only from configs that have them.
    nan = float("nan")
    blocks = _block_matrix([cfg.get("block_sizes") or [] for cfg in configs], nb)
    warps = np.array([float(cfg.get("num_warps", 4)) for cfg in configs], dtype=np.float64)
    stages = np.array([float(cfg.get("num_stages", 1)) for cfg in configs], dtype=np.float64)
    pid = [0] * n  # index into PID_TYPES, -1 for none of them
    l2 = [nan] * n
    red_looped = [nan] * n
    red_block = [nan] * n
    tma_share = [0.0] * n
    sm_mult = [nan] * n
    range_stages = [0.0] * n
    range_unroll = [0.0] * n
    flatten = [0.0] * n
    flat_first = [False] * n
    natural_order = [True] * n
    if facts.num_l2_groupings:
        l2 = [_log2(float((cfg.get("l2_groupings") or [1])[0])) for cfg in configs]
    if facts.num_reduction_loops:
        extent = facts.reduction_loop_extents[0] if facts.reduction_loop_extents else 0
        persistent = float(next_pow2(extent)) if extent else nan
        for r, cfg in enumerate(configs):
            loops = cfg.get("reduction_loops") or [None]
            if loops[0] is None:
                red_looped[r] = 0.0
                red_block[r] = persistent
            else:
                red_looped[r] = 1.0
                red_block[r] = float(loops[0])
    plain = _RARE_FIELDS.isdisjoint
    for r, cfg in enumerate(configs):
        if not plain(cfg):
            _rare_fields(cfg, r, pid, tma_share, sm_mult, range_stages, range_unroll, flatten,
                         flat_first, natural_order)
    red_block_a = np.array(red_block, dtype=np.float64)
    pid_a = np.zeros((n, len(PID_TYPES)))
    pid_idx = np.array(pid, dtype=np.int64)
    has_pid = np.flatnonzero(pid_idx >= 0)
    pid_a[has_pid, pid_idx[has_pid]] = 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        for slot in SLOTS:
            if slot == "red" and "red" not in slots:
                block = red_block_a  # persistent / looped reduction acts as the reduction tile
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
            cols[f"cfg_pid_{name}"] = pid_a[:, k]
        cols["cfg_l2_grouping_log2"] = np.array(l2, dtype=np.float64)
        cols["cfg_red_looped"] = np.array(red_looped, dtype=np.float64)
        cols["cfg_tma_share"] = np.array(tma_share, dtype=np.float64)
        cols["cfg_sm_multiplier_log2"] = np.array(sm_mult, dtype=np.float64)
        cols["cfg_range_stages_mean"] = np.array(range_stages, dtype=np.float64)
        cols["cfg_range_unroll_mean"] = np.array(range_unroll, dtype=np.float64)
        cols["cfg_flatten"] = np.array(flatten, dtype=np.float64)
    cols["_blocks"] = blocks  # raw sizes for derived features (not a model feature)
    cols["_red_block"] = red_block_a
    # The first multi-dimensional tile flattened (one 1-D block of the sizes' product) and its
    # loop order: what the derived tile, padding and contiguity features read.
    cols["_flat_first"] = np.array(flat_first, dtype=bool)
    cols["_natural_order"] = np.array(natural_order, dtype=bool)
    return cols


def _block_matrix(sizes: list[Any], nb: int) -> np.ndarray:
    """``(len(sizes), max(nb, 1))`` float64 block sizes per config, NaN where a config gives
    fewer than ``nb``; ``float()`` of each value (one array conversion when all are ints)."""
    n = len(sizes)
    if nb and n and all(len(s) == nb for s in sizes):
        ints = np.array(sizes)
        if ints.dtype.kind in "iub" and ints.shape == (n, nb):  # int -> float64 as float() does
            return ints.astype(np.float64)
    blocks = np.full((n, max(nb, 1)), np.nan)
    for r, row in enumerate(sizes):
        for j in range(min(nb, len(row))):
            blocks[r, j] = float(row[j])
    return blocks


# Fields the candidate grid never sets; a config without any of them takes their defaults.
_RARE_FIELDS = frozenset({"pid_type", "indexing", "range_num_stages", "range_unroll_factors",
                          "flatten_loops", "loop_orders"})


def _rare_fields(cfg: dict[str, Any], r: int, pid: list[int], tma_share: list[float],
                 sm_mult: list[float], range_stages: list[float], range_unroll: list[float],
                 flatten: list[float], flat_first: list[bool], natural_order: list[bool]) -> None:
    """:func:`config_columns`' reading of the fields grid configs leave out (row ``r``)."""
    pid_type = cfg.get("pid_type", "flat")
    pid[r] = PID_TYPES.index(pid_type) if pid_type in PID_TYPES else -1
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
