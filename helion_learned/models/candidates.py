"""Candidate partial configs for a kernel, built from its KernelFacts alone.

A small structured grid (block sizes per role × num_warps × num_stages, plus reduction looping and
L2 grouping where the kernel has them). Built from facts, not from a live ConfigSpec, so the
collector (which measures a sample of it on the GPU) and the adapter (which ranks all of it at bind
time) see the same space. Helion's random generator is biased towards small tiles; this grid is not.
"""

from __future__ import annotations

import itertools
import math
import random
from typing import Any

from ..features.config import next_pow2
from ..features.facts import BlockFact
from ..features.facts import KernelFacts

MAX_CANDIDATES = 400
_ROLE_CAP = {"m": 256, "n": 256, "k": 128, "reduction": 1024, "grid": 1024, "loop": 128}
_MAX_VALUES_PER_BLOCK = 5


def block_choices(block: BlockFact, kind: str, *, cap: int | None = None) -> list[int]:
    """Powers of two this block may take, thinned to a few spread values (largest kept).

    ``cap``: the largest tile to offer (default: per role, :data:`_ROLE_CAP`)."""
    lo = max(block.min_size, block.autotuner_min, 1)
    cap = cap if cap is not None else _ROLE_CAP.get(block.role, 1024)
    hi = min(block.max_size, next_pow2(block.size_hint), cap)
    if kind == "matmul" and block.role in ("m", "n", "k"):
        lo = max(lo, 16)  # tensor-core tiles: smaller never wins on Hopper-class GPUs
    if kind == "matmul" and block.role == "grid":
        hi = min(hi, 4)  # batch axes: one or a few batch entries per program
    if kind == "reduction" and block.role == "grid":
        hi = min(hi, 64)  # rows per program
    lo = min(lo, next_pow2(max(block.max_size, 1)))  # the floors above never beat a hard maximum
    hi = max(hi, lo)
    values = []
    v = next_pow2(lo)
    while v <= hi:
        values.append(v)
        v *= 2
    if not values:
        values = [next_pow2(lo)]
    if len(values) > _MAX_VALUES_PER_BLOCK:
        step = (len(values) - 1) / (_MAX_VALUES_PER_BLOCK - 1)
        values = sorted({values[round(i * step)] for i in range(_MAX_VALUES_PER_BLOCK)})
    return values


def _warps_for(tile_numel: int) -> list[int]:
    warps = [w for w in (1, 2, 4, 8, 16) if w * 32 <= max(tile_numel, 32)]
    return warps[-3:] if len(warps) > 3 else warps


def _has_loops(facts: KernelFacts) -> bool:
    return any(b.role in ("k", "loop") for b in facts.blocks) or facts.num_reduction_loops > 0


def _reduction_loop_choices(facts: KernelFacts) -> list[int | None]:
    if not facts.num_reduction_loops:
        return []
    extent = facts.reduction_loop_extents[0] if facts.reduction_loop_extents else 0
    choices: list[int | None] = [None]
    v = 128
    while extent and v < extent and len(choices) < 4:
        choices.append(v)
        v *= 4
    return choices


def split_k_axes(facts: KernelFacts) -> tuple[int, int] | None:
    """(outer, inner) block indices of a split-K matmul, else None.

    Split-K tiles K on the grid (each program sums one K range and adds it into the output with
    atomics) and loops over that range with the matmul's own K block. Its grid axis spans K, so
    it is no batch axis: capping it like one (at 4, floored to 16) left the grid with programs
    of 16 K elements each, and Helion's quick search found a 256-wide outer tile 5x faster
    (reports/online_h200, matmul_split_k 128x65536x128)."""
    inner = next((i for i, b in enumerate(facts.blocks) if b.role == "k"), None)
    # Helion's memory-op facts leave atomics out; the op histogram counts them.
    atomics = facts.op_histogram.get("atomic", 0) or facts.memory.get("num_atomics", 0)
    if facts.kind != "matmul" or inner is None or not atomics:
        return None
    k = facts.blocks[inner].max_size  # its size hint is capped (8192); its maximum is K's
    outer = next((i for i, b in enumerate(facts.blocks) if b.role == "grid" and b.max_size == k),
                 None)
    return None if outer is None else (outer, inner)


def _split_k_choices(block: BlockFact) -> list[int]:
    # K per program: from the old grid's 16 up by 4x, at most 4096 and the extent's power of two.
    hi = min(next_pow2(block.size_hint), block.max_size, 4096)
    values = [v for v in (16, 64, 256, 1024, 4096) if max(block.min_size, 1) <= v <= hi]
    return values or [next_pow2(max(block.min_size, 1))]


