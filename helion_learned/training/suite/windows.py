"""Sliding-window (convolution-like) suite kernels: a causal depthwise 1-D convolution over the
sequence (Mamba's short conv, kernel width from the weight's shape) and a 3x3 depthwise 2-D
convolution with zero padding over NCHW images (MobileNet / ConvNeXt blocks).

Both unroll the window with ``hl.static_range`` and read shifted tiles with ``hl.load`` masks.
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch


@helion.kernel(static_shapes=True)
def causal_conv1d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    # x [B, D, T], weight [D, W], bias [D]: out[b, d, t] = bias[d] + sum_j w[d, j] x[b, d, t-W+1+j].
    b, d, t = x.size()
    width = hl.specialize(weight.size(1))
    out = torch.empty_like(x)
    for tile_b, tile_d, tile_t in hl.tile([b, d, t]):
        acc = hl.zeros([tile_b, tile_d, tile_t], dtype=torch.float32)
        acc = acc + bias[tile_d].to(torch.float32)[None, :, None]
        for j in hl.static_range(width):
            src = tile_t.index - (width - 1) + j
            xs = hl.load(x, [tile_b, tile_d, src], extra_mask=(src >= 0)[None, None, :])
            acc = acc + weight[tile_d, j].to(torch.float32)[None, :, None] * xs.to(torch.float32)
        out[tile_b, tile_d, tile_t] = acc.to(x.dtype)
    return out


@helion.kernel(static_shapes=True)
def depthwise_conv2d(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    # x [N, C, H, W], weight [C, 3, 3], stride 1, zero padding 1.
    n, c, h, w = x.size()
    out = torch.empty_like(x)
    for tile_n, tile_c, tile_h, tile_w in hl.tile([n, c, h, w]):
        acc = hl.zeros([tile_n, tile_c, tile_h, tile_w], dtype=torch.float32)
        for dy in hl.static_range(3):
            rows = tile_h.index + (dy - 1)
            row_ok = (rows >= 0) & (rows < h)
            for dx in hl.static_range(3):
                cols = tile_w.index + (dx - 1)
                ok = (row_ok[:, None] & (cols >= 0)[None, :] & (cols < w)[None, :])[None, None]
                xs = hl.load(x, [tile_n, tile_c, rows, cols], extra_mask=ok)
                acc = acc + weight[tile_c, dy, dx].to(torch.float32)[None, :, None, None] * xs.to(
                    torch.float32)
        out[tile_n, tile_c, tile_h, tile_w] = acc.to(x.dtype)
    return out


# -- references ---------------------------------------------------------------------------------
def causal_conv1d_ref(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    width = weight.size(1)
    y = torch.nn.functional.conv1d(x.float(), weight.float()[:, None, :], bias.float(),
                                   padding=width - 1, groups=x.size(1))
    return y[..., : x.size(-1)].to(x.dtype)


def depthwise_conv2d_ref(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.conv2d(x.float(), weight.float()[:, None], padding=1,
                                      groups=x.size(1)).to(x.dtype)
