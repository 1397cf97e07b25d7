"""GEMM suite kernels: plain, batched, broadcast (3-D x 2-D) and split-K GEMMs, and the two
transposed-operand layouts of a Linear layer: ``x @ w.T`` with an ``[N, K]`` weight (forward)
and ``x.T @ dy`` over the token axis (weight gradient).

The split-K kernel tiles K in the grid too (its third block size is the split length) and
accumulates partial tiles with ``hl.atomic_add`` into an fp32 output, as Helion's own split-K
example does.
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch


@helion.kernel(static_shapes=True)
def matmul(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    m, k = x.size()
    _, n = y.size()
    out = torch.empty([m, n], dtype=x.dtype, device=x.device)
    for tile_m, tile_n in hl.tile([m, n]):
        acc = hl.zeros([tile_m, tile_n], dtype=torch.float32)
        for tile_k in hl.tile(k):
            acc = torch.addmm(acc, x[tile_m, tile_k], y[tile_k, tile_n])
        out[tile_m, tile_n] = acc.to(x.dtype)
    return out

@helion.kernel(static_shapes=True)
def bmm(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    batch, m, k = a.size()
    _, _, n = b.size()
    out = torch.empty([batch, m, n], dtype=a.dtype, device=a.device)
    for tile_b, tile_m, tile_n in hl.tile([batch, m, n]):
        acc = hl.zeros([tile_b, tile_m, tile_n], dtype=torch.float32)
        for tile_k in hl.tile(k):
            acc = torch.baddbmm(acc, a[tile_b, tile_m, tile_k], b[tile_b, tile_k, tile_n])
        out[tile_b, tile_m, tile_n] = acc.to(a.dtype)
    return out

@helion.kernel(static_shapes=True)
def broadcast_matmul(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    # [B, M, K] @ [K, N]: flatten B*M into one GEMM row axis (baddbmm needs matching batches).
    b, m, k = x.size()
    _, n = w.size()
    x_2d = x.reshape([b * m, k])
    out = torch.empty([b * m, n], dtype=x.dtype, device=x.device)
    for tile_bm, tile_n in hl.tile([b * m, n]):
        acc = hl.zeros([tile_bm, tile_n], dtype=torch.float32)
        for tile_k in hl.tile(k):
            acc = torch.addmm(acc, x_2d[tile_bm, tile_k], w[tile_k, tile_n])
        out[tile_bm, tile_n] = acc.to(x.dtype)
    return out.view(b, m, n)

@helion.kernel(static_shapes=True)
def matmul_split_k(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    m, k = x.size()
    _, n = y.size()
    out = torch.zeros([m, n], dtype=torch.float32, device=x.device)
    for tile_m, tile_n, outer_k in hl.tile([m, n, k]):
        acc = hl.zeros([tile_m, tile_n], dtype=torch.float32)
        for inner_k in hl.tile(outer_k.begin, outer_k.end):
            acc = torch.addmm(acc, x[tile_m, inner_k], y[inner_k, tile_n])
        hl.atomic_add(out, [tile_m, tile_n], acc)
    return out


@helion.kernel(static_shapes=True)
def matmul_nt(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    # torch.nn.functional.linear without bias: w is [N, K] (K contiguous in both operands).
    m, k = x.size()
    n, _ = w.size()
    out = torch.empty([m, n], dtype=x.dtype, device=x.device)
    for tile_m, tile_n in hl.tile([m, n]):
        acc = hl.zeros([tile_m, tile_n], dtype=torch.float32)
        for tile_k in hl.tile(k):
            acc = torch.addmm(acc, x[tile_m, tile_k], w[tile_n, tile_k].T)
        out[tile_m, tile_n] = acc.to(x.dtype)
    return out


@helion.kernel(static_shapes=True)
def matmul_tn(x: torch.Tensor, dy: torch.Tensor) -> torch.Tensor:
    # Weight gradient x.T @ dy: x [T, K], dy [T, N]; the reduction runs over the token axis T.
    t, k = x.size()
    _, n = dy.size()
    out = torch.empty([k, n], dtype=x.dtype, device=x.device)
    for tile_k, tile_n in hl.tile([k, n]):
        acc = hl.zeros([tile_k, tile_n], dtype=torch.float32)
        for tile_t in hl.tile(t):
            acc = torch.addmm(acc, x[tile_t, tile_k].T, dy[tile_t, tile_n])
        out[tile_k, tile_n] = acc.to(x.dtype)
    return out


# -- references ---------------------------------------------------------------------------------
def matmul_ref(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (x.float() @ y.float()).to(x.dtype)

def bmm_ref(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.bmm(a.float(), b.float()).to(a.dtype)

def broadcast_matmul_ref(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return torch.matmul(x.float(), w.float()).to(x.dtype)

def matmul_split_k_ref(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return x.float() @ y.float()


def matmul_nt_ref(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return (x.float() @ w.float().T).to(x.dtype)


def matmul_tn_ref(x: torch.Tensor, dy: torch.Tensor) -> torch.Tensor:
    return (x.float().T @ dy.float()).to(x.dtype)