# A split-K workload "measured its K ranges" when each wider range the explore grid offers
# (:func:`_split_k_choices` > 16) has this many successful configs: data/h200_explore has 10+ per
# range on all 16 of its split-K workloads, the lists before it at most 8 (mostly 1-3), on none.
SPLIT_K_RANGE_MIN_CONFIGS = 5
# Bind time offers split-K ranges only from a model trained on this many such workloads: a model
# that saw them only as a few random configs ranks them blind.
SPLIT_K_RANGE_MIN_WORKLOADS = 3


def measured_split_k_ranges(facts: KernelFacts, configs: list[dict[str, Any]],
                            succeeded: list[bool]) -> bool:
    """Whether one workload's logs measured the K ranges :func:`structured_grid` offers a
    split-K kernel with ``explore`` (False for kernels that are not split-K)."""
    split = split_k_axes(facts)
    if split is None:
        return False
    wide = [v for v in _split_k_choices(facts.blocks[split[0]]) if v > 16]
    counts: dict[int, int] = {}
    for cfg, ok in zip(configs, succeeded, strict=True):
        sizes = cfg.get("block_sizes") or []
        if ok and len(sizes) > split[0]:
            counts[sizes[split[0]]] = counts.get(sizes[split[0]], 0) + 1
    return bool(wide) and all(counts.get(v, 0) >= SPLIT_K_RANGE_MIN_CONFIGS for v in wide)


def structured_grid(facts: KernelFacts, *, limit: int | None = None, seed: int = 0,
                    max_candidates: int = MAX_CANDIDATES,
                    explore: bool = False) -> list[dict[str, Any]]:
    """Deterministic list of partial configs (plain Python types). ``limit`` samples a subset.

    ``explore``: also offer what no log has measured as grid configs yet, so that the collector
    measures it: split-K programs with K ranges wider than 16 (:func:`split_k_axes`), and
    matmul tiles judged by their accumulator (block m x n) instead of m x n x k, which held the
    grid to m*n*k <= 2**18 (no 128x128x64 tile, the size Helion's own heuristic picks). Off at
    bind time until logs measure them: the model has seen them only as Helion's seeds and a few
    random configs."""
    per_block = [block_choices(b, facts.kind) for b in facts.blocks]
    split = split_k_axes(facts) if explore else None
    # Registers hold a matmul program's m x n accumulator; its k slices stream through shared
    # memory (features.feasibility bounds that).
    acc = ([i for i, b in enumerate(facts.blocks) if b.role in ("m", "n")]
           if explore and facts.kind == "matmul" else None)
    if split is not None:
        per_block[split[0]] = _split_k_choices(facts.blocks[split[0]])
    red_loops = _reduction_loop_choices(facts)
    stages = [1, 2, 3, 4] if _has_loops(facts) else [1]
    l2 = [1, 8] if facts.num_l2_groupings and facts.kind == "matmul" else [None]
    # Rows stay light tuples until the sample is drawn: at bind time most grids are sampled
    # down to MAX_CANDIDATES, and building a dict per unsampled row cost up to ~1 ms.
    rows: list[_Row] = []
    warps_for: dict[int, list[int]] = {}  # _warps_for by work: few distinct values per grid
    for sizes in itertools.product(*per_block) if per_block else [()]:
        tile = 1
        for s in sizes:
            tile *= s
        if split is not None:
            if sizes[split[1]] > sizes[split[0]]:
                continue  # an inner K tile wider than the program's K range only loads padding
            tile //= sizes[split[0]]  # the K range is looped over, not held in registers
        if facts.kind == "matmul" and tile > 256 * 256 * 64:
            continue
        for red in red_loops or [None]:
            red_tile = red if red is not None else next_pow2(
                facts.reduction_loop_extents[0]) if facts.reduction_loop_extents else 1
            work = (math.prod(sizes[i] for i in acc) if acc
                    else tile * (red_tile if facts.num_reduction_loops else 1))
            if work > 1 << 18:
                continue  # too large for registers: never competitive, often fails to compile
            if work not in warps_for:
                warps_for[work] = _warps_for(work)
            for warps in warps_for[work]:
                for st in stages if (red is not None or not facts.num_reduction_loops) else [1]:
                    for group in l2:
                        rows.append((sizes, red, warps, st, group, False))
    rows += _flattened(facts, rows)
    keep: list[int] | range = range(len(rows))
    if len(keep) > max_candidates:
        keep = _spread_indices(len(keep), max_candidates, seed)
    if limit is not None and len(keep) > limit:
        keep = [keep[i] for i in _spread_indices(len(keep), limit, seed)]
    return [_row_config(facts, rows[i]) for i in keep]


