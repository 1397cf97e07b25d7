"""The second threshold: kernels the training logs never held get the one calibrated on
leave-family-out outcomes (real H100 logs; real Helion kernels bound on CPU)."""

from __future__ import annotations

import json
import logging
import types
from pathlib import Path

import helion
import numpy as np
import pytest
import torch
from helion._compiler import autotuner_heuristics as ah

import helion_learned
from helion_learned.models.bundle import BundleError
from helion_learned.models.bundle import ModelBundle
from helion_learned.models.calibration import choose_threshold
from helion_learned.models.kernel_experts import facts_key
from helion_learned.training.dataset import build_dataset
from helion_learned.training.evaluate import group_outcomes
from helion_learned.training.evaluate import grouped_family_folds
from helion_learned.training.evaluate import oof_scores
from helion_learned.training.logs import load_logs
from helion_learned.training.logs.origins import load_origins
from helion_learned.training.suite import kernels as K
from helion_learned.training.train import GATE_FAMILY_FOLDS
from helion_learned.training.train import train_bundle
from tests._bundles import kernel_key
from tests._bundles import make_bundle

H100 = Path(__file__).resolve().parents[2] / "data" / "h100"
SMALL = {"n_estimators": 30, "max_depth": 3, "learning_rate": 0.2, "n_jobs": 1}


@pytest.fixture(scope="module")
def real() -> tuple:
    # Six real shard bases of data/h100: several kernels, several shapes each.
    bases = sorted({p.name.split(".")[0] for p in H100.glob("shard0_vm_*.csv.gz")})[:6]
    logset = load_logs([H100 / f"{b}.csv.gz" for b in bases])
    ds = build_dataset(logset, origins=load_origins(logset.files))
    assert len(set(ds.families.tolist())) >= 3, sorted(set(ds.families.tolist()))
    result = train_bundle(ds, params=SMALL, n_jobs=1, experts=False)
    return ds, result


def test_trained_bundle_knows_its_kernels_and_calibrates_the_unseen_threshold(real) -> None:
    ds, result = real
    bundle = result.bundle
    assert bundle.known_kernels == {facts_key(g.facts) for g in ds.groups}
    # The unseen threshold is what choose_threshold picks on the leave-family-out outcomes, the
    # confidence coming from the bundle's own calibrator (fitted on leave-shape-out outcomes).
    params = {**bundle.model.get_params(), "random_state": 0}
    # Families held out in GATE_FAMILY_FOLDS random groups, each one by a model without it.
    fold_list = grouped_family_folds(ds, GATE_FAMILY_FOLDS, seed=0)
    assert len(fold_list) == min(GATE_FAMILY_FOLDS, len(set(ds.families.tolist())))
    assert bundle.metadata["metrics"]["unseen_gate_family_folds"] == len(fold_list)
    assert bundle.metadata["metrics"]["unseen_gate_families"] == len(set(ds.families.tolist()))
    outcomes = group_outcomes(ds, oof_scores(ds, "leave_family_out", params, experts=False,
                                             fold_list=fold_list))
    conf = bundle.calibrator.predict(np.stack([o.conf_features for o in outcomes]))
    # Chosen on "not >5 % slower than Helion's default" (within 5 % of best without origins).
    hits = np.array([o.safe for o in outcomes])
    expected = max(choose_threshold(conf, hits, wrong_budget=0.05).threshold, bundle.threshold)
    assert bundle.unseen_threshold == pytest.approx(expected)  # never a lower bar than known
    m = bundle.metadata["metrics"]
    assert m["unseen_threshold_coverage"] == pytest.approx(np.mean(conf >= expected))
    at_main = conf >= bundle.threshold
    assert m["unseen_at_main_threshold_coverage"] == pytest.approx(at_main.mean())
    fired = conf >= bundle.unseen_threshold
    assert not fired.any() or hits[fired].mean() >= 0.95


