"""benchmarks/timing_protocol.py: run-to-run agreement of two measurements of one workload."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


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


def test_logs_of_two_timers_warn_and_one_workload_under_both_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import argparse

    from helion_learned import cli
    from helion_learned.training.logs.origins import timing_by_run

    runs = ROOT / "data" / "h200_timing"
    assert {m for s in timing_by_run(sorted((runs / "cudagraph_1").glob("*.csv.gz"))).values()
            for m in s} == {"cudagraph"}
    h100 = [ROOT / "data" / "h100" / "shard0_vm_1016"]  # a log base: its csv, meta and facts
    h100_files = [Path(f"{h100[0]}.csv.gz"), Path(f"{h100[0]}.facts.jsonl.gz")]
    assert list(timing_by_run(h100_files).values()) == [{"launch"}] * 2  # from before --timing

    def load(*paths: Path) -> int:
        args = argparse.Namespace(logs=list(paths), skip_bad=False, backend=None)
        return len(cli.load_dataset(args, lambda *_: None).groups)

    # Replicates of one timer merge by run_id (Helion's workload id): 9 workloads, no warning.
    assert load(runs / "launch_1", runs / "launch_2") == 9
    assert "timers" not in capsys.readouterr().err
    # Different workloads under different timers: loads, with a warning naming the fix.
    assert load(*h100, runs / "cudagraph_1") == 11
    err = capsys.readouterr().err
    assert "{'launch': 2, 'cudagraph': 9}" in err and "Fix: train on the logs of one timer" in err
    # One workload under both timers would mix them inside one label: refused, through the CLI.
    rc = cli.main(["train", str(runs / "launch_1"), str(runs / "cudagraph_1"),
                   "-o", str(tmp_path / "b")])
    assert rc == 2
    err = capsys.readouterr().err
    assert "measured under both Helion timers" in err and "Fix:" in err
    assert not (tmp_path / "b").exists()
