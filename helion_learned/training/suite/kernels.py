"""Helion kernels of the benchmark suite, re-exported from the per-family modules.

Each kernel is a plain ``@helion.kernel(static_shapes=True)`` with no pinned config so that it can
be bound, seeded and benchmarked under any settings. Keep the bodies idiomatic: they are what the
model learns from. Families (kernel x dtype) and their shapes live in :mod:`.registry`.
"""

from __future__ import annotations

from .elementwise import add
from .elementwise import fma
from .elementwise import gelu
from .elementwise import silu
from .matmuls import bmm
from .matmuls import broadcast_matmul
from .matmuls import matmul
from .matmuls import matmul_bias_relu
from .matmuls import matmul_split_k
from .other import attention
from .other import concat
from .other import embedding
from .other import rotary_embedding
from .reductions import batch_softmax
from .reductions import col_mean
from .reductions import cross_entropy
from .reductions import layer_norm
from .reductions import log_softmax
from .reductions import rms_norm
from .reductions import row_sum
from .reductions import softmax

__all__ = [
    "add", "attention", "batch_softmax", "bmm", "broadcast_matmul", "col_mean", "concat",
    "cross_entropy", "embedding", "fma", "gelu", "layer_norm", "log_softmax", "matmul",
    "matmul_bias_relu", "matmul_split_k", "rms_norm", "rotary_embedding", "row_sum", "silu",
    "softmax",
]
