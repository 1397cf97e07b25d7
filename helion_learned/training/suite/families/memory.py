"""Families of the indexing, layout, sliding-window and recurrence kernels, plus strided-input
variants of two original kernels (the same kernel bound to a transposed view)."""

from __future__ import annotations

import torch

from .. import gemm as gm
from .. import indexing as ix
from .. import layouts as ly
from .. import recurrences as rc
from .. import statistics as st
from .. import windows as wn
from ..base import BF16
from ..base import F16
from ..base import F32
from ..base import Shape
from ..base import family
from ..base import randn
from .elementwise import same_shape


def _gather_args(shape: Shape, dtype: torch.dtype, device: str) -> tuple:  # (M, N, K)
    m, n, k = shape
    return randn((m, n), dtype, device), torch.randint(0, n, (m, k), dtype=torch.int64,
                                                       device=device)


def _scatter_args(shape: Shape, dtype: torch.dtype, device: str) -> tuple:  # (T, V, D)
    t, v, d = shape
    # The third argument only carries V (int8: no floating dummy data).
    return (randn((t, d), dtype, device), torch.randint(0, v, (t,), dtype=torch.int64, device=device),
            torch.zeros((v,), dtype=torch.int8, device=device))


def _segment_args(shape: Shape, dtype: torch.dtype, device: str) -> tuple:  # (S, D, mean length)
    s, d, mean_len = shape
    # Lengths in [0, 2 * mean]; data holds the worst case so the tensor shape never depends on
    # the draw (static_shapes binds on sizes).
    lengths = torch.randint(0, 2 * mean_len + 1, (s,), device=device)
    offsets = torch.zeros(s + 1, dtype=torch.int32, device=device)
    offsets[1:] = torch.cumsum(lengths, 0).to(torch.int32)
    return randn((s * 2 * mean_len, d), dtype, device), offsets


def _bag_args(shape: Shape, dtype: torch.dtype, device: str) -> tuple:  # (B, L, V, D)
    b, bag, v, d = shape
    return (torch.randint(0, v, (b, bag), dtype=torch.int64, device=device),
            randn((v, d), dtype, device))


def _recurrence_args(shape: Shape, dtype: torch.dtype, device: str) -> tuple:  # (B, T, D)
    decay = (0.5 + 0.5 * torch.rand(shape, device=device)).to(dtype)  # stable: |a| < 1
    return randn(shape, dtype, device), decay


def _linear_attention_args(shape: Shape, dtype: torch.dtype, device: str) -> tuple:  # (BH, T, D)
    scale = shape[2] ** -0.5
    return ((randn(shape, F32, device) * scale).to(dtype),
            (randn(shape, F32, device) * scale).to(dtype), randn(shape, dtype, device))


def _conv1d_args(shape: Shape, dtype: torch.dtype, device: str) -> tuple:  # (B, D, T, W)
    b, d, t, w = shape
    return randn((b, d, t), dtype, device), randn((d, w), dtype, device), randn((d,), dtype, device)


def _conv2d_args(shape: Shape, dtype: torch.dtype, device: str) -> tuple:  # (N, C, H, W)
    return randn(shape, dtype, device), randn((shape[1], 3, 3), dtype, device)


def _transposed_rows(shape: Shape, dtype: torch.dtype, device: str) -> tuple:  # (M, N)
    m, n = shape
    return (randn((n, m), dtype, device).T,)  # [M, N] view with strides (1, M)


def _transposed_lhs(shape: Shape, dtype: torch.dtype, device: str) -> tuple:  # (M, K, N)
    m, k, n = shape
    return randn((k, m), dtype, device).T, randn((k, n), dtype, device)


# -- shapes -------------------------------------------------------------------------------------
_GATHER = ((1024, 32000, 64), (4096, 4096, 256), (8192, 1024, 8), (256, 128256, 32),
           (16384, 512, 512), (1000, 3000, 100), (2048, 65536, 16), (64, 8192, 4096),
           (32768, 256, 2), (4097, 2048, 1000))
_GATHER_ONLINE = ((2000, 32000, 32), (512, 4096, 4096))
_SCATTER = ((128, 32000, 4096), (4096, 32000, 4096), (16384, 50257, 768), (1000, 3000, 1024),
            (2048, 128256, 1024), (65536, 1000, 256), (8192, 8192, 512), (512, 65536, 2048),
            (32768, 32000, 256), (4097, 10000, 1536))
