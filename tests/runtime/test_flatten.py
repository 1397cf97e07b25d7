"""Flattened pointwise tiles (stop 20): candidates, features and a real flattened seed on CPU.

Helion's ``flatten_loops`` turns a 2-D tile into one 1-D block of the sizes' product that runs on
across rows. The grid offers it for pointwise kernels, the features read it, and the seeds carry it.
"""

from __future__ import annotations

import math

import helion
import numpy as np
import torch

from helion_learned.features.config import partial_config
from helion_learned.features.hardware import resolve_target
from helion_learned.features.vectorize import FeatureExtractor
from helion_learned.models.candidates import candidate_grid
from helion_learned.models.candidates import validate
from helion_learned.training.suite import kernels as K
from tests.runtime.test_contiguity import bound_facts

H100 = resolve_target("h100")
NAMES = FeatureExtractor().feature_names


def _flattened(configs: list[dict]) -> list[dict]:
    return [c for c in configs if c.get("flatten_loops")]


def test_pointwise_grid_offers_one_flattened_config_per_block_product_and_warps() -> None:
    args = (torch.randn(30, 97), torch.randn(30, 97))
    facts = bound_facts(K.add, args)
    assert facts.num_flatten_loops == 1 and len(facts.grid_block_ids) == 2
    grid = candidate_grid(facts)
    flat = _flattened(grid)
    plain = [c for c in grid if not c.get("flatten_loops")]
    assert flat and plain
    keys = [(math.prod(c["block_sizes"]), c["num_warps"]) for c in flat]
    assert len(keys) == len(set(keys))  # [32, 64] and [64, 32] flattened are the same kernel
    assert set(keys) == {(math.prod(c["block_sizes"]), c["num_warps"]) for c in plain}
    # Every one survives Helion's own seed path, as a bind-time seed must.
    spec = K.add.bind(args).config_spec
    assert all(validate(spec, c) is not None for c in flat)
    # The seed keeps the flag (a decided field) as plain bools.
    seed = partial_config(flat[0], facts)
    assert seed["flatten_loops"] == [True] and type(seed["flatten_loops"][0]) is bool


def test_flattened_seed_runs_as_one_1d_block_and_matches_torch() -> None:
    x, y = torch.randn(30, 97), torch.randn(30, 97)
    facts = bound_facts(K.add, (x, y))
    cfg = next(c for c in _flattened(candidate_grid(facts)) if math.prod(c["block_sizes"]) == 256)
    bound = K.add.bind((x, y))
    code = bound.to_triton_code(helion.Config(**cfg))
    assert "tl.constexpr(256)" in code  # one block of the product, not a 2-D tile
    torch.testing.assert_close(bound.compile_config(helion.Config(**cfg))(x, y), x + y)


def test_reductions_and_matmuls_get_no_flattened_candidates() -> None:
    x = torch.randn(64, 1000)
    a, b = torch.randn(64, 32), torch.randn(32, 48)
    for facts in (bound_facts(K.row_sum, (x,)), bound_facts(K.matmul, (a, b))):
        assert not _flattened(candidate_grid(facts)), facts.kind


def test_features_read_a_flattened_tile_as_one_block_over_the_rows() -> None:
    # 300 x 4097 fp32: a 32 x 32 tile flattened is 1024 contiguous elements, 2-D it is 32.
    args = (torch.randn(300, 4097), torch.randn(300, 4097))
    facts = bound_facts(K.add, args)
    configs = [{"block_sizes": [32, 32]}, {"block_sizes": [32, 32], "flatten_loops": [True]},
               {"block_sizes": [32, 32], "flatten_loops": [True], "loop_orders": [[1, 0]]}]
    X = FeatureExtractor().transform(facts, H100, configs)
    col = {n: X[:, NAMES.index(n)] for n in ("cfg_flatten", "d_contig_tile_bytes_log2",
                                              "d_programs_log2", "d_padding_waste")}
    np.testing.assert_array_equal(col["cfg_flatten"], [0, 1, 1])
    # 32 fp32 elements along the row (7 = log2 128 bytes); flattened 1024 (12); the transposed
    # loop order walks the other axis first, so its span stays that of the row block.
    np.testing.assert_array_equal(col["d_contig_tile_bytes_log2"], np.float32([7, 12, 7]))
    np.testing.assert_allclose(col["d_programs_log2"][0], math.log2(10 * 129), rtol=1e-6)
    np.testing.assert_allclose(col["d_programs_log2"][1], math.log2(math.ceil(300 * 4097 / 1024)),
                               rtol=1e-6)
    # 2-D: 300 rows pad to 320 and 4097 columns to 4128; flattened only the last block pads.
    padded = math.ceil(300 * 4097 / 1024) * 1024 / (300 * 4097) - 1
    np.testing.assert_allclose(col["d_padding_waste"][1], padded, rtol=1e-5)
    assert col["d_padding_waste"][0] > col["d_padding_waste"][1]


def test_cute_features_are_unchanged_by_the_triton_flatten_column() -> None:
    cute = FeatureExtractor(backend="cute").feature_names
    assert "cfg_flatten" not in cute and "cfg_cute_flatten" in cute
    assert NAMES[-1] == "cfg_flatten"


def test_flatten_check_reads_both_picks_off_the_held_out_h200_logs() -> None:
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    sys.path.insert(0, str(root / "experiments" / "flatten_check"))
    import flatten_check

    result = flatten_check.run([root / "data" / "h200_flatten"],
                               root / "helion_learned" / "models" / "artifacts" / "triton" /
                               "cuda_sm90")
    assert result["n_workloads"] >= 20 and result["hardware"] == ["NVIDIA H200"]
    for r in result["workloads"]:
        v = r["rel"]
        if r["family"] in ("add", "fma", "gelu", "silu"):  # elementwise: flattened twins sampled
            assert r["n_flattened"] > 0
        elif r["family"] == "concat":  # Helion offers no flatten_loops there
            assert r["n_flattened"] == 0 and not r["learned_flattened"]
        assert v["learned"] <= v["best_bind_time"] and v["best_bind_time"] <= 1.0
        assert v["learned_no_flatten"] <= v["best_bind_time_no_flatten"] <= v["best_bind_time"]
        # Without the flattened configs the pick can only change where the shipped one is one.
        if not r["learned_flattened"]:
            assert v["learned"] == v["learned_no_flatten"]
    assert result["learned_picks_flattened"] == sum(r["learned_flattened"]
                                                    for r in result["workloads"])
