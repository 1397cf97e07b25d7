"""Quantized and low-precision suite kernels: fp8 GEMM with row/column scales, int8 x int8 GEMM
(int32 accumulation) with row/column scales, weight-only int8 and packed-int4 GEMMs with
per-channel scales, and row-wise absmax int8 quantization.

fp8 runs natively (``hl.dot`` on float8 operands, which the CPU interpreter also executes).
int4 has no torch dtype: two 4-bit values sit in one uint8 (low nibble = row k, high nibble =
row k + K/2 of the [K, N] weight, offset-8 unsigned), unpacked with masks and shifts.
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch


@helion.kernel(static_shapes=True)
def fp8_scaled_gemm(x: torch.Tensor, w: torch.Tensor, x_scale: torch.Tensor,
                    w_scale: torch.Tensor) -> torch.Tensor:
    # x [M, K], w [K, N] in fp8; x_scale [M], w_scale [N] fp32 dequantization scales; bf16 out.
    m, k = x.size()
    _, n = w.size()
    out = torch.empty([m, n], dtype=torch.bfloat16, device=x.device)
    for tile_m, tile_n in hl.tile([m, n]):
        acc = hl.zeros([tile_m, tile_n], dtype=torch.float32)
        for tile_k in hl.tile(k):
            acc = hl.dot(x[tile_m, tile_k], w[tile_k, tile_n], acc=acc)
        acc = acc * x_scale[tile_m][:, None] * w_scale[tile_n][None, :]
        out[tile_m, tile_n] = acc.to(torch.bfloat16)
    return out


@helion.kernel(static_shapes=True)
def int8_gemm(x: torch.Tensor, w: torch.Tensor, x_scale: torch.Tensor,
              w_scale: torch.Tensor) -> torch.Tensor:
    # W8A8: int8 operands, exact int32 accumulation, fp32 row/column scales, bf16 out.
    m, k = x.size()
    _, n = w.size()
    out = torch.empty([m, n], dtype=torch.bfloat16, device=x.device)
    for tile_m, tile_n in hl.tile([m, n]):
        acc = hl.zeros([tile_m, tile_n], dtype=torch.int32)
        for tile_k in hl.tile(k):
            acc = acc + hl.dot(x[tile_m, tile_k], w[tile_k, tile_n], out_dtype=torch.int32)
        scaled = acc.to(torch.float32) * x_scale[tile_m][:, None] * w_scale[tile_n][None, :]
        out[tile_m, tile_n] = scaled.to(torch.bfloat16)
    return out


@helion.kernel(static_shapes=True)
def w8a16_gemm(x: torch.Tensor, w: torch.Tensor, w_scale: torch.Tensor) -> torch.Tensor:
    # Weight-only int8: the weight tile is upcast to the activation dtype inside the K loop.
    m, k = x.size()
    _, n = w.size()
    out = torch.empty([m, n], dtype=x.dtype, device=x.device)
    for tile_m, tile_n in hl.tile([m, n]):
        acc = hl.zeros([tile_m, tile_n], dtype=torch.float32)
        for tile_k in hl.tile(k):
            acc = torch.addmm(acc, x[tile_m, tile_k], w[tile_k, tile_n].to(x.dtype))
        out[tile_m, tile_n] = (acc * w_scale[tile_n].to(torch.float32)[None, :]).to(x.dtype)
    return out


@helion.kernel(static_shapes=True)
def int4_gemm(x: torch.Tensor, w_packed: torch.Tensor, w_scale: torch.Tensor) -> torch.Tensor:
    # x [M, K]; w_packed [K/2, N] uint8 (see module docstring); w_scale [N]. Viewing x as
    # [M, 2, K/2] pairs each packed row with both of its activation columns.
    m, _ = x.size()
    half, n = w_packed.size()
    x_view = x.view([m, 2, half])
    out = torch.empty([m, n], dtype=x.dtype, device=x.device)
    for tile_m, tile_n in hl.tile([m, n]):
        acc = hl.zeros([tile_m, tile_n], dtype=torch.float32)
        for tile_k in hl.tile(half):
            packed = w_packed[tile_k, tile_n].to(torch.int32)
            low = ((packed & 15) - 8).to(x.dtype)
            high = ((packed >> 4) - 8).to(x.dtype)
            acc = torch.addmm(acc, x_view[tile_m, 0, tile_k], low)
            acc = torch.addmm(acc, x_view[tile_m, 1, tile_k], high)
        out[tile_m, tile_n] = (acc * w_scale[tile_n].to(torch.float32)[None, :]).to(x.dtype)
    return out


@helion.kernel(static_shapes=True)
def quantize_int8_rowwise(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    # Dynamic per-token quantization: scale = absmax / 127, q = round-half-up(x / scale).
    m, n = x.size()
    q = torch.empty([m, n], dtype=torch.int8, device=x.device)
    scale = torch.empty([m], dtype=torch.float32, device=x.device)
    for tile_m in hl.tile(m):
        v = x[tile_m, :].to(torch.float32)
        s = torch.clamp(torch.amax(torch.abs(v), dim=-1, keepdim=True), min=1e-8) / 127.0
        q[tile_m, :] = torch.clamp(torch.floor(v / s + 0.5), -127.0, 127.0).to(torch.int8)
        scale[tile_m] = s.squeeze(-1)
    return q, scale


# -- references ---------------------------------------------------------------------------------
def fp8_scaled_gemm_ref(x: torch.Tensor, w: torch.Tensor, x_scale: torch.Tensor,
                        w_scale: torch.Tensor) -> torch.Tensor:
    return ((x.float() @ w.float()) * x_scale[:, None] * w_scale[None, :]).to(torch.bfloat16)


def int8_gemm_ref(x: torch.Tensor, w: torch.Tensor, x_scale: torch.Tensor,
                  w_scale: torch.Tensor) -> torch.Tensor:
    acc = (x.double() @ w.double()).float()  # exact for these K: int32 accumulation
    return (acc * x_scale[:, None] * w_scale[None, :]).to(torch.bfloat16)


def w8a16_gemm_ref(x: torch.Tensor, w: torch.Tensor, w_scale: torch.Tensor) -> torch.Tensor:
    return ((x.float() @ w.float()) * w_scale.float()[None, :]).to(x.dtype)


def unpack_int4(w_packed: torch.Tensor) -> torch.Tensor:
    """The [K, N] int4 values (as int32) that :func:`int4_gemm` reads from ``w_packed``."""
    p = w_packed.to(torch.int32)
    return torch.cat([(p & 15) - 8, (p >> 4) - 8], dim=0)


def int4_gemm_ref(x: torch.Tensor, w_packed: torch.Tensor, w_scale: torch.Tensor) -> torch.Tensor:
    return ((x.float() @ unpack_int4(w_packed).float()) * w_scale.float()[None, :]).to(x.dtype)


def quantize_int8_rowwise_ref(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    v = x.float()
    s = v.abs().amax(-1, keepdim=True).clamp(min=1e-8) / 127.0
    return torch.clamp(torch.floor(v / s + 0.5), -127, 127).to(torch.int8), s.squeeze(-1)
