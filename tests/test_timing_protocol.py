"""benchmarks/timing_protocol.py: run-to-run agreement of two measurements of one workload."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tp():
    spec = importlib.util.spec_from_file_location("timing_protocol",
                                                  ROOT / "benchmarks" / "timing_protocol.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_winner_kept_scores_each_runs_winner_in_the_other(tp) -> None:
    a = {"x": 1.0, "y": 2.0, "z": 4.0, "u": 5.0, "v": 8.0}
    b = {"x": 2.0, "y": 1.0, "z": 4.0, "u": 5.0, "v": 8.0, "only_b": 0.1}
    r = tp.compare(a, b)
    assert r["n_configs"] == 5  # configs of one run only are left out
    assert r["winner_kept"] == pytest.approx(0.5)  # x is 2x off in b, y 2x off in a
    assert tp.compare(a, dict(a))["winner_kept"] == 1.0
    assert tp.compare({"x": 1.0}, {"x": 1.0}) is None  # too few shared configs to say


def test_study_of_the_committed_runs_pairs_like_protocols(tp, tmp_path: Path) -> None:
    assert tp.main([str(ROOT / "data" / "h200_timing"), "-o", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "summary.json").read_text())
    labels = set(result["pairs"])
    assert "cudagraph_1 vs cudagraph_2" in labels and "launch_1 vs launch_2" in labels
    assert not any("cudagraph" in x and "launch" in x for x in labels)  # never across protocols
    assert (tmp_path / "report.md").read_text().startswith("# Timing protocol")
    assert (tmp_path / "reproducibility.png").stat().st_size > 0
