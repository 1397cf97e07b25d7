"""Bind-time speed-ups that must not change a result: keys from the caching generation, the
column-wise config columns."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from helion_learned.adapter import helion_candidates
from helion_learned.features.config import config_columns
from helion_learned.features.facts import facts_from_env
from helion_learned.models.candidates import candidate_grid
from helion_learned.models.candidates import canonical_key
from helion_learned.models.keying import key_generation
from helion_learned.models.keying import keying_spec
from helion_learned.training.suite.registry import SUITE


def _bind(family: str):
    sk = SUITE[family]
    dtype = torch.float16 if sk.dtype == torch.bfloat16 else sk.dtype  # no bf16 on CPU here
    sk.kernel.reset()
    return sk.kernel.bind(sk.make_args(sk.tiny_shapes[0], dtype, "cpu"))


@pytest.mark.parametrize("family", ["matmul_fp16", "softmax_bf16", "layer_norm_bf16",
                                    "attention_bf16"])
def test_key_generation_gives_helions_keys(family: str) -> None:
    bound = _bind(family)
    env, device_ir = bound.env, bound.host_function.device_ir
    spec = env.config_spec
    helion = helion_candidates(env, device_ir)
    configs = [*candidate_grid(facts_from_env(env, device_ir))[:40], *helion]
    plain, cached = spec.create_config_generation(), key_generation(spec)
    keys = [canonical_key(spec, c, gen=cached) for c in configs]
    assert keys == [canonical_key(spec, c, gen=plain) for c in configs]
    assert any(k is not None for k in keys)
    # The cached fragment defaults are handed out fresh: mutating one leaves the next intact.
    first = cached._fragment_default_flat()
    first.clear()
    assert cached._fragment_default_flat() == plain._fragment_default_flat()


def test_keying_spec_memoizes_on_a_copy_and_gives_helions_reference() -> None:
    spec = _bind("softmax_bf16").env.config_spec
    before = dict(vars(spec))
    keyed = keying_spec(spec)
    assert keyed is not spec and keyed.block_sizes is spec.block_sizes
    assert dict(vars(spec)) == before  # Helion's own spec gets no memo attributes
    for key in ("num_warps", "host_tensor_descriptors", "cross_loop_pipeline", "no_such_key"):
        assert keyed.supports_config_key(key) == spec.supports_config_key(key)
        assert keyed.supports_config_key(key) == spec.supports_config_key(key)  # memoized
    assert (repr(keyed.autotune_reference_config().config)
            == repr(spec.autotune_reference_config().config))


def test_config_columns_read_each_value_as_float_does() -> None:
    bound = _bind("matmul_fp16")
    facts = facts_from_env(bound.env, bound.host_function.device_ir)
    nb = len(facts.blocks)
    assert nb == 3
    configs = [{"block_sizes": [np.int64(32)] * nb, "num_warps": 4},
               {"block_sizes": [16] * (nb - 1), "num_stages": 3},  # short: the rest is NaN
               {"block_sizes": [True, 64.0, 8], "pid_type": "persistent_blocked",
                "num_sm_multiplier": 2},
               {}]
    cols = config_columns(facts, configs)
    blocks = cols["_blocks"]
    assert blocks.shape == (4, nb) and blocks.dtype == np.float64
    assert blocks[0].tolist() == [32.0] * nb
    assert blocks[1, :nb - 1].tolist() == [16.0] * (nb - 1) and math.isnan(blocks[1, nb - 1])
    assert blocks[2].tolist() == [1.0, 64.0, 8.0] and np.isnan(blocks[3]).all()
    assert cols["cfg_pid_flat"].tolist() == [1.0, 1.0, 0.0, 1.0]
    assert cols["cfg_pid_persistent_blocked"].tolist() == [0.0, 0.0, 1.0, 0.0]
    assert cols["cfg_sm_multiplier_log2"][2] == 1.0 and np.isnan(cols["cfg_sm_multiplier_log2"][0])
    assert cols["cfg_stages"].tolist() == [1.0, 3.0, 1.0, 1.0]
    assert config_columns(facts, [])["_blocks"].shape == (0, nb)