def test_round_trip_and_older_bundles(real, tmp_path: Path) -> None:
    _, result = real
    path = result.bundle.save(tmp_path / "b")
    meta = json.loads((path / "metadata.json").read_text())
    assert meta["schema_version"] == 5
    assert meta["known_kernels"] == sorted(result.bundle.known_kernels)
    loaded = ModelBundle.load(path)
    assert loaded.known_kernels == result.bundle.known_kernels
    assert loaded.unseen_threshold == pytest.approx(result.bundle.unseen_threshold)
    known = sorted(loaded.known_kernels)[0]
    assert loaded.threshold_for(known) == loaded.threshold
    assert loaded.threshold_for("my_new_kernel/pointwise") == loaded.unseen_threshold
    assert loaded.threshold_for(None) == loaded.unseen_threshold
    # A schema-2 bundle (no pair): one threshold for every kernel, as it was calibrated.
    for key in ("known_kernels", "unseen_threshold"):
        meta.pop(key)
    (path / "metadata.json").write_text(json.dumps({**meta, "schema_version": 2}))
    old = ModelBundle.load(path)
    assert old.known_kernels is None and old.threshold_for("my_new_kernel/pointwise") == old.threshold


@pytest.mark.parametrize("change,key", [
    ({"unseen_threshold": "high"}, "unseen_threshold"),
    ({"unseen_threshold": None}, "unseen_threshold"),
    ({"known_kernels": "matmul/matmul"}, "known_kernels"),
    ({"known_kernels": [1, 2]}, "known_kernels"),
])
def test_bad_pair_is_a_clear_error(real, tmp_path: Path, change: dict, key: str) -> None:
    _, result = real
    path = result.bundle.save(tmp_path / "b")
    meta = json.loads((path / "metadata.json").read_text())
    (path / "metadata.json").write_text(json.dumps({**meta, **change}))
    with pytest.raises(BundleError, match=rf"metadata.json: {key}: expected .*re-train"):
        ModelBundle.load(path)


@pytest.fixture(autouse=True)
def clean_registry():
    before = dict(ah.HEURISTICS_BY_BACKEND)
    for k in (K.matmul, K.softmax):
        k.reset()
    yield
    helion_learned.uninstall()
    assert ah.HEURISTICS_BY_BACKEND == before


def _bind(kernel, args):
    kernel.reset()  # make_bundle binds the suite kernels; a cached bind skips the heuristics
    return kernel.bind(args).env.config_spec


MATMUL = (torch.randn(384, 192, dtype=torch.float16), torch.randn(192, 640, dtype=torch.float16))
SOFTMAX = (torch.randn(64, 512),)


def _promoted(kernel, args) -> bool:
    kernel.reset()
    return kernel.bind(args).env.config_spec.compiler_default_config is not None


