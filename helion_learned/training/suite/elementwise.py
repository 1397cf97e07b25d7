"""Elementwise suite kernels: add, fused multiply-add, GELU (tanh approximation), SiLU.

Every kernel tiles ``out.size()`` so it accepts tensors of any rank: the suite feeds it 1-D, 2-D
and 3-D shapes, which gives the model pointwise kernels with different numbers of tile axes.
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


# -- references ---------------------------------------------------------------------------------
def add_ref(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return x + y


def fma_ref(x: torch.Tensor, y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    return (x.float() * y.float() + z.float()).to(x.dtype)


def gelu_ref(x: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.gelu(x.float(), approximate="tanh").to(x.dtype)


def silu_ref(x: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.silu(x.float()).to(x.dtype)
