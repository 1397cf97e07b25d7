"""Everything the learned heuristic decides for every suite kernel, bound on CPU, as JSON: a speed-up
of the prediction path must leave it byte-identical.

    python benchmarks/pick_snapshot.py --out /tmp/before.json          # on the old tree
    python benchmarks/pick_snapshot.py --out /tmp/after.json           # on the new tree
    python benchmarks/pick_snapshot.py --compare /tmp/before.json /tmp/after.json

Per suite kernel (each family's first tiny shape, as benchmarks/bind_overhead.py binds them): the
seeds Helion receives (top 4 as bound), whether the pick is promoted, the prediction's configs,
scores, confidence, candidate count and kernel key; the top 24 with and without a config_spec; the
candidate list, its feature matrix (sha256) and all its scores. Floats are written with ``repr``
(exact round trip), so equal JSON means equal bits.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("TRITON_INTERPRET", "1")

DEFAULT_MODEL = "helion_learned/models/artifacts/triton/cuda_sm90"


def _prediction(pred: Any) -> dict[str, Any]:
    return {"configs": pred.configs, "scores": pred.scores, "confidence": pred.confidence,
            "n_candidates": pred.n_candidates, "kernel_key": pred.kernel_key}


def snapshot(model: str, target: str) -> dict[str, Any]:
    import numpy as np
    import torch

    import helion_learned
    from helion_learned.adapter import helion_candidates
    from helion_learned.features.facts import facts_from_env
    from helion_learned.models.candidates import candidate_grid
    from helion_learned.training.suite.registry import SUITE

    heuristic = helion_learned.install(target=target, model_dirs=[model])[0]
    predictor = heuristic._predictor
    hw = heuristic._target
    seen: list[tuple[Any, Any]] = []
    ranked = heuristic.ranked

    def capture(env: Any, device_ir: Any, *a: Any, **kw: Any) -> Any:
        seen.append((env, device_ir))
        return ranked(env, device_ir, *a, **kw)

    heuristic.ranked = capture  # type: ignore[method-assign]
    out: dict[str, Any] = {}
    try:
        for name, sk in SUITE.items():
            shape = sk.tiny_shapes[0]
            dtype = torch.float16 if sk.dtype == torch.bfloat16 else sk.dtype
            sk.kernel.reset()
            seen.clear()
            env = sk.kernel.bind(sk.make_args(shape, dtype, "cpu")).env
            bound = heuristic._cache.get(env)
            entry: dict[str, Any] = {
                "seeds": [dict(c.config) for c in heuristic.get_seed_configs(env, None) or []],
                "promoted": heuristic.confident(bound),
                "bound": None if bound is None else _prediction(bound.prediction),
            }
            if seen:
                env, device_ir = seen[0]
                facts = facts_from_env(env, device_ir)
                extras = helion_candidates(env, device_ir)
                ref = extras[0] if extras else None
                for label, spec in (("top24", env.config_spec), ("top24_offline", None)):
                    entry[label] = _prediction(predictor.predict(
                        facts, hw, config_spec=spec, top_k=24, extra_candidates=extras,
                        reference=ref, exclude=extras))
                cands = candidate_grid(facts, reference=ref)
                X = predictor.extractor.transform(facts, hw, cands)
                entry["candidates"] = cands
                entry["features_sha256"] = hashlib.sha256(np.ascontiguousarray(X).tobytes()
                                                          ).hexdigest()
                entry["all_scores"] = predictor.bundle.score(
                    X, predictor.bundle.kernel_key(facts)).tolist()
            out[f"{name}:{shape}"] = entry
    finally:
        heuristic.ranked = ranked  # type: ignore[method-assign]
        helion_learned.uninstall()
    return out


def compare(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """What differs between two snapshots (empty: identical)."""
    diffs = [f"{k}: only in one snapshot" for k in sorted(set(a) ^ set(b))]
    for k in sorted(set(a) & set(b)):
        for field in sorted(set(a[k]) | set(b[k])):
            if json.dumps(a[k].get(field)) != json.dumps(b[k].get(field)):
                diffs.append(f"{k}: {field} differs")
    return diffs


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--target", default="sm90")
    p.add_argument("--out", type=Path)
    p.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    args = p.parse_args(argv)
    if args.compare:
        a, b = (json.loads(path.read_text()) for path in args.compare)
        diffs = compare(a, b)
        print("\n".join(diffs) if diffs else f"identical: {len(a)} kernels")
        return 1 if diffs else 0
    snap = snapshot(args.model, args.target)
    text = json.dumps(snap, indent=1, sort_keys=True) + "\n"
    if args.out:
        args.out.write_text(text)
    seeded = sum(bool(e["seeds"]) for e in snap.values())
    print(f"{len(snap)} kernels, {seeded} seeded, "
          f"{sum(e['promoted'] for e in snap.values())} promoted; "
          f"sha256 {hashlib.sha256(text.encode()).hexdigest()[:16]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
