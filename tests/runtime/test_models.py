"""Features, candidates, cost model, calibration and bundles on facts of real bound Helion kernels."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from helion_learned.features.config import partial_config
from helion_learned.features.facts import KernelFacts
from helion_learned.features.hardware import resolve_target
from helion_learned.features.vectorize import FeatureExtractor
from helion_learned.models.bundle import BundleError
from helion_learned.models.bundle import ModelBundle
from helion_learned.models.calibration import choose_threshold
from helion_learned.models.candidates import structured_grid
from helion_learned.models.candidates import validate
from helion_learned.models.predict import Predictor
from helion_learned.models.ranker import CostModel
from helion_learned.training.suite import kernels as K
from tests._bundles import bound_facts
from tests._bundles import make_bundle

F16 = torch.float16


@pytest.fixture(scope="module")
def matmul_bound():
    K.matmul.reset()
    return K.matmul.bind((torch.randn(300, 200, dtype=F16), torch.randn(200, 500, dtype=F16)))


@pytest.fixture(scope="module")
def bundle_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("models") / "bundle"
    make_bundle(path, threshold=0.5)
    return path


def test_facts_roundtrip_json(matmul_bound) -> None:
    from helion_learned.features.facts import facts_from_env

    facts = facts_from_env(matmul_bound.env, matmul_bound.host_function.device_ir)
    assert facts.kind == "matmul" and facts.kernel_name == "matmul"
    assert [b.role for b in facts.blocks] == ["m", "n", "k"]
    assert facts.matmuls[0]["m"] == 300 and facts.matmuls[0]["k"] == 200
    again = KernelFacts.from_json(facts.to_json())
    assert again == facts and again.fingerprint() == facts.fingerprint()


def test_facts_schema_mismatch_says_how_to_fix(matmul_bound) -> None:
    from helion_learned.features.facts import facts_from_env

    data = facts_from_env(matmul_bound.env, matmul_bound.host_function.device_ir).to_dict()
    data["schema_version"] = 999
    with pytest.raises(ValueError, match="Re-record"):
        KernelFacts.from_dict(data)


def test_feature_vector_is_named_and_missing_is_nan() -> None:
    fe = FeatureExtractor()
    assert len(fe.feature_names) == len(set(fe.feature_names))
    facts = bound_facts(K.softmax, (torch.randn(64, 512),))
    X = fe.transform(facts, resolve_target("sm90"), structured_grid(facts, limit=10))
    assert X.shape == (10, len(fe.feature_names)) and X.dtype == np.float32
    col = dict(zip(fe.feature_names, X[0], strict=True))
    assert math.isnan(col["k_mm_m_log2"])  # softmax has no matmul: missing, not zero
    assert col["k_kind_reduction"] == 1.0 and col["k_red_size_log2"] == 9.0
    assert not np.isinf(X).any()


def test_structured_grid_is_valid_for_helion(matmul_bound) -> None:
    from helion_learned.features.facts import facts_from_env

    facts = facts_from_env(matmul_bound.env, matmul_bound.host_function.device_ir)
    grid = structured_grid(facts)
    assert grid == structured_grid(facts)  # deterministic
    assert 10 < len(grid) <= 400
    sample = structured_grid(facts, limit=25, seed=3)
    assert all(validate(matmul_bound.env.config_spec, c) is not None for c in sample)
    assert all(type(v) is int for c in grid for v in c["block_sizes"])


def test_partial_config_keeps_only_decided_fields() -> None:
    facts = bound_facts(K.add, (torch.randn(64, 64), torch.randn(64, 64)))
    full = {"block_sizes": [np.int64(32), 64], "num_warps": np.int32(4), "num_stages": 1,
            "indexing": ["pointer"] * 3, "l2_groupings": [1], "range_unroll_factors": [0]}
    part = partial_config(full, facts)
    assert part == {"block_sizes": [32, 64], "num_warps": 4, "num_stages": 1, "l2_groupings": [1]}
    assert all(type(v) is int for v in part["block_sizes"])


def test_cost_model_learns_a_ranking() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 5)).astype(np.float32)
    groups = np.repeat(np.arange(30), 20)
    y = 1 / (1 + np.abs(X[:, 0]))  # best where feature 0 is near zero
    for objective in ("regression", "pairwise"):
        model = CostModel(objective=objective, n_estimators=60, max_depth=3).fit(X, y, groups)
        scores = model.score(X)
        corr = np.corrcoef(scores, y)[0, 1] if objective == "regression" else None
        top = [int(np.argmax(scores[groups == g])) for g in range(30)]
        picked = [y[groups == g][t] for g, t in enumerate(top)]
        assert np.mean(picked) > np.mean(y) + 0.1, objective
        if corr is not None:
            assert corr > 0.8


def test_cost_model_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="expected one of"):
        CostModel(objective="magic")
    with pytest.raises(ValueError, match="fit expects"):
        CostModel().fit(np.zeros((3, 2)), np.zeros(2), np.zeros(3))
    with pytest.raises(RuntimeError, match="not fitted"):
        CostModel().score(np.zeros((1, 2)))


def test_threshold_respects_wrong_budget() -> None:
    conf = np.array([0.95, 0.9, 0.85, 0.8, 0.7, 0.6, 0.5, 0.4])
    hits = np.array([1, 1, 1, 1, 0, 1, 0, 0], dtype=bool)
    choice = choose_threshold(conf, hits, wrong_budget=0.05)
    assert choice.threshold == 0.8 and choice.precision == 1.0 and choice.coverage == 0.5
    loose = choose_threshold(conf, hits, wrong_budget=0.2)
    assert loose.threshold == 0.6 and loose.precision >= 0.8
    never = choose_threshold(np.array([0.9]), np.array([False]), wrong_budget=0.05)
    assert never.threshold > 1.0 and never.coverage == 0.0


def test_bundle_roundtrip_predicts_identically(bundle_path: Path) -> None:
    facts = bound_facts(K.add, (torch.randn(128, 96), torch.randn(128, 96)))
    hw = resolve_target("sm90")
    a = Predictor(ModelBundle.load(bundle_path)).predict(facts, hw, top_k=3)
    b = Predictor(ModelBundle.load(bundle_path)).predict(facts, hw, top_k=3)
    assert a.configs == b.configs and a.confidence == b.confidence and len(a.configs) == 3
    meta = json.loads((bundle_path / "metadata.json").read_text())
    assert meta["schema_version"] == 5 and len(meta["checksums"]["model.ubj"]) == 64
    assert not any(p.suffix in (".pkl", ".pickle", ".joblib") for p in bundle_path.rglob("*"))


def _copy(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_bundle_checksum_and_schema_are_checked(bundle_path: Path, tmp_path: Path) -> None:
    tampered = _copy(bundle_path, tmp_path / "tampered")
    with open(tampered / "model.ubj", "ab") as f:
        f.write(b"\0")
    with pytest.raises(BundleError, match="sha256"):
        ModelBundle.load(tampered)
    old = _copy(bundle_path, tmp_path / "old")
    meta = json.loads((old / "metadata.json").read_text())
    meta["feature_schema_version"] = 0
    (old / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match="Re-train"):
        ModelBundle.load(old)
    (old / "metadata.json").write_text("{not json")
    with pytest.raises(BundleError, match="not valid JSON"):
        ModelBundle.load(old)
    with pytest.raises(BundleError, match=r"no metadata\.json"):
        ModelBundle.load(tmp_path / "nowhere")


def test_bundle_device_list_is_checked(bundle_path: Path, tmp_path: Path) -> None:
    bad = _copy(bundle_path, tmp_path / "bad_devices")
    meta = json.loads((bad / "metadata.json").read_text())
    meta["targets"][0]["devices"] = "NVIDIA H100"  # a string, not a list
    (bad / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match=r"targets\[0\]\.devices"):
        ModelBundle.load(bad)


def test_bundle_save_replaces_atomically(bundle_path: Path, tmp_path: Path) -> None:
    bundle = ModelBundle.load(bundle_path)
    target = tmp_path / "out"
    bundle.save(target)
    bundle.save(target)  # overwrite in place: still one valid bundle, no leftovers
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert ModelBundle.load(target).name == bundle.name
