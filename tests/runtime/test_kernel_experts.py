"""Per-kernel experts: fitting, blending, bundle save/load/validation, prediction and training.

Bundles here are built on facts of REAL bound Helion kernels (CPU) with SYNTHETIC labels
(``tests._bundles.synthetic_label``: a made-up preference for 64-wide tiles and 4 warps): they
test mechanics, never quality. The dataset tests use real logs (``data/h100``, small subsets).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from helion_learned.features.facts import KernelFacts
from helion_learned.features.hardware import resolve_target
from helion_learned.features.vectorize import FeatureExtractor
from helion_learned.models.bundle import BundleError
from helion_learned.models.bundle import ModelBundle
from helion_learned.models.calibration import ConfidenceCalibrator
from helion_learned.models.calibration import confidence_features
from helion_learned.models.candidates import candidate_grid
from helion_learned.models.candidates import structured_grid
from helion_learned.models.kernel_experts import MIN_WORKLOADS
from helion_learned.models.kernel_experts import KernelExperts
from helion_learned.models.kernel_experts import expert_key
from helion_learned.models.kernel_experts import facts_key
from helion_learned.models.kernel_experts import structure_signature
from helion_learned.models.predict import Predictor
from helion_learned.models.ranker import CostModel
from helion_learned.training.dataset import Dataset
from helion_learned.training.dataset import build_dataset
from helion_learned.training.evaluate import oof_scores
from helion_learned.training.logs import load_logs
from helion_learned.training.suite import kernels as K
from helion_learned.training.train import train_bundle
from tests._bundles import bound_facts
from tests._bundles import kernel_key
from tests._bundles import synthetic_label

F16 = torch.float16
REPO = Path(__file__).resolve().parents[2]
H100 = REPO / "data" / "h100"
FIXTURE_LOGS = REPO / "tests" / "fixtures" / "logs" / "good"
# Expert keys: name, kind and structure signature, read off real bound kernels.
MATMUL = kernel_key(K.matmul, (torch.randn(64, 32, dtype=F16), torch.randn(32, 48, dtype=F16)))
SOFTMAX = kernel_key(K.softmax, (torch.randn(8, 64),))
ADD = kernel_key(K.add, (torch.randn(16, 16), torch.randn(16, 16)))
GELU = kernel_key(K.gelu, (torch.randn(256),))
SMALL_PARAMS: dict[str, Any] = {"n_estimators": 20, "max_depth": 3, "n_jobs": 1}


# -- fixtures: rows of real bound kernels, SYNTHETIC labels -----------------------------------------
@pytest.fixture(scope="module")
def kernel_facts() -> list[KernelFacts]:
    """Two matmul shapes, two softmax shapes, one add shape: real bound Helion kernels."""
    return [
        bound_facts(K.matmul, (torch.randn(256, 128, dtype=F16), torch.randn(128, 512, dtype=F16))),
        bound_facts(K.matmul, (torch.randn(512, 256, dtype=F16), torch.randn(256, 512, dtype=F16))),
        bound_facts(K.softmax, (torch.randn(64, 512),)),
        bound_facts(K.softmax, (torch.randn(128, 1000),)),
        bound_facts(K.add, (torch.randn(256, 256), torch.randn(256, 256))),
    ]


@pytest.fixture(scope="module")
def rows(kernel_facts: list[KernelFacts]) -> dict[str, np.ndarray]:
    fe = FeatureExtractor()
    hw = resolve_target("sm90")
    Xs, ys, gs, ks = [], [], [], []
    for i, facts in enumerate(kernel_facts):
        cands = structured_grid(facts, limit=60, seed=i)
        y = np.array([synthetic_label(c) for c in cands])  # SYNTHETIC labels
        Xs.append(fe.transform(facts, hw, cands))
        ys.append(y / y.max())
        gs.append(np.full(len(cands), i))
        ks.append(np.array([facts_key(facts)] * len(cands), dtype=object))
    return {"X": np.concatenate(Xs), "y": np.concatenate(ys), "groups": np.concatenate(gs),
            "keys": np.concatenate(ks), "names": np.array(fe.feature_names)}


def _fit_experts(rows: dict[str, np.ndarray], **kw: Any) -> KernelExperts:
    # The fixture has 2 workloads per kernel: let both lend their expert to unseen kernels.
    kw.setdefault("neighbour_min_workloads", 2)
    return KernelExperts(**kw).fit(rows["X"], rows["y"], rows["groups"], rows["keys"],
                                   feature_names=tuple(rows["names"]), n_jobs=1)


@pytest.fixture(scope="module")
def expert_bundle(rows: dict[str, np.ndarray],
                  tmp_path_factory: pytest.TempPathFactory) -> tuple[ModelBundle, Path]:
    """An in-memory bundle with experts (SYNTHETIC labels) and its saved copy's path."""
    X, y, groups = rows["X"], rows["y"], rows["groups"]
    model = CostModel(n_estimators=30, max_depth=3, n_jobs=1).fit(
        X, y, groups, feature_names=tuple(rows["names"]))
    feats = np.stack([confidence_features(model.score(X[groups == g]))
                      for g in np.unique(groups)])
    calibrator = ConfidenceCalibrator().fit(feats, np.arange(len(feats)) % 2 == 0)
    bundle = ModelBundle(model=model, calibrator=calibrator, backend="triton",
                         targets=[{"device_kind": "cuda", "compute_capability": [9, 0]}],
                         threshold=0.5, metadata={"note": "SYNTHETIC test bundle"},
                         experts=_fit_experts(rows, weight=0.3))
    path = tmp_path_factory.mktemp("experts") / "bundle"
    bundle.save(path)
    return bundle, path


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _meta(path: Path) -> dict[str, Any]:
    return json.loads((path / "metadata.json").read_text())


