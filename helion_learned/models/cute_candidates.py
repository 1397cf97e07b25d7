"""Candidate configs for Helion's ``cute`` backend.

CuTe configs are not triton configs: there is no ``num_warps``/``num_stages``; a tile's speed is
decided by its block sizes, how many threads share it (``num_threads``, per block, 0 = Helion picks),
the vector width each thread loads (``cute_vector_widths``), the load eviction policy and, for
contractions, whether the collective MMA path is used. On the H200 the fastest measured pointwise
configs were all "block / vector width threads, 16-byte vectors, ``l2_last`` loads"; a grid over block
sizes alone reached 0.07-0.69 of the best (``data/h200_cute``, 7 workloads).

The grid is built on top of Helion's fragment defaults for this kernel (``reference``: the config
``config_spec.autotune_reference_config()`` gives), because every list-valued cute field has a length
only the ConfigSpec knows (vector widths also cover reduction dimensions, eviction policies one entry
per load). The collector and the adapter both have that reference, so they build the same grid.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Sequence
from typing import Any

from ..features.facts import KernelFacts

_VECTOR_BYTES = 16  # widest vector load per thread
_THREADS = (32, 1024)  # num_threads a tile may ask for
_EVICTIONS = ("", "l2_last")
# Pointwise tiles on the contiguous axis go up to 4096: Helion's cute_pointwise_vec seeds of
# 2048-4096 elements (16-byte vectors × 256-512 threads) were the fastest measured add, concat and
# embedding configs on the H200, and a grid capped at 1024 reached 0.22-0.48 of them.
CUTE_CONTIGUOUS_CAP = 4096


def contiguous_block(facts: KernelFacts) -> int | None:
    """Index of the stride-1 grid (or n) block, the innermost (last) if several: the one vector
    widths and threads apply to. An embedding's index axis is marked contiguous too (the index
    tensor is 1-D), but the fastest measured embedding configs all vectorized the embedding
    dimension, which comes last."""
    for want in ("grid", "n"):
        found = [i for i, b in enumerate(facts.blocks) if b.role == want and b.contiguous]
        if found:
            return found[-1]
    return None


def _vector_choices(facts: KernelFacts) -> list[int]:
    itemsize = int(facts.memory.get("min_itemsize") or facts.memory.get("max_itemsize") or 4)
    widest = max(_VECTOR_BYTES // max(itemsize, 1), 1)
    return sorted({widest, max(widest // 2, 1)})


def _thread_choices(tile: int, vector: int) -> list[int]:
    """One vector per thread, or two (0 = let Helion decide, always offered)."""
    out = [0]
    for per_thread in (1, 2):
        threads = tile // (vector * per_thread)
        if _THREADS[0] <= threads <= _THREADS[1] and threads not in out:
            out.append(threads)
    return out


def cute_grid(facts: KernelFacts, reference: dict[str, Any] | None,
              per_block: list[list[int]],
              reduction_loops: Sequence[int | None] = ()) -> list[dict[str, Any]]:
    """Whole cute configs: ``reference`` with block sizes, threads, vectors, eviction and (for
    reductions) the reduction loop and its vector width varied.

    ``per_block``: block-size choices per block (the same thinning as the triton grid);
    ``reduction_loops``: choices for the first reduction loop (None = persistent). Without a
    reference there is nothing safe to vary but block sizes.
    """
    if reference is None:
        return [{"block_sizes": [int(s) for s in sizes]}
                for sizes in itertools.product(*per_block)] if per_block else []
    base = {str(k): v for k, v in reference.items()}
    widths = list(base.get("cute_vector_widths") or [])
    n_loads = len(base.get("load_eviction_policies") or [])
    contig = contiguous_block(facts)
    matmul = facts.kind == "matmul"
    reducing = bool(facts.num_reduction_loops)
    vary_threads = not matmul and not reducing and contig is not None
    # Reductions: widths has one entry per block, then the reduction dimensions (stride 1 here),
    # so the vector goes on the first reduction dimension.
    vector_slot = len(per_block) if reducing and len(widths) > len(per_block) else contig
    loops: list[int | None] = (list(reduction_loops) if reduction_loops and "reduction_loops" in base
                               else [])
    collectives: list[bool | None] = [False, True] if matmul and "cute_collective_mma" in base \
        else [None]
    out: list[dict[str, Any]] = []
    for sizes in itertools.product(*per_block) if per_block else [()]:
        sizes = [int(s) for s in sizes]
        tile = sizes[contig] if contig is not None else 1
        if vector_slot is None or vector_slot >= len(widths):
            vectors = [1]
        elif vector_slot != contig:  # a reduction dimension: its extent is not a block size
            vectors = [1, *_vector_choices(facts)]
        else:
            vectors = [v for v in _vector_choices(facts) if v <= max(tile, 1)] or [1]
        for vector, loop, collective in itertools.product(vectors, loops or [None], collectives):
            for threads in _thread_choices(tile, vector) if vary_threads else [None]:
                for evict in _EVICTIONS if n_loads else [None]:
                    cfg = copy.deepcopy(base)  # no list shared between candidates
                    cfg["block_sizes"] = sizes
                    if widths:
                        w = [1] * len(widths)
                        if vector_slot is not None and vector_slot < len(w):
                            w[vector_slot] = int(vector)
                        cfg["cute_vector_widths"] = w
                    if threads is not None:  # only offered where contig is known
                        nt = [0] * len(sizes)
                        nt[contig] = int(threads)
                        cfg["num_threads"] = nt
                    if evict is not None:
                        cfg["load_eviction_policies"] = [evict] * n_loads
                    if collective is not None:
                        cfg["cute_collective_mma"] = collective
                    if loops:
                        red = list(base["reduction_loops"])
                        red[0] = loop
                        cfg["reduction_loops"] = red
                    out.append(cfg)
    return out
