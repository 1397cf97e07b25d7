"""Nothing lost, nothing half-written, same answer twice.

* Two processes saving the same bundle directory over and over leave one whole bundle (its
  checksum verifies) and no temp, old or lock files.
* A report that fails mid-way leaves the previous report's files intact.
* Training twice on the same logs with the same seed gives bit-identical scores, identical seeds
  for real bound kernels and byte-identical ``model.ubj`` files.

The bundles written in the first test are SYNTHETIC (random features and labels): they exercise
file handling only. The determinism test trains on real H100 logs from data/h100 (one shard).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from helion_learned.features.hardware import resolve_target
from helion_learned.features.vectorize import FeatureExtractor
from helion_learned.models.bundle import METADATA_FILE
from helion_learned.models.bundle import MODEL_FILE
from helion_learned.models.bundle import ModelBundle
from helion_learned.models.calibration import ConfidenceCalibrator
from helion_learned.models.calibration import confidence_features
from helion_learned.models.predict import Predictor
from helion_learned.models.ranker import CostModel
from helion_learned.training.dataset import build_dataset
from helion_learned.training.logs import load_logs
from helion_learned.training.suite import kernels as K
from tests._bundles import bound_facts

ROOT = Path(__file__).resolve().parents[2]


def tiny_bundle(threshold: float, seed: int = 0) -> ModelBundle:
    """A SYNTHETIC bundle: random features and labels, real file format."""
    names = FeatureExtractor().feature_names
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(6), 10)
    X = rng.normal(size=(len(groups), len(names))).astype(np.float32)
    model = CostModel(n_estimators=5, max_depth=3, random_state=seed).fit(
        X, rng.random(len(groups)), groups, feature_names=names
    )
    feats = np.stack([confidence_features(model.score(X[groups == g])) for g in range(6)])
    calibrator = ConfidenceCalibrator().fit(feats, np.arange(6) % 2 == 0)
    return ModelBundle(
        model=model,
        calibrator=calibrator,
        backend="triton",
        targets=[{"device_kind": "cuda", "compute_capability": [9, 0]}],
        threshold=threshold,
        metadata={"note": "SYNTHETIC test bundle"},
    )


# Each saver: load its source bundle, say it is ready, wait for "go", then save N times.
SAVER = """
import sys, time
from pathlib import Path
from helion_learned.models.bundle import ModelBundle
src, dst, n, ready, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
bundle = ModelBundle.load(src)
Path(ready).touch()
while not Path(go).exists():
    time.sleep(0.001)
for _ in range(n):
    bundle.save(dst)
"""


def test_concurrent_saves_leave_one_whole_bundle(tmp_path: Path) -> None:
    sources = {0.25: tmp_path / "src" / "a", 0.75: tmp_path / "src" / "b"}
    for threshold, src in sources.items():
        tiny_bundle(threshold).save(src)
    out = tmp_path / "out"
    out.mkdir()
    dst, go = out / "bundle", tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SAVER, str(src), str(dst), "30", str(tmp_path / f"r{i}"), go],
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i, src in enumerate(sources.values())
    ]
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"r{i}").exists() for i in range(2)):
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs)
        time.sleep(0.01)
    go.touch()  # both start saving at once
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err  # no save failed: not even the one that lost a race
    assert sorted(p.name for p in out.iterdir()) == ["bundle"]  # no temp, old or lock files
    assert sorted(p.name for p in dst.iterdir()) == [METADATA_FILE, MODEL_FILE]
    bundle = ModelBundle.load(dst)  # checksum and schema verified
    assert bundle.threshold in sources
    assert bundle.metadata["note"] == "SYNTHETIC test bundle"


def test_save_inside_another_save_waits_its_turn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deterministic version of the race: a second save starts right between the first save's
    two renames (old bundle moved away, new one not yet in place). It must wait, then win."""
    fcntl = pytest.importorskip("fcntl")
    import helion_learned.models.bundle as bundle_module

    dst = tmp_path / "bundle"
    tiny_bundle(0.25).save(dst)
    second, real_replace, real_flock, errors = tiny_bundle(0.75), os.replace, fcntl.flock, []
    threads: list[threading.Thread] = []
    waiting = threading.Event()  # the second save is blocked on the lock

    def save_second() -> None:
        try:
            second.save(dst)
        except BaseException as e:  # reported below
            errors.append(e)

    def flock(fd: int, op: int) -> None:
        if threading.current_thread() in threads:
            waiting.set()
        real_flock(fd, op)

    def racing_replace(src: str | Path, target: str | Path) -> None:
        if not threads and Path(target).name.startswith(".bundle.old-"):
            threads.append(threading.Thread(target=save_second))
            threads[0].start()
            deadline = time.monotonic() + 60
            while threads[0].is_alive() and not waiting.is_set():  # done, or waiting its turn
                assert time.monotonic() < deadline
                threads[0].join(timeout=0.01)
        real_replace(src, target)

    monkeypatch.setattr(bundle_module.os, "replace", racing_replace)
    monkeypatch.setattr(fcntl, "flock", flock)
    tiny_bundle(0.5).save(dst)
    threads[0].join(timeout=60)
    monkeypatch.undo()
    assert not errors, errors
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]
    assert ModelBundle.load(dst).threshold == 0.75  # the later save won, whole


