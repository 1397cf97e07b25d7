"""Kernel, hardware and derived cross features, each defined once for training and inference."""

from __future__ import annotations

import math

import numpy as np

from .config import next_pow2
from .config import slot_assignment
from .contiguity import contiguous_axis
from .facts import OP_CATEGORIES
from .facts import KernelFacts
from .feasibility import matmul_smem_kb
from .hardware import HardwareFacts

NAN = float("nan")
KINDS = ("matmul", "reduction", "pointwise", "other")


def _log2(x: float | None) -> float:
    return math.log2(x) if x is not None and x > 0 else NAN


def kernel_flops(facts: KernelFacts) -> float | None:
    total = 0.0
    for mm in facts.matmuls:
        if not all(mm.get(d) for d in ("m", "n", "k")):
            return None
        batch = _batch(facts)
        total += 2.0 * mm["m"] * mm["n"] * mm["k"] * batch
    return total or None


def _batch(facts: KernelFacts) -> float:
    """Batch extent of a batched matmul: grid axes that are neither m nor n."""
    batch = 1.0
    for b in facts.blocks:
        if b.role == "grid" and facts.matmuls:
            batch *= max(b.size_hint, 1)
    return batch


def kernel_columns(facts: KernelFacts) -> dict[str, float]:
    mm = facts.matmuls[0] if facts.matmuls else {}
    red = facts.reductions[0] if facts.reductions else {}
    pw = facts.pointwise or {}
    mem = facts.memory or {}
    total_bytes = (mem.get("load_bytes") or 0) + (mem.get("store_bytes") or 0)
    flops = kernel_flops(facts)
    contiguous = [b.size_hint for b in facts.blocks if b.contiguous]
    cols: dict[str, float] = {f"k_kind_{k}": float(facts.kind == k) for k in KINDS}
    cols.update({
        "k_num_blocks": float(len(facts.blocks)),
        "k_num_grid": float(len(facts.grid_block_ids)),
        "k_num_reduction_loops": float(facts.num_reduction_loops),
        "k_num_range_loops": float(facts.num_range_loops),
        "k_num_matmuls": float(len(facts.matmuls)),
        "k_mm_m_log2": _log2(mm.get("m")),
        "k_mm_n_log2": _log2(mm.get("n")),
        "k_mm_k_log2": _log2(mm.get("k")),
        "k_mm_bits": float(mm["lhs_bits"]) if mm.get("lhs_bits") else NAN,
        "k_mm_batched": float(max(mm.get("lhs_ndim", 0), mm.get("rhs_ndim", 0)) > 2) if mm else NAN,
        "k_mm_batch_log2": _log2(_batch(facts)) if mm else NAN,
        "k_red_size_log2": _log2(red.get("size_hint")) if red else _log2(
            facts.reduction_loop_extents[0] if facts.reduction_loop_extents else None),
        "k_red_itemsize": float(red["itemsize"]) if red.get("itemsize") else NAN,
        "k_red_reread": float(red["row_reread"]) if red else NAN,
        "k_num_reductions": float(len(facts.reductions)),
        "k_pw_numel_log2": _log2(pw.get("total_numel")),
        "k_pw_slab": float(pw["slab_numel"]) if pw.get("slab_numel") is not None else NAN,
        "k_pw_sfu": float(pw["sfu_ops"]) if pw.get("sfu_ops") is not None else NAN,
        "k_load_bytes_log2": _log2(mem.get("load_bytes")),
        "k_store_bytes_log2": _log2(mem.get("store_bytes")),
        "k_bytes_log2": _log2(total_bytes),
        "k_min_itemsize": float(mem["min_itemsize"]) if mem.get("min_itemsize") else NAN,
        "k_max_itemsize": float(mem["max_itemsize"]) if mem.get("max_itemsize") else NAN,
        "k_num_loads": float(mem.get("num_loads", 0)),
        "k_num_stores": float(mem.get("num_stores", 0)),
        "k_num_atomics": float(mem.get("num_atomics", 0)),
        "k_flops_log2": _log2(flops),
        "k_intensity_log2": _log2(flops / total_bytes) if flops and total_bytes else NAN,
        "k_contig_extent_log2": _log2(max(contiguous)) if contiguous else NAN,
        "k_grid_numel_log2": _log2(float(np.prod([b.size_hint for b in facts.blocks
                                                   if b.block_id in facts.grid_block_ids]) or 0)),
    })
    for cat in OP_CATEGORIES:
        cols[f"k_ops_{cat}"] = float(facts.op_histogram.get(cat, 0))
    return cols


def hardware_columns(hw: HardwareFacts) -> dict[str, float]:
    major, minor = hw.compute_capability
    return {
        "hw_cc": major + minor / 10.0,
        "hw_sm_count": float(hw.sm_count),
        "hw_smem_kb": float(hw.smem_per_block_kb),
        "hw_l2_mb": float(hw.l2_mb),
        "hw_mem_bw_tbs": float(hw.mem_bw_tbs),
    }


