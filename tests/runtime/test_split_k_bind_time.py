"""Bind time offers a split-K kernel wider K ranges only from a model that learned them.

The collector's exploring grid measured split-K programs over 64..4096 K elements
(``data/h200_explore``); every earlier log held them to 16 but for a few random configs. A bundle
records how many of its training workloads measured those ranges (``candidate_rule``); the
predictor offers them only past ``SPLIT_K_RANGE_MIN_WORKLOADS``, and only to split-K kernels.
Models here are small (20 trees) but trained on the real logs.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from helion._compiler import autotuner_heuristics as ah

import helion_learned
from helion_learned import cli
from helion_learned.features.hardware import resolve_target
from helion_learned.models.bundle import ModelBundle
from helion_learned.models.candidates import SPLIT_K_RANGE_MIN_WORKLOADS
from helion_learned.models.candidates import measured_split_k_ranges
from helion_learned.models.candidates import split_k_axes
from helion_learned.models.candidates import validate
from helion_learned.models.predict import Predictor
from helion_learned.training.dataset import Dataset
from helion_learned.training.dataset import build_dataset
from helion_learned.training.logs import load_logs
from helion_learned.training.suite import kernels as K
from helion_learned.training.train import train_bundle
from tests.runtime.test_contiguity import bound_facts

DATA = Path(__file__).resolve().parents[2] / "data"
SMALL = {"n_estimators": 20, "max_depth": 3, "n_jobs": 1}
F16 = torch.float16


def _split_k_only(folder: str) -> Dataset:
    ds = build_dataset(load_logs([DATA / folder]))
    return ds.subset([i for i, g in enumerate(ds.groups) if split_k_axes(g.facts) is not None])


@pytest.fixture(scope="module")
def explored() -> ModelBundle:
    return train_bundle(_split_k_only("h200_explore"), params=SMALL, n_jobs=1,
                        experts=False).bundle


@pytest.fixture(scope="module")
def unexplored() -> ModelBundle:
    return train_bundle(_split_k_only("h100"), params=SMALL, n_jobs=1, experts=False).bundle


def _split_k_bind(m: int = 256, k: int = 65536, n: int = 256):
    # A logged shape (data/h200_explore: its best K range is 1024 or 4096 elements per program).
    args = (torch.randn(m, k, dtype=F16), torch.randn(k, n, dtype=F16))
    return bound_facts(K.matmul_split_k, args), K.matmul_split_k.bind(args).config_spec


# data/h100: one workload (round 7's split-K 16 x 8192 x 128) measured wide K ranges,
# fewer than SPLIT_K_RANGE_MIN_WORKLOADS, so a bundle trained on it still does not offer them.
@pytest.mark.parametrize("folder,expected", [("h200_explore", 16), ("h100", 1),
                                             ("h200_graph", 0)])
def test_only_the_explored_logs_measured_split_k_ranges(folder: str, expected: int) -> None:
    ds = _split_k_only(folder)
    assert len(ds.groups) >= 7  # every folder holds split-K workloads
    assert sum(measured_split_k_ranges(g.facts, g.configs, np.isfinite(g.perf_ms).tolist())
               for g in ds.groups) == expected


def test_the_bundle_records_it_and_the_predictor_reads_it(explored: ModelBundle,
                                                          unexplored: ModelBundle) -> None:
    assert explored.metadata["candidate_rule"]["split_k_range_workloads"] == 16
    assert unexplored.metadata["candidate_rule"]["split_k_range_workloads"] == 1
    assert 1 < SPLIT_K_RANGE_MIN_WORKLOADS
    assert Predictor(explored).split_k_ranges and not Predictor(unexplored).split_k_ranges
    # A bundle from before the field (or with a malformed one) keeps the old grid.
    for rule in (None, {}, {"split_k_range_workloads": "16"},
                 {"split_k_range_workloads": SPLIT_K_RANGE_MIN_WORKLOADS - 1}):
        meta = {k: v for k, v in explored.metadata.items() if k != "candidate_rule"}
        old = dataclasses.replace(explored, metadata={**meta, "candidate_rule": rule})
        assert not Predictor(old).split_k_ranges


def test_a_model_that_learned_k_ranges_seeds_a_wide_one(explored: ModelBundle,
                                                        unexplored: ModelBundle) -> None:
    facts, spec = _split_k_bind()
    outer = split_k_axes(facts)[0]
    h200 = resolve_target("h200")
    wide = Predictor(explored).predict(facts, h200, config_spec=spec, top_k=3)
    assert wide.configs and all(c["block_sizes"][outer] > 16 for c in wide.configs)
    assert all(validate(spec, c) is not None for c in wide.configs)
    narrow = Predictor(unexplored).predict(facts, h200, config_spec=spec, top_k=3)
    assert narrow.configs and {c["block_sizes"][outer] for c in narrow.configs} == {16}
    assert wide.n_candidates > narrow.n_candidates


def test_other_matmuls_keep_the_bind_time_grid(explored: ModelBundle) -> None:
    facts = bound_facts(K.matmul, (torch.randn(256, 512, dtype=F16),
                                   torch.randn(512, 384, dtype=F16)))
    meta = {**explored.metadata, "candidate_rule": {"split_k_range_workloads": 0}}
    before = Predictor(dataclasses.replace(explored, metadata=meta))
    hw = resolve_target("h200")
    assert (Predictor(explored).predict(facts, hw).n_candidates
            == before.predict(facts, hw).n_candidates)


def test_installed_it_seeds_helion_with_the_wide_range(explored: ModelBundle, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture) -> None:
    explored.save(tmp_path / "b")
    assert cli.main(["inspect", str(tmp_path / "b")]) == 0
    assert "offered (16 training workloads measured them)" in capsys.readouterr().out
    before = dict(ah.HEURISTICS_BY_BACKEND)
    K.matmul_split_k.reset()
    helion_learned.install(target="h200", model_dirs=[tmp_path / "b"], threshold=0.0)
    try:
        facts, spec = _split_k_bind()
    finally:
        helion_learned.uninstall()
        K.matmul_split_k.reset()
    assert ah.HEURISTICS_BY_BACKEND == before
    outer = split_k_axes(facts)[0]
    seeds = [s.config for s in spec.compiler_seed_configs]
    assert any(type(s["block_sizes"][outer]) is int and s["block_sizes"][outer] > 16
               for s in seeds), seeds
