"""Fused-epilogue GEMM suite kernels: GEMM + bias + ReLU, GEMM + bias + GELU, GEMM with a
per-column scale and a residual add, a gated-MLP GEMM (two accumulators, SiLU(x Wg) * (x Wu)) and a
GEMM that also row-reduces its output tile into an fp32 vector (atomics across column tiles).
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch


@helion.kernel(static_shapes=True)
def matmul_bias_relu(x: torch.Tensor, y: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    m, k = x.size()
    _, n = y.size()
    out = torch.empty([m, n], dtype=x.dtype, device=x.device)
    for tile_m, tile_n in hl.tile([m, n]):
        acc = hl.zeros([tile_m, tile_n], dtype=torch.float32)
        for tile_k in hl.tile(k):
            acc = torch.addmm(acc, x[tile_m, tile_k], y[tile_k, tile_n])
        acc = acc + bias[tile_n].to(torch.float32)
        out[tile_m, tile_n] = torch.relu(acc).to(x.dtype)
    return out


@helion.kernel(static_shapes=True)
def matmul_bias_gelu(x: torch.Tensor, w: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    m, k = x.size()
    _, n = w.size()
    out = torch.empty([m, n], dtype=x.dtype, device=x.device)
    for tile_m, tile_n in hl.tile([m, n]):
        acc = hl.zeros([tile_m, tile_n], dtype=torch.float32)
        for tile_k in hl.tile(k):
            acc = torch.addmm(acc, x[tile_m, tile_k], w[tile_k, tile_n])
        v = acc + bias[tile_n].to(torch.float32)
        inner = 0.7978845608028654 * (v + 0.044715 * v * v * v)
        out[tile_m, tile_n] = (0.5 * v * (1.0 + torch.tanh(inner))).to(x.dtype)
    return out


@helion.kernel(static_shapes=True)
def matmul_scale_residual(x: torch.Tensor, w: torch.Tensor, scale: torch.Tensor,
                          residual: torch.Tensor) -> torch.Tensor:
    # out = residual + scale * (x @ w): a LayerScale'd projection added to the residual stream.
    m, k = x.size()
    _, n = w.size()
    out = torch.empty([m, n], dtype=x.dtype, device=x.device)
    for tile_m, tile_n in hl.tile([m, n]):
        acc = hl.zeros([tile_m, tile_n], dtype=torch.float32)
        for tile_k in hl.tile(k):
            acc = torch.addmm(acc, x[tile_m, tile_k], w[tile_k, tile_n])
        acc = acc * scale[tile_n].to(torch.float32) + residual[tile_m, tile_n].to(torch.float32)
        out[tile_m, tile_n] = acc.to(x.dtype)
    return out


@helion.kernel(static_shapes=True)
def linear_swiglu(x: torch.Tensor, w_gate: torch.Tensor, w_up: torch.Tensor) -> torch.Tensor:
    # silu(x @ w_gate) * (x @ w_up): one pass over x feeds two accumulators.
    m, k = x.size()
    _, n = w_gate.size()
    out = torch.empty([m, n], dtype=x.dtype, device=x.device)
    for tile_m, tile_n in hl.tile([m, n]):
        acc_gate = hl.zeros([tile_m, tile_n], dtype=torch.float32)
        acc_up = hl.zeros([tile_m, tile_n], dtype=torch.float32)
        for tile_k in hl.tile(k):
            x_tile = x[tile_m, tile_k]
            acc_gate = torch.addmm(acc_gate, x_tile, w_gate[tile_k, tile_n])
            acc_up = torch.addmm(acc_up, x_tile, w_up[tile_k, tile_n])
        out[tile_m, tile_n] = (acc_gate * torch.sigmoid(acc_gate) * acc_up).to(x.dtype)
    return out


@helion.kernel(static_shapes=True)
def matmul_row_sum(x: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    # out = x @ w and row_sum = out.sum(-1) in one kernel (e.g. a normalizer of a scoring head).
    m, k = x.size()
    _, n = w.size()
    out = torch.empty([m, n], dtype=x.dtype, device=x.device)
    row_sum = torch.zeros([m], dtype=torch.float32, device=x.device)
    for tile_m, tile_n in hl.tile([m, n]):
        acc = hl.zeros([tile_m, tile_n], dtype=torch.float32)
        for tile_k in hl.tile(k):
            acc = torch.addmm(acc, x[tile_m, tile_k], w[tile_k, tile_n])
        out[tile_m, tile_n] = acc.to(x.dtype)
        hl.atomic_add(row_sum, [tile_m], torch.sum(acc, dim=-1))
    return out, row_sum


# -- references ---------------------------------------------------------------------------------
def matmul_bias_relu_ref(x: torch.Tensor, y: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    return torch.relu(x.float() @ y.float() + bias.float()).to(x.dtype)


def matmul_bias_gelu_ref(x: torch.Tensor, w: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.gelu(x.float() @ w.float() + bias.float(),
                                    approximate="tanh").to(x.dtype)


def matmul_scale_residual_ref(x: torch.Tensor, w: torch.Tensor, scale: torch.Tensor,
                              residual: torch.Tensor) -> torch.Tensor:
    return (residual.float() + scale.float() * (x.float() @ w.float())).to(x.dtype)


def linear_swiglu_ref(x: torch.Tensor, w_gate: torch.Tensor, w_up: torch.Tensor) -> torch.Tensor:
    xf = x.float()
    return (torch.nn.functional.silu(xf @ w_gate.float()) * (xf @ w_up.float())).to(x.dtype)


def matmul_row_sum_ref(x: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    out = x.float() @ w.float()
    return out.to(x.dtype), out.sum(-1)
