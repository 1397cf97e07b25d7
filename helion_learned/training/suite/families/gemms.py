"""Families of the GEMM-shaped kernels: transposed-operand GEMMs, fused epilogues, quantized and
low-precision GEMMs, grouped / MoE GEMMs and attention."""

from __future__ import annotations

import torch

from .. import attention as at
from .. import gemm as gm
from .. import grouped_gemm as gg
from .. import matmul_epilogues as ep
from .. import quantized as qz
from ..base import BF16
from ..base import F16
from ..base import F32
from ..base import FP8_E4M3
from ..base import FP8_E5M2
from ..base import INT8
from ..base import Shape
from ..base import family
from ..base import randn
from .elementwise import same_shape


def _mk_kn(shape: Shape, dtype: torch.dtype, device: str) -> tuple:  # (M, K, N)
    m, k, n = shape
    return randn((m, k), dtype, device), randn((k, n), dtype, device)


def _nt_args(shape: Shape, dtype: torch.dtype, device: str) -> tuple:  # (M, K, N): w is [N, K]
    m, k, n = shape
    return randn((m, k), dtype, device), randn((n, k), dtype, device)


def _tn_args(shape: Shape, dtype: torch.dtype, device: str) -> tuple:  # (T, K, N)
    t, k, n = shape
    return randn((t, k), dtype, device), randn((t, n), dtype, device)


def _bias_args(shape: Shape, dtype: torch.dtype, device: str) -> tuple:  # (M, K, N)
    return (*_mk_kn(shape, dtype, device), randn((shape[2],), dtype, device))


def _scale_residual_args(shape: Shape, dtype: torch.dtype, device: str) -> tuple:  # (M, K, N)
    m, _, n = shape
    return (*_mk_kn(shape, dtype, device), randn((n,), dtype, device), randn((m, n), dtype, device))


def _swiglu_args(shape: Shape, dtype: torch.dtype, device: str) -> tuple:  # (M, K, N)
    m, k, n = shape
    return randn((m, k), dtype, device), randn((k, n), dtype, device), randn((k, n), dtype, device)


