"""Out-of-core training (helion_learned.training.external_memory) at small size, on real H100 logs.

The external-memory model must agree with the in-memory one (same rows, XGBoost's batched
quantile sketch instead of the whole-matrix one), for regression and ranking objectives, and
``helion-learned train --external-memory`` must write a normal, loadable bundle.
"""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import pearsonr
from scipy.stats import spearmanr

from helion_learned.cli import main
from helion_learned.models.bundle import ModelBundle
from helion_learned.models.ranker import CostModel
from helion_learned.training.dataset import build_dataset
from helion_learned.training.external_memory import LogStream
from helion_learned.training.external_memory import dataset_chunks
from helion_learned.training.external_memory import fit_external
from helion_learned.training.external_memory import write_shards
from helion_learned.training.logs import load_logs

DATA = Path(__file__).resolve().parents[2] / "data" / "h100"
BASES = ("shard0_vm_1148", "shard0_vm_18371", "shard1_vm_1149")


def _files(bases: tuple[str, ...] = BASES) -> list[Path]:
    return [DATA / f"{b}{s}.gz" for b in bases for s in (".csv", ".meta.jsonl", ".facts.jsonl")]


@pytest.fixture(scope="module")
def ds():
    return build_dataset(load_logs(_files()))


@pytest.mark.parametrize("objective", ["regression", "pairwise"])
def test_external_model_matches_in_memory(ds, tmp_path: Path, objective: str) -> None:
    params = {"objective": objective, "n_estimators": 40, "max_depth": 5, "n_jobs": 1}
    memory = CostModel(**params).fit(ds.X, ds.y, ds.row_group, feature_names=ds.feature_names)
    external = fit_external(CostModel(**params), dataset_chunks(ds, workloads_per_chunk=3),
                            tmp_path, feature_names=ds.feature_names)
    assert external.n_features_in_ == ds.X.shape[1]
    assert external.feature_names_ == ds.feature_names
    a, b = memory.score(ds.X), external.score(ds.X)
    assert pearsonr(a, b).statistic > 0.98
    within = [spearmanr(a[ds.rows(g)], b[ds.rows(g)]).statistic for g in range(len(ds.groups))]
    assert np.median(within) > 0.95  # the ranking inside each workload is what picks configs
    assert not any(tmp_path.iterdir())  # shards and XGBoost's page cache are cleaned up


def test_shards_keep_groups_whole_and_check_shapes(ds, tmp_path: Path) -> None:
    shards = write_shards(dataset_chunks(ds, workloads_per_chunk=4), tmp_path)
    assert (shards.n_rows, shards.n_groups) == (len(ds.y), len(ds.groups))
    qids = [np.load(q) for _, _, q in shards.files]
    assert all(np.all(np.diff(q) >= 0) for q in qids)  # sorted within a shard
    assert all(a[-1] < b[0] for a, b in itertools.pairwise(qids))  # never split
    bad = [(np.zeros((3, 2)), np.zeros(3), np.zeros(3)), (np.zeros((3, 5)), np.zeros(3),
                                                          np.ones(3))]
    with pytest.raises(ValueError, match="features"):
        write_shards(bad, tmp_path / "bad")


def test_stream_summary_matches_in_memory_dataset(ds) -> None:
    stream = LogStream(_files(), cv_workloads=5)
    chunks = list(stream)
    assert len(chunks) == len(BASES)  # one chunk per log base
    assert sum(len(y) for _, y, _ in chunks) == len(ds.y)
    assert stream.summary.fingerprint() == ds.fingerprint()
    sample = stream.sample_dataset()
    assert len(sample.groups) == 5
    run_ids = [g.run_id for g in sample.groups]
    assert run_ids == sorted(run_ids)
    for gi, g in enumerate(sample.groups):
        full = next(i for i, h in enumerate(ds.groups) if h.run_id == g.run_id)
        np.testing.assert_array_equal(sample.X[sample.rows(gi)], ds.X[ds.rows(full)])


def test_cli_external_memory_writes_loadable_bundle(ds, tmp_path: Path, capsys) -> None:
    cache = tmp_path / "cache"
    argv = ["train", *map(str, _files()), "-o", str(tmp_path / "bundle"), "--quiet",
            "--n-estimators", "20", "--jobs", "1", "--external-memory", str(cache),
            "--cv-workloads", "12", "--format", "json"]
    assert main(argv) == 0
    bundle = ModelBundle.load(tmp_path / "bundle")
    meta = bundle.metadata
    assert meta["training_data"]["n_workloads"] == len(ds.groups)
    assert meta["training_data"]["n_rows"] == len(ds.y)
    assert meta["training_data"]["fingerprint"] == ds.fingerprint()
    assert meta["external_memory"]["calibration_sample_workloads"] == 12
    assert bundle.model.score(ds.X[:5]).shape == (5,)
    assert list(cache.iterdir()) == []  # nothing left behind in the cache directory


def test_workload_split_over_two_bases_is_refused(tmp_path: Path, capsys) -> None:
    for name in ("a", "b"):  # the same run ids in two log bases: in memory they would merge
        for f in _files(BASES[:1]):
            shutil.copy(f, tmp_path / f.name.replace(BASES[0], name))
    code = main(["train", str(tmp_path), "-o", str(tmp_path / "bundle"), "--quiet",
                 "--external-memory", str(tmp_path / "cache")])
    assert code == 2
    err = capsys.readouterr().err
    assert "two log bases" in err and "Fix:" in err
