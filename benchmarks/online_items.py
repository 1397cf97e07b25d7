"""The three kinds of online-validation work items: ``seed`` (seed quality of five config
sources, timed side by side), ``search`` (the same Helion search unseeded vs seeded by
helion_learned) and ``overhead`` (benchmarks/bind_overhead.py on this device).

How heuristic seeds reach Helion's search (helion 1.5.0): at bind time
``autotuner_heuristics.compiler_seed_configs`` asks every registered heuristic that
``is_eligible`` for ``get_seed_configs`` (a ranked list; ours returns its ``top_k`` picks) and
stores them in ``config_spec.compiler_seed_configs``; a heuristic whose ``should_promote`` is
true also sets ``compiler_default_config`` (what ``default_config()`` runs with autotuning off).
The quick effort profile builds LFBOTreeSearch/PatternSearch with
``initial_population_strategy="from_best_available"`` and ``best_available_pad_random=False``,
so ``BaseSearch._generate_best_available_population_flat`` makes the initial population: user
seeds, then the compiler seeds (via ``ConfigGeneration.seed_flat_config_pairs``), then the
default config, then cached configs (none here: HELION_SKIP_CACHE=1 makes
``_find_similar_cached_configs`` return nothing). Seeds are also pinned as final-verification
finalists.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

from online_common import Opts
from online_common import clear_log
from online_common import cold_compile_caches
from online_common import config_dict
from online_common import config_from_log
from online_common import fresh_kernel
from online_common import make_args
from online_common import reach
from online_common import slug
from online_common import time_configs
from online_common import trajectory

VARIANTS = ("helion_default", "helion_heuristic", "learned_pick", "learned_gated", "autotune")
WITHIN = 0.02  # "time to within 2 % of the unseeded arm's final best"
LEARNED_TOPK_K = 8  # the learned autotuner's default (helion_learned.autotuner(k=8))
MIN_T_S = 0.01  # the CSV's timestamp resolution: a floor for speedup denominators


def _learned_bind(sk: Any, args: tuple, opts: Opts, **install_kwargs: Any) -> tuple[Any, dict]:
    """Bind a fresh kernel with helion_learned installed; what the heuristic decided."""
    import helion_learned

    installed = helion_learned.install(target=opts.target, record_facts=False, **install_kwargs)
    try:
        bound = fresh_kernel(sk, opts, seed=0).bind(args)
    finally:
        helion_learned.uninstall()
    cs = bound.env.config_spec
    heuristic = installed[0] if installed else None
    cached = heuristic._cache.get(bound.env) if heuristic is not None else None
    pred = cached.prediction if cached is not None else None
    info = {
        "heuristic": getattr(heuristic, "name", None),
        "threshold": heuristic._predictor.bundle.threshold if heuristic is not None else None,
        # "fired" = the pick was promoted to the default config (seeding is ungated now).
        "fired": heuristic is not None and heuristic.confident(cached),
        "seeded": heuristic is not None and heuristic.name in cs.autotuner_heuristics,
        "heuristics_fired": list(cs.autotuner_heuristics),
        "confidence": pred.confidence if pred is not None else None,
        "pick": config_dict(pred.configs[0]) if pred is not None and pred.configs else None,
        "prediction_ms": pred.latency_ms if pred is not None else None,
    }
    return bound, info


def _learned_topk(sk: Any, args: tuple, opts: Opts) -> dict[str, Any]:
    """The learned autotuner (helion_learned.search.LearnedTopKSearch, k=8): its chosen config,
    the configs it benchmarked and its wall clock (bind excluded, as for the autotune)."""
    import helion_learned
    from helion_learned.search.topk import LearnedTopKSearch

    helion_learned.install(target=opts.target, record_facts=False)
    try:
        with cold_compile_caches():
            bound = fresh_kernel(sk, opts, seed=0).bind(args)
            t0 = time.perf_counter()
            search = LearnedTopKSearch(bound, args, k=LEARNED_TOPK_K)
            config = search.autotune()
            elapsed = time.perf_counter() - t0
    except Exception as e:  # measured as a failed variant, the other variants stand
        return {"config": None, "error": f"{type(e).__name__}: {e}"[:500]}
    finally:
        helion_learned.uninstall()
    return {"config": config, "elapsed_s": round(elapsed, 3), "k": LEARNED_TOPK_K,
            "n_configs": len(search.configs), "n_learned": len(search.learned_configs)}


def run_seed(item: dict[str, Any], opts: Opts) -> dict[str, Any]:
    from helion.autotuner.search_space_logger import canonical_config_id

    import helion_learned
    from helion_learned.training.collect.measure import real_autotune
    from helion_learned.training.collect.measure import without_learned_heuristics
    from helion_learned.training.suite.registry import SUITE

    sk = SUITE[item["family"]]
    args = make_args(sk, tuple(item["shape"]), opts)
    variants: dict[str, dict[str, Any]] = {}

    helion_learned.uninstall()  # Helion as shipped: its own hand heuristics only
    bound = fresh_kernel(sk, opts, seed=0).bind(args)
    cs = bound.env.config_spec
    variants["helion_default"] = {"config": cs.autotune_reference_config()}
    variants["helion_heuristic"] = {
        "config": cs.default_config(), "heuristics_fired": list(cs.autotuner_heuristics),
        "promoted": cs.compiler_default_config is not None}
    for name, kwargs in (("learned_pick", {"threshold": 0.0}), ("learned_gated", {})):
        learned, info = _learned_bind(sk, args, opts, promote=True, **kwargs)
        variants[name] = {"config": learned.env.config_spec.default_config(), **info}

    variants["learned_topk"] = _learned_topk(sk, args, opts)

    base = opts.out / "search_logs" / f"{slug(item['item'])}_autotune"
    clear_log(base)
    with without_learned_heuristics(), cold_compile_caches():
        tuned = fresh_kernel(sk, opts, seed=0, log_base=base,
                             budget_s=opts.autotune_budget_s).bind(args)
        result = real_autotune(tuned, args)
    best = config_from_log(base, result.get("best_config_id"))
    variants["autotune"] = {"config": best, **{k: v for k, v in result.items()
                                               if k in ("search", "best_ms", "elapsed_s",
                                                        "error")}}
    if best is None:
        variants["autotune"]["error"] = result.get("error") or "autotune gave no config"

    import helion

    configs: dict[str, Any] = {}
    for v in variants.values():
        if v["config"] is None:
            continue
        config = v["config"] if isinstance(v["config"], helion.Config) else helion.Config(
            **v["config"])
        v["config_id"] = canonical_config_id(config)
        v["config"] = config_dict(config)
        configs.setdefault(v["config_id"], config)  # identical configs are timed once
    timings = time_configs(bound, args, sk, configs, opts)
    for v in variants.values():
        timing = timings.get(v.get("config_id") or "", {"status": "no_config", "ms": None})
        v.update(status=timing["status"], ms=timing.get("ms"), rounds_ms=timing.get("rounds_ms"))
        if timing.get("error"):
            v["timing_error"] = timing["error"]
    auto_ms = variants["autotune"]["ms"]
    ratios = {name: (auto_ms / v["ms"] if auto_ms and v["ms"] else None)
              for name, v in variants.items()}  # speed relative to the autotune best
    return {"variants": variants, "ratios": ratios, "autotune_elapsed_s": result.get("elapsed_s"),
            "autotune_log": str(base)}


def _search_arm(sk: Any, args: tuple, opts: Opts, arm: str, seed: int, base: Path
                ) -> dict[str, Any]:
    import helion_learned
    from helion_learned.training.collect.measure import real_autotune

    clear_log(base)
    prior = arm == "seeded" and opts.seeded_arm == "prior"
    with cold_compile_caches():
        if arm == "seeded" and not prior:  # our ranked seeds join Helion's in compiler seeds
            helion_learned.install(target=opts.target, top_k=opts.top_k, threshold=0.0,
                                   record_facts=False)
        else:
            helion_learned.uninstall()
        try:
            kernel = fresh_kernel(sk, opts, seed=seed, log_base=base,
                                  budget_s=opts.search_budget_s)
            t0 = time.perf_counter()
            bound = kernel.bind(args)
            bind_s = time.perf_counter() - t0
        finally:
            helion_learned.uninstall()  # the search itself reads only the bind-time seeds
        cs = bound.env.config_spec
        search_cls = None
        if prior:  # helion_learned.search.LearnedPriorLFBOTreeSearch: the learned prior
            from helion_learned.search.prior import LearnedPriorLFBOTreeSearch as search_cls

            helion_learned.install(target=opts.target, record_facts=False)
        t0 = time.perf_counter()
        try:
            result = real_autotune(bound, args, search_cls)
        finally:
            helion_learned.uninstall()
        wall_s = time.perf_counter() - t0
    best = config_from_log(base, result.get("best_config_id"))
    return {
        "bind_s": bind_s, "search_wall_s": wall_s, "search": result.get("search"),
        "search_best_ms": result.get("best_ms"), "error": result.get("error"),
        "heuristics_fired": list(cs.autotuner_heuristics),
        "seeds": [config_dict(c) for c in cs.compiler_seed_configs],
        "best_config": best, "best_config_id": result.get("best_config_id"),
        "trajectory": trajectory(base), "log": str(base), "_bound": bound,
    }


def run_search(item: dict[str, Any], opts: Opts) -> dict[str, Any]:
    import helion

    from helion_learned.training.suite.registry import SUITE

    sk = SUITE[item["family"]]
    seed = int(item["seed"])
    args = make_args(sk, tuple(item["shape"]), opts)
    order = ["unseeded", "seeded"] if seed % 2 == 0 else ["seeded", "unseeded"]  # drift fairness
    arms = {arm: _search_arm(sk, args, opts, arm, seed,
                             opts.out / "search_logs" / f"{slug(item['item'])}_{arm}")
            for arm in order}
    un, se = arms["unseeded"]["trajectory"], arms["seeded"]["trajectory"]
    out: dict[str, Any] = {"arm_order": order, "within": WITHIN, "seeded_arm": opts.seeded_arm}
    if not un:
        raise RuntimeError(f"unseeded search logged no successful config: "
                           f"{arms['unseeded'].get('error')}")
    target = un[-1][2] * (1 + WITHIN)
    for name, traj in (("unseeded", un), ("seeded", se)):
        hit = reach(traj, target)
        arms[name]["final_best_ms"] = traj[-1][2] if traj else None
        arms[name]["time_to_target_s"] = hit[0] if hit else None
        arms[name]["configs_to_target"] = hit[1] if hit else None
    t_un, t_se = arms["unseeded"]["time_to_target_s"], arms["seeded"]["time_to_target_s"]
    n_un, n_se = arms["unseeded"]["configs_to_target"], arms["seeded"]["configs_to_target"]
    out["target_ms"] = target
    out["seeded_reached"] = t_se is not None
    out["wall_clock_speedup"] = (max(t_un, MIN_T_S) / max(t_se, MIN_T_S)
                                 if t_se is not None else None)
    out["configs_speedup"] = n_un / n_se if n_se else None
    se_final, un_final = arms["seeded"]["final_best_ms"], arms["unseeded"]["final_best_ms"]
    out["final_ratio_search"] = se_final / un_final if se_final and un_final else None

    # The searches' own timings are single noisy readings: re-time both final configs side by
    # side with the seed items' protocol for the final comparison.
    configs = {a["best_config_id"]: helion.Config(**a["best_config"])
               for a in arms.values() if a["best_config"]}  # the same config is timed once
    timed = time_configs(arms["unseeded"]["_bound"], args, sk, configs, opts)
    for a in arms.values():
        t = timed.get(a["best_config_id"] or "") or {}
        a.update(retimed_ms=t.get("ms"), retimed_status=t.get("status", "no_config"))
    se_ms, un_ms = arms["seeded"]["retimed_ms"], arms["unseeded"]["retimed_ms"]
    out["final_ratio"] = se_ms / un_ms if se_ms and un_ms else None  # ms: >1 = seeded slower
    for a in arms.values():
        a.pop("_bound")
        a["trajectory"] = [[round(t, 2), int(n), b] for t, n, b in a["trajectory"]]
    out["arms"] = arms
    return out


def run_overhead(item: dict[str, Any], opts: Opts) -> dict[str, Any]:
    """benchmarks/bind_overhead.py, reused as is, on this process's device."""
    import json

    import bind_overhead
    from online_common import bundle_path

    dest = opts.out / f"overhead_{'cpu' if opts.cpu else 'gpu'}.json"
    argv = ["--model", str(bundle_path()), "--target", "sm90",
            "--repeats", str(opts.overhead_repeats), "--device", "cpu" if opts.cpu else "cuda",
            "--out", str(dest)]
    rc = bind_overhead.main(argv)
    if rc:
        raise RuntimeError(f"bind_overhead.main exited with {rc}")
    result = json.loads(dest.read_text())
    if not math.isfinite(result["bind_time_ratio"]):
        raise RuntimeError(f"bind_overhead gave bind_time_ratio={result['bind_time_ratio']}")
    return {"overhead": result, "overhead_file": str(dest),
            "command": "python benchmarks/bind_overhead.py " + " ".join(argv)}


RUNNERS = {"seed": run_seed, "search": run_search, "overhead": run_overhead}