def derived_columns(facts: KernelFacts, hw: HardwareFacts,
                    cfg: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Cross features: tile count, waves, padding waste, shared-memory and register estimates."""
    blocks = cfg["_blocks"]
    n = blocks.shape[0]
    slots = slot_assignment(facts)
    warps = np.exp2(cfg["cfg_warps_log2"])
    stages = cfg["cfg_stages"]
    programs = np.ones(n)
    padded = np.ones(n)
    real = 1.0
    tile = np.ones(n)
    grid_numel = 1.0
    other_padded = np.ones(n)
    for i, b in enumerate(facts.blocks):
        size = max(b.size_hint, 1)
        bs = blocks[:, i]
        if b.block_id in facts.grid_block_ids:
            programs *= np.ceil(size / bs)
            tile *= bs
            grid_numel *= size
        elif b.role in ("k", "reduction"):
            other_padded *= np.ceil(size / bs) * bs
        if b.block_id in facts.grid_block_ids or b.role in ("k", "reduction"):
            padded *= np.ceil(size / bs) * bs
            real *= size
    # A flattened grid tile is one 1-D block of the sizes' product over the flattened index
    # (Helion's FlattenedTileStrategy): its programs and padding follow the total, not each axis.
    flat = flattened_grid(facts, cfg)
    if flat.any():
        programs = np.where(flat, np.ceil(grid_numel / tile), programs)
        padded = np.where(flat, np.ceil(grid_numel / tile) * tile * other_padded, padded)
    red_block = cfg["_red_block"]
    tile_with_red = tile * np.where(np.isnan(red_block), 1.0, red_block)
    sm = float(max(hw.sm_count, 1))
    waves = programs / sm
    out: dict[str, np.ndarray] = {
        "d_programs_log2": np.log2(programs),
        "d_waves_log2": np.log2(waves),
        "d_last_wave_fill": programs / (np.ceil(waves) * sm),
        "d_tile_log2": np.log2(tile_with_red),
        "d_elems_per_thread_log2": np.log2(tile_with_red / (warps * 32.0)),
        "d_padding_waste": padded / real - 1.0,
    }
    # Only kernels with a k block: the whole-k case (attention) as a feature cost unseen kernels
    # 0.05 (report's experiments); features.feasibility uses it as a rule instead.
    smem_kb = matmul_smem_kb(facts, blocks, stages, whole_k=False)
    if smem_kb is not None:
        bm = blocks[:, slots["m"]]
        bn = blocks[:, slots["n"]]
        bk = blocks[:, slots["k"]]
        out["d_smem_kb"] = smem_kb
        out["d_smem_over_capacity"] = smem_kb / max(hw.smem_per_block_kb, 1.0)
        out["d_acc_regs_per_thread"] = bm * bn / (warps * 32.0)
        k = facts.matmuls[0].get("k") or 0
        out["d_k_iters_log2"] = np.log2(np.ceil(k / bk)) if k else np.full(n, np.nan)
        # Bytes a tile reads per output element: lower = better reuse out of shared memory.
        out["d_tile_reuse"] = (bm * bn) / (bm + bn)
    else:
        for key in ("d_smem_kb", "d_smem_over_capacity", "d_acc_regs_per_thread",
                    "d_k_iters_log2", "d_tile_reuse"):
            out[key] = np.full(n, np.nan)
    total_bytes = float((facts.memory.get("load_bytes") or 0) + (facts.memory.get("store_bytes") or 0))
    bytes_per_program = total_bytes / programs if total_bytes else np.full(n, np.nan)
    out["d_bytes_per_program_log2"] = np.log2(bytes_per_program)
    out["d_bytes_per_thread_log2"] = np.log2(bytes_per_program / (warps * 32.0))
    out["d_contig_tile_bytes_log2"] = _contig_tile_bytes_log2(facts, cfg, flat, tile, grid_numel)
    out["d_mem_time_us_log2"] = (np.full(n, _log2(total_bytes / (hw.mem_bw_tbs * 1e6)))
                                 if total_bytes and hw.mem_bw_tbs == hw.mem_bw_tbs else np.full(n, np.nan))
    return out


def _contig_tile_bytes_log2(facts: KernelFacts, cfg: dict[str, np.ndarray], flat: np.ndarray,
                            grid_tile: np.ndarray, grid_numel: float) -> np.ndarray:
    """Bytes a tile spans along the main input's stride-1 axis: how well each load coalesces.
    ``flat``: :func:`flattened_grid`; ``grid_tile`` / ``grid_numel``: the grid tile's elements per
    config and the grid's extent (derived_columns has both)."""
    n = cfg["_blocks"].shape[0]
    axis = contiguous_axis(facts)
    if axis is None:
        return np.full(n, np.nan)
    full = float(next_pow2(axis.extent))
    if axis.block is not None:
        tile = np.minimum(cfg["_blocks"][:, axis.block], full)
        run_on = flat & cfg["_natural_order"]
        if run_on.any() and facts.blocks[axis.block].block_id in facts.grid_block_ids:
            # Flattened in the natural order, a tile runs on across rows of a contiguous input.
            tile = np.where(run_on, np.minimum(grid_tile, grid_numel), tile)
    else:  # persistent reduction: the whole (padded) extent; looped: the loop's chunk
        tile = np.minimum(np.where(np.isnan(cfg["_red_block"]), full, cfg["_red_block"]), full)
    return np.log2(tile * axis.itemsize)


def flattened_grid(facts: KernelFacts, cfg: dict[str, np.ndarray]) -> np.ndarray:
    """Per config: the grid tile is flattened (its first flatten choice on, 2+ grid axes)."""
    n = cfg["_blocks"].shape[0]
    # Triton only: the cute bundle was trained without this reading (cute tiles its own way).
    if facts.backend != "triton" or len(facts.grid_block_ids) < 2:
        return np.zeros(n, dtype=bool)
    return cfg["_flat_first"]


DERIVED_FEATURES = (
    "d_programs_log2", "d_waves_log2", "d_last_wave_fill", "d_tile_log2",
    "d_elems_per_thread_log2", "d_padding_waste", "d_smem_kb", "d_smem_over_capacity",
    "d_acc_regs_per_thread", "d_k_iters_log2", "d_tile_reuse", "d_bytes_per_program_log2",
    "d_bytes_per_thread_log2", "d_mem_time_us_log2", "d_contig_tile_bytes_log2",
)
