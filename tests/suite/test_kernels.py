"""Every suite family binds and matches its torch reference on its tiny shapes (CPU interpreter)."""

from __future__ import annotations

import os

import helion
import pytest
import torch

from helion_learned.training.suite.interpret import apply_cpu_patches
from helion_learned.training.suite.interpret import cpu_dtype
from helion_learned.training.suite.registry import SUITE
from helion_learned.training.suite.registry import SuiteKernel
from helion_learned.training.suite.registry import workloads

_CASES = [(sk.family, shape) for sk, shape in workloads(tiny=True)]


@pytest.fixture(scope="module", autouse=True)
def _cpu_harness() -> None:
    assert os.environ.get("TRITON_INTERPRET") == "1", "tests/conftest.py must set TRITON_INTERPRET"
    apply_cpu_patches()


def _no_autotune(sk: SuiteKernel) -> helion.Kernel:
    # A fresh kernel: the suite's module-level kernels stay untouched, and effort "none" runs
    # Helion's default config instead of autotuning on the interpreter.
    settings = {**sk.kernel.settings.to_dict(), "autotune_effort": "none"}
    return helion.kernel(sk.kernel.fn, **settings)


@pytest.mark.parametrize(("family", "shape"), _CASES, ids=[f"{f}-{'x'.join(map(str, s))}"
                                                           for f, s in _CASES])
def test_family_matches_reference(family: str, shape: tuple[int, ...]) -> None:
    sk = SUITE[family]
    torch.manual_seed(0)
    args = sk.make_args(shape, cpu_dtype(sk.dtype), "cpu")
    out = _no_autotune(sk)(*args)
    expected = sk.reference(*args)
    # Some kernels return several tensors (e.g. a backward pass's two gradients).
    outs, exps = (out, expected) if isinstance(out, tuple) else ((out,), (expected,))
    assert len(outs) == len(exps)
    for o, e in zip(outs, exps, strict=True):
        assert o.dtype == e.dtype and o.shape == e.shape
    torch.testing.assert_close(out, expected, rtol=sk.rtol, atol=sk.atol)


def test_suite_size_and_shapes() -> None:
    assert len(SUITE) >= 20
    for sk in SUITE.values():
        assert len(set(sk.shapes)) == len(sk.shapes) >= 10, sk.family
        assert 1 <= len(sk.tiny_shapes) <= 2, sk.family
        # Online validation needs sizes the collected data never saw.
        assert len(sk.online_shapes) >= 2 and not set(sk.online_shapes) & set(sk.shapes), sk.family
        assert sk.kernel.settings.static_shapes and not sk.kernel.configs, sk.family


def test_args_are_random_and_nonzero() -> None:
    for sk in SUITE.values():
        for arg in sk.make_args(sk.tiny_shapes[0], cpu_dtype(sk.dtype), "cpu"):
            if isinstance(arg, torch.Tensor) and arg.is_floating_point():
                arg = arg.float()  # fp8 has no sum/std
                assert arg.abs().sum() > 0 and arg.std() > 0, sk.family


@pytest.mark.parametrize("family", list(SUITE))
def test_gpu_shapes_fit_memory(family: str) -> None:
    # Meta tensors: sizes without allocating. Inputs + one output-sized buffer stay under ~2 GB.
    sk = SUITE[family]
    for shape in (*sk.shapes, *sk.online_shapes):
        args = sk.make_args(shape, sk.dtype, "meta")
        tensors = [a for a in args if isinstance(a, torch.Tensor)]
        total = sum(t.numel() * t.element_size() for t in tensors)
        total += max(t.numel() * t.element_size() for t in tensors)
        assert total < 2.2 * 2**30, (family, shape, total / 2**30)
