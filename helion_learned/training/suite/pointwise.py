"""Pointwise suite kernels: add, fused multiply-add, GELU (tanh approximation), SiLU, and two
broadcast-input kernels (bias + GELU over rows, per-channel affine over an NCHW tensor).

The first four tile ``out.size()`` so they accept tensors of any rank: the suite feeds them 1-D,
2-D and 3-D shapes, which gives the model pointwise kernels with different numbers of tile axes.
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch


@helion.kernel(static_shapes=True)
def add(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(out.size()):
        out[tile] = x[tile] + y[tile]
    return out

@helion.kernel(static_shapes=True)
def fma(x: torch.Tensor, y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(out.size()):
        out[tile] = x[tile] * y[tile] + z[tile]
    return out

@helion.kernel(static_shapes=True)
def gelu(x: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(out.size()):
        v = x[tile].to(torch.float32)
        inner = 0.7978845608028654 * (v + 0.044715 * v * v * v)  # sqrt(2/pi) * (x + 0.044715 x^3)
        out[tile] = (0.5 * v * (1.0 + torch.tanh(inner))).to(x.dtype)
    return out

@helion.kernel(static_shapes=True)
def silu(x: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(out.size()):
        v = x[tile].to(torch.float32)
        out[tile] = (v * torch.sigmoid(v)).to(x.dtype)
    return out


@helion.kernel(static_shapes=True)
def bias_gelu(x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    # x [M, N] + bias [N] broadcast over rows, then tanh-GELU: a Linear epilogue run on its own.
    m, n = x.size()
    out = torch.empty_like(x)
    for tile_m, tile_n in hl.tile([m, n]):
        v = x[tile_m, tile_n].to(torch.float32) + bias[tile_n].to(torch.float32)[None, :]
        inner = 0.7978845608028654 * (v + 0.044715 * v * v * v)
        out[tile_m, tile_n] = (0.5 * v * (1.0 + torch.tanh(inner))).to(x.dtype)
    return out


@helion.kernel(static_shapes=True)
def channel_affine(x: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    # Inference batch norm on NCHW: x [N, C, H, W] * scale[C] + shift[C]; H*W is the contiguous
    # axis, the per-channel parameters broadcast over the batch and spatial axes.
    n, c, h, w = x.size()
    x_view = x.reshape([n, c, h * w])
    out = torch.empty_like(x_view)
    for tile_n, tile_c, tile_hw in hl.tile([n, c, h * w]):
        s = scale[tile_c].to(torch.float32)[None, :, None]
        b = shift[tile_c].to(torch.float32)[None, :, None]
        out[tile_n, tile_c, tile_hw] = (x_view[tile_n, tile_c, tile_hw].to(torch.float32) * s
                                        + b).to(x.dtype)
    return out.view(n, c, h, w)


# -- references ---------------------------------------------------------------------------------
def add_ref(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return x + y

def fma_ref(x: torch.Tensor, y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    return (x.float() * y.float() + z.float()).to(x.dtype)

def gelu_ref(x: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.gelu(x.float(), approximate="tanh").to(x.dtype)

def silu_ref(x: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.silu(x.float()).to(x.dtype)


def bias_gelu_ref(x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.gelu(x.float() + bias.float(), approximate="tanh").to(x.dtype)


def channel_affine_ref(x: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    return (x.float() * scale.float()[:, None, None] + shift.float()[:, None, None]).to(x.dtype)
