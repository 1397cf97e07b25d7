"""A kernel's structure signature (the part of its expert / known-kernel key that is not its
name) is the same at every shape and dtype the suite binds it at, and tells kernels apart by
their bodies: real suite kernels bound on CPU."""

from __future__ import annotations

import collections

import pytest

from helion_learned.features.facts import facts_from_env
from helion_learned.models.kernel_experts import structure_signature
from helion_learned.training.suite.registry import SUITE
from tests.suite._common import fresh


def _signatures() -> dict[str, set[str]]:
    """Kernel function name -> signatures over all its families, tiny shapes and dtypes."""
    out: dict[str, set[str]] = collections.defaultdict(set)
    for sk in SUITE.values():
        kernel = fresh(sk)
        for shape in sk.tiny_shapes:
            args = sk.make_args(shape, sk.dtype, "cpu")
            kernel.reset()
            bound = kernel.bind(args)
            facts = facts_from_env(bound.env, bound.host_function.device_ir)
            out[sk.kernel.fn.__name__].add(structure_signature(facts))
    return out


@pytest.fixture(scope="module")
def signatures() -> dict[str, set[str]]:
    return _signatures()


def test_one_signature_per_kernel_across_shapes_and_dtypes(signatures: dict[str, set[str]]
                                                            ) -> None:
    many = {name: sorted(sigs) for name, sigs in signatures.items() if len(sigs) != 1}
    assert not many, many
    # The suite binds some kernels at several dtypes (matmul fp16 / bf16 / fp32): still one.
    dtypes = collections.defaultdict(set)
    for sk in SUITE.values():
        dtypes[sk.kernel.fn.__name__].add(sk.dtype)
    assert any(len(d) > 1 for d in dtypes.values())


def test_signatures_tell_most_kernel_bodies_apart(signatures: dict[str, set[str]]) -> None:
    # Kernels of one body under two names (none in the suite) would share one; structurally
    # alike kernels (two pointwise ops with the same op classes) may too, but they are few.
    distinct = {next(iter(s)) for s in signatures.values()}
    assert len(distinct) >= 0.8 * len(signatures), (len(distinct), len(signatures))
