"""Report rendering: files, strict JSON, summary keys, embedded images, valid PNGs."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from helion_learned.training.report.evaluation import METHODS
from helion_learned.training.report.render import summary_json
from helion_learned.training.report.render import write_report

pytest.importorskip("matplotlib")

NAN = math.nan
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PLOTS = ("regret_cdf", "precision_coverage", "calibration", "per_family")


def _summary(geo: float, n: int = 3) -> dict[str, Any]:
    if geo != geo:
        return {"n": 0, "geomean": NAN, "p10": NAN, "worst": NAN, "within_5pct": NAN,
                "within_10pct": NAN}
    return {"n": n, "geomean": geo, "p10": geo - 0.1, "worst": geo - 0.2, "within_5pct": 0.5,
            "within_10pct": 0.6}


def _group(i: int, family: str, learned: float, heuristic: float, conf: float) -> dict[str, Any]:
    return {"run_id": f"run{i}", "family": family, "input_shapes": f"[[{64 * (i + 1)}, 64]]",
            "dtypes": "torch.float16", "hardware": "cpu", "n_configs": 10, "best_ms": 0.1 * i,
            "confidence": conf, "hit": learned >= 1 / 1.05, "kendall_tau": NAN if i == 0 else 0.4,
            "top5": 1.0, "pick": {"block_sizes": [32, 32], "num_warps": 4},
            "rel": {"learned": learned, "helion_default": 0.6, "helion_heuristic": heuristic,
                    "random_1": 0.4, "random_8": 0.8, "nearest_neighbour": NAN, "oracle": 1.0}}


def _protocol(*, curve: bool, max_slowdown: float, learned_geo: float) -> dict[str, Any]:
    families = {"matmul": learned_geo, "softmax|fused": 0.7}
    per_family = {f: {m: _summary(NAN if m in ("helion_heuristic", "nearest_neighbour") and
                                  f == "softmax|fused" else g if m == "learned" else 0.5)
                      for m in METHODS} for f, g in families.items()}
    overall = {m: _summary(NAN if m == "nearest_neighbour" else
                           learned_geo if m == "learned" else 0.55) for m in METHODS}
    overall["learned_where_heuristic_fires"] = _summary(0.9)
    groups = [_group(0, "matmul", 1.0, 0.7, 0.95), _group(1, "matmul", 0.0, NAN, 0.2),
              _group(2, "softmax|fused", 0.8, NAN, 0.6), _group(3, "softmax|fused", 0.97, 0.5, 0.9)]
    return {
        "overall": overall, "per_family": per_family, "n_groups": len(groups),
        "top1_geomean": learned_geo, "top5_geomean": 0.97, "kendall_tau_mean": 0.4,
        "threshold": {"value": 0.85, "precision": 1.0, "coverage": 0.5,
                      "max_slowdown": max_slowdown, "n_fired": 2, "fired": _summary(0.98)},
        "curve": ([{"threshold": t / 10, "coverage": 1 - t / 10,
                    "precision": NAN if t == 10 else 0.6 + t / 30} for t in range(11)]
                  if curve else []),
        "calibration": [{"confidence": 0.2, "hit_rate": 0.0, "n": 1},
                        {"confidence": 0.65, "hit_rate": 0.5, "n": 1},
                        {"confidence": 0.92, "hit_rate": 1.0, "n": 2}],
        "groups": groups,
    }


def _result(*, with_lfo: bool) -> dict[str, Any]:
    # SYNTHETIC: a hand-built evaluation dict; no model was trained and nothing was measured.
    protocols = {"leave_shape_out": _protocol(curve=False, max_slowdown=1.25, learned_geo=0.912)}
    result: dict[str, Any] = {
        "dataset": {"fingerprint": "abc123", "n_groups": 4, "n_rows": 40,
                    "families": ["matmul", "softmax|fused"], "hardware": ["cpu"], "dropped": 0},
        "within": 0.05, "wrong_budget": 0.05, "params": {"max_depth": 6, "eta": NAN},
        "protocols": protocols,
        "data_note": "SYNTHETIC test data — not a GPU measurement.",
        "train_seconds": 1.5,
    }
    if with_lfo:
        protocols["leave_family_out"] = _protocol(curve=True, max_slowdown=math.inf,
                                                  learned_geo=0.801)
        result.update({
            "feature_importance": {f"feat_{i}": 0.1 / (i + 1) for i in range(25)},
            "experiments": [{"name": "baseline", "change": "none", "leave_shape_out_geomean": 0.9,
                             "leave_family_out_geomean": NAN, "notes": "a|b"}],
            "targets": [{"name": "LSO geomean", "target": 0.9, "value": 0.912, "met": True},
                        {"name": "LFO geomean", "target": 0.85, "value": 0.801, "met": False}],
            "title": "Synthetic report",
        })
    return result


def _strict(text: str) -> Any:
    def bad(name: str) -> Any:
        raise ValueError(f"non-strict JSON constant {name}")
    return json.loads(text, parse_constant=bad)


@pytest.mark.parametrize("with_lfo", [False, True])
def test_write_report(tmp_path: Path, with_lfo: bool) -> None:
    result = _result(with_lfo=with_lfo)
    out = tmp_path / "nested" / "report"
    paths = write_report(result, out)

    expected = {"json": "evaluation.json", "summary": "summary.json", "md": "report.md",
                "html": "report.html", **{p: f"{p}.png" for p in PLOTS}}
    if with_lfo:
        expected["feature_importance"] = "feature_importance.png"
    assert {k: p.name for k, p in paths.items()} == expected
    assert all(p.is_file() and p.parent == out for p in paths.values())
    assert not list(out.glob(".*"))  # no temp files left behind
    assert sorted(x.name for x in out.iterdir()) == sorted(expected.values())

    full = _strict((out / "evaluation.json").read_text())
    lso = full["protocols"]["leave_shape_out"]
    assert lso["overall"]["nearest_neighbour"]["geomean"] is None
    assert lso["groups"][1]["rel"]["helion_heuristic"] is None
    assert lso["curve"] == []
    assert full["params"]["eta"] is None

    summary = _strict((out / "summary.json").read_text())
    assert summary == summary_json(result)
    src = result["protocols"]["leave_shape_out"]
    learned = src["overall"]["learned"]
    assert summary["leave_shape_out"] == {k: learned[k]
                                          for k in ("geomean", "p10", "worst", "within_5pct")}
    assert summary["threshold"] == {"value": 0.85, "precision": 1.0, "coverage": 0.5,
                                    "max_slowdown": 1.25, "held_out_precision": None,
                                    "held_out_coverage": None, "held_out_max_slowdown": None,
                                    "behind_gate_geomean": None,
                                    "held_out_behind_gate_geomean": None,
                                    "not_slower_share": None, "held_out_not_slower_share": None}
    assert summary["vs_helion_default"] == {}  # this hand-built result has no groups to compare
    assert summary["baselines"]["helion_default"] == {"geomean": 0.55}
    assert summary["baselines"]["nearest_neighbour"] == {"geomean": None}
    assert set(summary["baselines"]) == {"helion_default", "helion_heuristic", "random_1",
                                         "random_8", "nearest_neighbour"}
    assert summary["train_seconds"] == 1.5
    assert summary["data_note"] == result["data_note"]
    assert summary["dataset"]["fingerprint"] == "abc123"
    assert summary["dataset"]["n_groups"] == 4
    if with_lfo:
        lfo = result["protocols"]["leave_family_out"]["overall"]["learned"]
        assert summary["leave_family_out"] == {"geomean": lfo["geomean"], "p10": lfo["p10"]}
    else:
        assert summary["leave_family_out"] is None

    md = (out / "report.md").read_text()
    head = md.splitlines()[:4]
    assert any(result["data_note"] in line for line in head)
    if with_lfo:  # the family held out (an unseen kernel) first, then its seen shapes
        assert "| matmul | 3 | 0.801 | 0.912 |" in md
        assert "| softmax\\|fused | 3 | 0.700 | 0.700 |" in md  # pipes escaped in cells
        # Unseen kernels lead the headline: sentence, table and summary.
        assert "**Kernels the logs never held** (leave-family-out)" in md and "**0.801**" in md
        assert md.index("| leave-family-out | 4 |") < md.index("| leave-shape-out | 4 |")
        assert summary["headline_protocol"] == "leave_family_out"
        assert list(summary)[:3] == ["headline_protocol", "leave_family_out", "leave_shape_out"]
    else:
        assert "| matmul | 3 | 0.912 |" in md
        assert "| softmax\\|fused | 3 | 0.700 |" in md  # pipes escaped in cells
        assert summary["headline_protocol"] == "leave_shape_out"
    assert "–" in md  # NaN baselines rendered as a dash
    assert "nan" not in md.lower().replace("nearest", "")
    assert "![" in md and "(regret_cdf.png)" in md
    if with_lfo:
        assert "✅" in md and "❌" in md and "-0.049" in md
        assert "| baseline | none | 0.900 | – | a\\|b |" in md
        assert "∞" in md  # inf max slowdown
        assert "feat_0" in md and "10.0%" in md

    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == len(PLOTS) + int(with_lfo)
    assert result["data_note"] in page
    assert "<script" not in page and "http" not in page

    for stem in PLOTS:
        assert (out / f"{stem}.png").read_bytes()[:8] == PNG_MAGIC


def test_formats(tmp_path: Path) -> None:
    paths = write_report(_result(with_lfo=False), tmp_path, formats=("json",))
    assert set(paths) == {"json", "summary"}
    assert not list(tmp_path.glob("*.png"))
    with pytest.raises(ValueError):
        write_report(_result(with_lfo=False), tmp_path, formats=("pdf",))


def test_missing_note_is_flagged(tmp_path: Path) -> None:
    result = _result(with_lfo=False)
    del result["data_note"]
    write_report(result, tmp_path, formats=("md",))
    first = (tmp_path / "report.md").read_text().splitlines()[2]
    assert "provenance not stated" in first


def test_evaluate_reports_model_seed_spread(tmp_path: Path) -> None:
    # Real H100 logs (two shard bases of data/h100), a small model: the report states the learned
    # geomean under 2 XGBoost seeds, and the first one is the headline number.
    import shutil

    from helion_learned import cli

    data = Path(__file__).resolve().parents[2] / "data" / "h100"
    logs = tmp_path / "logs"
    logs.mkdir()
    for base in ("shard0_vm_1016", "shard1_vm_1017"):
        for path in data.glob(base + ".*"):
            shutil.copy(path, logs / path.name)
    out = tmp_path / "report"
    rc = cli.main(["evaluate", str(logs), "-o", str(out), "--quiet", "--n-estimators", "20",
                   "--stability-seeds", "2", "--data-note", "two real H100 shards (test)"])
    assert rc == 0
    summary = json.loads((out / "summary.json").read_text())
    result = json.loads((out / "evaluation.json").read_text())
    for name in ("leave_shape_out", "leave_family_out"):
        spread = result["seed_stability"][name]
        assert spread["model_seeds"] == [0, 1] and len(spread["geomeans"]) == 2
        assert spread["geomeans"][0] == pytest.approx(summary[name]["geomean"])
        assert summary[name]["geomean_seed_sd"] == pytest.approx(np.std(spread["geomeans"]))
    assert "XGBoost seeds [0, 1]" in (out / "report.md").read_text()
    # What install() gives by default, recomputed from the groups: the pick where the confidence
    # clears the threshold, Helion's default elsewhere; and the pick against that default.
    lso = result["protocols"]["leave_shape_out"]
    t = lso["threshold"]["value"]
    gated = [g["rel"]["learned"] if g["confidence"] >= t else g["rel"]["helion_default"]
             for g in lso["groups"] if g["rel"]["helion_default"] is not None]
    assert summary["threshold"]["behind_gate_geomean"] == pytest.approx(
        math.exp(np.mean(np.log(np.clip(gated, 1e-3, None)))))
    vs = summary["vs_helion_default"]
    pairs = [(g["rel"]["learned"], g["rel"]["helion_default"]) for g in lso["groups"]
             if g["rel"]["helion_default"] is not None]
    assert vs["n"] == len(pairs) > 0
    assert vs["slower"] == sum(lp < d / 1.05 for lp, d in pairs)
    assert vs["faster"] == sum(lp > d * 1.05 for lp, d in pairs)
