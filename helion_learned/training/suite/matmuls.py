"""Compatibility alias: the GEMM kernels now live in :mod:`.gemm` and
:mod:`.matmul_epilogues` (kept so that existing module paths keep working)."""

from __future__ import annotations

from .gemm import bmm
from .gemm import bmm_ref
from .gemm import broadcast_matmul
from .gemm import broadcast_matmul_ref
from .gemm import matmul
from .gemm import matmul_ref
from .gemm import matmul_split_k
from .gemm import matmul_split_k_ref
from .matmul_epilogues import matmul_bias_relu
from .matmul_epilogues import matmul_bias_relu_ref

__all__ = ["bmm", "bmm_ref", "broadcast_matmul", "broadcast_matmul_ref", "matmul",
           "matmul_bias_relu", "matmul_bias_relu_ref", "matmul_ref", "matmul_split_k",
           "matmul_split_k_ref"]
