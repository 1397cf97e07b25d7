"""The contiguous-tile feature on real bound Helion kernels (CPU bind) and on the recorded H100 facts."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from helion_learned.features.contiguity import contiguous_axis
from helion_learned.features.facts import facts_from_env
from helion_learned.features.hardware import resolve_target
from helion_learned.features.vectorize import FeatureExtractor
from helion_learned.training.logs import LogSet
from helion_learned.training.logs import load_logs
from helion_learned.training.suite import kernels as K

H100 = resolve_target("h100")
COL = FeatureExtractor().feature_names.index("d_contig_tile_bytes_log2")


def bound_facts(kernel, args):
    # As Helion's seed hooks see them: the runtime args are set, so the facts record the inputs.
    bound = kernel.bind(args)
    with bound.env, bound.env.use_runtime_arg_values(dict(zip(kernel.signature.parameters, args,
                                                                strict=False))):
        return facts_from_env(bound.env, bound.host_function.device_ir)


@pytest.fixture(scope="module")
def h100_logs() -> LogSet:
    return load_logs([Path(__file__).resolve().parents[2] / "data" / "h100"])


def _feature(facts, configs) -> np.ndarray:
    return FeatureExtractor().transform(facts, H100, configs)[:, COL]


def test_row_sum_reduces_along_the_stride1_axis_col_mean_across_it() -> None:
    x = torch.randn(64, 1000)
    row, col = bound_facts(K.row_sum, (x,)), bound_facts(K.col_mean, (x,))
    # Same shape of facts (one grid block, one full-slice reduction) ...
    assert [b.role for b in row.blocks] == [b.role for b in col.blocks] == ["grid"]
    # ... but the stride-1 axis (1000 long) is the reduction in one and the grid tile in the other.
    r, c = contiguous_axis(row), contiguous_axis(col)
    assert (r.block, r.extent, r.itemsize) == (None, 1000, 4)
    assert (c.block, c.extent, c.itemsize) == (0, 1000, 4)


def test_col_mean_feature_follows_the_grid_tile() -> None:
    facts = bound_facts(K.col_mean, (torch.randn(64, 1000),))
    configs = [{"block_sizes": [bs], "reduction_loops": [None]} for bs in (1, 16, 128, 4096)]
    # 4 bytes per element; a tile longer than the (padded) 1024 extent spans no more bytes.
    np.testing.assert_array_equal(_feature(facts, configs), np.float32([2, 6, 9, 12]))


def test_row_sum_feature_follows_the_reduction_chunk() -> None:
    facts = bound_facts(K.row_sum, (torch.randn(64, 1000, dtype=torch.bfloat16),))
    assert facts.num_reduction_loops == 1
    configs = [{"block_sizes": [bs], "reduction_loops": [loop]}
               for bs, loop in ((1, None), (8, None), (1, 64), (32, 256))]
    # Persistent: the whole row (1024 padded × 2 bytes); looped: the chunk; the grid tile is moot.
    np.testing.assert_array_equal(_feature(facts, configs), np.float32([11, 11, 7, 9]))


def test_matmul_uses_the_block_on_the_main_inputs_stride1_axis() -> None:
    a, b = torch.randn(256, 64, dtype=torch.float16), torch.randn(64, 512, dtype=torch.float16)
    facts = bound_facts(K.matmul, (a, b))
    axis = contiguous_axis(facts)  # largest input: b (64 × 512), stride-1 along n
    assert facts.blocks[axis.block].role == "n" and (axis.extent, axis.itemsize) == (512, 2)


def test_no_inputs_means_missing_not_zero() -> None:
    facts = bound_facts(K.add, (torch.randn(32, 48), torch.randn(32, 48)))
    bare = type(facts)(**{**facts.__dict__, "inputs": ()})
    assert contiguous_axis(bare) is None
    assert math.isnan(_feature(bare, [{"block_sizes": [1, 32]}])[0])


@pytest.mark.parametrize("family", ["col_mean", "row_sum", "softmax", "add", "matmul"])
def test_recorded_h100_facts_resolve(family: str, h100_logs) -> None:
    workloads = [w for w in h100_logs.workloads if w.kernel_name == family]
    assert workloads
    for w in workloads:
        axis = contiguous_axis(w.facts)
        assert axis is not None, w.input_shapes
        if family == "col_mean":
            assert axis.block is not None and w.facts.blocks[axis.block].role == "grid"
        if family in ("row_sum", "softmax"):
            assert axis.block is None  # the row is the stride-1 axis
