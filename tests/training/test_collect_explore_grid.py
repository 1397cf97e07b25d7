"""The collector's exploring grid (stop 21): regions no log has measured as grid configs.

Split-K: the grid axis that splits a matmul's K is told from batch axes. Helion's quick search on
an H200 found a split-K program over 256 K elements 5x faster than any config the grid offered,
which held every program to 16 (reports/online_h200). Matmul tiles: the register rule counted
m x n x k, so the grid never offered 128x128x64, Helion's own heuristic's tile. The collector now
offers both; the adapter keeps the old grid until logs have measured them.
"""

from __future__ import annotations

import helion
import torch

from helion_learned.models.candidates import candidate_grid
from helion_learned.models.candidates import split_k_axes
from helion_learned.models.candidates import validate
from helion_learned.training.collect.configs import grid as collector_grid
from helion_learned.training.suite import kernels as K
from tests.runtime.test_contiguity import bound_facts


def _split_k_args(m: int = 32, k: int = 1024, n: int = 40) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randn(m, k), torch.randn(k, n)


def test_split_k_axis_is_found_in_split_k_and_in_no_other_matmul() -> None:
    facts = bound_facts(K.matmul_split_k, _split_k_args())
    outer, inner = split_k_axes(facts)
    assert facts.blocks[outer].role == "grid" and facts.blocks[inner].role == "k"
    # A batch axis is no split-K axis, even where its extent equals K (bmm 64 x 256 x 64 x 256).
    assert split_k_axes(bound_facts(K.bmm, (torch.randn(4, 8, 4), torch.randn(4, 4, 8)))) is None
    assert split_k_axes(bound_facts(K.matmul, (torch.randn(32, 64), torch.randn(64, 40)))) is None


def test_collector_offers_wide_k_ranges_and_the_adapter_grid_does_not_yet() -> None:
    args = _split_k_args()
    facts = bound_facts(K.matmul_split_k, args)
    outer, inner = split_k_axes(facts)
    bind_time = candidate_grid(facts)
    assert {c["block_sizes"][outer] for c in bind_time} == {16}  # unchanged until measured
    wide = candidate_grid(facts, explore=True)
    assert {c["block_sizes"][outer] for c in wide} == {16, 64, 256, 1024}
    assert all(c["block_sizes"][inner] <= c["block_sizes"][outer] for c in wide)
    sampled = collector_grid(facts, 64, 0)
    assert len(sampled) == 64 and max(c["block_sizes"][outer] for c in sampled) > 16
    spec = K.matmul_split_k.bind(args).config_spec
    assert all(validate(spec, c) is not None for c in wide)


def test_a_wide_k_range_config_runs_and_matches_torch() -> None:
    x, y = _split_k_args()
    facts = bound_facts(K.matmul_split_k, (x, y))
    outer, inner = split_k_axes(facts)
    cfg = next(c for c in candidate_grid(facts, explore=True)
               if c["block_sizes"][outer] == 256 and c["block_sizes"][inner] == 64)
    bound = K.matmul_split_k.bind((x, y))
    out = bound.compile_config(helion.Config(**cfg))(x, y)
    torch.testing.assert_close(out, x @ y, rtol=1e-4, atol=1e-3)


def test_explore_offers_matmul_tiles_past_the_old_register_rule_and_they_run() -> None:
    x, y = torch.randn(128, 64), torch.randn(64, 128)
    facts = bound_facts(K.matmul, (x, y))
    big = [c for c in candidate_grid(facts, explore=True, max_candidates=10**6)
           if c["block_sizes"][0] * c["block_sizes"][1] * c["block_sizes"][2] > 1 << 18]
    assert big and not [c for c in candidate_grid(facts, max_candidates=10**6)
                        if c["block_sizes"][0] * c["block_sizes"][1] * c["block_sizes"][2]
                        > 1 << 18]
    cfg = next(c for c in big if c["block_sizes"] == [128, 128, 64])
    bound = K.matmul.bind((x, y))
    assert validate(bound.config_spec, cfg) is not None
    torch.testing.assert_close(bound.compile_config(helion.Config(**cfg))(x, y), x @ y,
                               rtol=1e-4, atol=1e-3)
