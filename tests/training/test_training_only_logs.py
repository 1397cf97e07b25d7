"""Training-only logs (`--extra-logs`, ``Dataset.with_training_only``) on real H100 + H200 logs.

Another GPU's logs may train the model, but the evaluation must stay the scored logs' own: the
same folds, no held-out shape's twin in training, metrics and calibration from scored groups only,
and a bundle that fires only where it was evaluated.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from helion_learned.training.dataset import Dataset
from helion_learned.training.dataset import build_dataset
from helion_learned.training.evaluate import folds
from helion_learned.training.evaluate import group_outcomes
from helion_learned.training.evaluate import oof_scores
from helion_learned.training.logs import load_logs
from helion_learned.training.train import train_bundle

REPO = Path(__file__).resolve().parents[2]
H100, H200_GRAPH = REPO / "data" / "h100", REPO / "data" / "h200_graph"
SMALL: dict[str, Any] = {"n_estimators": 20, "max_depth": 3, "n_jobs": 1}


def _key(g: Any) -> tuple[str, str, str]:
    return (g.family, g.input_shapes, g.dtypes)


@pytest.fixture(scope="module")
def h100() -> Dataset:
    return build_dataset(load_logs([H100]))


@pytest.fixture(scope="module")
def h200() -> Dataset:
    return build_dataset(load_logs([H200_GRAPH]))


@pytest.fixture(scope="module")
def joint(h100: Dataset, h200: Dataset) -> Dataset:
    return h100.with_training_only(h200)


def test_joint_dataset_marks_the_extra_groups(h100: Dataset, h200: Dataset,
                                              joint: Dataset) -> None:
    n = len(h100.groups)
    assert len(joint.groups) == n + len(h200.groups) and len(joint.y) == len(h100.y) + len(h200.y)
    assert joint.scored_groups.tolist() == list(range(n))
    assert not any(joint.is_scored(i) for i in range(n, len(joint.groups)))
    np.testing.assert_array_equal(joint.X[len(h100.y):], h200.X)
    assert set(joint.row_group[len(h100.y):].tolist()) == set(range(n, len(joint.groups)))
    summary = joint.training_only_summary()
    assert summary is not None and h100.training_only_summary() is None
    twins = sum(_key(g) in {_key(s) for s in h100.groups} for g in h200.groups)
    assert 0 < twins < len(h200.groups)  # data/h200_graph: 15 twins, 47 new shapes
    assert summary["n_workloads"] == len(h200.groups) and summary["twins_of_scored"] == twins
    assert summary["hardware"] == ["NVIDIA H200"]
    sub = joint.subset([0, 1, n, n + 1])
    assert sub.scored is not None and sub.scored.tolist() == [True, True, False, False]


def test_scored_folds_are_unchanged_and_twins_are_held_out_together(
        h100: Dataset, h200: Dataset, joint: Dataset) -> None:
    n = len(h100.groups)
    for seed in (0, 1):
        alone = folds(h100, "leave_shape_out", seed=seed)
        both = folds(joint, "leave_shape_out", seed=seed)
        assert len(both) == len(alone)
        fold_of = {}
        for f, (a, b) in enumerate(zip(alone, both, strict=True)):
            assert b[b < n].tolist() == a.tolist()  # the H100 folds are the report's own
            fold_of.update({int(g): f for g in b})
        h100_fold = {_key(h100.groups[g]): fold_of[g] for g in range(n)}
        for gi in range(n, len(joint.groups)):
            key = _key(joint.groups[gi])
            if key in h100_fold:
                assert fold_of[gi] == h100_fold[key]  # held out with its H100 twin
            else:
                assert gi not in fold_of  # a new shape is in no fold: it always trains
    lfo = folds(joint, "leave_family_out")
    assert len(lfo) == len(folds(h100, "leave_family_out"))
    for test in lfo:
        fams = {joint.groups[g].family for g in test}
        assert len(fams) == 1
        assert test.tolist() == [g for g in range(len(joint.groups))
                                 if joint.groups[g].family in fams]


def test_outcomes_cover_the_scored_groups_only(h100: Dataset, joint: Dataset) -> None:
    scores = np.arange(len(joint.y), dtype=float)
    outcomes = group_outcomes(joint, scores)
    assert [o.group for o in outcomes] == list(range(len(h100.groups)))
    alone = group_outcomes(h100, scores[:len(h100.y)])
    assert [o.rel_pick for o in outcomes] == [o.rel_pick for o in alone]


def test_extra_rows_change_the_held_out_scores(h100: Dataset, joint: Dataset) -> None:
    # Same folds, same seed: the only difference is the H200 rows in every fold's training set.
    ds_small = _first_families(joint, ("matmul", "silu", "add"))
    alone = ds_small.subset(ds_small.scored_groups)
    a = oof_scores(alone, "leave_shape_out", SMALL, experts=False)
    b = oof_scores(ds_small, "leave_shape_out", SMALL, experts=False)
    scored_rows = np.isin(ds_small.row_group, ds_small.scored_groups)
    assert not np.isnan(a).any() and not np.isnan(b[scored_rows]).any()
    assert not np.allclose(a, b[scored_rows])


def _first_families(ds: Dataset, fams: tuple[str, ...]) -> Dataset:
    return ds.subset([i for i, g in enumerate(ds.groups) if g.family in fams])


def test_bundle_fires_only_on_the_scored_gpu(joint: Dataset) -> None:
    ds = _first_families(joint, ("matmul", "silu", "add"))
    result = train_bundle(ds, params=SMALL, n_jobs=1, experts=False)
    assert len(result.outcomes) == len(ds.scored_groups)
    assert [t["devices"] for t in result.bundle.targets] == [["NVIDIA H100"]]
    data = result.bundle.metadata["training_data"]
    assert data["hardware"] == ["NVIDIA H100"] and data["n_workloads"] == len(ds.scored_groups)
    assert data["training_only"]["hardware"] == ["NVIDIA H200"]
    assert data["fingerprint"] != ds.subset(ds.scored_groups).fingerprint()


def test_refuses_what_would_count_twice(h100: Dataset, h200: Dataset, joint: Dataset) -> None:
    with pytest.raises(ValueError, match="in both the logs and the training-only logs"):
        h100.with_training_only(h100.subset([0, 1]))
    with pytest.raises(ValueError, match="call it once"):
        joint.with_training_only(h200)
    other = Dataset(h200.groups, h200.X, h200.y, h200.row_group, h200.feature_names,
                    {}, backend="cute")
    with pytest.raises(ValueError, match="per backend"):
        h100.with_training_only(other)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "helion_learned.cli", *args],
                          capture_output=True, text=True, cwd=REPO, timeout=600)


def test_cli_train_with_extra_logs(tmp_path: Path) -> None:
    # A few real shard bases: 13 H100 workloads scored, 10 H200 ones training only.
    h100_bases = sorted({p.name.split(".")[0] for p in H100.glob("shard1*_vm_*.csv.gz")})[:4]
    h200_bases = sorted({p.name.split(".")[0] for p in H200_GRAPH.glob("shard*_r1.csv.gz")})[:3]
    out = tmp_path / "bundle"
    proc = _cli("train", *(str(H100 / b) for b in h100_bases), "--extra-logs",
                *(str(H200_GRAPH / b) for b in h200_bases), "-o", str(out), "--quiet",
                "--n-estimators", "20", "--max-depth", "3", "--jobs", "1", "--experts", "off",
                "--format", "json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    meta = json.loads((out / "metadata.json").read_text())
    extra = meta["training_data"]["training_only"]
    assert extra["n_workloads"] > 0 and extra["hardware"] == ["NVIDIA H200"]
    assert meta["training_data"]["hardware"] == ["NVIDIA H100"]
    shown = _cli("inspect", str(out))
    assert shown.returncode == 0 and "training-only workloads" in shown.stdout


def test_cli_refuses_extra_logs_without_training(tmp_path: Path) -> None:
    proc = _cli("evaluate", str(H100 / "shard0_vm_1016"), "--model",
                str(REPO / "helion_learned" / "models" / "artifacts" / "triton" / "cuda_sm90"),
                "--extra-logs", str(H200_GRAPH), "-o", str(tmp_path / "r"))
    assert proc.returncode == 2 and "--extra-logs" in proc.stderr
    proc = _cli("train", str(H100 / "shard0_vm_1016"), "--extra-logs", str(H200_GRAPH),
                "--external-memory", str(tmp_path / "x"), "-o", str(tmp_path / "b"))
    assert proc.returncode == 2 and "--external-memory" in proc.stderr


def test_extra_logs_benchmark_reports_both_arms(tmp_path: Path) -> None:
    # experiments/extra_logs/extra_logs.py on a few real shard bases, one seed, no LFO.
    sys.path.insert(0, str(REPO / "experiments" / "extra_logs"))
    import extra_logs

    h100 = sorted({p.name.split(".")[0] for p in H100.glob("shard1*_vm_*.csv.gz")})[:4]
    h200 = sorted({p.name.split(".")[0] for p in H200_GRAPH.glob("shard*_r1.csv.gz")})
    out = tmp_path / "rep"
    assert extra_logs.main([*(str(H100 / b) for b in h100), "--extra",
                            *(str(H200_GRAPH / b) for b in h200), "--seeds", "1", "--no-lfo",
                            "-o", str(out)]) == 0
    result = json.loads((out / "summary.json").read_text())
    arms = result["arms"]
    assert list(arms) == ["logs alone", "with training-only logs"]
    n = result["n_scored"]
    for arm in arms.values():
        (run,) = arm["runs"]
        assert run["leave_shape_out"]["n"] == n  # only the scored workloads are scored
        assert 0.0 <= run["gate"]["0.05"]["coverage"] <= 1.0
    alone, joint = (a["runs"][0]["leave_shape_out"]["geomean"] for a in arms.values())
    assert result["paired_geomean_delta"]["mean"] == pytest.approx(joint - alone)
    assert 0 <= result["n_twins"] <= result["n_extra"]
    assert "with training-only logs" in (out / "report.md").read_text()


def test_report_counts_and_names_the_training_only_rows(joint: Dataset) -> None:
    from helion_learned.training.report.evaluation import evaluate_dataset
    from helion_learned.training.report.render import build_document

    ds = _first_families(joint, ("matmul", "silu", "add"))
    result = evaluate_dataset(ds, params=SMALL, n_jobs=1, experts=False)
    scored = [ds.groups[i] for i in ds.scored_groups]
    assert result["dataset"]["n_groups"] == len(scored) < len(ds.groups)
    assert result["dataset"]["hardware"] == ["NVIDIA H100"]
    assert result["dataset"]["training_only"] == ds.training_only_summary()
    for proto in result["protocols"].values():
        assert proto["n_groups"] == len(scored)
        assert {r["hardware"] for r in proto["groups"]} == {"NVIDIA H100"}
    _, _, sections = build_document(result, [])
    headline = sections[0].blocks[0]
    extra = ds.training_only_summary()
    assert f"plus {extra['n_workloads']} training-only workloads on NVIDIA H200" in headline
