"""The suite's layout: >= 61 kernels grouped by structure, >= 8 shapes a family, and the
original 24 families and 21 kernel sources exactly as the shipped model was trained on."""

from __future__ import annotations

import hashlib
import inspect

import helion

from helion_learned.training.suite import kernels as K
from helion_learned.training.suite.registry import SUITE
from helion_learned.training.suite.registry import workloads
from tests.suite._common import N_ORIGINAL
from tests.suite._common import NEW
from tests.suite._common import ORIGINAL

# Structure modules of the suite (README.md lists what each holds).
GROUPS = {"pointwise", "gated", "backward", "norm_backward", "norms", "softmax_losses",
          "statistics", "scans", "indexing", "gemm", "matmul_epilogues", "quantized",
          "grouped_gemm", "attention", "recurrences", "layouts", "windows"}
# sha256 of the original families (names, kernels, shapes, tolerances) and of the 21 original
# kernels' source text, as of the shipped bundle's training logs: changing either changes
# workload ids, resume logic or the facts the model was trained on.
ORIGINAL_FAMILIES_SHA = "a6ef3b0b5c657c5c2e4a3f0dd5286336adf36c6e6598d5e75177590865e61f79"
ORIGINAL_SOURCES_SHA = "c5575a0be34355e9184c8c541d8108900f6719bd9eae9e46b208344796be13ab"


def _kernels(names: list[str]) -> list[helion.Kernel]:
    out: dict[int, helion.Kernel] = {}
    for name in names:
        out.setdefault(id(SUITE[name].kernel), SUITE[name].kernel)
    return list(out.values())


def test_kernel_count() -> None:
    kernels = _kernels(list(SUITE))
    assert len(kernels) >= 61, len(kernels)
    assert len(_kernels(ORIGINAL)) == 21


def test_every_family_has_enough_shapes() -> None:
    for sk in SUITE.values():
        assert len(set(sk.shapes)) == len(sk.shapes) >= 8, sk.family
        assert 1 <= len(sk.tiny_shapes) <= 2, sk.family
        assert len(sk.online_shapes) >= 2 and not set(sk.online_shapes) & set(sk.shapes), sk.family


def test_original_families_unchanged_and_first() -> None:
    def fam_repr(name: str) -> str:
        sk = SUITE[name]
        return repr((sk.family, sk.kernel.fn.__name__, sk.shapes, sk.tiny_shapes,
                     sk.online_shapes, str(sk.dtype), sk.rtol, sk.atol))

    digest = hashlib.sha256("\n".join(fam_repr(n) for n in ORIGINAL).encode()).hexdigest()
    assert digest == ORIGINAL_FAMILIES_SHA
    assert [sk.family for sk, _ in workloads()][: len(SUITE[ORIGINAL[0]].shapes)] == [
        ORIGINAL[0]] * len(SUITE[ORIGINAL[0]].shapes)
    assert len(ORIGINAL) == N_ORIGINAL and set(ORIGINAL).isdisjoint(NEW)


def test_original_kernel_sources_unchanged() -> None:
    kernels = sorted(_kernels(ORIGINAL), key=lambda k: k.fn.__name__)
    src = "\n".join(inspect.getsource(k.fn) for k in kernels)
    assert hashlib.sha256(src.encode()).hexdigest() == ORIGINAL_SOURCES_SHA


def test_kernels_live_in_structure_modules_and_are_exported() -> None:
    for kernel in _kernels(list(SUITE)):
        module = kernel.fn.__module__.rsplit(".", 1)[-1]
        assert module in GROUPS, (kernel.fn.__name__, module)
        assert getattr(K, kernel.fn.__name__) is kernel
        assert kernel.settings.static_shapes and not kernel.configs, kernel.fn.__name__


def test_family_names_are_unique_and_say_their_dtype() -> None:
    assert len(SUITE) == len({sk.family for sk in SUITE.values()})
    for name in NEW:
        suffix = name.rsplit("_", 1)[-1]
        assert suffix in {"fp32", "fp16", "bf16", "e4m3", "e5m2", "gemm"}, name
