"""Small model bundles for adapter tests.

The labels here are SYNTHETIC (a made-up preference for 64-wide tiles and 4 warps): these bundles
exercise the adapter's mechanics (gating, seeds, promotion, failure handling), never quality.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from helion_learned.features.facts import KernelFacts
from helion_learned.features.facts import facts_from_env
from helion_learned.features.hardware import resolve_target
from helion_learned.features.vectorize import FeatureExtractor
from helion_learned.models.bundle import ModelBundle
from helion_learned.models.calibration import ConfidenceCalibrator
from helion_learned.models.calibration import confidence_features
from helion_learned.models.candidates import structured_grid
from helion_learned.models.kernel_experts import facts_key
from helion_learned.models.ranker import CostModel
from helion_learned.training.suite import kernels as K


def bound_facts(kernel, args) -> KernelFacts:
    bound = kernel.bind(args)
    return facts_from_env(bound.env, bound.host_function.device_ir)


def kernel_key(kernel, args) -> str:
    """The expert / known-kernel key of a real bound kernel (name, kind, structure signature)."""
    kernel.reset()
    key = facts_key(bound_facts(kernel, args))
    kernel.reset()
    assert key is not None
    return key


def training_facts() -> list[KernelFacts]:
    f16 = torch.float16
    out = []
    for m, n, k in ((256, 512, 128), (512, 512, 256), (128, 256, 64)):
        out.append(bound_facts(K.matmul, (torch.randn(m, k, dtype=f16), torch.randn(k, n, dtype=f16))))
    for rows, cols in ((64, 512), (128, 1000)):
        out.append(bound_facts(K.softmax, (torch.randn(rows, cols),)))
    out.append(bound_facts(K.add, (torch.randn(256, 256), torch.randn(256, 256))))
    return out


def synthetic_label(cfg: dict) -> float:
    """SYNTHETIC preference: first block near 64, 4 warps."""
    first = cfg["block_sizes"][0] if cfg.get("block_sizes") else 1
    return 1.0 / (1.0 + abs(np.log2(first) - 6) + abs(cfg.get("num_warps", 4) - 4) / 4)


def make_bundle(path: Path, *, threshold: float, cc: tuple[int, int] = (9, 0),
                seed: int = 0, devices: list[str] | None = None,
                known_kernels: set[str] | None = None,
                unseen_threshold: float | None = None) -> ModelBundle:
    fe = FeatureExtractor()
    hw = resolve_target("sm90")
    Xs, ys, gs, feats = [], [], [], []
    for i, facts in enumerate(training_facts()):
        cands = structured_grid(facts, limit=80, seed=i)
        X = fe.transform(facts, hw, cands)
        y = np.array([synthetic_label(c) for c in cands])
        Xs.append(X)
        ys.append(y / y.max())
        gs.append(np.full(len(cands), i))
    model = CostModel(n_estimators=40, max_depth=4, random_state=seed).fit(
        np.concatenate(Xs), np.concatenate(ys), np.concatenate(gs), feature_names=fe.feature_names)
    feats = np.stack([confidence_features(model.score(X)) for X in Xs])
    hits = np.array([i % 2 == 0 for i in range(len(Xs))])
    calibrator = ConfidenceCalibrator().fit(feats, hits)
    bundle = ModelBundle(model=model, calibrator=calibrator, backend="triton",
                         targets=[{"device_kind": "cuda", "compute_capability": list(cc),
                                   **({"devices": devices} if devices is not None else {})}],
                         threshold=threshold, metadata={"note": "SYNTHETIC test bundle"},
                         known_kernels=None if known_kernels is None else frozenset(known_kernels),
                         unseen_threshold=unseen_threshold)
    bundle.save(path)
    return ModelBundle.load(path)