_SCATTER_ONLINE = ((2048, 32000, 2048), (777, 50257, 1024))
_SEGMENT = ((1024, 128, 64), (4096, 256, 32), (512, 512, 128), (256, 64, 512), (8192, 128, 16),
            (100, 768, 200), (2048, 1024, 8), (64, 256, 1024), (16384, 64, 8), (1000, 300, 50))
_SEGMENT_ONLINE = ((3000, 128, 40), (256, 1024, 64))
_BAG = ((1024, 20, 100000, 128), (4096, 50, 500000, 64), (256, 100, 50000, 256),
        (16384, 8, 1000000, 32), (512, 32, 32000, 1024), (2048, 16, 262144, 128),
        (128, 500, 10000, 64), (8192, 4, 100000, 512), (1000, 30, 3000, 300),
        (64, 1000, 65536, 128))
_BAG_ONLINE = ((2000, 25, 200000, 128), (300, 64, 50000, 512))
_TRANSPOSE = ((4096, 4096), (1024, 32000), (32000, 1024), (8192, 128), (128, 8192), (1000, 3000),
              (4097, 4095), (16384, 2048), (65536, 64), (2048, 11008))
_TRANSPOSE_ONLINE = ((3000, 5000), (512, 14336))
_BSHD = ((1, 4096, 32, 128), (8, 2048, 32, 128), (32, 512, 12, 64), (4, 8192, 8, 128),
         (16, 1024, 16, 64), (2, 4097, 40, 128), (64, 197, 12, 64), (1, 32768, 8, 64),
         (8, 1000, 24, 128), (128, 128, 16, 64))
_BSHD_ONLINE = ((4, 2048, 32, 128), (12, 777, 12, 64))
_CONV1D = ((1, 2560, 4096, 4), (8, 1536, 2048, 4), (32, 2048, 512, 4), (4, 5120, 1024, 4),
           (16, 768, 8192, 4), (2, 4096, 16384, 4), (64, 1024, 256, 4), (1, 3000, 1000, 3),
           (8, 512, 4097, 4), (128, 768, 128, 2))
_CONV1D_ONLINE = ((4, 2048, 2048, 4), (12, 1536, 777, 4))
_DWCONV = ((1, 64, 112, 112), (8, 96, 56, 56), (32, 144, 56, 56), (16, 192, 28, 28),
           (64, 384, 14, 14), (8, 768, 14, 14), (4, 32, 224, 224), (2, 256, 64, 64),
           (128, 576, 7, 7), (16, 960, 7, 7))
_DWCONV_ONLINE = ((8, 240, 28, 28), (3, 128, 77, 77))
_RECURRENCE = ((1, 4096, 2560), (8, 2048, 1024), (32, 512, 2048), (4, 8192, 768),
               (16, 1024, 4096), (2, 16384, 512), (64, 256, 1024), (1, 1000, 3000),
               (8, 4097, 256), (128, 128, 768))
_RECURRENCE_ONLINE = ((4, 2048, 2048), (12, 777, 1536))
_LINEAR_ATTENTION = ((32, 2048, 64), (64, 1024, 128), (8, 8192, 64), (128, 512, 64),
                     (16, 4096, 128), (256, 256, 64), (4, 16384, 64), (48, 1000, 64),
                     (96, 2048, 32), (32, 4097, 128))
_LINEAR_ATTENTION_ONLINE = ((64, 2048, 64), (24, 3000, 128))
_STRIDED_ROWS = ((4096, 4096), (1000, 3000), (16384, 1024), (32, 8192), (8192, 64),
                 (2048, 11008), (512, 14336), (4097, 4096), (128, 32000), (65536, 128))
_STRIDED_ROWS_ONLINE = ((3000, 777), (2048, 8192))
_STRIDED_MM = ((1024, 1024, 1024), (4096, 4096, 4096), (2048, 4096, 11008), (4096, 1024, 4096),
               (512, 8192, 512), (8192, 2048, 1024), (128, 4096, 4096), (1000, 3000, 1000),
               (16384, 512, 2048), (64, 14336, 4096))
