"""Families of the pointwise, gated-activation and activation-backward kernels."""

from __future__ import annotations

import torch

from .. import backward as bw
from .. import gated as gt
from .. import pointwise as pw
from ..base import BF16
from ..base import F16
from ..base import F32
from ..base import Shape
from ..base import family
from ..base import randn


def same_shape(n: int):
    def make(shape: Shape, dtype: torch.dtype, device: str) -> tuple:  # n tensors of `shape`
        return tuple(randn(shape, dtype, device) for _ in range(n))

    return make


def _bias_args(shape: Shape, dtype: torch.dtype, device: str) -> tuple:  # (M, N)
    m, n = shape
    return randn((m, n), dtype, device), randn((n,), dtype, device)


def _channel_args(shape: Shape, dtype: torch.dtype, device: str) -> tuple:  # (N, C, H, W)
    c = shape[1]
    return randn(shape, dtype, device), randn((c,), dtype, device), randn((c,), dtype, device)


def _glu_args(shape: Shape, dtype: torch.dtype, device: str) -> tuple:  # (M, N): x is [M, 2N]
    m, n = shape
    return (randn((m, 2 * n), dtype, device),)


# Activation rows: token counts x MLP widths (LLaMA 11008/14336, odd sizes, a vocabulary).
ACT = ((1, 11008), (16, 14336), (128, 11008), (512, 14336), (1024, 8192), (2048, 11008),
       (4096, 14336), (8192, 5632), (3000, 4097), (16384, 2816))
ACT_ONLINE = ((2048, 13824), (777, 11008))
_BIAS = ((1, 4096), (16, 11008), (128, 14336), (1000, 3000), (2048, 4096), (4096, 11008),
         (4097, 1000), (8192, 8192), (16384, 4096), (32, 50257))
_BIAS_ONLINE = ((3000, 5120), (512, 28672))
# NCHW activations of ResNet/ConvNeXt/UNet stages.
_NCHW = ((1, 64, 224, 224), (8, 64, 112, 112), (32, 256, 56, 56), (64, 128, 28, 28),
         (16, 512, 14, 14), (128, 1024, 7, 7), (4, 3, 512, 512), (2, 96, 255, 255),
         (32, 768, 14, 14), (8, 320, 64, 64))
_NCHW_ONLINE = ((16, 256, 32, 32), (3, 192, 77, 77))
_TINY_2D = ((8, 40),)

FAMILIES = (
    # pointwise with broadcast inputs
    family("bias_gelu_bf16", pw.bias_gelu, _bias_args, pw.bias_gelu_ref, _BIAS, _BIAS_ONLINE,
           _TINY_2D, BF16),
    family("bias_gelu_fp32", pw.bias_gelu, _bias_args, pw.bias_gelu_ref, _BIAS, _BIAS_ONLINE,
           _TINY_2D, F32),
    family("channel_affine_bf16", pw.channel_affine, _channel_args, pw.channel_affine_ref, _NCHW,
           _NCHW_ONLINE, ((2, 3, 5, 7),), BF16),
    # gated activations
    family("swiglu_bf16", gt.swiglu, same_shape(2), gt.swiglu_ref, ACT, ACT_ONLINE, _TINY_2D,
           BF16),
    family("swiglu_fp16", gt.swiglu, same_shape(2), gt.swiglu_ref, ACT, ACT_ONLINE, ((100,),),
           F16),
    family("geglu_bf16", gt.geglu, same_shape(2), gt.geglu_ref, ACT, ACT_ONLINE, _TINY_2D, BF16),
    family("glu_split_bf16", gt.glu_split, _glu_args, gt.glu_split_ref, ACT, ACT_ONLINE,
           ((8, 24),), BF16),
    # activation and softmax-style backward passes
    family("silu_backward_bf16", bw.silu_backward, same_shape(2), bw.silu_backward_ref, ACT,
           ACT_ONLINE, _TINY_2D, BF16),
    family("gelu_backward_bf16", bw.gelu_backward, same_shape(2), bw.gelu_backward_ref, ACT,
           ACT_ONLINE, _TINY_2D, BF16),
    family("gelu_backward_fp32", bw.gelu_backward, same_shape(2), bw.gelu_backward_ref, ACT,
           ACT_ONLINE, ((2, 3, 40),), F32),
    family("swiglu_backward_bf16", bw.swiglu_backward, same_shape(3), bw.swiglu_backward_ref, ACT,
           ACT_ONLINE, _TINY_2D, BF16),
)
