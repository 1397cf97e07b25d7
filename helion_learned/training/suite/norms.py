"""Normalization suite kernels: LayerNorm, RMSNorm, residual-add + RMSNorm (two outputs),
GroupNorm over an [N, C, H*W] activation (a 4-D view reduced over two axes) and L2 row
normalization.

Row-wise kernels load a full row with ``x[tile, :]`` so Helion exposes ``reduction_loops``.
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch


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


@helion.kernel(static_shapes=True)
def fused_add_rms_norm(x: torch.Tensor, residual: torch.Tensor,
                       weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    # vLLM-style: h = x + residual is both normalized and returned as the next residual.
    m, _ = x.size()
    out = torch.empty_like(x)
    new_residual = torch.empty_like(x)
    for tile_m in hl.tile(m):
        h = x[tile_m, :].to(torch.float32) + residual[tile_m, :].to(torch.float32)
        new_residual[tile_m, :] = h.to(x.dtype)
        mean_sq = torch.mean(h * h, dim=-1, keepdim=True)
        out[tile_m, :] = (h * torch.rsqrt(mean_sq + 1e-6) * weight[:].to(torch.float32)).to(x.dtype)
    return out, new_residual


@helion.kernel(static_shapes=True)
def group_norm(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    # x [N, C, HW]; weight/bias come as [G, C/G] so the group count is a shape, not a constant.
    n, c, hw = x.size()
    g, cpg = weight.size()
    x_view = x.reshape([n, g, cpg, hw])
    out = torch.empty_like(x_view)
    for tile_n, tile_g in hl.tile([n, g]):
        v = x_view[tile_n, tile_g, :, :].to(torch.float32)
        # Equal-sized channels: the mean of per-channel means is the group mean.
        mean = torch.mean(torch.mean(v, dim=-1, keepdim=True), dim=-2, keepdim=True)
        centered = v - mean
        var = torch.mean(torch.mean(centered * centered, dim=-1, keepdim=True), dim=-2,
                         keepdim=True)
        w = weight[tile_g, :].to(torch.float32)[None, :, :, None]
        b = bias[tile_g, :].to(torch.float32)[None, :, :, None]
        out[tile_n, tile_g, :, :] = (centered * torch.rsqrt(var + 1e-5) * w + b).to(x.dtype)
    return out.view(n, c, hw)


@helion.kernel(static_shapes=True)
def l2_normalize(x: torch.Tensor) -> torch.Tensor:
    # torch.nn.functional.normalize(x, dim=-1): embeddings / retrieval heads.
    m, _ = x.size()
    out = torch.empty_like(x)
    for tile_m in hl.tile(m):
        v = x[tile_m, :].to(torch.float32)
        norm = torch.sqrt(torch.sum(v * v, dim=-1, keepdim=True))
        out[tile_m, :] = (v / torch.clamp(norm, min=1e-12)).to(x.dtype)
    return out


# -- references ---------------------------------------------------------------------------------
def layer_norm_ref(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    n = x.size(-1)
    return torch.nn.functional.layer_norm(
        x.float(), [n], weight.float(), bias.float(), eps=1e-5
    ).to(x.dtype)

def rms_norm_ref(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    v = x.float()
    return (v * torch.rsqrt(v.pow(2).mean(-1, keepdim=True) + 1e-6) * weight.float()).to(x.dtype)


def fused_add_rms_norm_ref(x: torch.Tensor, residual: torch.Tensor,
                           weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    h = x.float() + residual.float()
    out = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + 1e-6) * weight.float()
    return out.to(x.dtype), h.to(x.dtype)


def group_norm_ref(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    g = weight.size(0)
    return torch.nn.functional.group_norm(x.float(), g, weight.float().reshape(-1),
                                          bias.float().reshape(-1), eps=1e-5).to(x.dtype)


def l2_normalize_ref(x: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.normalize(x.float(), dim=-1).to(x.dtype)