_STRIDED_MM_ONLINE = ((3072, 768, 3072), (768, 4096, 2048))

FAMILIES = (
    # indexing
    family("gather_cols_bf16", ix.gather_cols, _gather_args, ix.gather_cols_ref, _GATHER,
           _GATHER_ONLINE, ((8, 40, 12),), BF16),
    family("scatter_add_bf16", ix.scatter_add, _scatter_args, ix.scatter_add_ref, _SCATTER,
           _SCATTER_ONLINE, ((20, 6, 24),), BF16),
    family("scatter_add_fp32", ix.scatter_add, _scatter_args, ix.scatter_add_ref, _SCATTER,
           _SCATTER_ONLINE, ((20, 6, 24),), F32),
    family("segment_sum_bf16", ix.segment_sum, _segment_args, ix.segment_sum_ref, _SEGMENT,
           _SEGMENT_ONLINE, ((6, 24, 4),), BF16),
    family("segment_sum_fp32", ix.segment_sum, _segment_args, ix.segment_sum_ref, _SEGMENT,
           _SEGMENT_ONLINE, ((6, 24, 4),), F32),
    family("embedding_bag_bf16", ix.embedding_bag, _bag_args, ix.embedding_bag_ref, _BAG,
           _BAG_ONLINE, ((4, 5, 30, 24),), BF16),
    family("embedding_bag_fp32", ix.embedding_bag, _bag_args, ix.embedding_bag_ref, _BAG,
           _BAG_ONLINE, ((4, 5, 30, 24),), F32),
    # layouts and strided inputs
    family("transpose_bf16", ly.transpose, same_shape(1), ly.transpose_ref, _TRANSPOSE,
           _TRANSPOSE_ONLINE, ((24, 40),), BF16),
    family("transpose_fp32", ly.transpose, same_shape(1), ly.transpose_ref, _TRANSPOSE,
           _TRANSPOSE_ONLINE, ((24, 40),), F32),
    family("permute_heads_bf16", ly.permute_heads, same_shape(1), ly.permute_heads_ref, _BSHD,
           _BSHD_ONLINE, ((2, 12, 3, 16),), BF16),
    family("row_sum_strided_fp32", st.row_sum, _transposed_rows, st.row_sum_ref, _STRIDED_ROWS,
           _STRIDED_ROWS_ONLINE, ((8, 40),), F32),
    family("matmul_strided_fp16", gm.matmul, _transposed_lhs, gm.matmul_ref, _STRIDED_MM,
           _STRIDED_MM_ONLINE, ((32, 48, 40),), F16, dot=True),
    # sliding windows
    family("causal_conv1d_bf16", wn.causal_conv1d, _conv1d_args, wn.causal_conv1d_ref, _CONV1D,
           _CONV1D_ONLINE, ((2, 6, 40, 4),), BF16),
    family("causal_conv1d_fp32", wn.causal_conv1d, _conv1d_args, wn.causal_conv1d_ref, _CONV1D,
           _CONV1D_ONLINE, ((2, 6, 40, 4),), F32),
    family("depthwise_conv2d_bf16", wn.depthwise_conv2d, _conv2d_args, wn.depthwise_conv2d_ref,
           _DWCONV, _DWCONV_ONLINE, ((2, 3, 9, 11),), BF16),
    family("depthwise_conv2d_fp32", wn.depthwise_conv2d, _conv2d_args, wn.depthwise_conv2d_ref,
           _DWCONV, _DWCONV_ONLINE, ((2, 3, 9, 11),), F32),
    # recurrences
    family("linear_recurrence_bf16", rc.linear_recurrence, _recurrence_args,
           rc.linear_recurrence_ref, _RECURRENCE, _RECURRENCE_ONLINE, ((2, 10, 24),), BF16),
    family("linear_recurrence_fp32", rc.linear_recurrence, _recurrence_args,
           rc.linear_recurrence_ref, _RECURRENCE, _RECURRENCE_ONLINE, ((2, 10, 24),), F32),
    family("chunked_linear_attention_bf16", rc.chunked_linear_attention, _linear_attention_args,
           rc.chunked_linear_attention_ref, _LINEAR_ATTENTION, _LINEAR_ATTENTION_ONLINE,
           ((2, 40, 16),), BF16, dot=True),
)
