"""Gated-activation suite kernels (the GLU family of transformer MLPs): SwiGLU and GeGLU on two
inputs, and a GLU that splits one fused ``[M, 2N]`` projection into value and gate halves.
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch


@helion.kernel(static_shapes=True)
def swiglu(gate: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(gate)
    for tile in hl.tile(out.size()):
        g = gate[tile].to(torch.float32)
        out[tile] = (g * torch.sigmoid(g) * up[tile].to(torch.float32)).to(gate.dtype)
    return out


@helion.kernel(static_shapes=True)
def geglu(gate: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(gate)
    for tile in hl.tile(out.size()):
        g = gate[tile].to(torch.float32)
        inner = 0.7978845608028654 * (g + 0.044715 * g * g * g)
        gelu = 0.5 * g * (1.0 + torch.tanh(inner))
        out[tile] = (gelu * up[tile].to(torch.float32)).to(gate.dtype)
    return out


@helion.kernel(static_shapes=True)
def glu_split(x: torch.Tensor) -> torch.Tensor:
    # torch.nn.functional.glu(x, dim=-1): x [M, 2N] holds the value half then the gate half; a
    # [M, 2, N] view reads both halves of a row with the same column tile.
    m, n2 = x.size()
    n = n2 // 2
    x_view = x.view([m, 2, n])
    out = torch.empty([m, n], dtype=x.dtype, device=x.device)
    for tile_m, tile_n in hl.tile([m, n]):
        value = x_view[tile_m, 0, tile_n].to(torch.float32)
        gate = x_view[tile_m, 1, tile_n].to(torch.float32)
        out[tile_m, tile_n] = (value * torch.sigmoid(gate)).to(x.dtype)
    return out


# -- references ---------------------------------------------------------------------------------
def swiglu_ref(gate: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
    return (torch.nn.functional.silu(gate.float()) * up.float()).to(gate.dtype)


def geglu_ref(gate: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
    return (torch.nn.functional.gelu(gate.float(), approximate="tanh") * up.float()).to(gate.dtype)


def glu_split_ref(x: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.glu(x.float(), dim=-1).to(x.dtype)