def test_adapter_applies_the_unseen_threshold_to_kernels_not_in_the_logs(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # Known kernels promote at 0; any other kernel needs 1.01 (never): matmul's pick is
    # promoted, softmax's is not (both are seeded: seeding is ungated).
    make_bundle(tmp_path / "b", threshold=0.0, known_kernels={kernel_key(K.matmul, MATMUL)},
                unseen_threshold=1.01)
    helion_learned.install(target="sm90", model_dirs=[tmp_path / "b"])
    assert _promoted(K.matmul, MATMUL)
    with caplog.at_level(logging.DEBUG, logger="helion_learned"):
        assert not _promoted(K.softmax, SOFTMAX)
        assert "learned_triton_sm90" in _bind(K.softmax, SOFTMAX).autotuner_heuristics
    assert any("not in the training logs" in r.getMessage() for r in caplog.records), [
        r.getMessage() for r in caplog.records if r.name.startswith("helion_learned")]
    # install(threshold=...) overrides both thresholds: softmax is promoted too.
    helion_learned.install(target="sm90", model_dirs=[tmp_path / "b"], threshold=0.0)
    assert _promoted(K.softmax, SOFTMAX)


def _renamed(kernel: helion.Kernel, name: str) -> helion.Kernel:
    """The same kernel body under another function name (what KernelFacts.kernel_name reads)."""
    fn = kernel.fn
    copy = types.FunctionType(fn.__code__, fn.__globals__, name, fn.__defaults__, fn.__closure__)
    copy.__annotations__, copy.__qualname__ = dict(fn.__annotations__), name
    return helion.kernel(copy, **kernel.settings.to_dict())


# A user's kernel that shares the suite matmul's name and kind, not its body: a GEMM with a
# bias-and-ReLU epilogue (the suite's matmul_bias_relu, renamed). It must count as unseen.
matmul = _renamed(K.matmul_bias_relu, "matmul")


IMPOSTOR = (*MATMUL, torch.randn(640, dtype=torch.float16))


def test_a_known_kernels_name_does_not_make_a_new_kernel_known(tmp_path: Path) -> None:
    from helion_learned.models.predict import Predictor
    from tests._bundles import bound_facts

    known = kernel_key(K.matmul, MATMUL)
    impostor = kernel_key(matmul, IMPOSTOR)
    assert known.startswith("matmul/matmul/") and impostor.startswith("matmul/matmul/")
    assert impostor != known
    bundle = make_bundle(tmp_path / "b", threshold=0.0, known_kernels={known},
                         unseen_threshold=1.01)
    assert bundle.knows(known) and not bundle.knows(impostor)
    helion_learned.install(target="sm90", model_dirs=[tmp_path / "b"])
    assert _promoted(K.matmul, MATMUL)
    assert not _promoted(matmul, IMPOSTOR)  # the unseen-kernel threshold applies
    matmul.reset()
    assert "learned_triton_sm90" in _bind(matmul, IMPOSTOR).autotuner_heuristics  # still seeded
    matmul.reset()
    facts = bound_facts(matmul, IMPOSTOR)
    pred = Predictor(bundle).predict(facts, bundle_target(), top_k=1)
    assert pred.kernel_key == impostor and bundle.threshold_for(pred.kernel_key) == 1.01


def bundle_target():
    from helion_learned.features.hardware import resolve_target

    return resolve_target("sm90")


def test_both_thresholds_unreachable_never_promote(tmp_path: Path) -> None:
    make_bundle(tmp_path / "b", threshold=1.01, known_kernels={kernel_key(K.matmul, MATMUL)},
                unseen_threshold=1.01)
    helion_learned.install(target="sm90", model_dirs=[tmp_path / "b"])
    assert not _promoted(K.matmul, MATMUL) and not _promoted(K.softmax, SOFTMAX)
    K.matmul.reset()
    assert "learned_triton_sm90" in _bind(K.matmul, MATMUL).autotuner_heuristics


def test_report_states_both_thresholds(real) -> None:
    from helion_learned.cli import unseen_gate_summary
    from helion_learned.training.report.gate_text import unseen_gate_text

    _, result = real
    gate = unseen_gate_summary(result.bundle)
    assert gate["n_known_kernels"] == len(result.bundle.known_kernels)
    text = unseen_gate_text(gate)
    assert f"threshold {result.bundle.unseen_threshold:.3f}" in text
    assert f"threshold {result.bundle.threshold:.3f} alone would fire" in text
    # A one-threshold bundle (older, or one kernel family) says nothing about it.
    assert unseen_gate_text(None) is None


def test_gate_text_says_how_the_families_were_held_out(real) -> None:
    from helion_learned.cli import unseen_gate_summary
    from helion_learned.training.report.gate_text import unseen_gate_text

    ds, result = real
    gate = unseen_gate_summary(result.bundle)
    n_families = len(set(ds.families.tolist()))
    assert gate["unseen_gate_families"] == n_families
    grouped = n_families > GATE_FAMILY_FOLDS
    text = unseen_gate_text(gate)
    assert ("random groups" in text) == grouped and ("held out alone" in text) != grouped
    # Dealt into fewer folds than families, the text names both counts.
    text = unseen_gate_text({**gate, "unseen_gate_families": 21, "unseen_gate_family_folds": 7})
    assert "the 21 kernel families held out in 7 random groups" in text
