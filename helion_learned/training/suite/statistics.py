"""Statistics suite kernels: row sum, column mean, row variance (full-row slice), Welford mean
and variance (an explicit loop over column chunks merging partial statistics), row argmax
(an index-valued reduction, e.g. greedy decoding over a vocabulary) and row top-k (k unrolled
rounds of max + argmax + mask, e.g. top-k sampling or MoE top-k routing).
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch


@helion.kernel(static_shapes=True)
def row_sum(x: torch.Tensor) -> torch.Tensor:
    m, _ = x.size()
    out = torch.empty([m], dtype=x.dtype, device=x.device)
    for tile_m in hl.tile(m):
        out[tile_m] = torch.sum(x[tile_m, :].to(torch.float32), dim=-1).to(x.dtype)
    return out

@helion.kernel(static_shapes=True)
def col_mean(x: torch.Tensor) -> torch.Tensor:
    # Reduces dim 0: the reduced axis is the strided one, unlike every row-wise kernel.
    _, n = x.size()
    out = torch.empty([n], dtype=x.dtype, device=x.device)
    for tile_n in hl.tile(n):
        out[tile_n] = torch.mean(x[:, tile_n].to(torch.float32), dim=0).to(x.dtype)
    return out


@helion.kernel(static_shapes=True)
def row_var(x: torch.Tensor) -> torch.Tensor:
    # torch.var(x, dim=-1) (unbiased) with a two-pass mean/centered-square over the held row.
    m, n = x.size()
    out = torch.empty([m], dtype=torch.float32, device=x.device)
    for tile_m in hl.tile(m):
        v = x[tile_m, :].to(torch.float32)
        centered = v - torch.mean(v, dim=-1, keepdim=True)
        out[tile_m] = torch.sum(centered * centered, dim=-1) / (n - 1)
    return out


@helion.kernel(static_shapes=True)
def welford(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    # Mean and biased variance per row, merging (count, mean, M2) of column chunks (Chan et al.);
    # the chunk length is the tuned block size of the inner loop.
    m, n = x.size()
    mean_out = torch.empty([m], dtype=torch.float32, device=x.device)
    var_out = torch.empty([m], dtype=torch.float32, device=x.device)
    for tile_m in hl.tile(m):
        count = hl.zeros([tile_m], dtype=torch.float32)
        mean = hl.zeros([tile_m], dtype=torch.float32)
        m2 = hl.zeros([tile_m], dtype=torch.float32)
        for tile_n in hl.tile(n):
            valid = (tile_n.index < n).to(torch.float32)[None, :]
            v = x[tile_m, tile_n].to(torch.float32)
            chunk_count = torch.sum(valid, dim=-1)
            chunk_mean = torch.sum(v * valid, dim=-1) / chunk_count
            d = (v - chunk_mean[:, None]) * valid
            chunk_m2 = torch.sum(d * d, dim=-1)
            total = count + chunk_count
            delta = chunk_mean - mean
            mean = mean + delta * chunk_count / total
            m2 = m2 + chunk_m2 + delta * delta * count * chunk_count / total
            count = total
        mean_out[tile_m] = mean
        var_out[tile_m] = m2 / count
    return mean_out, var_out


@helion.kernel(static_shapes=True)
def row_argmax(x: torch.Tensor) -> torch.Tensor:
    m, _ = x.size()
    out = torch.empty([m], dtype=torch.int64, device=x.device)
    for tile_m in hl.tile(m):
        out[tile_m] = torch.argmax(x[tile_m, :], dim=-1)
    return out


@helion.kernel(static_shapes=True)
def row_topk(x: torch.Tensor, k_like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    # torch.topk(x, k, dim=-1) for a small k: k rounds of (max, argmax, mask that column out).
    # k comes from k_like's length (a shape, so it is specialized and the rounds unroll).
    m, n = x.size()
    k = hl.specialize(k_like.size(0))
    values = torch.empty([m, k], dtype=x.dtype, device=x.device)
    indices = torch.empty([m, k], dtype=torch.int64, device=x.device)
    for tile_m in hl.tile(m):
        v = x[tile_m, :].to(torch.float32)
        cols = torch.arange(n, device=x.device)
        for i in hl.static_range(k):
            best = torch.amax(v, dim=-1)
            idx = torch.argmax(v, dim=-1)
            indices[tile_m, i] = idx
            values[tile_m, i] = best.to(x.dtype)
            # By index, not value: a tied value stays a candidate for the next round.
            v = torch.where(cols[None, :] == idx[:, None], float("-inf"), v)
    return values, indices


# -- references ---------------------------------------------------------------------------------
def row_sum_ref(x: torch.Tensor) -> torch.Tensor:
    return x.float().sum(-1).to(x.dtype)

def col_mean_ref(x: torch.Tensor) -> torch.Tensor:
    return x.float().mean(0).to(x.dtype)


def row_var_ref(x: torch.Tensor) -> torch.Tensor:
    return x.float().var(-1)


def welford_ref(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    var, mean = torch.var_mean(x.float(), dim=-1, correction=0)
    return mean, var


def row_argmax_ref(x: torch.Tensor) -> torch.Tensor:
    return torch.argmax(x, dim=-1)


def row_topk_ref(x: torch.Tensor, k_like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    # torch.topk with ties broken toward the lower index (what argmax does): a stable sort.
    values, indices = torch.sort(x, dim=-1, descending=True, stable=True)
    k = k_like.size(0)
    return values[:, :k], indices[:, :k]