def _scales(m: int, n: int, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    return (0.5 + torch.rand(m, device=device)) / 16, 0.5 + torch.rand(n, device=device)


def _fp8_args(shape: Shape, dtype: torch.dtype, device: str) -> tuple:  # (M, K, N), fp8 dtype
    m, _, n = shape
    return (*_mk_kn(shape, dtype, device), *_scales(m, n, device))


def _int8_args(shape: Shape, dtype: torch.dtype, device: str) -> tuple:  # (M, K, N)
    m, k, n = shape
    x = torch.randint(-127, 128, (m, k), dtype=torch.int8, device=device)
    w = torch.randint(-127, 128, (k, n), dtype=torch.int8, device=device)
    xs, ws = _scales(m, n, device)
    return x, w, xs / 127, ws / 127


def _w8a16_args(shape: Shape, dtype: torch.dtype, device: str) -> tuple:  # (M, K, N)
    m, k, n = shape
    w = torch.randint(-127, 128, (k, n), dtype=torch.int8, device=device)
    return randn((m, k), dtype, device), w, ((0.5 + torch.rand(n, device=device)) / 127).to(dtype)


def _int4_args(shape: Shape, dtype: torch.dtype, device: str) -> tuple:  # (M, K, N), K even
    m, k, n = shape
    packed = torch.randint(0, 256, (k // 2, n), dtype=torch.uint8, device=device)
    return randn((m, k), dtype, device), packed, ((0.5 + torch.rand(n, device=device)) / 8).to(dtype)


def _routing(groups: int, rows: int, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    # Top-1 routing of `rows` tokens to `groups` experts (some may get none, as in real MoE):
    # group offsets [G+1] and the token permutation that sorts tokens by group. Drawn on the
    # CPU (bincount has no meta kernel) and moved to `device`.
    expert = torch.randint(0, groups, (rows,))
    offsets = torch.zeros(groups + 1, dtype=torch.int32)
    offsets[1:] = torch.cumsum(torch.bincount(expert, minlength=groups), 0).to(torch.int32)
    sorted_ids = torch.argsort(expert, stable=True).to(torch.int32)
    return offsets.to(device), sorted_ids.to(device)


def _grouped_args(shape: Shape, dtype: torch.dtype, device: str) -> tuple:  # (G, T, K, N)
    g, t, k, n = shape
    offsets, _ = _routing(g, t, device)
    return randn((t, k), dtype, device), randn((g, k, n), dtype, device), offsets


def _moe_args(shape: Shape, dtype: torch.dtype, device: str) -> tuple:  # (E, T, K, N)
    e, t, k, n = shape
    offsets, sorted_ids = _routing(e, t, device)
    return randn((t, k), dtype, device), randn((e, k, n), dtype, device), offsets, sorted_ids


def _attention_bwd_args(shape: Shape, dtype: torch.dtype, device: str) -> tuple:  # (BH, S, D)
    q, k, v, d_out = (randn(shape, dtype, device) for _ in range(4))
    # The forward's saved statistics, in fp32, a block of queries at a time (no S x S buffer).
    scale = shape[2] ** -0.5
    lse, delta = [], []
    for lo in range(0, shape[1], 1024):
        scores = (q[:, lo:lo + 1024].float() @ k.float().transpose(1, 2)) * scale
        lse.append(torch.logsumexp(scores, dim=-1))
        out = torch.softmax(scores, dim=-1) @ v.float()
        delta.append((d_out[:, lo:lo + 1024].float() * out).sum(-1))
    return q, k, v, d_out, torch.cat(lse, dim=1), torch.cat(delta, dim=1)


def _decode_args(shape: Shape, dtype: torch.dtype, device: str) -> tuple:  # (B, H, S, D)
    b, h, _, d = shape
    return randn((b, h, d), dtype, device), randn(shape, dtype, device), randn(shape, dtype, device)


# -- shapes -------------------------------------------------------------------------------------
_LINEAR = ((1, 4096, 4096), (16, 4096, 11008), (128, 4096, 14336), (512, 8192, 1024),
           (1024, 1024, 1024), (2048, 4096, 4096), (4096, 4096, 14336), (8192, 8192, 8192),
           (1000, 3000, 4097), (2048, 4096, 32000))
_LINEAR_ONLINE = ((768, 4096, 11008), (4096, 2048, 6144))
_WGRAD = ((4096, 4096, 4096), (16384, 4096, 1024), (8192, 1024, 4096), (2048, 4096, 11008),
          (65536, 256, 256), (1024, 768, 3072), (32768, 128, 128), (4097, 1000, 3000),
          (512, 14336, 4096), (16384, 2048, 2048))
_WGRAD_ONLINE = ((8192, 4096, 4096), (3000, 512, 2048))
_EPILOGUE = ((1, 4096, 11008), (32, 4096, 4096), (256, 4096, 14336), (1024, 768, 3072),
             (2048, 4096, 11008), (4096, 4096, 4096), (8192, 8192, 2048), (1000, 3000, 1000),
             (16384, 1024, 4096), (4097, 1024, 1024))
_EPILOGUE_ONLINE = ((128, 4096, 11008), (3072, 768, 3072))
# (groups, total rows, K, N): MoE layers (Mixtral 8 experts, DeepSeek 64/256 fine-grained).
_GROUPED = ((8, 4096, 4096, 4096), (64, 8192, 2048, 1408), (16, 2048, 1024, 4096),
            (4, 16384, 4096, 2048), (128, 16384, 512, 512), (32, 1000, 3000, 1024),
            (8, 512, 4096, 1024), (256, 65536, 128, 256), (16, 32768, 1024, 1024),
            (60, 4096, 2048, 768))
_GROUPED_ONLINE = ((8, 2048, 4096, 2048), (40, 6000, 1024, 512))
_ROUTER = ((1, 8), (128, 8), (4096, 8), (16384, 16), (8192, 64), (65536, 128), (2048, 256),
           (1000, 60), (32768, 32), (4097, 160))
_ROUTER_ONLINE = ((8192, 128), (3000, 64))
_QUANT_ROWS = ((1, 4096), (16, 4096), (128, 11008), (1024, 4096), (2048, 8192), (4096, 14336),
               (8192, 4096), (16384, 2048), (1000, 3000), (4097, 5120))
_QUANT_ROWS_ONLINE = ((512, 28672), (3000, 1024))
_ATTENTION = ((1, 32, 1024, 128), (4, 32, 2048, 128), (8, 16, 1024, 64), (16, 12, 512, 64),
              (2, 8, 8192, 128), (32, 12, 197, 64), (1, 40, 1000, 128), (2, 16, 4097, 64),
              (64, 8, 256, 64), (1, 8, 16384, 64))
_ATTENTION_ONLINE = ((4, 32, 1536, 128), (8, 12, 577, 64))
_DECODE = ((1, 32, 4096, 128), (8, 32, 2048, 128), (32, 32, 1024, 128), (64, 8, 4096, 128),
           (16, 32, 4096, 128), (128, 32, 512, 128), (4, 16, 32768, 64), (256, 8, 1024, 64),
           (2, 64, 16384, 128), (1, 8, 131072, 128))
_DECODE_ONLINE = ((4, 32, 8192, 128), (24, 16, 3000, 64))
_ATTENTION_BWD = ((32, 1024, 128), (128, 2048, 128), (64, 512, 64), (192, 512, 64),
                  (16, 8192, 128), (48, 4096, 64), (384, 197, 64), (32, 4097, 64),
                  (256, 256, 128), (8, 16384, 128))  # (B*H, S, D)
_ATTENTION_BWD_ONLINE = ((64, 1536, 128), (96, 577, 64))

_T_MM = ((32, 48, 40),)
_T_GROUPED = ((3, 40, 32, 24),)
_QTOL = (3e-2, 1e-1)  # bf16 output of an fp32-accumulated GEMM
FAMILIES = (
    # transposed-operand GEMMs
    family("matmul_nt_bf16", gm.matmul_nt, _nt_args, gm.matmul_nt_ref, _LINEAR, _LINEAR_ONLINE,
           _T_MM, BF16, dot=True),
    family("matmul_nt_fp16", gm.matmul_nt, _nt_args, gm.matmul_nt_ref, _LINEAR, _LINEAR_ONLINE,
           _T_MM, F16, dot=True),
    family("matmul_tn_bf16", gm.matmul_tn, _tn_args, gm.matmul_tn_ref, _WGRAD, _WGRAD_ONLINE,
           _T_MM, BF16, dot=True),
    # fused epilogues
    family("matmul_bias_gelu_bf16", ep.matmul_bias_gelu, _bias_args, ep.matmul_bias_gelu_ref,
           _EPILOGUE, _EPILOGUE_ONLINE, _T_MM, BF16, dot=True),
    family("matmul_bias_gelu_fp16", ep.matmul_bias_gelu, _bias_args, ep.matmul_bias_gelu_ref,
           _EPILOGUE, _EPILOGUE_ONLINE, _T_MM, F16, dot=True),
    family("matmul_scale_residual_bf16", ep.matmul_scale_residual, _scale_residual_args,
           ep.matmul_scale_residual_ref, _EPILOGUE, _EPILOGUE_ONLINE, _T_MM, BF16, dot=True),
    family("linear_swiglu_bf16", ep.linear_swiglu, _swiglu_args, ep.linear_swiglu_ref, _EPILOGUE,
           _EPILOGUE_ONLINE, _T_MM, BF16, dot=True),
    family("linear_swiglu_fp16", ep.linear_swiglu, _swiglu_args, ep.linear_swiglu_ref, _EPILOGUE,
           _EPILOGUE_ONLINE, _T_MM, F16, dot=True),
    family("matmul_row_sum_fp16", ep.matmul_row_sum, _mk_kn, ep.matmul_row_sum_ref, _EPILOGUE,
           _EPILOGUE_ONLINE, _T_MM, F16, tol=(2e-2, 2e-1)),
    # quantized / low precision (family dtype = the stored operand dtype)
    family("fp8_scaled_gemm_e4m3", qz.fp8_scaled_gemm, _fp8_args, qz.fp8_scaled_gemm_ref, _LINEAR,
           _LINEAR_ONLINE, _T_MM, FP8_E4M3, tol=_QTOL),
    family("fp8_scaled_gemm_e5m2", qz.fp8_scaled_gemm, _fp8_args, qz.fp8_scaled_gemm_ref, _LINEAR,
           _LINEAR_ONLINE, _T_MM, FP8_E5M2, tol=_QTOL),
    family("int8_gemm", qz.int8_gemm, _int8_args, qz.int8_gemm_ref, _LINEAR, _LINEAR_ONLINE,
           _T_MM, INT8, tol=_QTOL),
    family("w8a16_gemm_bf16", qz.w8a16_gemm, _w8a16_args, qz.w8a16_gemm_ref, _LINEAR,
           _LINEAR_ONLINE, _T_MM, BF16, dot=True),
    family("w8a16_gemm_fp16", qz.w8a16_gemm, _w8a16_args, qz.w8a16_gemm_ref, _LINEAR,
           _LINEAR_ONLINE, _T_MM, F16, dot=True),
    family("int4_gemm_bf16", qz.int4_gemm, _int4_args, qz.int4_gemm_ref, _LINEAR, _LINEAR_ONLINE,
           _T_MM, BF16, dot=True),
    family("int4_gemm_fp16", qz.int4_gemm, _int4_args, qz.int4_gemm_ref, _LINEAR, _LINEAR_ONLINE,
           _T_MM, F16, dot=True),
    # q may differ by one step where x / scale lands on a rounding boundary (GPU division).
    family("quantize_int8_rowwise_bf16", qz.quantize_int8_rowwise, same_shape(1),
           qz.quantize_int8_rowwise_ref, _QUANT_ROWS, _QUANT_ROWS_ONLINE, ((8, 40),), BF16,
           tol=(1e-5, 1.0)),
    # grouped / jagged / MoE
    family("grouped_gemm_bf16", gg.grouped_gemm, _grouped_args, gg.grouped_gemm_ref, _GROUPED,
           _GROUPED_ONLINE, _T_GROUPED, BF16, dot=True),
    family("grouped_gemm_fp16", gg.grouped_gemm, _grouped_args, gg.grouped_gemm_ref, _GROUPED,
           _GROUPED_ONLINE, _T_GROUPED, F16, dot=True),
    family("moe_matmul_bf16", gg.moe_matmul, _moe_args, gg.moe_matmul_ref, _GROUPED,
           _GROUPED_ONLINE, _T_GROUPED, BF16, dot=True),
    family("moe_router_fp32", gg.moe_router, same_shape(1), gg.moe_router_ref, _ROUTER,
           _ROUTER_ONLINE, ((8, 12),), F32),
    # attention
    family("causal_attention_bf16", at.causal_attention, same_shape(3), at.causal_attention_ref,
           _ATTENTION, _ATTENTION_ONLINE, ((1, 2, 32, 16),), BF16, dot=True),
    family("causal_attention_fp16", at.causal_attention, same_shape(3), at.causal_attention_ref,
           _ATTENTION, _ATTENTION_ONLINE, ((1, 2, 40, 16),), F16, dot=True),
    family("decode_attention_bf16", at.decode_attention, _decode_args, at.decode_attention_ref,
           _DECODE, _DECODE_ONLINE, ((2, 3, 40, 16),), BF16),
    family("attention_backward_dkdv_bf16", at.attention_backward_dkdv, _attention_bwd_args,
           at.attention_backward_dkdv_ref, _ATTENTION_BWD, _ATTENTION_BWD_ONLINE, ((3, 40, 16),),
           BF16, dot=True),
    family("attention_backward_dkdv_fp16", at.attention_backward_dkdv, _attention_bwd_args,
           at.attention_backward_dkdv_ref, _ATTENTION_BWD, _ATTENTION_BWD_ONLINE, ((3, 40, 16),),
           F16, dot=True),
    family("attention_backward_dq_bf16", at.attention_backward_dq, _attention_bwd_args,
           at.attention_backward_dq_ref, _ATTENTION_BWD, _ATTENTION_BWD_ONLINE, ((3, 40, 16),),
           BF16, dot=True),
)
