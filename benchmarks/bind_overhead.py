"""Bind-time overhead of helion_learned: bind time with and without the learned heuristic installed,
and the prediction latency inside the heuristic (p50/p99).

    python benchmarks/bind_overhead.py --model build/triton_sm90 --target sm90 [--repeats 3]

Runs on CPU (kernels bind on CPU; the target names the GPU to predict for) or on a GPU. Binding
happens once per (kernel, shape): each measurement resets the kernel so it binds afresh. By default
the threshold is forced to 0 so every bind runs the full prediction path (worst case for
overhead); ``--threshold bundle`` measures the bundle as shipped. Both arms bind each kernel back
to back (ABBA order) so drift hits them alike.
Writes JSON to --out (default: print only). Prediction latency is also given without the
predictions that decoded an expert (the first use of each expert in a process:
models.lazy_models), and those separately.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TRITON_INTERPRET", "1")  # harmless on GPU runs where it is set to 0


def _bind_once(kernel: Any, args: tuple) -> float:
    kernel.reset()
    start = time.perf_counter()
    kernel.bind(args)
    return time.perf_counter() - start


def _bind_times(cases: list[tuple[Any, tuple]], repeats: int) -> list[float]:
    return [_bind_once(kernel, args) for _ in range(repeats) for kernel, args in cases]


def _paired_bind_times(cases: list[tuple[Any, tuple]], repeats: int, with_ours: dict[str, Any],
                       without: dict[str, Any]) -> tuple[list[float], list[float]]:
    """Bind each kernel without and with the learned heuristic back to back, alternating which
    goes first (ABBA): heap growth, GC pauses and CPU clock drift then hit both arms alike
    (running one arm after the other put ~5-15 % of drift on the second arm here)."""
    from helion._compiler import autotuner_heuristics as ah

    base: list[float] = []
    learned: list[float] = []
    for r in range(repeats):
        for i, (kernel, args) in enumerate(cases):
            order = ("without", "with") if (r + i) % 2 == 0 else ("with", "without")
            for arm in order:
                ah.HEURISTICS_BY_BACKEND.update(with_ours if arm == "with" else without)
                (learned if arm == "with" else base).append(_bind_once(kernel, args))
    ah.HEURISTICS_BY_BACKEND.update(with_ours)
    return base, learned


def _paired_ratios(base: list[float], learned: list[float], n_cases: int) -> list[float]:
    """Per kernel, the median over repeats of (bind with ÷ bind without); the lists hold one
    bind per (repeat, kernel) in that order, as :func:`_paired_bind_times` writes them."""
    return [statistics.median(w / b for w, b in zip(learned[i::n_cases], base[i::n_cases],
                                                       strict=True))
            for i in range(n_cases)]


def _percentile(values: list[float], q: float) -> float | None:
    v = sorted(values)
    return v[min(len(v) - 1, int(q * len(v)))] if v else None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", required=True, help="bundle directory")
    p.add_argument("--target", default="sm90")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threshold", default="0",
                   help="confidence threshold: 0 (default) runs the full prediction on every "
                        "bind (worst case); 'bundle' keeps the bundle's calibrated one")
    p.add_argument("--out", type=Path)
    args = p.parse_args(argv)

    import torch

    import helion_learned
    from helion_learned.training.suite.registry import SUITE

    cases = []
    for sk in SUITE.values():
        for shape in sk.tiny_shapes[:1]:
            dtype = torch.float16 if (args.device == "cpu" and sk.dtype == torch.bfloat16) else sk.dtype
            cases.append((sk.kernel, sk.make_args(shape, dtype, args.device)))
    _bind_times(cases, 1)  # warm-up: imports, first compiles, caches outside our code

    from helion._compiler import autotuner_heuristics as ah

    helion_learned.uninstall()
    without = dict(ah.HEURISTICS_BY_BACKEND)
    threshold = None if args.threshold == "bundle" else float(args.threshold)
    installed = helion_learned.install(target=args.target, model_dirs=[args.model],
                                       threshold=threshold)
    with_ours = dict(ah.HEURISTICS_BY_BACKEND)
    heuristic = installed[0]
    latencies: list[float] = []
    decoding: list[float] = []  # the predictions that decoded an expert (models.lazy_models)
    original = heuristic._predictor.predict
    experts = heuristic._predictor.bundle.experts

    def decoded() -> int:
        return getattr(experts.models_, "loaded", 0) if experts is not None else 0

    def timed(*a: Any, **kw: Any) -> Any:
        before = decoded()
        pred = original(*a, **kw)
        (decoding if decoded() > before else latencies).append(pred.latency_ms)
        return pred

    heuristic._predictor.predict = timed  # type: ignore[method-assign]
    # Everything the heuristic does per bind (facts, Helion's own candidates, the prediction).
    in_heuristic: list[float] = []
    ranked = heuristic.ranked

    def timed_ranked(*a: Any, **kw: Any) -> Any:
        start = time.perf_counter()
        try:
            return ranked(*a, **kw)
        finally:
            in_heuristic.append((time.perf_counter() - start) * 1e3)

    heuristic.ranked = timed_ranked  # type: ignore[method-assign]
    base, learned = _paired_bind_times(cases, args.repeats, with_ours, without)
    heuristic.ranked = ranked  # type: ignore[method-assign]
    paired = _paired_ratios(base, learned, len(cases))
    seeded = promoted = 0
    for kernel, a in cases:
        kernel.reset()
        env = kernel.bind(a).env
        seeded += heuristic.name in env.config_spec.autotuner_heuristics  # ungated seeding
        promoted += heuristic.confident(heuristic._cache.get(env))
    helion_learned.uninstall()

    lat = sorted(latencies + decoding)
    result = {
        "device": args.device, "target": args.target, "kernels": len(cases),
        "threshold": heuristic._predictor.bundle.threshold,
        "binds_per_arm": len(base),
        "bind_ms_median_without": statistics.median(base) * 1e3,
        "bind_ms_median_with": statistics.median(learned) * 1e3,
        "bind_time_ratio": statistics.median(learned) / statistics.median(base),
        "bind_total_s_without": sum(base), "bind_total_s_with": sum(learned),
        # Per kernel: median over repeats of with ÷ without, binds back to back (the drift
        # between kernels and repeats cancels); then the median and geomean over kernels.
        "bind_time_ratio_paired_median": statistics.median(paired),
        "bind_time_ratio_paired_geomean": statistics.geometric_mean(paired),
        "heuristic_ms_p50": _percentile(in_heuristic, 0.5),
        "heuristic_ms_p99": _percentile(in_heuristic, 0.99),
        "prediction_ms_p50": _percentile(lat, 0.5),
        "prediction_ms_p99": _percentile(lat, 0.99),
        "prediction_ms_max": lat[-1] if lat else None,
        # Without the predictions that decoded an expert (once per expert and process).
        "prediction_ms_p50_decoded": _percentile(latencies, 0.5),
        "prediction_ms_p99_decoded": _percentile(latencies, 0.99),
        "predictions_that_decoded_an_expert": len(decoding),
        "expert_decode_prediction_ms_median": (statistics.median(decoding) if decoding
                                               else None),
        "seeded": seeded, "promoted": promoted,
    }
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
