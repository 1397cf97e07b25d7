"""Normalization backward suite kernels: LayerNorm and RMSNorm input gradients (row reductions
that recompute the statistics), and LayerNorm weight/bias gradients (column reductions over
the token axis, given the forward pass's saved mean and rstd).
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch


@helion.kernel(static_shapes=True)
def layer_norm_backward_dx(grad: torch.Tensor, x: torch.Tensor,
                           weight: torch.Tensor) -> torch.Tensor:
    m, _ = x.size()
    out = torch.empty_like(x)
    for tile_m in hl.tile(m):
        v = x[tile_m, :].to(torch.float32)
        mean = torch.mean(v, dim=-1, keepdim=True)
        centered = v - mean
        rstd = torch.rsqrt(torch.mean(centered * centered, dim=-1, keepdim=True) + 1e-5)
        xhat = centered * rstd
        wg = grad[tile_m, :].to(torch.float32) * weight[:].to(torch.float32)
        c1 = torch.mean(wg * xhat, dim=-1, keepdim=True)
        c2 = torch.mean(wg, dim=-1, keepdim=True)
        out[tile_m, :] = (rstd * (wg - c2 - xhat * c1)).to(x.dtype)
    return out


@helion.kernel(static_shapes=True)
def rms_norm_backward_dx(grad: torch.Tensor, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    m, _ = x.size()
    out = torch.empty_like(x)
    for tile_m in hl.tile(m):
        v = x[tile_m, :].to(torch.float32)
        rstd = torch.rsqrt(torch.mean(v * v, dim=-1, keepdim=True) + 1e-6)
        xhat = v * rstd
        wg = grad[tile_m, :].to(torch.float32) * weight[:].to(torch.float32)
        c1 = torch.mean(wg * xhat, dim=-1, keepdim=True)
        out[tile_m, :] = (rstd * (wg - xhat * c1)).to(x.dtype)
    return out


@helion.kernel(static_shapes=True)
def layer_norm_backward_dwb(grad: torch.Tensor, x: torch.Tensor, mean: torch.Tensor,
                            rstd: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    # dweight = sum_rows(dy * xhat), dbias = sum_rows(dy): the reduced axis is the token axis.
    _, n = x.size()
    d_weight = torch.empty([n], dtype=torch.float32, device=x.device)
    d_bias = torch.empty([n], dtype=torch.float32, device=x.device)
    for tile_n in hl.tile(n):
        dy = grad[:, tile_n].to(torch.float32)
        xhat = (x[:, tile_n].to(torch.float32) - mean[:][:, None]) * rstd[:][:, None]
        d_weight[tile_n] = torch.sum(dy * xhat, dim=0)
        d_bias[tile_n] = torch.sum(dy, dim=0)
    return d_weight, d_bias


# -- references ---------------------------------------------------------------------------------
def layer_norm_backward_dx_ref(grad: torch.Tensor, x: torch.Tensor,
                               weight: torch.Tensor) -> torch.Tensor:
    v = x.float().requires_grad_(True)
    y = torch.nn.functional.layer_norm(v, [x.size(-1)], weight.float(), None, eps=1e-5)
    (dx,) = torch.autograd.grad(y, v, grad.float())
    return dx.to(x.dtype)


def rms_norm_backward_dx_ref(grad: torch.Tensor, x: torch.Tensor,
                             weight: torch.Tensor) -> torch.Tensor:
    v = x.float().requires_grad_(True)
    y = v * torch.rsqrt(v.pow(2).mean(-1, keepdim=True) + 1e-6) * weight.float()
    (dx,) = torch.autograd.grad(y, v, grad.float())
    return dx.to(x.dtype)


def layer_norm_backward_dwb_ref(grad: torch.Tensor, x: torch.Tensor, mean: torch.Tensor,
                                rstd: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    xhat = (x.float() - mean[:, None]) * rstd[:, None]
    return (grad.float() * xhat).sum(0), grad.float().sum(0)
