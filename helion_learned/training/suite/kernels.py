"""Helion kernels of the benchmark suite, re-exported from the per-group modules.

Each kernel is a plain ``@helion.kernel(static_shapes=True)`` with no pinned config so that it can
be bound, seeded and benchmarked under any settings. Keep the bodies idiomatic: they are what the
model learns from. Families (kernel x dtype) and their shapes live in :mod:`.registry` (the
original 24) and :mod:`.families` (the rest); see README.md.
"""

from __future__ import annotations

from .attention import attention
from .attention import attention_backward_dkdv
from .attention import attention_backward_dq
from .attention import causal_attention
from .attention import decode_attention
from .backward import cross_entropy_backward
from .backward import gelu_backward
from .backward import silu_backward
from .backward import softmax_backward
from .backward import swiglu_backward
from .gated import geglu
from .gated import glu_split
from .gated import swiglu
from .gemm import bmm
from .gemm import broadcast_matmul
from .gemm import matmul
from .gemm import matmul_nt
from .gemm import matmul_split_k
from .gemm import matmul_tn
from .grouped_gemm import grouped_gemm
from .grouped_gemm import moe_matmul
from .grouped_gemm import moe_router
from .indexing import embedding
from .indexing import embedding_bag
from .indexing import gather_cols
from .indexing import scatter_add
from .indexing import segment_sum
from .layouts import concat
from .layouts import permute_heads
from .layouts import rotary_embedding
from .layouts import transpose
from .matmul_epilogues import linear_swiglu
from .matmul_epilogues import matmul_bias_gelu
from .matmul_epilogues import matmul_bias_relu
from .matmul_epilogues import matmul_row_sum
from .matmul_epilogues import matmul_scale_residual
from .norm_backward import layer_norm_backward_dwb
from .norm_backward import layer_norm_backward_dx
from .norm_backward import rms_norm_backward_dx
from .norms import fused_add_rms_norm
from .norms import group_norm
from .norms import l2_normalize
from .norms import layer_norm
from .norms import rms_norm
from .pointwise import add
from .pointwise import bias_gelu
from .pointwise import channel_affine
from .pointwise import fma
from .pointwise import gelu
from .pointwise import silu
from .quantized import fp8_scaled_gemm
from .quantized import int4_gemm
from .quantized import int8_gemm
from .quantized import quantize_int8_rowwise
from .quantized import w8a16_gemm
from .recurrences import chunked_linear_attention
from .recurrences import linear_recurrence
from .scans import cummax
from .scans import cumsum
from .scans import seq_cumsum
from .softmax_losses import batch_softmax
from .softmax_losses import causal_softmax
from .softmax_losses import cross_entropy
from .softmax_losses import focal_loss
from .softmax_losses import jsd
from .softmax_losses import kl_div
from .softmax_losses import log_softmax
from .softmax_losses import logsumexp
from .softmax_losses import softmax
from .statistics import col_mean
from .statistics import row_argmax
from .statistics import row_sum
from .statistics import row_topk
from .statistics import row_var
from .statistics import welford
from .windows import causal_conv1d
from .windows import depthwise_conv2d

__all__ = [
    "add", "attention", "attention_backward_dkdv", "attention_backward_dq", "batch_softmax",
    "bias_gelu", "bmm", "broadcast_matmul", "causal_attention", "causal_conv1d", "causal_softmax",
    "channel_affine", "chunked_linear_attention", "col_mean", "concat", "cross_entropy",
    "cross_entropy_backward", "cummax", "cumsum", "decode_attention", "depthwise_conv2d",
    "embedding", "embedding_bag", "fma", "focal_loss", "fp8_scaled_gemm", "fused_add_rms_norm",
    "gather_cols", "geglu", "gelu", "gelu_backward", "glu_split", "group_norm", "grouped_gemm",
    "int4_gemm", "int8_gemm", "jsd", "kl_div", "l2_normalize", "layer_norm",
    "layer_norm_backward_dwb", "layer_norm_backward_dx", "linear_recurrence", "linear_swiglu",
    "log_softmax", "logsumexp", "matmul", "matmul_bias_gelu", "matmul_bias_relu", "matmul_nt",
    "matmul_row_sum", "matmul_scale_residual", "matmul_split_k", "matmul_tn", "moe_matmul",
    "moe_router", "permute_heads", "quantize_int8_rowwise", "rms_norm", "rms_norm_backward_dx",
    "rotary_embedding", "row_argmax", "row_sum", "row_topk", "row_var", "scatter_add",
    "segment_sum", "seq_cumsum", "silu", "silu_backward", "softmax", "softmax_backward", "swiglu",
    "swiglu_backward", "transpose", "w8a16_gemm", "welford",
]
