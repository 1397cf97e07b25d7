"""Online validation runner and report, end to end on the CPU interpreter (a real smoke run).

One seed item and one search item of add_fp32 go through benchmarks/online_validation.py in a
subprocess (``--devices 0``: the parent/child path), then benchmarks/online_report.py; a second
call must resume without adding lines. The timings are interpreter timings: only the machinery
is checked, never the quality numbers.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "benchmarks"
FAMILY = "add_fp32"
RUN_ARGS = ["--cpu-interpret", "--families", FAMILY, "--search-families", FAMILY,
            "--search-seeds", "1", "--autotune-budget-s", "3", "--search-budget-s", "3",
            "--max-generations", "1", "--time-budget-s", "150"]

pytestmark = pytest.mark.slow


def _run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("HELION_LEARNED_TARGET", "HELION_LEARNED_DISABLE")}
    proc = subprocess.run([sys.executable, str(BENCH / script), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def _lines(out: Path) -> list[dict]:
    return [json.loads(ln) for p in sorted(out.glob("online_shard*.jsonl"))
            for ln in p.read_text().splitlines() if ln.strip()]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("online")
    out, report = root / "results", root / "report"
    first = _run("online_validation.py", "--out", str(out), "--devices", "0", *RUN_ARGS)
    lines = _lines(out)
    _run("online_report.py", str(out), "-o", str(report), "--note", "targeted as sm90 on CPU")
    second = _run("online_validation.py", "--out", str(out), *RUN_ARGS)
    rows = {r["item"]: r for r in lines}
    return {"out": out, "report": report, "lines": lines, "rows": rows, "first": first.stdout,
            "second": second.stdout}


def _row(run: dict, kind: str) -> dict:
    rows = [r for r in run["rows"].values() if r["kind"] == kind]
    assert len(rows) == 1, [r["item"] for r in run["rows"].values()]
    assert rows[0]["status"] == "ok", rows[0].get("traceback") or rows[0].get("error")
    return rows[0]


def test_every_variant_has_a_config_and_a_time(run: dict) -> None:
    row = _row(run, "seed")
    assert row["device"].startswith("CPU") and row["versions"]["helion"]
    assert row["bundle"]["fingerprint"] and row["bundle"]["threshold"] > 0
    variants = row["variants"]
    assert set(variants) == {"helion_default", "helion_heuristic", "learned_pick",
                             "learned_gated", "learned_topk", "autotune"}
    topk = variants["learned_topk"]  # the learned autotuner benchmarked its list and chose one
    assert topk["n_learned"] >= 1 and topk["n_configs"] > topk["n_learned"]
    assert topk["elapsed_s"] > 0 and topk["k"] == 8
    for name, v in variants.items():
        assert v["config"] and v["config"].get("block_sizes"), name
        assert all(type(b) is int for b in v["config"]["block_sizes"]), name
        assert v["status"] == "ok" and v["ms"] > 0 and len(v["rounds_ms"]) == 3, name
    auto = variants["autotune"]["ms"]
    for name, v in variants.items():  # the ratio is exactly the recorded times' quotient
        assert row["ratios"][name] == pytest.approx(auto / v["ms"], rel=1e-12), name
    assert row["ratios"]["autotune"] == 1.0
    assert (run["out"] / "search_logs" / "seed_add_fp32_8x32_autotune.csv").exists()


def test_learned_pick_is_the_predictors_pick(run: dict) -> None:
    sys.path.insert(0, str(BENCH))
    from online_common import Opts
    from online_common import fresh_kernel
    from online_common import make_args

    from helion_learned.adapter import helion_candidates
    from helion_learned.features.facts import facts_from_env
    from helion_learned.features.hardware import resolve_target
    from helion_learned.models.bundle import ModelBundle
    from helion_learned.models.predict import Predictor
    from helion_learned.training.suite.registry import SUITE

    row = _row(run, "seed")
    sk, opts = SUITE[FAMILY], Opts(out=run["out"], cpu=True)
    args = make_args(sk, tuple(row["shape"]), opts)
    kernel = fresh_kernel(sk, opts, seed=0)
    bound = kernel.bind(args)  # nothing installed: Helion's own heuristics only
    env, device_ir = bound.env, bound.host_function.device_ir
    with env, env.use_runtime_arg_values(dict(zip(kernel.signature.parameters, args,
                                                  strict=False))):
        facts = facts_from_env(env, device_ir)
        extra = helion_candidates(env, device_ir)
    pred = Predictor(ModelBundle.load(row["bundle"]["path"])).predict(
        facts, resolve_target("sm90"), config_spec=env.config_spec, top_k=1,
        extra_candidates=extra)
    learned = row["variants"]["learned_pick"]
    assert learned["fired"] is True and learned["threshold"] == 0.0
    assert learned["pick"] == pred.configs[0]
    assert learned["confidence"] == pytest.approx(pred.confidence)
    for key, value in pred.configs[0].items():  # promoted: Helion runs the pick as its default
        assert learned["config"][key] == value, key
    gated = row["variants"]["learned_gated"]
    assert gated["threshold"] == row["bundle"]["threshold"]
    assert gated["fired"] == (pred.confidence >= gated["threshold"])
    if not gated["fired"]:  # abstaining leaves Helion's own default in place
        assert gated["config_id"] == row["variants"]["helion_heuristic"]["config_id"]


def test_search_item_compares_the_same_search_seeded_and_unseeded(run: dict) -> None:
    row = _row(run, "search")
    arms = row["arms"]
    assert row["arm_order"] == ["unseeded", "seeded"]  # seed 0 runs unseeded first
    assert "learned_triton_sm90" in arms["seeded"]["heuristics_fired"]
    assert "learned_triton_sm90" not in arms["unseeded"]["heuristics_fired"]
    assert len(arms["seeded"]["seeds"]) >= 1
    for arm in arms.values():
        traj = arm["trajectory"]
        assert traj and arm["search"] == arms["unseeded"]["search"]
        assert all(b2 <= b1 for (_, _, b1), (_, _, b2) in itertools.pairwise(traj))
        assert arm["final_best_ms"] == traj[-1][2] and arm["retimed_ms"] > 0
        assert Path(arm["log"]).with_suffix(".csv").exists()
    assert row["target_ms"] == pytest.approx(arms["unseeded"]["final_best_ms"] * 1.02)
    assert arms["unseeded"]["time_to_target_s"] is not None
    assert row["final_ratio"] == pytest.approx(arms["seeded"]["retimed_ms"]
                                               / arms["unseeded"]["retimed_ms"])
    if row["seeded_reached"]:
        assert row["wall_clock_speedup"] == pytest.approx(
            max(arms["unseeded"]["time_to_target_s"], 0.01)
            / max(arms["seeded"]["time_to_target_s"], 0.01))
        assert row["configs_speedup"] == pytest.approx(
            arms["unseeded"]["configs_to_target"] / arms["seeded"]["configs_to_target"])


def test_report_summary_recomputes_from_results(run: dict) -> None:
    report = run["report"]
    summary = json.loads((report / "summary.json").read_text())
    rows = json.loads((report / "results.json").read_text())["rows"]
    assert summary["device"].startswith("CPU")
    sq, se, ov = summary["seed_quality"], summary["search"], summary["overhead"]
    for key in ("learned_geomean", "learned_gated_geomean", "helion_heuristic_geomean",
                "helion_default_geomean", "learned_worst", "families_learned_below_heuristic"):
        assert key in sq, key
    for key in ("wall_clock_speedup_to_2pct", "configs_speedup_to_2pct", "final_ratio", "items"):
        assert key in se, key
    assert {"bind_time_ratio", "p99_ms", "source"} <= set(ov)
    assert "bind_overhead_cpu_suite77_lazy_exclude.json" in ov["source"]  # no GPU overhead run in these inputs
    seeds = [r for r in rows if r["kind"] == "seed"]
    for variant, key in (("learned_pick", "learned_geomean"),
                         ("learned_gated", "learned_gated_geomean"),
                         ("helion_heuristic", "helion_heuristic_geomean"),
                         ("helion_default", "helion_default_geomean")):
        logs = [math.log(r["ratios"][variant]) for r in seeds]
        assert sq[key] == pytest.approx(math.exp(sum(logs) / len(logs)))
    assert sq["learned_worst"] == min(r["ratios"]["learned_pick"] for r in seeds)
    la = sq["learned_autotuner"]
    assert la["items"] == len(seeds)
    assert la["geomean_vs_autotune"] == pytest.approx(math.exp(sum(
        math.log(r["ratios"]["learned_topk"]) for r in seeds) / len(seeds)))
    assert la["wall_clock_vs_quick"] == pytest.approx(math.exp(sum(math.log(
        r["variants"]["learned_topk"]["elapsed_s"] / r["autotune_elapsed_s"]) for r in seeds)
        / len(seeds)))
    # Issue #30's top-level keys: no full-effort reference and no prior arm in this run.
    assert summary["learned_autotuner"]["geomean_vs_quick"] == la["geomean_vs_autotune"]
    assert summary["learned_autotuner"]["geomean_vs_full"] is None
    assert summary["learned_prior"]["items"] == 0
    assert summary["learned_prior"]["wall_clock_speedup_to_2pct"] is None
    search = [r for r in rows if r["kind"] == "search"]
    assert se["items"] == len(search) == 1
    assert se["final_ratio"]["worst"] == pytest.approx(search[0]["final_ratio"])
    if search[0]["seeded_reached"]:
        assert se["wall_clock_speedup_to_2pct"] == pytest.approx(search[0]["wall_clock_speedup"])
    for name, target in summary["targets"].items():
        assert {"measured", "goal", "met"} <= set(target), name
    md = (report / "results.md").read_text()
    assert md.count("Device: **") == 4 and "online_validation.py --out" in md
    assert summary["notes"] == ["targeted as sm90 on CPU"] and "> targeted as sm90 on CPU" in md
    assert (report / "seed_ratios.png").stat().st_size > 1000
    assert (report / "search_curves.png").stat().st_size > 1000


def test_second_call_resumes_without_new_lines(run: dict) -> None:
    assert len(run["lines"]) == 2
    assert _lines(run["out"]) == run["lines"]
    assert "0 of 2 items pending" in run["second"]


def test_learned_prior_keys_read_only_prior_search_items() -> None:
    sys.path.insert(0, str(BENCH))
    import online_report

    def item(arm: str, speedup: float, final: float) -> dict:
        return {"kind": "search", "status": "ok", "item": f"search:x:{arm}", "device": "GPU",
                "seeded_arm": arm, "wall_clock_speedup": speedup, "configs_speedup": 1.0,
                "seeded_reached": True, "final_ratio": final, "final_ratio_search": final}

    rows = [item("install", 0.5, 1.0), item("prior", 4.0, 1.004), item("prior", 1.0, 0.99)]
    keys = online_report.issue_keys({}, rows)
    assert keys["learned_prior"]["items"] == 2
    assert keys["learned_prior"]["wall_clock_speedup_to_2pct"] == pytest.approx(2.0)
    assert keys["learned_prior"]["final_ratio_worst"] == pytest.approx(1.004)
    assert keys["learned_autotuner"]["items"] == 0