def test_save_recovers_from_a_crashed_saver(tmp_path: Path) -> None:
    """A saver killed between its two renames leaves `.bundle.old-*`; the next save clears it."""
    dst = tmp_path / "bundle"
    tiny_bundle(0.5).save(dst)
    dst.rename(tmp_path / ".bundle.old-12345-deadbeef")  # the crash: old moved away, new absent
    tiny_bundle(0.25).save(dst)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]
    assert ModelBundle.load(dst).threshold == 0.25


# -- reports -------------------------------------------------------------------------------------


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(root.iterdir())}


def test_report_failure_leaves_previous_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("matplotlib")
    from helion_learned.training.report import render
    from tests.training.test_report import _result

    out = tmp_path / "report"
    render.write_report(_result(with_lfo=False), out)
    before = _snapshot(out)
    changed = _result(with_lfo=True)
    changed["data_note"] = "SYNTHETIC, second version"

    # 1. Rendering fails after the JSON, markdown and plots are done: nothing is replaced.
    def broken_html(*args: object, **kwargs: object) -> str:
        raise RuntimeError("boom while rendering html")

    with monkeypatch.context() as m:
        m.setattr(render, "render_html", broken_html)
        with pytest.raises(RuntimeError, match="boom"):
            render.write_report(changed, out)
    assert _snapshot(out) == before

    # 2. The disk fails while writing the third file: each file is whole (old or new), the
    #    failing one keeps its previous content, and no temp file is left behind.
    real_replace, calls = render.os.replace, []

    def failing_replace(src: str, dst: str | Path) -> None:
        calls.append(dst)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    with monkeypatch.context() as m:
        m.setattr(render.os, "replace", failing_replace)
        with pytest.raises(OSError, match="No space"):
            render.write_report(changed, out)
    after = _snapshot(out)
    assert set(after) == set(before)  # no temp files; nothing half-written got a name
    new = render.write_report(changed, tmp_path / "fresh")
    fresh = {p.name: p.read_bytes() for p in new.values()}
    for name, data in after.items():
        assert data in (before[name], fresh.get(name)), name
    failed = Path(calls[2]).name
    assert after[failed] == before[failed]


# -- determinism ---------------------------------------------------------------------------------

SHARD = "shard0_vm_18371"  # 6 real H100 workloads, 5 kernel families, ~800 configs


@pytest.fixture(scope="module")
def small_dataset():
    csv = ROOT / "data" / "h100" / f"{SHARD}.csv.gz"
    if not csv.is_file():
        pytest.skip(f"{csv} not present")
    logset = load_logs([csv])  # the base's meta.jsonl.gz and facts.jsonl.gz come with it
    assert len(logset.files) == 3 and not logset.skipped
    return build_dataset(logset)


def test_training_is_deterministic(small_dataset, tmp_path: Path) -> None:
    from helion_learned.training.train import train_bundle

    ds = small_dataset
    assert len(ds.groups) >= 4
    params = {"n_estimators": 40, "max_depth": 5}
    runs = [train_bundle(ds, params=params, seed=7) for _ in range(2)]
    a, b = (r.bundle for r in runs)
    # Bit-identical scores on the whole dataset, and identical calibration/threshold.
    sa, sb = a.model.score(ds.X), b.model.score(ds.X)
    assert sa.dtype == sb.dtype and sa.tobytes() == sb.tobytes()
    assert np.array_equal(runs[0].confidence, runs[1].confidence, equal_nan=True)
    assert a.calibrator.to_dict() == b.calibrator.to_dict()
    assert a.threshold == b.threshold
    # Saved: model.ubj byte-identical; metadata identical but for wall-clock fields.
    pa, pb = a.save(tmp_path / "a"), b.save(tmp_path / "b")
    assert (pa / MODEL_FILE).read_bytes() == (pb / MODEL_FILE).read_bytes()
    meta_a, meta_b = (json.loads((p / METADATA_FILE).read_text()) for p in (pa, pb))
    for meta in (meta_a, meta_b):
        del meta["created"], meta["train_seconds"]
    assert meta_a == meta_b
    # Identical seeds for real bound kernels, from the trained and from the reloaded bundles.
    f16 = torch.float16
    kernels = [
        (K.matmul, (torch.randn(256, 128, dtype=f16), torch.randn(128, 512, dtype=f16))),
        (K.softmax, (torch.randn(64, 1000),)),
        (K.add, (torch.randn(300, 200), torch.randn(300, 200))),
    ]
    hw = resolve_target("sm90")
    predictors = [
        Predictor(bundle) for bundle in (a, b, ModelBundle.load(pa), ModelBundle.load(pb))
    ]
    for kernel, args in kernels:
        facts = bound_facts(kernel, args)
        preds = [p.predict(facts, hw, top_k=3) for p in predictors]
        assert preds[0].configs and all(len(p.configs) == len(preds[0].configs) for p in preds)
        for p in preds[1:]:
            assert (p.configs, p.scores, p.confidence) == (
                preds[0].configs,
                preds[0].scores,
                preds[0].confidence,
            )
    # A different seed is a different model (the seed is really used).
    other = train_bundle(ds, params=params, seed=8).bundle
    assert other.model.score(ds.X).tobytes() != sa.tobytes()
