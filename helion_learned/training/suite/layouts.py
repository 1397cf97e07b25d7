"""Layout suite kernels (3-D/4-D views, transposes and strided reads): rotary embedding over
[T, H, 2, D/2] views, concatenation, a 2-D transpose and the [B, S, H, D] -> [B, H, S, D]
head permute of attention inputs.
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch


@helion.kernel(static_shapes=True)
def rotary_embedding(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    # x [T, H, D], cos/sin [T, D/2] (fp32); NeoX-style rotate-half over the two halves of D.
    t, h, d = x.size()
    half = d // 2
    x_view = x.reshape([t, h, 2, half])
    out = torch.empty_like(x)
    out_view = out.view([t, h, 2, half])
    for tile_t, tile_h in hl.tile([t, h]):
        x1 = x_view[tile_t, tile_h, 0, :].to(torch.float32)
        x2 = x_view[tile_t, tile_h, 1, :].to(torch.float32)
        c = cos[tile_t, :][:, None, :]
        s = sin[tile_t, :][:, None, :]
        out_view[tile_t, tile_h, 0, :] = (x1 * c - x2 * s).to(x.dtype)
        out_view[tile_t, tile_h, 1, :] = (x2 * c + x1 * s).to(x.dtype)
    return out

@helion.kernel(static_shapes=True)
def concat(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    # torch.cat([x, y], dim=-1) for 2-D inputs; the column tile straddles both sources.
    m, n1 = x.size()
    _, n2 = y.size()
    out = torch.empty([m, n1 + n2], dtype=x.dtype, device=x.device)
    for tile_m, tile_n in hl.tile(out.size()):
        cols = tile_n.index
        in_x = (cols < n1)[None, :]
        x_part = hl.load(x, [tile_m, tile_n], extra_mask=in_x)
        y_part = hl.load(y, [tile_m, cols - n1], extra_mask=(cols >= n1)[None, :])
        out[tile_m, tile_n] = torch.where(in_x, x_part, y_part)
    return out


@helion.kernel(static_shapes=True)
def transpose(x: torch.Tensor) -> torch.Tensor:
    # Contiguous copy of x.T: one side of every tile is read or written with a stride.
    m, n = x.size()
    out = torch.empty([n, m], dtype=x.dtype, device=x.device)
    for tile_m, tile_n in hl.tile([m, n]):
        out[tile_n, tile_m] = x[tile_m, tile_n].T
    return out


@helion.kernel(static_shapes=True)
def permute_heads(x: torch.Tensor) -> torch.Tensor:
    # [B, S, H, D] -> contiguous [B, H, S, D] (the q/k/v split before attention).
    b, s, h, d = x.size()
    out = torch.empty([b, h, s, d], dtype=x.dtype, device=x.device)
    for tile_b, tile_h, tile_s in hl.tile([b, h, s]):
        out[tile_b, tile_h, tile_s, :] = x[tile_b, tile_s, tile_h, :].permute(0, 2, 1, 3)
    return out


# -- references ---------------------------------------------------------------------------------
def rotary_embedding_ref(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    half = x.size(-1) // 2
    v = x.float()
    x1, x2 = v[..., :half], v[..., half:]
    c, s = cos[:, None, :], sin[:, None, :]
    return torch.cat([x1 * c - x2 * s, x2 * c + x1 * s], dim=-1).to(x.dtype)

def concat_ref(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.cat([x, y], dim=-1)


def transpose_ref(x: torch.Tensor) -> torch.Tensor:
    return x.T.contiguous()


def permute_heads_ref(x: torch.Tensor) -> torch.Tensor:
    return x.permute(0, 2, 1, 3).contiguous()
