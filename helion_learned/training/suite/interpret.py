"""CPU harness for the suite: run Helion kernels (and Helion's autotuner) under TRITON_INTERPRET=1.

Only for tests and ``collect --cpu-interpret``; never call this on a GPU run. Two gaps of the
Triton 3.x interpreter are patched here:

* ``triton.language.extra.libdevice`` is a stub module (bodies are ``...``) that only the GPU
  compiler resolves, so every ``libdevice.exp``/``rsqrt``/``tanh`` Helion emits returns None in the
  interpreter. We give the stubs Python bodies built from interpreter-patched ``tl`` ops.
* Helion's CUDA ``do_bench`` needs a Triton driver ("0 active drivers" on CPU): point the backend
  at the wall-clock ``do_bench_generic`` (see the integration reference, CPU harness), timing a
  single call.

The interpreter also computes bf16 *arithmetic* wrongly (numpy has no bf16): loads and casts work,
but ``x * y`` or ``tl.dot`` on bf16 values do not. :func:`cpu_dtype` maps bf16 to fp16 for CPU runs.
"""

from __future__ import annotations

import os
from typing import Any

import torch

_PATCHED = False


def _math(name: str) -> Any:
    import triton.language as tl

    # Looked up at call time: the interpreter swaps tl.math's builtins while a kernel runs.
    return getattr(tl.math, name)


def _libdevice_shims() -> dict[str, Any]:
    import triton.language as tl

    def unary(name: str) -> Any:
        return lambda x: _math(name)(x)

    def tanh(x: Any) -> Any:
        e = _math("exp")(-2.0 * tl.abs(x))  # stable for large |x|
        t = (1.0 - e) / (1.0 + e)
        return tl.where(x >= 0, t, -t)

    def sigmoid(x: Any) -> Any:
        return 1.0 / (1.0 + _math("exp")(-x))

    def pow_(x: Any, y: Any) -> Any:
        return _math("exp2")(y * _math("log2")(x))

    shims: dict[str, Any] = {
        name: unary(name)
        for name in ("exp", "exp2", "log", "log2", "sqrt", "rsqrt", "sin", "cos", "abs", "floor",
                     "ceil", "erf")
    }
    shims.update(
        tanh=tanh,
        sigmoid=sigmoid,
        pow=pow_,
        log1p=lambda x: _math("log")(1.0 + x),
        expm1=lambda x: _math("exp")(x) - 1.0,
        fma=lambda a, b, c: a * b + c,
        fast_expf=unary("exp"),
        fast_logf=unary("log"),
        fast_dividef=lambda a, b: a / b,
        div_rn=lambda a, b: a / b,
    )
    return shims


def apply_cpu_patches() -> None:
    """Patch libdevice and Helion's benchmark hooks for TRITON_INTERPRET=1 (idempotent)."""
    global _PATCHED
    if os.environ.get("TRITON_INTERPRET") != "1":
        raise RuntimeError("apply_cpu_patches() is for TRITON_INTERPRET=1 runs only: it would break "
                           "GPU compilation of libdevice calls")
    if _PATCHED:
        return
    import triton.language.extra.libdevice as libdevice
    from helion._compiler.backend import Backend
    from helion.autotuner import benchmarking

    for name, fn in _libdevice_shims().items():
        setattr(libdevice, name, fn)

    def do_bench_once(fn: Any, *args: Any, **kwargs: Any) -> Any:
        # Interpreted kernels take ~0.1-2 s a call and the timings mean nothing: one timed call
        # instead of do_bench_generic's 5 estimate calls + warmup + repeats.
        kwargs.pop("fixed_repetitions", None)
        return benchmarking.do_bench_generic(fn, *args, fixed_repetitions=1, **kwargs)

    Backend.get_do_bench = lambda self: do_bench_once  # type: ignore[method-assign]
    Backend.get_interleaved_bench = (  # type: ignore[method-assign]
        lambda self: benchmarking.interleaved_bench_generic
    )
    _PATCHED = True


def cpu_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype a suite family runs with on the CPU interpreter (bf16 arithmetic is broken)."""
    return torch.float16 if dtype == torch.bfloat16 else dtype