# One grid config before it becomes a dict: (block sizes, reduction loop, warps, stages,
# L2 grouping, flattened).
_Row = tuple[tuple[int, ...], int | None, int, int, int | None, bool]


def _row_config(facts: KernelFacts, row: _Row) -> dict[str, Any]:
    sizes, red, warps, st, group, flat = row
    cfg: dict[str, Any] = {"block_sizes": [int(s) for s in sizes], "num_warps": int(warps),
                           "num_stages": int(st)}
    if facts.num_reduction_loops:
        cfg["reduction_loops"] = [red] + [None] * (facts.num_reduction_loops - 1)
    if group is not None:
        cfg["l2_groupings"] = [int(group)] * facts.num_l2_groupings
    if flat:
        cfg["flatten_loops"] = [True] * facts.num_flatten_loops
    return cfg


def _flattened(facts: KernelFacts, grid: list[_Row]) -> list[_Row]:
    """Flattened twins of a pointwise grid (triton): the tile becomes one 1-D block of the sizes'
    product, which runs on across rows. In the logs a flattened config wins 64 % of the 2-D
    pointwise workloads, the unflattened best reaching 0.965 of it (0.73 for rows of 4097
    elements). Configs with the same product are the same kernel: one per (product, warps)."""
    if (facts.backend != "triton" or facts.kind != "pointwise" or not facts.num_flatten_loops
            or len(facts.grid_block_ids) < 2):
        return []
    seen: set[tuple[int, int]] = set()
    out = []
    for row in grid:
        key = (math.prod(row[0]), row[2])
        if key in seen:
            continue
        seen.add(key)
        out.append((*row[:5], True))
    return out


def candidate_grid(facts: KernelFacts, *, reference: dict[str, Any] | None = None,
                   limit: int | None = None, seed: int = 0,
                   max_candidates: int = MAX_CANDIDATES,
                   explore: bool = False) -> list[dict[str, Any]]:
    """The grid for ``facts.backend``: :func:`structured_grid` for triton, the cute grid of
    :mod:`.cute_candidates` (built on Helion's fragment defaults, ``reference``) for cute."""
    if facts.backend != "cute":
        return structured_grid(facts, limit=limit, seed=seed, max_candidates=max_candidates,
                               explore=explore)
    from .cute_candidates import CUTE_CONTIGUOUS_CAP
    from .cute_candidates import contiguous_block
    from .cute_candidates import cute_grid

    contig = contiguous_block(facts) if facts.kind == "pointwise" else None
    per_block = [block_choices(b, facts.kind, cap=CUTE_CONTIGUOUS_CAP if i == contig else None)
                 for i, b in enumerate(facts.blocks)]
    out = cute_grid(facts, reference, per_block, _reduction_loop_choices(facts))
    if len(out) > max_candidates:
        out = _spread_sample(out, max_candidates, seed)
    if limit is not None and len(out) > limit:
        out = _spread_sample(out, limit, seed)
    return out


def _spread_sample(items: list[dict[str, Any]], k: int, seed: int) -> list[dict[str, Any]]:
    """Deterministic sample of ``k`` items that keeps the original order."""
    return [items[i] for i in _spread_indices(len(items), k, seed)]


def _spread_indices(n: int, k: int, seed: int) -> list[int]:
    """The indices :func:`_spread_sample` keeps of ``n`` items (they depend on ``n`` alone)."""
    return sorted(random.Random(seed).sample(range(n), k))


def canonical_key(config_spec: Any, partial: dict[str, Any], *, gen: Any = None) -> str | None:
    """Helion's own seed-transfer path for one partial config: its canonical flat form as a key
    (one key for configs Helion would run identically, a partial config and its completion), or
    None if Helion rejects it. Validation and de-duplication share this one (costly) pass.

    ``gen``: a ``config_spec.create_config_generation()`` to reuse across calls (it is not cheap).
    """
    import helion

    try:
        gen = gen if gen is not None else config_spec.create_config_generation()
        flat, _ = gen.canonicalize_flat(gen.flatten(helion.Config(**partial)))
    except Exception:
        return None
    for value, spec in zip(partial.get("block_sizes", ()), config_spec.block_sizes, strict=False):
        if value > spec.max_size:
            return None
    return repr(flat)


def validate(config_spec: Any, partial: dict[str, Any], *, gen: Any = None) -> dict[str, Any] | None:
    """The partial config if Helion's seed-transfer path accepts it (:func:`canonical_key`), else None."""
    return partial if canonical_key(config_spec, partial, gen=gen) is not None else None