def _edit(src: Path, dst: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    """A copy of bundle ``src`` at ``dst`` with its metadata.json changed by ``change``."""
    _copy(src, dst)
    meta = _meta(dst)
    change(meta)
    (dst / "metadata.json").write_text(json.dumps(meta))
    return dst


# -- 5. fitting ---------------------------------------------------------------------------------------
def test_fit_skips_kernels_with_too_few_workloads(rows: dict[str, np.ndarray]) -> None:
    assert MIN_WORKLOADS == 2
    experts = _fit_experts(rows)
    assert set(experts.models_) == {MATMUL, SOFTMAX}  # add: one workload only
    assert experts.n_workloads_ == {MATMUL: 2, SOFTMAX: 2}
    assert set(_fit_experts(rows, min_workloads=3).models_) == set()
    assert set(_fit_experts(rows, min_workloads=1).models_) == {MATMUL, SOFTMAX, ADD}


def test_fit_only_and_key_checks(rows: dict[str, np.ndarray]) -> None:
    X, y, groups, keys = rows["X"], rows["y"], rows["groups"], rows["keys"]
    only = KernelExperts().fit(X, y, groups, keys, only={SOFTMAX})
    assert set(only.models_) == {SOFTMAX} and only.n_workloads_ == {SOFTMAX: 2}
    assert KernelExperts().fit(X, y, groups, keys, only={"nothing/other"}).models_ == {}
    # Rows keyed None (a kernel without a name) never get an expert.
    none_keys = np.where(keys == MATMUL, None, keys)
    assert set(KernelExperts().fit(X, y, groups, none_keys).models_) == {SOFTMAX}
    with pytest.raises(ValueError, match="one key per row"):
        KernelExperts().fit(X, y, groups, keys[:-1])
    # A refit forgets the previous fit's experts.
    experts = _fit_experts(rows)
    experts.fit(X, y, groups, keys, only={MATMUL})
    assert set(experts.models_) == {MATMUL} and set(experts.n_workloads_) == {MATMUL}


def test_expert_key_and_blend_rows(rows: dict[str, np.ndarray]) -> None:
    assert expert_key("matmul", "matmul") == "matmul/matmul"  # a bundle before schema 4
    assert expert_key("matmul", "matmul", "0123abcd") == "matmul/matmul/0123abcd"
    assert MATMUL.startswith("matmul/matmul/") and ADD.startswith("add/pointwise/")
    assert expert_key("k", None) == "k/other"
    assert expert_key(None, "matmul") is None and expert_key("", "matmul") is None
    assert facts_key(object()) is None
    experts = _fit_experts(rows, weight=0.25)
    X, keys = rows["X"], rows["keys"]
    base = np.linspace(-1.0, 1.0, len(X))
    out = experts.blend_rows(X, keys, base)
    for key in (MATMUL, SOFTMAX):
        m = keys == key
        want = 0.75 * base[m] + 0.25 * experts.models_[key].score(X[m])
        np.testing.assert_allclose(out[m], want, rtol=1e-12)
        np.testing.assert_allclose(experts.blend(key, X[m], base[m]), want, rtol=1e-12)
    # No expert of its own: add borrows the nearest-structure kernel's expert at 0.25.
    add = keys == ADD
    near = experts.neighbour(X[add])
    assert near == _nearest_by_hand(experts, X[add], rows["names"])
    want = 0.75 * base[add] + 0.25 * experts.models_[near].score(X[add])
    np.testing.assert_allclose(out[add], want, rtol=1e-12)
    np.testing.assert_allclose(experts.blend(None, X[add], base[add]), want, rtol=1e-12)
    np.testing.assert_allclose(experts.blend("add/other", X[add], base[add]), want, rtol=1e-12)
    # Per workload (groups) or per key: the same here (one add workload).
    np.testing.assert_allclose(experts.blend_rows(X, keys, base, groups=rows["groups"]), out)
    assert np.array_equal(base, np.linspace(-1.0, 1.0, len(X)))  # input not modified
    assert np.array_equal(KernelExperts(weight=0.0).blend(MATMUL, X, base), base)
    # The fallback off: a kernel without an expert keeps the global score, untouched.
    off = _fit_experts(rows, weight=0.25, neighbour_weight=0.0)
    assert off.centroids_ == {} and off.neighbour(X[add]) is None
    assert np.array_equal(off.blend_rows(X, keys, base)[add], base[add])
    assert np.array_equal(off.blend(None, X[add], base[add]), base[add])
    # Rows without a key and without groups keep the global score (no kernel to group them by).
    none_keys = np.where(add, None, keys)
    assert np.array_equal(experts.blend_rows(X, none_keys, base)[add], base[add])


def _nearest_by_hand(experts: KernelExperts, X: np.ndarray, names: np.ndarray) -> str:
    """The nearest expert kernel recomputed from the structure columns by name: standardized
    over the training kernels' centroids, Euclidean distance."""
    from helion_learned.models.kernel_experts import STRUCTURE_COLUMNS

    idx = [list(names).index(c) for c in STRUCTURE_COLUMNS]
    cols = X[:, idx].astype(np.float64)
    vec = np.array([np.mean(c[np.isfinite(c)]) if np.isfinite(c).any() else 0.0 for c in cols.T])
    z = (vec - experts.center_) / experts.scale_
    dist = {k: np.linalg.norm(z - (c - experts.center_) / experts.scale_)
            for k, c in experts.centroids_.items()}
    return min(sorted(dist), key=dist.get)


def test_nearest_structure_is_fitted_for_held_out_kernels(rows: dict[str, np.ndarray]) -> None:
    """``fit(only=..., near=...)`` (what cross-validation calls) fits the held-out kernels'
    experts and the one each kernel without its own would borrow, nothing else; the neighbour
    is the same as with every expert fitted."""
    X, y, groups, keys = rows["X"], rows["y"], rows["groups"], rows["keys"]
    held = keys == ADD
    names = tuple(rows["names"])
    full = KernelExperts(neighbour_min_workloads=2).fit(X[~held], y[~held], groups[~held],
                                                        keys[~held], feature_names=names)
    near = full.neighbour(X[held])
    assert near in (MATMUL, SOFTMAX)
    fold = KernelExperts(neighbour_min_workloads=2).fit(
        X[~held], y[~held], groups[~held], keys[~held], feature_names=names, only={ADD},
        near=(X[held], keys[held], groups[held]))
    assert set(fold.models_) == {near} and fold.neighbour(X[held]) == near
    np.testing.assert_allclose(fold.blend(ADD, X[held], np.zeros(held.sum())),
                               full.blend(ADD, X[held], np.zeros(held.sum())))
    # Without `near`, `only` fits just what it names.
    assert KernelExperts().fit(X[~held], y[~held], groups[~held], keys[~held],
                               feature_names=names, only={ADD}).models_ == {}
    # Features without the structure columns: no fallback, nothing borrowed.
    plain = KernelExperts().fit(X, y, groups, keys)
    assert plain.centroids_ == {} and plain.neighbour(X[held]) is None


def test_only_kernels_with_enough_workloads_lend_their_expert(
        rows: dict[str, np.ndarray]) -> None:
    """An expert fitted on fewer than ``neighbour_min_workloads`` shapes still serves its own
    kernel but is never lent: with no lender left, an unseen kernel keeps the global score.
    By default every expert lends."""
    from helion_learned.models.kernel_experts import NEIGHBOUR_MIN_WORKLOADS

    assert NEIGHBOUR_MIN_WORKLOADS == MIN_WORKLOADS  # measured: experiments/new_kernel_training
    assert KernelExperts().neighbour_min_workloads == NEIGHBOUR_MIN_WORKLOADS
    X, keys = rows["X"], rows["keys"]
    add = keys == ADD
    base = np.linspace(-1.0, 1.0, len(X))
    lend = _fit_experts(rows, neighbour_min_workloads=2)
    strict = _fit_experts(rows, neighbour_min_workloads=3)  # matmul and softmax have 2 each
    assert set(strict.models_) == set(lend.models_) == {MATMUL, SOFTMAX}
    assert set(lend.centroids_) == {MATMUL, SOFTMAX} and strict.centroids_ == {}
    assert lend.neighbour(X[add]) in (MATMUL, SOFTMAX) and strict.neighbour(X[add]) is None
    out = strict.blend_rows(X, keys, base, groups=rows["groups"])
    assert np.array_equal(out[add], base[add])
    np.testing.assert_allclose(out[~add], lend.blend_rows(X, keys, base)[~add], rtol=1e-12)


# -- 1. bundle round trip -----------------------------------------------------------------------------
def test_bundle_round_trip_with_experts(expert_bundle: tuple[ModelBundle, Path],
                                        rows: dict[str, np.ndarray]) -> None:
    bundle, path = expert_bundle
    loaded = ModelBundle.load(path)
    assert loaded.experts is not None and bundle.experts is not None
    assert set(loaded.experts.models_) == set(bundle.experts.models_) == {MATMUL, SOFTMAX}
    assert loaded.experts.n_workloads_ == bundle.experts.n_workloads_
    assert loaded.experts.weight == 0.3
    meta = _meta(path)
    assert meta["schema_version"] == 5
    files = [k["file"] for k in meta["experts"]["kernels"]]
    assert [k["key"] for k in meta["experts"]["kernels"]] == sorted([MATMUL, SOFTMAX])
    assert all((path / f).is_file() and len(meta["checksums"][f]) == 64 for f in files)
    assert sorted(p.name for p in (path / "experts").iterdir()) == sorted(Path(f).name
                                                                          for f in files)
    X, keys = rows["X"], rows["keys"]
    for key in (MATMUL, SOFTMAX):
        Xk = X[keys == key]
        before, after = bundle.score(Xk, key), loaded.score(Xk, key)
        np.testing.assert_allclose(before, after, rtol=1e-6, atol=1e-7)
        glob = loaded.model.score(Xk)
        assert not np.allclose(after, glob)
        np.testing.assert_allclose(after, 0.7 * glob + 0.3 * loaded.experts.models_[key].score(Xk),
                                   rtol=1e-6, atol=1e-7)
        # The other kernel's expert is never used for this key's rows.
        assert not np.allclose(after, loaded.score(Xk, SOFTMAX if key == MATMUL else MATMUL))
    # Kernels without an expert borrow the nearest-structure one, before and after saving.
    Xa = X[keys == ADD]
    near = loaded.experts.neighbour(Xa)
    assert near == bundle.experts.neighbour(Xa) and near in (MATMUL, SOFTMAX)
    assert loaded.experts.neighbour_weight == bundle.experts.neighbour_weight == 0.25
    for key in (None, ADD, "matmul/pointwise", "nothing/other"):
        np.testing.assert_allclose(loaded.score(Xa, key), bundle.score(Xa, key), rtol=1e-6,
                                   atol=1e-7)
        np.testing.assert_allclose(loaded.score(Xa, key), 0.75 * loaded.model.score(Xa)
                                   + 0.25 * loaded.experts.models_[near].score(Xa),
                                   rtol=1e-6, atol=1e-7)
    assert set(meta["experts"]["neighbours"]) == {"weight", "min_workloads", "columns", "center",
                                                  "scale"}
    assert loaded.experts.neighbour_min_workloads == meta["experts"]["neighbours"][
        "min_workloads"] == 2
    assert all(len(k["centroid"]) == len(meta["experts"]["neighbours"]["columns"])
               for k in meta["experts"]["kernels"])
    np.testing.assert_allclose(loaded.score_rows(X, keys), bundle.score_rows(X, keys),
                               rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(loaded.score_rows(X, keys),
                               loaded.experts.blend_rows(X, keys, loaded.model.score(X)))


def test_resave_keeps_or_drops_experts(expert_bundle: tuple[ModelBundle, Path],
                                       rows: dict[str, np.ndarray], tmp_path: Path) -> None:
    _, path = expert_bundle
    loaded = ModelBundle.load(path)
    again = ModelBundle.load(loaded.save(tmp_path / "again"))
    assert again.experts is not None and set(again.experts.models_) == {MATMUL, SOFTMAX}
    Xm = rows["X"][rows["keys"] == MATMUL]
    assert np.array_equal(again.score(Xm, MATMUL), loaded.score(Xm, MATMUL))
    # Experts dropped (or none fitted): the saved metadata must not keep the old entries.
    for experts in (None, KernelExperts()):
        loaded.experts = experts
        plain = loaded.save(tmp_path / f"plain_{experts is None}")
        meta = _meta(plain)
        assert "experts" not in meta and not (plain / "experts").exists()
        assert not any(k.startswith("experts/") for k in meta["checksums"])
        reloaded = ModelBundle.load(plain)
        assert reloaded.experts is None
        assert np.array_equal(reloaded.score(Xm, MATMUL), reloaded.model.score(Xm))


# -- 2. predictor -------------------------------------------------------------------------------------
def test_predictor_blends_for_known_kernels_only(expert_bundle: tuple[ModelBundle, Path]) -> None:
    bundle = ModelBundle.load(expert_bundle[1])
    assert bundle.experts is not None
    predictor = Predictor(bundle)
    hw = resolve_target("sm90")
    fe = FeatureExtractor()
    # A matmul shape the experts never saw: matched by name and kind, not by shape.
    mm = bound_facts(K.matmul, (torch.randn(300, 200, dtype=F16), torch.randn(200, 500, dtype=F16)))
    assert facts_key(mm) == MATMUL
    cands = structured_grid(mm, limit=40, seed=7)
    X = fe.transform(mm, hw, cands)
    got = predictor.score(mm, hw, cands)
    glob = bundle.model.score(X)
    want = 0.7 * glob + 0.3 * bundle.experts.models_[MATMUL].score(X)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    assert not np.allclose(got, glob)
    pred = predictor.predict(mm, hw, top_k=3)
    assert pred.n_candidates > 3 and len(pred.configs) == 3
    full = predictor.score(mm, hw, _grid_of(mm, pred, predictor))
    assert pred.scores == pytest.approx(sorted(full.tolist(), reverse=True)[:3])
    # Kernels without an expert: the nearest-structure kernel's expert at 0.25, never their
    # name's. A kernel named like the suite's matmul but with another body
    # (K.matmul_bias_relu's, renamed) is one of them.
    impostor = dataclasses.replace(bound_facts(K.matmul_bias_relu, (
        torch.randn(64, 32, dtype=F16), torch.randn(32, 48, dtype=F16),
        torch.randn(48, dtype=F16))), kernel_name="matmul")
    assert impostor.kind == mm.kind and facts_key(impostor) != MATMUL
    for facts in (bound_facts(K.add, (torch.randn(128, 96), torch.randn(128, 96))),
                  bound_facts(K.gelu, (torch.randn(1024),)), impostor):
        assert facts_key(facts) not in bundle.experts.models_
        cands = structured_grid(facts, limit=30)
        Xf = fe.transform(facts, hw, cands)
        near = bundle.experts.neighbour(Xf)
        np.testing.assert_allclose(predictor.score(facts, hw, cands),
                                   0.75 * bundle.model.score(Xf)
                                   + 0.25 * bundle.experts.models_[near].score(Xf),
                                   rtol=1e-6, atol=1e-7)


def _grid_of(facts: KernelFacts, pred: Any, predictor: Predictor) -> list[dict[str, Any]]:
    grid = candidate_grid(facts)
    assert len(grid) == pred.n_candidates
    return grid


# -- 3. corruption and validation on load ---------------------------------------------------------
def test_expert_file_corruption_is_refused(expert_bundle: tuple[ModelBundle, Path],
                                           tmp_path: Path) -> None:
    _, path = expert_bundle
    name = _meta(path)["experts"]["kernels"][0]["file"]
    altered = _copy(path, tmp_path / "altered")
    data = bytearray((altered / name).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (altered / name).write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"000\.ubj: sha256 .* does not match"):
        ModelBundle.load(altered)
    missing = _copy(path, tmp_path / "missing")
    (missing / name).unlink()
    with pytest.raises(BundleError, match=r"000\.ubj: missing model file"):
        ModelBundle.load(missing)
    unlisted = _edit(path, tmp_path / "unlisted", lambda m: m["checksums"].pop(name))
    with pytest.raises(BundleError, match="does not match metadata"):
        ModelBundle.load(unlisted)
    # A valid checksum of a file that is not a model (metadata and file swapped in together):
    # experts are decoded on first use, so the load succeeds and that expert's first use fails.
    swapped = _copy(path, tmp_path / "swapped")
    (swapped / name).write_bytes(b"not a model")
    meta = _meta(swapped)
    meta["checksums"][name] = hashlib.sha256(b"not a model").hexdigest()
    (swapped / "metadata.json").write_text(json.dumps(meta))
    loaded = ModelBundle.load(swapped)
    key = meta["experts"]["kernels"][0]["key"]
    with pytest.raises(BundleError, match=r"000\.ubj: not a model"):
        loaded.experts.models_[key]


def test_experts_are_decoded_on_first_use(expert_bundle: tuple[ModelBundle, Path],
                                          rows: dict[str, np.ndarray], tmp_path: Path) -> None:
    """Loading decodes no expert; scoring a kernel decodes its own (once), and the scores are
    those of the bundle before saving. A file altered after the load fails its first use."""
    bundle, path = expert_bundle
    loaded = ModelBundle.load(path)
    models = loaded.experts.models_
    assert models.loaded == 0 and len(models) == 2 and MATMUL in models
    Xk = rows["X"][rows["keys"] == MATMUL]
    np.testing.assert_allclose(loaded.score(Xk, MATMUL), bundle.score(Xk, MATMUL),
                               rtol=1e-6, atol=1e-7)
    assert models.loaded == 1
    assert models[MATMUL] is models[MATMUL]  # decoded once
    late = _copy(path, tmp_path / "late")
    lazy = ModelBundle.load(late)
    name = _meta(late)["experts"]["kernels"][1]["file"]
    data = bytearray((late / name).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (late / name).write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"001\.ubj: sha256 .* does not match"):
        lazy.experts.models_[sorted([MATMUL, SOFTMAX])[1]]


def _set_kernel(i: int, field: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(meta: dict[str, Any]) -> None:
        meta["experts"]["kernels"][i][field] = value
    return change


def _set_experts(field: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(meta: dict[str, Any]) -> None:
        meta["experts"][field] = value
    return change


BAD_METADATA = [
    ("traversal", _set_kernel(0, "file", "../model.ubj"), r"experts\.kernels\[0\]\.file"),
    ("other_dir", _set_kernel(0, "file", "experts/x.ubj"), r"experts\.kernels\[0\]\.file"),
    ("absolute", _set_kernel(0, "file", "/etc/passwd"), r"experts\.kernels\[0\]\.file"),
    ("main_model", _set_kernel(1, "file", "model.ubj"), r"experts\.kernels\[1\]\.file"),
    ("nested", _set_kernel(0, "file", "experts/../000.ubj"), r"experts\.kernels\[0\]\.file"),
    ("file_type", _set_kernel(0, "file", 0), r"experts\.kernels\[0\]\.file"),
    ("weight_high", _set_experts("weight", 1.5), r"experts\.weight: expected a number in \[0, 1\]"),
    ("weight_low", _set_experts("weight", -0.1), r"experts\.weight"),
    ("weight_bool", _set_experts("weight", True), r"experts\.weight"),
    ("weight_str", _set_experts("weight", "0.5"), r"experts\.weight"),
    ("weight_missing", lambda m: m["experts"].pop("weight"), r"experts\.weight"),
    ("duplicate", lambda m: _set_kernel(1, "key", m["experts"]["kernels"][0]["key"])(m),
     r"experts\.kernels\[1\]\.key: .*distinct"),
    ("empty_key", _set_kernel(0, "key", ""), r"experts\.kernels\[0\]\.key"),
    ("n_workloads", _set_kernel(0, "n_workloads", 0), r"experts\.kernels\[0\]\.n_workloads"),
    ("n_workloads_str", _set_kernel(0, "n_workloads", "2"), r"experts\.kernels\[0\]\.n_workloads"),
    ("kernels_type", _set_experts("kernels", {"matmul/matmul": "experts/000.ubj"}),
     r"experts\.kernels: expected a list"),
    ("kernel_type", lambda m: m["experts"]["kernels"].__setitem__(0, "matmul/matmul"),
     r"experts\.kernels\[0\]\.key"),
    ("experts_type", lambda m: m.__setitem__("experts", []), r"experts: expected an object"),
    ("schema_1", lambda m: m.__setitem__("schema_version", 1), r"experts: .*schema 2"),
    ("nb_type", _set_experts("neighbours", [0.25]), r"experts\.neighbours: expected an object"),
    ("nb_weight", lambda m: m["experts"]["neighbours"].__setitem__("weight", 2),
     r"experts\.neighbours\.weight: expected a number in \[0, 1\]"),
    ("nb_column", lambda m: m["experts"]["neighbours"]["columns"].__setitem__(0, "k_nothing"),
     r"experts\.neighbours\.columns: expected a list of this bundle's kernel feature names"),
    ("nb_center", lambda m: m["experts"]["neighbours"]["center"].pop(),
     r"experts\.neighbours\.center: expected a list of \d+ finite numbers"),
    ("nb_scale", lambda m: m["experts"]["neighbours"]["scale"].__setitem__(0, 0.0),
     r"experts\.neighbours\.scale: expected a list of \d+ finite numbers > 0"),
    ("nb_centroid", _set_kernel(0, "centroid", "near"), r"experts\.kernels\[0\]\.centroid"),
    ("nb_lenders", lambda m: m["experts"]["neighbours"].__setitem__("min_workloads", 0),
     r"experts\.neighbours\.min_workloads: expected a positive integer"),
]


@pytest.mark.parametrize(("name", "change", "message"), BAD_METADATA,
                         ids=[case[0] for case in BAD_METADATA])
def test_bad_expert_metadata_is_refused(expert_bundle: tuple[ModelBundle, Path], tmp_path: Path,
                                        name: str, change: Callable[[dict[str, Any]], None],
                                        message: str) -> None:
    _, path = expert_bundle
    bad = _edit(path, tmp_path / name, change)
    with pytest.raises(BundleError, match=message) as info:
        ModelBundle.load(bad)
    assert str(bad / "metadata.json") in str(info.value)  # names the file to fix


def test_valid_edits_still_load(expert_bundle: tuple[ModelBundle, Path], tmp_path: Path) -> None:
    """The checks refuse what is wrong, not everything that was edited: weights 0 and 1 are
    fine, and an empty expert list loads as no experts (the global model's scores)."""
    _, path = expert_bundle
    zero = ModelBundle.load(_edit(path, tmp_path / "zero", _set_experts("weight", 0)))
    one = ModelBundle.load(_edit(path, tmp_path / "one", _set_experts("weight", 1)))
    empty = ModelBundle.load(_edit(path, tmp_path / "empty", _set_experts("kernels", [])))
    assert zero.experts is not None and one.experts is not None and empty.experts is not None
    X = np.zeros((3, len(FeatureExtractor().feature_names)), dtype=np.float32)
    assert np.array_equal(zero.score(X, MATMUL), zero.model.score(X))
    np.testing.assert_allclose(one.score(X, MATMUL), one.experts.models_[MATMUL].score(X))
    assert empty.experts.models_ == {}
    assert np.array_equal(empty.score(X, MATMUL), empty.model.score(X))
    # A schema-5 bundle from before the lender minimum: every expert with a centroid lends.
    older = ModelBundle.load(_edit(path, tmp_path / "older",
                                   lambda m: m["experts"]["neighbours"].pop("min_workloads")))
    assert older.experts is not None and older.experts.neighbour_min_workloads == 1
    assert set(older.experts.centroids_) == {MATMUL, SOFTMAX}


# -- 4. schema versions -------------------------------------------------------------------------------
def test_schema_1_bundle_loads_without_experts(expert_bundle: tuple[ModelBundle, Path],
                                               rows: dict[str, np.ndarray],
                                               tmp_path: Path) -> None:
    bundle, path = expert_bundle
    # A bundle written before experts: schema 1, no "experts", no experts/ directory.
    plain = ModelBundle(model=bundle.model, calibrator=bundle.calibrator, backend="triton",
                        targets=bundle.targets, threshold=bundle.threshold,
                        metadata={"note": "SYNTHETIC"}).save(tmp_path / "plain")
    assert "experts" not in _meta(plain)

    def to_schema_1(meta: dict[str, Any]) -> None:
        meta["schema_version"] = 1

    old = ModelBundle.load(_edit(plain, tmp_path / "old", to_schema_1))
    assert old.experts is None and old.metadata["schema_version"] == 1
    X, keys = rows["X"], rows["keys"]
    assert np.array_equal(old.score(X, MATMUL), old.model.score(X))
    assert np.array_equal(old.score_rows(X, keys), old.model.score(X))
    np.testing.assert_allclose(old.model.score(X), bundle.model.score(X), rtol=1e-6, atol=1e-7)
    # The expert bundle with its experts entry removed and marked schema 1 also loads (the
    # orphaned experts/ files are ignored).
    stripped = ModelBundle.load(_edit(path, tmp_path / "stripped",
                                      lambda m: (m.pop("experts"), to_schema_1(m))))
    assert stripped.experts is None
    for version in (6, 0, "2", 2.0, True):
        future = _edit(plain, tmp_path / f"v{version!r}",
                       lambda m, v=version: m.__setitem__("schema_version", v))
        with pytest.raises(BundleError, match="reads 1, 2, 3, 4 or 5"):
            ModelBundle.load(future)


def test_schema_3_bundle_keeps_matching_by_name(expert_bundle: tuple[ModelBundle, Path],
                                                tmp_path: Path) -> None:
    """A bundle written before structure signatures (schema 3, keys "name/kind") loads and
    matches kernels by name and kind, as it was trained; schema 4 needs the signature too."""
    _, path = expert_bundle

    def to_schema_3(meta: dict[str, Any]) -> None:
        meta["schema_version"] = 3
        for k in meta["experts"]["kernels"]:
            k["key"] = k["key"].rsplit("/", 1)[0]

    old = ModelBundle.load(_edit(path, tmp_path / "v3", to_schema_3))
    assert set(old.experts.models_) == {"matmul/matmul", "softmax/reduction"}
    mm = bound_facts(K.matmul, (torch.randn(96, 64, dtype=F16), torch.randn(64, 80, dtype=F16)))
    assert old.kernel_key(mm) == "matmul/matmul"
    assert ModelBundle.load(path).kernel_key(mm) == MATMUL == facts_key(mm)


def test_schema_4_bundle_loads_without_the_structure_fallback(
        expert_bundle: tuple[ModelBundle, Path], rows: dict[str, np.ndarray],
        tmp_path: Path) -> None:
    """A bundle written before the nearest-structure fallback (schema 4: no ``neighbours``, no
    centroids) scores a kernel without an expert with the global model, as it was calibrated."""
    _, path = expert_bundle

    def to_schema_4(meta: dict[str, Any]) -> None:
        meta["schema_version"] = 4
        meta["experts"].pop("neighbours")
        for k in meta["experts"]["kernels"]:
            k.pop("centroid")

    old = ModelBundle.load(_edit(path, tmp_path / "v4", to_schema_4))
    assert old.experts is not None and old.experts.neighbour_weight == 0.0
    Xa = rows["X"][rows["keys"] == ADD]
    assert old.experts.neighbour(Xa) is None
    assert np.array_equal(old.score(Xa, ADD), old.model.score(Xa))
    Xm = rows["X"][rows["keys"] == MATMUL]
    np.testing.assert_allclose(old.score(Xm, MATMUL), ModelBundle.load(path).score(Xm, MATMUL))


# -- 6. dataset keys ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def h100() -> Dataset:
    if not H100.is_dir():
        pytest.skip("data/h100 is not in this checkout")
    return build_dataset(load_logs([H100]))


def _families(ds: Dataset, names: dict[str, int | None]) -> Dataset:
    """Subset of ``ds``: the first ``n`` workloads of each family in ``names`` (None: all)."""
    keep: list[int] = []
    for fam, n in names.items():
        idx = [i for i, g in enumerate(ds.groups) if g.family == fam]
        assert idx, fam
        keep += idx[:n]
    return ds.subset(keep)


def test_row_expert_keys_on_real_logs(h100: Dataset) -> None:
    for ds in (build_dataset(load_logs([FIXTURE_LOGS])),
               _families(h100, {"softmax": None, "matmul": 4, "gelu": 3})):
        keys = ds.row_expert_keys()
        assert keys.shape == (len(ds.y),) and keys.dtype == object
        for gi, group in enumerate(ds.groups):
            got = set(keys[ds.rows(gi)].tolist())
            assert got == {facts_key(group.facts)}
            assert facts_key(group.facts) == expert_key(group.facts.kernel_name, group.facts.kind,
                                                        structure_signature(group.facts))
            assert group.facts.kernel_name  # real logs always name the kernel
    sub = _families(h100, {"softmax": None, "matmul": 4, "gelu": 3})
    assert set(sub.row_expert_keys().tolist()) == {SOFTMAX, MATMUL, GELU}


# -- 7. out-of-fold scores ----------------------------------------------------------------------------
def test_oof_scores_experts_change_both_protocols(h100: Dataset) -> None:
    ds = _families(h100, {"softmax": 4, "gelu": 4, "bmm": 3})
    params = {**CostModel().get_params(), **SMALL_PARAMS}
    lfo_on = oof_scores(ds, "leave_family_out", params, experts=True)
    lfo_off = oof_scores(ds, "leave_family_out", params, experts=False)
    assert not np.isnan(lfo_off).any() and not np.isnan(lfo_on).any()
    # A held-out family never has its own expert; it borrows the nearest-structure one of the
    # families its fold trained on: 0.75 x the global score + 0.25 x that expert's.
    fams = ds.families[ds.row_group]
    keys = ds.row_expert_keys()
    for fam in ("softmax", "gelu", "bmm"):
        m = fams == fam
        train = ~m
        experts = KernelExperts().fit(ds.X[train], ds.y[train], ds.row_group[train], keys[train],
                                      feature_names=ds.feature_names,
                                      random_state=params["random_state"])
        near = experts.neighbour(ds.X[m])
        assert near is not None and not near.startswith(f"{fam}/")
        np.testing.assert_allclose(lfo_on[m], 0.75 * lfo_off[m]
                                   + 0.25 * experts.models_[near].score(ds.X[m]), rtol=1e-5,
                                   atol=1e-6)
    lso_on = oof_scores(ds, "leave_shape_out", params, experts=True)
    lso_off = oof_scores(ds, "leave_shape_out", params, experts=False)
    assert not np.isnan(lso_on).any() and not np.isnan(lso_off).any()
    assert not np.array_equal(lso_on, lso_off)
    # Every family keeps 2+ training workloads in each of its folds: all of them get experts.
    for fam in ("softmax", "gelu", "bmm"):
        m = fams == fam
        assert not np.allclose(lso_on[m], lso_off[m]), fam


# -- 8. training --------------------------------------------------------------------------------------
def test_train_bundle_writes_experts(h100: Dataset, tmp_path: Path) -> None:
    # softmax and gelu: 3 workloads each (experts); bmm: a single workload (no expert).
    ds = _families(h100, {"softmax": 3, "gelu": 3, "bmm": 1})
    result = train_bundle(ds, params=SMALL_PARAMS, n_jobs=1, experts=True)
    assert result.bundle.experts is not None
    assert set(result.bundle.experts.models_) == {SOFTMAX, GELU}
    path = result.bundle.save(tmp_path / "trained")
    meta = _meta(path)
    assert meta["schema_version"] == 5
    entries = {k["key"]: k for k in meta["experts"]["kernels"]}
    assert set(entries) == {SOFTMAX, GELU}
    assert {k: e["n_workloads"] for k, e in entries.items()} == {SOFTMAX: 3, GELU: 3}
    assert meta["experts"]["min_workloads"] == MIN_WORKLOADS
    assert 0 < meta["experts"]["weight"] < 1
    assert all((path / e["file"]).is_file() and e["file"] in meta["checksums"]
               for e in entries.values())
    loaded = ModelBundle.load(path)
    assert loaded.experts is not None
    assert loaded.experts.n_workloads_ == {SOFTMAX: 3, GELU: 3}
    keys = ds.row_expert_keys()
    np.testing.assert_allclose(loaded.score_rows(ds.X, keys), result.bundle.score_rows(ds.X, keys),
                               rtol=1e-6, atol=1e-7)
    bmm = np.array([str(k).startswith("bmm/matmul/") for k in keys])
    assert bmm.any()
    # bmm (one workload, no expert) borrows the nearest-structure kernel's.
    near = loaded.experts.neighbour(ds.X[bmm])
    assert near in (SOFTMAX, GELU) and meta["experts"]["neighbours"]["weight"] == 0.25
    np.testing.assert_allclose(loaded.score_rows(ds.X, keys)[bmm],
                               0.75 * loaded.model.score(ds.X[bmm])
                               + 0.25 * loaded.experts.models_[near].score(ds.X[bmm]),
                               rtol=1e-6, atol=1e-7)
    sm = keys == SOFTMAX
    assert not np.allclose(loaded.score(ds.X[sm], SOFTMAX), loaded.model.score(ds.X[sm]))
    # experts=False: a bundle without experts, whose metadata has no "experts".
    plain = train_bundle(ds, params=SMALL_PARAMS, n_jobs=1, experts=False).bundle
    assert plain.experts is None
    assert "experts" not in _meta(plain.save(tmp_path / "plain"))
    np.testing.assert_allclose(plain.model.score(ds.X), result.bundle.model.score(ds.X))


def test_train_bundle_auto_keeps_experts_only_when_they_help(h100: Dataset) -> None:
    ds = _families(h100, {"softmax": 3, "gelu": 3, "bmm": 1})
    auto = train_bundle(ds, params=SMALL_PARAMS, n_jobs=1)  # default: experts=None (auto)
    choice = auto.bundle.metadata["kernel_experts"]
    with_, without = (choice["leave_shape_out_geomean_with"],
                      choice["leave_shape_out_geomean_without"])
    assert choice["mode"] == "auto" and with_ != without
    assert choice["used"] == (with_ > without)
    assert (auto.bundle.experts is not None) == choice["used"]
    assert auto.bundle.metadata["metrics"]["leave_shape_out_geomean"] == pytest.approx(
        max(with_, without))
    on = train_bundle(ds, params=SMALL_PARAMS, n_jobs=1, experts=True).bundle.metadata
    assert on["kernel_experts"] == {"mode": "on", "used": True,
                                    "leave_shape_out_geomean_with": pytest.approx(with_)}
