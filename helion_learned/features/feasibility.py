"""Which candidate configs cannot run or cannot be fast: a shared-memory estimate against the GPU's
per-block limit, a matmul output tile with far more threads than elements, and dots (attention-
style chains, or several accumulators in one k loop) whose live accumulators exceed a thread's
registers.

Why a rule and not the model: a kernel the logs do not hold has no failures to learn from. In the
H100 logs, matmul configs estimated at the per-block shared memory or more fail 67 % of the
time (301 rows, 1 of them within 5 % of its workload's best; of those that ran, 5 reached half
their workload's best). Held-out attention's pick with H200
rows in training was Helion's own seed (64x512 tile, 3 stages: 1.9x at head dim 128), which fails
on every H100 shape it was run on. Neither the cost model nor a failure classifier learned that
from matmuls (their trees split on the k block, which attention lacks); the estimate does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .config import config_columns
from .config import next_pow2
from .config import slot_assignment
from .facts import KernelFacts
from .hardware import HardwareFacts

# Estimated shared memory ÷ capacity at or above which a candidate is not ranked: the capacity
# itself (1.5 until stop 19). Configs estimated at 1.0-1.5x: 214 in the H100, H200 and H200 graph
# logs, 43-58 % of them failed per log, 1 within 5 % of its workload's best; at 1.5x or more 349,
# 71-83 % failed. The lower limit changed no H100 pick; held-out attention on the H200 graph logs
# had picked a 256x64-tile, 4-stage config (1.41x) that fails there.
SMEM_OVER_CAPACITY_LIMIT = 1.0

# Threads of a program per element of its matmul output tile above which a candidate is not
# ranked: far more threads than the tile has outputs leave most of them idle (e.g. 32 warps on a
# 16 x 1 tile, the held-out split-K pick at 0.13 and 0.34 of the best on two tiny shapes, stop 40).
# In the H100, H100-new, H200 and H200 graph logs 237 configs are above 8x, none within 0.8 of
# its workload's best, and no workload loses its best config; at 4x 450, one within 5 %, and one
# workload (split-K 16 x 16384 x 16: [1, 8, 64, 64], 2 warps, 8x) would lose its best.
THREADS_PER_TILE_ELEMENT_LIMIT = 8.0

# fp32 accumulator elements per thread, in a kernel whose dots span the whole k (attention: the
# score tile m x n and the output tile m x head_dim stay live across the loop), at or above
# which a candidate is not ranked: a thread has at most 255 registers, so these spill. At 256 or
# more: 142 configs in data/h100, 26 in data/h100_new (attention backward, causal attention), 61
# in data/h200, none within 0.8 of its workload's best (the fastest 0.69); 80 in
# data/h200_graph, two at 0.82 and 0.91 (sequence length 197 and 256, where the k loop runs
# once). No workload loses its best. Held-out attention picked 128 x 128 tiles with 4 warps
# (256: 0.49 of the best) and 256 x 256 with 8 warps (384: 0.38).
CHAINED_DOT_REGISTER_LIMIT = 256.0

# The same count for dots in a k loop: each dot with its own output keeps an m x n fp32
# accumulator tile live across the loop (linear_swiglu's gate and up projections: two; a
# dequantizing kernel's dots over a packed B, int4_gemm's even and odd nibbles, add into one).
# At 256 or more per thread: 48 configs in data/h100 and data/h100_new (none in the H200 logs),
# the fastest at 0.46 of its workload's best; no workload loses its best. Held-out linear_swiglu
# picked 128 x 256 tiles with 8 warps (2 x 128 accumulators per thread: 0.13 and 0.18 of the
# best, 2026-12-08); a single matmul's 128 x 256 tile with 8 warps (128) stays.
LOOPED_DOT_REGISTER_LIMIT = 256.0


def matmul_smem_kb(facts: KernelFacts, blocks: np.ndarray, stages: np.ndarray, *,
                   whole_k: bool = True, per_dot: bool = False) -> np.ndarray | None:
    """Shared memory (KiB) of the A and B tiles over the pipeline stages, per config; None where
    the kernel has no matmul tile to estimate.

    With a k block the tiles are (m × k) and (k × n). Without one (attention: k is the head
    dimension) the tile spans all of k, rounded up to a power of two as Triton pads it; only with
    ``whole_k`` (the cost model's feature keeps that case missing, as it was trained).
    ``per_dot``: with a k block, count :func:`dot_operands` (the rule does; the model's feature
    keeps the A + B reading it was trained on)."""
    slots = slot_assignment(facts)
    if not facts.matmuls or not {"m", "n"} <= slots.keys():
        return None
    bm = blocks[:, slots["m"]]
    bn = blocks[:, slots["n"]]
    if "k" in slots:
        bk = blocks[:, slots["k"]]
    elif whole_k and facts.matmuls[0].get("k"):
        bk = np.full(len(blocks), float(next_pow2(int(facts.matmuls[0]["k"]))))
    else:
        return None
    bits = float(facts.matmuls[0].get("lhs_bits") or 16)
    depth = np.maximum(stages, 1.0)
    dots, b_bits = dot_operands(facts) if per_dot and "k" in slots else (1, None)
    if dots > 1:
        b_bits = b_bits or float(facts.matmuls[0].get("rhs_bits") or 16)
        return dots * (bm * bk * bits + bk * bn * b_bits) / 8.0 * depth / 1024.0
    elems = (bm * bk + bk * bn) * depth
    if "k" not in slots:
        # Attention keeps its Q tile and streams K and V tiles (n x d each) per stage: count that
        # reading too and keep the larger (stop 20). It is pessimistic (a 64x512 tile at head dim
        # 128 with 1 stage runs, at 0.31 of the best) and alone misjudges more configs; beside the
        # A+B reading it rules out 82 more attention configs in our three logs, 52 of which ran,
        # none within 5 % of its workload's best (all under 0.5 but one at 0.80), and the held-out
        # 128x256, 4-stage picks at head dim 64 that fail on the H200.
        elems = np.maximum(elems, bm * bk + 2.0 * bn * bk * depth)
    return elems * (bits / 8.0) / 1024.0


def dot_operands(facts: KernelFacts) -> tuple[int, float | None]:
    """(dots, B bits) for the shared-memory rule: where several dots share the k loop each keeps
    its own A and B tiles per stage, and a dequantizing kernel (an input narrower than the dots'
    operands) pipelines its B tile at the narrow width; (1, None) otherwise (the A + B reading).

    First H100 logs of the new kernels (data/h100_new): in linear_swiglu (gate and up weights
    against one A tile) and int4_gemm (two dots over even and odd k, one packed uint8 B tile) it
    rules out 12 more configs: 6 failed (both failed held-out picks among them; all 5 int4
    failures are now out), the other 6 ran at 0.15-0.50 of the best. int4's 128x256x64 tile at 3
    stages (0.93 of the best) stays in, at 4 stages (failed) it is out. Nothing changes in the
    other logs: they hold no such kernel (attention's dots have no k block)."""
    dots = facts.matmuls or ()
    if len(dots) < 2:
        return 1, None
    bits = min(float(d.get("lhs_bits") or 16) for d in dots)
    narrowest = (facts.memory or {}).get("min_itemsize")
    b_bits = float(narrowest) * 8 if narrowest and float(narrowest) * 8 < bits else None
    return len(dots), b_bits


def smem_over_capacity(facts: KernelFacts, hw: HardwareFacts,
                       cfg: dict[str, np.ndarray]) -> np.ndarray | None:
    """Estimated shared memory ÷ the per-block capacity, per config (``cfg``: the configs'
    :func:`~.config.config_columns`); None where the rule has no estimate: kernels without a
    matmul tile, unknown capacities and the cute backend (in the H200 cute logs 2 of the 18
    configs the estimate rules out failed: cute stages its tiles differently)."""
    if facts.backend != "triton" or not facts.matmuls or hw.smem_per_block_kb <= 0:
        return None
    smem = matmul_smem_kb(facts, cfg["_blocks"], cfg["cfg_stages"], per_dot=True)
    return None if smem is None else smem / hw.smem_per_block_kb


def _output_tile(facts: KernelFacts, cfg: dict[str, np.ndarray]
                 ) -> tuple[dict[str, int], np.ndarray, np.ndarray, np.ndarray] | None:
    """(slots, m block, n block, threads per program) of a triton matmul kernel's output tile,
    per config; None for kernels without one. What the two rules below read."""
    if facts.backend != "triton" or not facts.matmuls:
        return None
    slots = slot_assignment(facts)
    if not {"m", "n"} <= slots.keys():
        return None
    blocks = cfg["_blocks"]
    return slots, blocks[:, slots["m"]], blocks[:, slots["n"]], np.exp2(cfg["cfg_warps_log2"]) * 32.0


def threads_per_tile_element(facts: KernelFacts, cfg: dict[str, np.ndarray]) -> np.ndarray | None:
    """Threads of a program (warps × 32) ÷ the elements of its output tile (m block × n block),
    per config; None for kernels without a matmul tile (triton only)."""
    tile = _output_tile(facts, cfg)
    if tile is None:
        return None
    _, bm, bn, threads = tile
    with np.errstate(invalid="ignore", divide="ignore"):
        return threads / (bm * bn)


def chained_dot_registers(facts: KernelFacts, cfg: dict[str, np.ndarray]) -> np.ndarray | None:
    """fp32 accumulator elements per thread of a kernel whose dots span the whole k (no k
    block: attention's score tile m x n plus output tile m x head_dim, head_dim rounded up to a
    power of two as Triton pads it), per config; None for other kernels (triton only)."""
    tile = _output_tile(facts, cfg)
    if tile is None or "k" in tile[0] or not facts.matmuls[0].get("k"):
        return None
    _, bm, bn, threads = tile
    head = float(next_pow2(int(facts.matmuls[0]["k"])))
    return (bm * bn + bm * head) / threads


def looped_dot_registers(facts: KernelFacts, cfg: dict[str, np.ndarray]) -> np.ndarray | None:
    """fp32 accumulator elements per thread of a kernel whose dots run in a k loop (a k block):
    one m x n tile per dot with its own output (:func:`dot_operands`: a dequantizing kernel's
    dots share one), per config; None for other kernels (triton only)."""
    tile = _output_tile(facts, cfg)
    if tile is None or "k" not in tile[0]:
        return None
    _, bm, bn, threads = tile
    dots, narrow_b = dot_operands(facts)
    return (1 if narrow_b is not None else dots) * bm * bn / threads


def feasible_columns(facts: KernelFacts, hw: HardwareFacts,
                     cfg: dict[str, np.ndarray]) -> np.ndarray:
    """:func:`feasible` from already computed config columns (the feature extractor's)."""
    keep = np.ones(len(cfg["_blocks"]), dtype=bool)
    over = smem_over_capacity(facts, hw, cfg)
    with np.errstate(invalid="ignore"):
        if over is not None:
            keep &= ~(over >= SMEM_OVER_CAPACITY_LIMIT)
        threads = threads_per_tile_element(facts, cfg)
        if threads is not None:
            keep &= ~(threads > THREADS_PER_TILE_ELEMENT_LIMIT)
        registers = chained_dot_registers(facts, cfg)
        if registers is not None:
            keep &= ~(registers >= CHAINED_DOT_REGISTER_LIMIT)
        looped = looped_dot_registers(facts, cfg)
        if looped is not None:
            keep &= ~(looped >= LOOPED_DOT_REGISTER_LIMIT)
    return keep


def feasible(facts: KernelFacts, hw: HardwareFacts,
             configs: Sequence[dict[str, Any]]) -> np.ndarray:
    """One bool per config: False where the shared-memory estimate reaches the limit, a
    program has more than 8 threads per element of its matmul output tile, or its dots keep 256
    or more fp32 accumulators per thread (a whole-k chain such as attention, or dots in a k
    loop: one tile per dot with its own output) (every config is kept
    where no rule has an estimate: kernels without a matmul tile)."""
    if not configs or facts.backend != "triton" or not facts.matmuls:
        return np.ones(len(configs), dtype=bool)  # no estimate: skip building the columns
    return feasible_columns(facts, hw, config_columns(facts, configs))


def ranked_subset(mask: np.ndarray) -> np.ndarray:
    """Indices a pick is made from: the feasible ones, or all when none is (a pick that may fail
    still beats none, and the autotuner then benchmarks it like any seed)."""
    mask = np.asarray(mask, dtype=bool)
    return np.flatnonzero(mask) if mask.any() else np.arange(mask.size)


def pick_index(scores: np.ndarray, mask: np.ndarray) -> int:
    """The highest-scoring index of :func:`ranked_subset` (first on ties, as a stable sort)."""
    ranked = ranked_subset(mask)
    return int(ranked[int(np.argmax(np.asarray(scores)[ranked]))])
