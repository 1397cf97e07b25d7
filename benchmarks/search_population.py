"""Rank within a Helion search population, leave-family-out (issue #29 item 3).

    python benchmarks/search_population.py -o reports/search_population

A *search population* is the set of configs one real Helion autotune visited for one workload
(kernel × shapes × GPU), with the times it measured, as ``HELION_AUTOTUNE_LOG`` wrote them
(CSV + ``.meta.jsonl``). The question: when the model ranks the configs Helion's own search
visits, for a kernel family it was never trained on, is its top-1 better than a random one of
those configs (target: by >= 0.10), and its top-5 at least a random best-of-8?

Populations (real GPU logs, all quick-effort ``LFBOTreeSearch`` autotunes of plain Helion):
``data/online_h100/search_logs`` (H100: ``seed_*_autotune`` and the ``search_*_unseeded`` logs)
and ``data/online_h200/search_logs/round*.tgz`` (H200, unpacked to the scratch folder). The
``search_*_seeded`` logs visited our learned seeds and are left out (``--include-seeded`` adds
them). The logs have no facts sidecar: each is copied into ``--scratch`` and backfilled there
(``training.logs.backfill``, re-binding the suite kernel on CPU); inputs are never modified. A log
that cannot be backfilled or loaded is listed as excluded, with the reason. One workload per log.

Protocols:

* ``leave_family_out``: the kernel families (``Group.family``, the Helion kernel name: matmul
  fp16/bf16/fp32 are one family) are dealt into 7 groups (``training.evaluate
  .grouped_family_folds``, seed 0); per group a model is trained with the shipped settings on
  the shipped training data (``scripts/main.sh``: ``data/h100`` and ``data/h100_new`` scored, the short kernels on
  ``data/h100_graph``'s CUDA-graph labels, ``data/h200`` and ``data/h200_graph`` training-only) with that group's workloads removed from both, and scores
  the populations of those families. The model is the final global model ``train_bundle`` fits
  (``fit_models``, the shipped parameters, seed 0): for a family it never saw, a bundle has no
  per-kernel expert, so its score *is* that model's (checked per population:
  ``expert_key_in_training``). ``--full-bundles`` runs the whole ``train_bundle`` instead (its
  CV and gate too: ~13x the fits, the same scores);
* ``leave_family_out_populations``: the same, with the *other* family groups' populations
  added to each model's training data as training-only rows (what a user who retrains on their
  own Helion autotune logs gets for a new kernel): the model has seen how Helion's searches
  spread over other kernels, never this kernel;
* ``shipped_bundle``: the shipped bundle as is (``models/artifacts/triton/cuda_sm90``: kernels
  seen, these shapes not). Scoring goes through ``ModelBundle.score_rows``, the offline path of
  ``evaluate_bundle``, which does not gate on the GPU (the bundle fires on H100s only).

Both leave-family-out protocols train once per XGBoost seed (``--seeds``, default 3: seeds 0, 1,
2; the folds stay those of seed 0): per population, top-1, top-5 and τ are the means over the
seeds (populations are small, and one seed's top-1 moves by several points), and the summaries'
geomeans are the means over seeds of each seed's geomean; the per-seed
geomeans are in ``summary.json`` (``per_seed_top1_geomean``); the headline is their mean.

Per population, over its ok configs (failed ones dropped, as the loaders do): ``top1`` = best
time ÷ time of the model's top-ranked config (configs tied at the top score: the mean over them,
``top1_tied`` says how many; before 2026-12-07 evening the one logged first); ``top5`` = the best of its 5 highest; ``random1`` /
``random8`` = the exact expected best of 1 / 8 configs drawn at random
(``expected_best_of_random``); Kendall τ of scores vs speed. Helion's final pick is the
population's best by construction; where Helion's default config (``autotune_reference_config``,
from the online run's rows) is in the log, its measured rank and speed are reported too.
Writes ``summary.json`` and ``report.md`` (``search_population_report.py``) to ``-o``.
About 2 minutes on 2 cores with 3 seeds (``--full-bundles``: over an hour).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import re
import shutil
import sys
import tarfile
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))  # transfer_common, search_population_report

SHIPPED = ROOT / "helion_learned/models/artifacts/triton/cuda_sm90"
TRAIN_LOGS = [ROOT / "data/h100", ROOT / "data/h100_new",
              ROOT / "data/h100_graph"]  # --prefer-timer cudagraph, as main.sh
EXTRA_LOGS = [ROOT / "data/h200", ROOT / "data/h200_graph"]
SOURCES = {"H100": ROOT / "data/online_h100", "H200": ROOT / "data/online_h200"}
FAMILY_GROUPS = 7
KERNELS = "helion_learned.training.suite.kernels"
PROTOCOLS = ("leave_family_out", "leave_family_out_populations", "shipped_bundle")
SEEDED_PROTOCOLS = PROTOCOLS[:2]  # trained here, once per XGBoost seed
METRICS = ("top1", "top5", "random1", "random8")
NAME = re.compile(r"^(?P<kind>seed|search)_(?P<family>.+?)_(?P<shape>\d+(?:x\d+)*)"
                  r"(?:_autotune|_seed(?P<seed>\d+)_(?P<arm>seeded|unseeded))$")


# -- the scoring (pure) ---------------------------------------------------------------------------
def score_population(perf_ms: Any, scores: Any) -> dict[str, Any]:
    """Metrics of one population ranked by ``scores`` (higher = predicted faster). ``perf_ms``:
    measured times, NaN/inf for configs that did not run ok (dropped, as the loaders do)."""
    from scipy.stats import kendalltau

    from helion_learned.training.evaluate import expected_best_of_random

    perf, s = np.asarray(perf_ms, dtype=np.float64), np.asarray(scores, dtype=np.float64)
    ok = np.isfinite(perf) & (perf > 0)
    if ok.sum() < 2:
        raise ValueError(f"a population needs 2+ ok configs, got {int(ok.sum())}")
    perf, s = perf[ok], s[ok]
    rel = perf.min() / perf
    order = np.argsort(-s, kind="stable")  # top 5: ties go to the config logged first
    tau = kendalltau(s, rel).statistic if perf.size > 2 else math.nan
    # Top-1 among configs the model scores alike is a coin toss, not a ranking: its expected
    # value. (Helion's search visits configs that differ only in fields the features do not
    # see, e.g. range_flattens on attention: 0.15 ms vs 3.07 ms at one score.)
    tied = s == s[order[0]]
    return {"n_ok": int(perf.size), "n_failed": int((~ok).sum()),
            "top1": float(rel[tied].mean()), "top1_tied": int(tied.sum()),
            "top5": float(rel[order[:5]].max()),
            "random1": expected_best_of_random(rel, 1),
            "random8": expected_best_of_random(rel, 8),
            "kendall_tau": float(tau) if tau == tau else math.nan}


def mean_over_seeds(results: list[dict[str, Any]]) -> dict[str, Any]:
    """One population's metrics under several model seeds: the model-dependent ones (top-1,
    top-5, τ) averaged (``per_seed`` keeps each seed's, for :func:`summarize_rows`), the
    population's own (random-1/8, counts) as they are."""
    out = dict(results[0])
    for m in ("top1", "top5", "kendall_tau"):
        vals = [r[m] for r in results if r[m] == r[m]]
        out[m] = float(np.mean(vals)) if vals else math.nan
    out["per_seed"] = {m: [r[m] for r in results] for m in ("top1", "top5")}
    return out


def config_position(perf_ms: Any, index: int | None) -> dict[str, Any] | None:
    """Where config ``index`` sits by measured time among the ok configs (rank 1 = fastest)."""
    if index is None:
        return None
    perf = np.asarray(perf_ms, dtype=np.float64)
    ok = np.isfinite(perf) & (perf > 0)
    if not ok[index]:
        return {"status": "failed", "rank": None, "rel": 0.0, "n_ok": int(ok.sum())}
    return {"status": "ok", "rank": int(np.sum(perf[ok] < perf[index])) + 1,
            "rel": float(perf[ok].min() / perf[index]), "n_ok": int(ok.sum())}


def geomean(values: list[float]) -> float:
    from helion_learned.training.evaluate import summarize

    return summarize(values)["geomean"]


def summarize_rows(rows: list[dict[str, Any]], protocol: str) -> dict[str, Any]:
    """Geomeans over populations; for metrics measured under several model seeds
    (:func:`mean_over_seeds`), the mean over seeds of each seed's geomean."""
    got = [r[protocol] for r in rows if r.get(protocol)]
    out: dict[str, Any] = {f"{m}_geomean": geomean([g[m] for g in got]) for m in METRICS}
    taus = [g["kendall_tau"] for g in got if g["kendall_tau"] == g["kendall_tau"]]
    out["kendall_tau_mean"] = float(np.mean(taus)) if taus else math.nan
    n_seeds = min((len(g["per_seed"]["top1"]) for g in got if "per_seed" in g), default=0)
    if got and n_seeds and all("per_seed" in g for g in got):
        for m in ("top1", "top5"):
            per = [geomean([g["per_seed"][m][i] for g in got]) for i in range(n_seeds)]
            out[f"{m}_geomean"] = float(np.mean(per))
            out[f"per_seed_{m}_geomean"] = per
    out["n_populations"] = len(got)
    return out


def default_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Where Helion's default (and its autotune-off config) sit in the populations."""
    out: dict[str, Any] = {}
    for name in ("helion_default", "helion_heuristic"):
        got = [r[name] for r in rows if r.get(name)]
        out[name] = {"present": len(got), "n_populations": len(rows),
                     "rel_geomean": geomean([g["rel"] for g in got]) if got else math.nan,
                     "median_rank_fraction": float(np.median(
                         [g["rank"] / g["n_ok"] for g in got if g["rank"]])) if got else math.nan}
    return out


def targets(summary: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for protocol in PROTOCOLS:
        s = summary[protocol]
        gap = s["top1_geomean"] - s["random1_geomean"]
        out += [{"name": "top-1 above random-1 by >= 0.10", "protocol": protocol,
                 "target": 0.10, "value": gap, "met": bool(gap >= 0.10)},
                {"name": "top-5 >= random best-of-8", "protocol": protocol,
                 "target": s["random8_geomean"], "value": s["top5_geomean"],
                 "met": bool(s["top5_geomean"] >= s["random8_geomean"])}]
    return out


# -- the populations ------------------------------------------------------------------------------
def _log_files(folder: Path, stem: str) -> list[Path]:
    return sorted(p for p in folder.iterdir()
                  if p.name.startswith(stem + ".") and (".csv" in p.name or ".meta." in p.name)
                  and not p.name.endswith((".sources.csv", ".sources.csv.gz")))


def collect_populations(scratch: Path, include_seeded: bool) -> tuple[list[dict[str, Any]],
                                                                     list[dict[str, Any]]]:
    """Copy every population log into ``scratch`` (the H200 archives unpacked): one entry per log."""
    found, skipped = [], []
    for gpu, src in SOURCES.items():
        folders = [src / "search_logs"]
        for tgz in sorted((src / "search_logs").glob("*.tgz")):
            dest = scratch / "unpacked" / gpu / tgz.stem
            dest.mkdir(parents=True, exist_ok=True)
            with tarfile.open(tgz) as tar:
                tar.extractall(dest, filter="data")
            folders += sorted({p.parent for p in dest.rglob("*.csv*")})
        for folder in folders:
            stems = sorted({p.name.split(".")[0] for p in folder.glob("*.csv*")})
            for stem in stems:
                m = NAME.match(stem)
                label = _label(folder, scratch, stem)
                if m is None:
                    skipped.append({"log": label, "gpu": gpu, "reason": "not a population log"})
                    continue
                if m["arm"] == "seeded" and not include_seeded:
                    skipped.append({"log": label, "gpu": gpu,
                                    "reason": "seeded search arm (visited our learned seeds)"})
                    continue
                dest = scratch / "logs" / gpu / f"{len(found):03d}_{stem}"
                dest.mkdir(parents=True, exist_ok=True)
                for f in _log_files(folder, stem):
                    shutil.copy2(f, dest / f.name)
                found.append({"log": label, "gpu": gpu, "dir": dest, "stem": stem,
                              "kind": "seed_autotune" if m["kind"] == "seed"
                              else f"search_{m['arm']}", "suite_family": m["family"],
                              "shape": m["shape"], "search_seed": m["seed"]})
    return found, skipped


def _label(folder: Path, scratch: Path, stem: str) -> str:
    """A log's name in the report: its path in the repository (archives: ``ARCHIVE.tgz:``)."""
    if folder.is_relative_to(scratch / "unpacked"):
        gpu, archive, *rest = folder.relative_to(scratch / "unpacked").parts
        return f"{SOURCES[gpu].relative_to(ROOT)}/search_logs/{archive}.tgz:{'/'.join([*rest, stem])}"
    return f"{folder.relative_to(ROOT)}/{stem}"


def online_rows(gpu: str) -> dict[str, dict[str, Any]]:
    """The online run's rows by item (``seed:FAMILY:SHAPE``, ``search:FAMILY:SHAPE:seedS``)."""
    rows = {}
    for path in sorted(SOURCES[gpu].glob("online_shard*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                r = json.loads(line)
                rows[r["item"]] = r
    return rows


def load_population(pop: dict[str, Any]) -> Any:
    """Backfill the scratch copy's facts, then (the population as a one-workload Dataset, its
    Helion settings), or a reason string."""
    from helion_learned.training.dataset import build_dataset
    from helion_learned.training.logs import load_logs
    from helion_learned.training.logs.backfill import backfill_facts

    try:
        counts = backfill_facts([pop["dir"]], [KERNELS])
        if not counts.get("written") and not counts.get("had_facts"):
            return f"backfill: {counts}"
        logset = load_logs([pop["dir"]])
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    if len(logset.workloads) != 1:
        return f"{len(logset.workloads)} workloads in one log (expected 1)"
    ds = build_dataset(logset)
    if len(ds.groups) != 1:
        return f"dropped by the loader: {ds.dropped}"
    return ds, logset.workloads[0].settings or {}


def population_row(pop: dict[str, Any], ds: Any, settings: dict[str, Any],
                   online: dict[str, dict[str, Any]]) -> dict[str, Any]:
    g = ds.groups[0]
    item = (f"seed:{pop['suite_family']}:{pop['shape']}" if pop["kind"] == "seed_autotune"
            else f"search:{pop['suite_family']}:{pop['shape']}:seed{pop['search_seed']}")
    seed_row = online.get(f"seed:{pop['suite_family']}:{pop['shape']}", {})
    when = online.get(item, {}).get("timestamp")
    row = {"log": pop["log"], "gpu": pop["gpu"], "kind": pop["kind"], "family": g.family,
           "suite_family": pop["suite_family"], "input_shapes": g.input_shapes,
           "dtypes": g.dtypes, "hardware": g.hardware, "n_configs": len(g.configs),
           "best_ms": g.best_ms, "effort": settings.get("autotune_effort"),
           "search_budget_s": settings.get("autotune_budget_seconds"),
           "date": datetime.datetime.fromtimestamp(when, datetime.UTC).strftime(
               "%Y-%m-%d %H:%M UTC") if when else None}
    for name in ("helion_default", "helion_heuristic"):
        cid = seed_row.get("variants", {}).get(name, {}).get("config_id")
        idx = g.config_ids.index(cid) if cid in g.config_ids else None
        row[name] = config_position(g.perf_ms, idx)
    return row


# -- the models -----------------------------------------------------------------------------------
def training_parts() -> tuple[Any, Any]:
    """The shipped training data as (scored logs, training-only logs), plain datasets."""
    from transfer_common import load_dataset
    from transfer_common import load_training_only

    from helion_learned.training import timer_split

    scored, _ = timer_split.load_preferring(TRAIN_LOGS, "cudagraph",
                                            lambda p, _part: load_dataset(p))
    return scored, load_training_only(EXTRA_LOGS)


def training_data(parts: tuple[Any, Any] | None = None, populations: Sequence[Any] = ()) -> Any:
    """The shipped training data, plus ``populations`` as training-only rows. Leave-family-out
    folds hold a training-only group out with its kernel (``training.evaluate.folds``), so a
    held-out family's populations never train the model that ranks them."""
    from helion_learned.training.timer_split import concat

    scored, extra = parts or training_parts()
    return scored.with_training_only(concat([extra, *populations]) if populations else extra)


def population_scores(bundle: Any, ds: Any) -> np.ndarray:
    # A loaded bundle keys its experts its own way (ModelBundle.kernel_key), as evaluate_bundle.
    key = getattr(bundle, "kernel_key", None)
    return bundle.score_rows(ds.X, ds.row_expert_keys(key) if key else ds.row_expert_keys(),
                             ds.row_group)


class FoldModel:
    """A bundle's global cost model and the experts a held-out family would use, scoring like
    ``ModelBundle.score_rows``: what a bundle trained on these rows scores for a family it never
    saw (no expert of its own exists for it, so it borrows the nearest-structure kernel's)."""

    def __init__(self, model: Any, experts: Any) -> None:
        self.model, self.experts = model, experts

    def score_rows(self, X: np.ndarray, keys: np.ndarray,
                   groups: np.ndarray | None = None) -> np.ndarray:
        from helion_learned.training.evaluate import score_rows

        return score_rows(self.model, self.experts, X, keys, groups)


def leave_family_out_models(ds: Any, log: Any, *, full: bool, seed: int = 0,
                            label: str = "") -> tuple[list[tuple], list[dict]]:
    """Per group of families: (families, a model trained without their workloads, scored or
    training-only, the expert keys it trained on). ``full``: the whole ``train_bundle`` (its CV and gate: ~13x the fits, same
    scores for the held-out families); else its final global model and the experts the held-out
    families borrow, fitted exactly as ``train_bundle`` fits them (``fit_models``, the shipped
    parameters). ``seed``: XGBoost's (the folds are always seed 0's)."""
    from helion_learned.models.ranker import CostModel
    from helion_learned.training.evaluate import fit_models
    from helion_learned.training.evaluate import grouped_family_folds
    from helion_learned.training.train import train_bundle

    params = {**CostModel().get_params(), "random_state": seed}  # train_bundle's
    keys = ds.row_expert_keys()
    out, info = [], []
    for i, fold in enumerate(grouped_family_folds(ds, FAMILY_GROUPS, seed=0)):
        held = set(ds.families[fold].tolist())
        keep = np.setdiff1d(np.arange(len(ds.groups)), fold)
        sub = ds.subset(keep)
        held_rows = np.isin(ds.row_group, fold)
        sub_keys = keys[~held_rows]  # subset keeps the other rows in order
        start = time.perf_counter()
        if full:
            scorer = train_bundle(sub, n_jobs=2, seed=seed).bundle
        else:
            rows = np.flatnonzero(held_rows)
            scorer = FoldModel(*fit_models(sub.X, sub.y, sub.row_group, sub_keys,
                                           params, sub.feature_names, only=set(),
                                           near=(ds.X[rows], keys[rows], ds.row_group[rows])))
        seconds = time.perf_counter() - start
        log(f"seed {seed}{label}, group {i + 1}/"
            f"{FAMILY_GROUPS}: held out {sorted(held)} ({len(fold)} workloads), "
            f"trained in {seconds:.0f} s")
        out.append((held, scorer, set(sub_keys.tolist())))
        info.append({"families": sorted(held), "held_out_workloads": len(fold),
                     "train_workloads": len(keep), "train_seconds": seconds,
                     "train_rows": len(sub.y)})
    return out, info


def main(argv: list[str] | None = None) -> int:
    import search_population_report as report

    from helion_learned.models.bundle import ModelBundle
    from helion_learned.models.kernel_experts import facts_key

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-o", "--out", type=Path, required=True)
    p.add_argument("--scratch", type=Path, help="scratch folder (default: a temp dir, removed)")
    p.add_argument("--full-bundles", action="store_true",
                   help="train each leave-family-out model with the whole train_bundle (same "
                        "scores, ~13x slower)")
    p.add_argument("--seeds", type=int, default=3,
                   help="XGBoost seeds per leave-family-out model (0..N-1; default 3)")
    p.add_argument("--include-seeded", action="store_true",
                   help="also score the seeded search arms (they visited our learned seeds)")
    args = p.parse_args(argv)
    t0 = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - t0:6.0f} s] {msg}", flush=True)

    scratch = args.scratch or Path(tempfile.mkdtemp(prefix="search_population."))
    pops, excluded = collect_populations(scratch, args.include_seeded)
    online = {gpu: online_rows(gpu) for gpu in SOURCES}
    loaded = []
    for pop in pops:
        got = load_population(pop)
        if isinstance(got, str):
            excluded.append({"log": pop["log"], "gpu": pop["gpu"], "reason": got})
        else:
            loaded.append((pop, *got))
    log(f"{len(loaded)} populations loaded, {len(excluded)} logs excluded")
    t_data = time.perf_counter()
    parts = training_parts()
    train = training_data(parts)
    shipped = ModelBundle.load(SHIPPED)
    fingerprint_ok = train.fingerprint() == shipped.metadata["training_data"]["fingerprint"]
    log(f"training data: {len(train.groups)} workloads; same as the shipped bundle's: "
        f"{fingerprint_ok}")
    data = {"leave_family_out": train,
            "leave_family_out_populations": training_data(parts, [ds for _, ds, _ in loaded])}
    models: dict[str, list[list[tuple]]] = {p: [] for p in SEEDED_PROTOCOLS}
    fold_info: dict[str, list[dict]] = {}
    for seed in range(args.seeds):
        for protocol in SEEDED_PROTOCOLS:
            folds, info = leave_family_out_models(
                data[protocol], log, full=args.full_bundles, seed=seed,
                label=" + populations" if protocol == "leave_family_out_populations" else "")
            models[protocol].append(folds)
            fold_info.setdefault(protocol, info)
    t_train = time.perf_counter()
    seen = {(g.family, g.input_shapes, g.dtypes) for g in train.groups}
    rows = []
    for pop, ds, settings in loaded:
        row = population_row(pop, ds, settings, online[pop["gpu"]])
        perf = ds.groups[0].perf_ms
        fam = row["family"]
        for protocol in SEEDED_PROTOCOLS:
            per_seed = []
            for folds in models[protocol]:
                lfo, keys = next(((b, k) for held, b, k in folds if fam in held),
                                 (None, set()))
                # A family the training data lacks is unseen by the shipped bundle too.
                per_seed.append(score_population(perf, population_scores(lfo or shipped, ds)))
            row[protocol] = mean_over_seeds(per_seed)
            if protocol == "leave_family_out":
                row["family_in_training"] = lfo is not None
                row["expert_key_in_training"] = facts_key(ds.groups[0].facts) in keys
        row["shape_in_training"] = (fam, row["input_shapes"], row["dtypes"]) in seen
        row["shipped_bundle"] = score_population(perf, population_scores(shipped, ds))
        rows.append(row)
    summary = {p: summarize_rows(rows, p) for p in PROTOCOLS}
    result = {
        **summary,
        "per_gpu": {gpu: {p: summarize_rows([r for r in rows if r["gpu"] == gpu], p)
                          for p in PROTOCOLS} for gpu in sorted({r["gpu"] for r in rows})},
        "per_family": {fam: {p: summarize_rows([r for r in rows if r["family"] == fam], p)
                             for p in PROTOCOLS} for fam in sorted({r["family"] for r in rows})},
        "targets": targets(summary),
        "helion_configs": {gpu: default_summary([r for r in rows if gpu in ("all", r["gpu"])])
                           for gpu in ("all", *sorted({r["gpu"] for r in rows}))},
        "command": "python benchmarks/search_population.py -o " + str(args.out)
                   + (" --include-seeded" if args.include_seeded else "")
                   + (" --full-bundles" if args.full_bundles else "")
                   + (f" --seeds {args.seeds}" if args.seeds != 3 else ""),
        "xgboost_seeds": list(range(args.seeds)),
        "full_bundles": args.full_bundles,
        "seeded_arms_included": args.include_seeded,
        "training": {"logs": [str(x.relative_to(ROOT)) for x in TRAIN_LOGS],
                     "extra_logs": [str(x.relative_to(ROOT)) for x in EXTRA_LOGS],
                     "n_workloads": len(train.groups), "fingerprint": train.fingerprint(),
                     "matches_shipped_bundle": fingerprint_ok,
                     "family_groups": fold_info["leave_family_out"],
                     "family_groups_populations": fold_info["leave_family_out_populations"]},
        "shipped_bundle_path": str(SHIPPED.relative_to(ROOT)),
        "excluded": excluded,
        "seconds": {"load_and_backfill": t_data - t0, "train": t_train - t_data,
                    "total": time.perf_counter() - t0},
        "populations": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(report.jsonable(result), indent=1) + "\n",
                                           encoding="utf-8")
    report.render(report.jsonable(result), args.out)
    if args.scratch is None:
        shutil.rmtree(scratch, ignore_errors=True)
    log(f"wrote {args.out}/summary.json and report.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
