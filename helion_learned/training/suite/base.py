"""What a suite family is (:class:`SuiteKernel`) and the helpers that family tables share."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass

import helion
import torch

Shape = tuple[int, ...]
MakeArgs = Callable[[Shape, torch.dtype, str], tuple]

F32, F16, BF16 = torch.float32, torch.float16, torch.bfloat16
FP8_E4M3, FP8_E5M2, INT8 = torch.float8_e4m3fn, torch.float8_e5m2, torch.int8


@dataclass(frozen=True)
class SuiteKernel:
    family: str  # e.g. "matmul_fp16", "softmax", "layer_norm": one per (kernel, dtype) variant
    kernel: helion.Kernel
    make_args: Callable[[Shape, torch.dtype, str], tuple]  # (shape, dtype, device) -> args
    reference: Callable[..., torch.Tensor]
    shapes: tuple[Shape, ...]  # GPU shapes
    tiny_shapes: tuple[Shape, ...]  # CPU-interpreter shapes
    dtype: torch.dtype
    rtol: float
    atol: float
    online_shapes: tuple[Shape, ...] = ()  # held out of collection: online validation only


def randn(shape: Iterable[int], dtype: torch.dtype, device: str) -> torch.Tensor:
    """Random normal data of ``dtype`` (generated in fp32: fp8 and bf16 have no randn)."""
    return torch.randn(tuple(shape), dtype=torch.float32, device=device).to(dtype)


# Tolerances per dtype: elementwise/reduction outputs round once; GEMM-like ones accumulate.
TOL = {F32: (1e-4, 1e-4), F16: (1e-2, 1e-2), BF16: (2e-2, 2e-2)}
# fp32 dots run at Helion's default dot_precision='tf32' while torch's reference is full fp32.
TOL_DOT = {F32: (2e-2, 1e-1), F16: (2e-2, 5e-2), BF16: (3e-2, 1e-1)}


def family(name: str, kernel: helion.Kernel, make_args: MakeArgs,
           reference: Callable[..., torch.Tensor], shapes: tuple[Shape, ...],
           online: tuple[Shape, ...], tiny: tuple[Shape, ...], dtype: torch.dtype, *,
           dot: bool = False, tol: tuple[float, float] | None = None) -> SuiteKernel:
    """One suite family of the new tables: ``online`` shapes are held out of ``shapes``."""
    rtol, atol = tol if tol is not None else (TOL_DOT if dot else TOL)[dtype]
    return SuiteKernel(name, kernel, make_args, reference, shapes, tiny, dtype, rtol, atol,
                       online_shapes=online)
