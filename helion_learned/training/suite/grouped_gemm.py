"""Grouped, jagged and MoE suite kernels: a grouped GEMM over jagged row groups (one weight per
group, group boundaries from offsets), an MoE expert GEMM that gathers its tokens through a
sorted permutation and scatters results back, and top-1 MoE routing (softmax over the experts,
the chosen expert and its probability).
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch


@helion.kernel(static_shapes=True)
def grouped_gemm(x: torch.Tensor, w: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    # x [T, K] rows sorted by group; group g owns rows offsets[g]:offsets[g + 1] and uses
    # w[g] ([K, N]). The grid is per group; row tiles of a group are data-dependent loops.
    t, k = x.size()
    g, _, n = w.size()
    out = torch.empty([t, n], dtype=x.dtype, device=x.device)
    for group in hl.grid(g):
        start = offsets[group]
        rows = offsets[group + 1] - start
        for tile_m, tile_n in hl.tile([rows, n]):
            acc = hl.zeros([tile_m, tile_n], dtype=torch.float32)
            for tile_k in hl.tile(k):
                acc = torch.addmm(acc, x[start + tile_m.index, tile_k], w[group, tile_k, tile_n])
            out[start + tile_m.index, tile_n] = acc.to(x.dtype)
    return out


@helion.kernel(static_shapes=True)
def moe_matmul(x: torch.Tensor, w: torch.Tensor, offsets: torch.Tensor,
               sorted_ids: torch.Tensor) -> torch.Tensor:
    # Tokens stay in their original order: expert e reads x[sorted_ids[offsets[e]:offsets[e+1]]]
    # (a gather) and writes the same rows of out (a scatter), top-1 routing.
    _, k = x.size()
    e, _, n = w.size()
    out = torch.empty([x.size(0), n], dtype=x.dtype, device=x.device)
    for expert in hl.grid(e):
        start = offsets[expert]
        count = offsets[expert + 1] - start
        for tile_m, tile_n in hl.tile([count, n]):
            token = sorted_ids[start + tile_m.index]
            acc = hl.zeros([tile_m, tile_n], dtype=torch.float32)
            for tile_k in hl.tile(k):
                acc = torch.addmm(acc, x[token, tile_k], w[expert, tile_k, tile_n])
            out[token, tile_n] = acc.to(x.dtype)
    return out


@helion.kernel(static_shapes=True)
def moe_router(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    # logits [T, E] -> (top-1 softmax probability [T] fp32, expert index [T] int64).
    t, _ = logits.size()
    prob = torch.empty([t], dtype=torch.float32, device=logits.device)
    expert = torch.empty([t], dtype=torch.int64, device=logits.device)
    for tile_t in hl.tile(t):
        v = logits[tile_t, :].to(torch.float32)
        row_max = torch.amax(v, dim=-1)
        denom = torch.sum(torch.exp(v - row_max[:, None]), dim=-1)
        prob[tile_t] = 1.0 / denom
        expert[tile_t] = torch.argmax(v, dim=-1)
    return prob, expert


# -- references ---------------------------------------------------------------------------------
def grouped_gemm_ref(x: torch.Tensor, w: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    out = torch.empty(x.size(0), w.size(2), dtype=torch.float32, device=x.device)
    bounds = offsets.tolist()
    for group in range(w.size(0)):
        lo, hi = bounds[group], bounds[group + 1]
        out[lo:hi] = x[lo:hi].float() @ w[group].float()
    return out.to(x.dtype)


def moe_matmul_ref(x: torch.Tensor, w: torch.Tensor, offsets: torch.Tensor,
                   sorted_ids: torch.Tensor) -> torch.Tensor:
    out = torch.empty(x.size(0), w.size(2), dtype=torch.float32, device=x.device)
    bounds = offsets.tolist()
    for expert in range(w.size(0)):
        ids = sorted_ids[bounds[expert]:bounds[expert + 1]].long()
        out[ids] = x[ids].float() @ w[expert].float()
    return out.to(x.dtype)


def moe_router_ref(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    prob, expert = torch.softmax(logits.float(), dim=-1).max(dim=-1)
    return prob, expert
