"""Reduction suite kernels: row sum, column mean, softmax (2-D and batched 3-D), log-softmax,
cross-entropy, layer norm and RMS norm.

Row-wise kernels load a full row with ``x[tile, :]`` so Helion exposes ``reduction_loops`` (keep
the row in registers or loop over it): the most important knob of these kernels.
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
def softmax(x: torch.Tensor) -> torch.Tensor:
    n, _m = x.size()
    out = torch.empty_like(x)
    for tile_n in hl.tile(n):
        out[tile_n, :] = torch.nn.functional.softmax(x[tile_n, :], dim=1)
    return out


@helion.kernel(static_shapes=True)
def batch_softmax(x: torch.Tensor) -> torch.Tensor:
    b, m, _ = x.size()
    out = torch.empty_like(x)
    for tile_b, tile_m in hl.tile([b, m]):
        out[tile_b, tile_m, :] = torch.nn.functional.softmax(x[tile_b, tile_m, :], dim=-1)
    return out


@helion.kernel(static_shapes=True)
def log_softmax(x: torch.Tensor) -> torch.Tensor:
    m, _ = x.size()
    out = torch.empty_like(x)
    for tile_m in hl.tile(m):
        v = x[tile_m, :].to(torch.float32)
        shifted = v - torch.amax(v, dim=-1, keepdim=True)
        lse = torch.log(torch.sum(torch.exp(shifted), dim=-1, keepdim=True))
        out[tile_m, :] = (shifted - lse).to(x.dtype)
    return out


@helion.kernel(static_shapes=True)
def cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    # Per-row loss (reduction="none"); the target logit is a gather through a flat view.
    n, v = logits.size()
    losses = torch.empty([n], dtype=torch.float32, device=logits.device)
    logits_flat = logits.view(-1)
    for tile_n in hl.tile(n):
        flat_idx = tile_n.index * v + labels[tile_n]
        target = hl.load(logits_flat, [flat_idx]).to(torch.float32)
        rows = logits[tile_n, :].to(torch.float32)
        row_max = torch.amax(rows, dim=-1, keepdim=True)
        sum_exp = torch.sum(torch.exp(rows - row_max), dim=-1)
        losses[tile_n] = row_max.squeeze(-1) + torch.log(sum_exp) - target
    return losses


@helion.kernel(static_shapes=True)
def layer_norm(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    _m, _n = x.size()
    out = torch.empty_like(x)
    for tile_m in hl.tile(_m):
        acc = x[tile_m, :].to(torch.float32)
        mean = acc.mean(dim=-1, keepdim=True)
        centered = acc - mean
        var = (centered * centered).mean(dim=-1, keepdim=True)
        normed = centered * torch.rsqrt(var + 1e-5)
        out[tile_m, :] = (normed * weight[:].to(torch.float32) + bias[:].to(torch.float32)).to(x.dtype)
    return out


@helion.kernel(static_shapes=True)
def rms_norm(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    m, _ = x.size()
    out = torch.empty_like(x)
    for tile_m in hl.tile(m):
        acc = x[tile_m, :].to(torch.float32)
        mean_sq = torch.mean(acc * acc, dim=-1, keepdim=True)
        out[tile_m, :] = (acc * torch.rsqrt(mean_sq + 1e-6) * weight[:].to(torch.float32)).to(x.dtype)
    return out


# -- references ---------------------------------------------------------------------------------
def row_sum_ref(x: torch.Tensor) -> torch.Tensor:
    return x.float().sum(-1).to(x.dtype)


def col_mean_ref(x: torch.Tensor) -> torch.Tensor:
    return x.float().mean(0).to(x.dtype)


def softmax_ref(x: torch.Tensor) -> torch.Tensor:
    return torch.softmax(x.float(), dim=-1).to(x.dtype)


def log_softmax_ref(x: torch.Tensor) -> torch.Tensor:
    return torch.log_softmax(x.float(), dim=-1).to(x.dtype)


def cross_entropy_ref(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.cross_entropy(logits.float(), labels, reduction="none")


def layer_norm_ref(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    n = x.size(-1)
    return torch.nn.functional.layer_norm(
        x.float(), [n], weight.float(), bias.float(), eps=1e-5
    ).to(x.dtype)


def rms_norm_ref(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    v = x.float()
    return (v * torch.rsqrt(v.pow(2).mean(-1, keepdim=True) + 1e-6) * weight.float()).to(x.dtype)
