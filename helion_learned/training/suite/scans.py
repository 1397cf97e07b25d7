"""Scan suite kernels: cumulative sum along the contiguous axis of [M, N] rows, cumulative sum
along the sequence axis of a [B, T, D] tensor (the scanned axis is strided) and a running
maximum (``torch.cummax`` values) via ``hl.associative_scan``.

Scans name their axis as ``dim=1``: in Helion 1.5 a ``dim=-1`` scan over a full-row slice
computed wrong values on the CPU interpreter (looks like the negative axis is not normalized).
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch


@helion.kernel(static_shapes=True)
def cumsum(x: torch.Tensor) -> torch.Tensor:
    m, _ = x.size()
    out = torch.empty_like(x)
    for tile_m in hl.tile(m):
        out[tile_m, :] = torch.cumsum(x[tile_m, :].to(torch.float32), dim=1).to(x.dtype)
    return out


@helion.kernel(static_shapes=True)
def seq_cumsum(x: torch.Tensor) -> torch.Tensor:
    # x [B, T, D] scanned over T: each program holds a [T, tile_d] slab of one batch row.
    b, _, d = x.size()
    out = torch.empty_like(x)
    for tile_b, tile_d in hl.tile([b, d]):
        out[tile_b, :, tile_d] = torch.cumsum(x[tile_b, :, tile_d].to(torch.float32),
                                              dim=1).to(x.dtype)
    return out


def _max_combine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.maximum(a, b)


@helion.kernel(static_shapes=True)
def cummax(x: torch.Tensor) -> torch.Tensor:
    m, _ = x.size()
    out = torch.empty_like(x)
    for tile_m in hl.tile(m):
        out[tile_m, :] = hl.associative_scan(_max_combine, x[tile_m, :], dim=1)
    return out


# -- references ---------------------------------------------------------------------------------
def cumsum_ref(x: torch.Tensor) -> torch.Tensor:
    return torch.cumsum(x.float(), dim=-1).to(x.dtype)


def seq_cumsum_ref(x: torch.Tensor) -> torch.Tensor:
    return torch.cumsum(x.float(), dim=1).to(x.dtype)


def cummax_ref(x: torch.Tensor) -> torch.Tensor:
    return torch.cummax(x, dim=-1).values
