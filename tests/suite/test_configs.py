"""Every new family is correct under configs other than Helion's default: one random valid
config per family at its CPU shape (flat pid: the interpreter has no SM count). Collection
benchmarks dozens of configs per workload, so a kernel that is right only at the default
config would poison the training data."""

from __future__ import annotations

import os
import random

import pytest
import torch

from helion_learned.training.suite.interpret import apply_cpu_patches
from helion_learned.training.suite.interpret import cpu_dtype
from helion_learned.training.suite.registry import SUITE
from tests.suite._common import NEW
from tests.suite._common import fresh


@pytest.fixture(scope="module", autouse=True)
def _cpu_harness() -> None:
    assert os.environ.get("TRITON_INTERPRET") == "1", "tests/conftest.py must set TRITON_INTERPRET"
    apply_cpu_patches()


@pytest.mark.parametrize("family", NEW)
def test_random_config_matches_reference(family: str) -> None:
    sk = SUITE[family]
    torch.manual_seed(0)
    random.seed(family)  # Helion's config generation draws from `random`
    args = sk.make_args(sk.tiny_shapes[0], cpu_dtype(sk.dtype), "cpu")
    bound = fresh(sk).bind(args)
    cfg = bound.env.config_spec.create_config_generation(overrides={"pid_type": "flat"}).random_config()
    out = bound.compile_config(cfg)(*args)
    torch.testing.assert_close(out, sk.reference(*args), rtol=sk.rtol, atol=sk.atol,
                               msg=lambda m: f"{family} {dict(cfg.config)}: {m}")
