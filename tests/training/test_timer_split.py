"""Training-only logs that measured one workload under both Helion timers (``timer_split``).

Real logs: ``data/h200`` (launch timer) and ``data/h200_explore`` (CUDA-graph timer) share 29
H200 workloads. As scored logs they are refused (one group would mix the timers); as
``--extra-logs`` they train as one group per timer.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helion_learned.training import timer_split
from helion_learned.training.dataset import Dataset
from helion_learned.training.dataset import build_dataset
from helion_learned.training.logs import load_logs
from helion_learned.training.logs.origins import timing_by_run

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "data"
LAUNCH, GRAPH, EXPLORE = DATA / "h200", DATA / "h200_graph", DATA / "h200_explore"


def _facts(base: Path) -> Path:
    return base.with_name(f"{base.name}.facts.jsonl")


@pytest.fixture(scope="module")
def parts() -> list[list[Path]]:
    return timer_split.timer_parts([LAUNCH, EXPLORE])


def test_overlapping_timers_split_into_one_part_per_timer(parts: list[list[Path]]) -> None:
    assert len(parts) == 2
    timers = [{m for ms in timing_by_run(map(_facts, p)).values() for m in ms} for p in parts]
    assert timers == [{"cudagraph"}, {"launch"}]  # each part is one timer, sorted by name
    # Every log base lands in exactly one part, in the folder its timer says.
    assert {b.parent for b in parts[0]} == {EXPLORE} and {b.parent for b in parts[1]} == {LAUNCH}
    assert len({b for p in parts for b in p}) == sum(map(len, parts))


def test_logs_without_overlap_load_as_given() -> None:
    # data/h200 and data/h200_graph use different timers but share no workload: unchanged.
    assert timer_split.timer_parts([LAUNCH, GRAPH]) == [[LAUNCH, GRAPH]]
    assert timer_split.timer_parts([EXPLORE]) == [[EXPLORE]]


def test_concat_keeps_both_measurements_as_separate_groups(parts: list[list[Path]]) -> None:
    graph, launch = (build_dataset(load_logs(p)) for p in parts)
    assert timer_split.shared_run_ids([graph, launch]) == 29
    joined = timer_split.concat([graph, launch])
    n = len(graph.groups)
    assert len(joined.groups) == n + len(launch.groups)
    np.testing.assert_array_equal(joined.X, np.concatenate([graph.X, launch.X]))
    np.testing.assert_array_equal(joined.y, np.concatenate([graph.y, launch.y]))
    # Each group keeps its own rows: a shared run_id is two groups, one per timer.
    for g in (0, n - 1):
        np.testing.assert_array_equal(joined.y[joined.rows(g)], graph.y[graph.rows(g)])
    for g in (0, len(launch.groups) - 1):
        np.testing.assert_array_equal(joined.y[joined.rows(n + g)], launch.y[launch.rows(g)])
    run_ids = [g.run_id for g in joined.groups]
    assert len(run_ids) - len(set(run_ids)) == 29
    assert joined.dropped == {k: graph.dropped.get(k, 0) + launch.dropped.get(k, 0)
                              for k in {*graph.dropped, *launch.dropped}}


def test_concat_refuses_datasets_it_cannot_join(parts: list[list[Path]]) -> None:
    ds = build_dataset(load_logs(parts[0]))
    cute = Dataset(ds.groups, ds.X, ds.y, ds.row_group, ds.feature_names, {}, backend="cute")
    with pytest.raises(ValueError, match="per backend"):
        timer_split.concat([ds, cute])
    with pytest.raises(ValueError, match="plain datasets"):
        timer_split.concat([ds.subset([0]).with_training_only(ds.subset([1])), ds])


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "helion_learned.cli", *args],
                          capture_output=True, text=True, cwd=REPO, timeout=600)


def test_cli_trains_on_extra_logs_of_both_timers(tmp_path: Path) -> None:
    h100 = sorted({p.name.split(".")[0] for p in (DATA / "h100").glob("shard1*_vm_*.csv.gz")})[:4]
    out = tmp_path / "bundle"
    proc = _cli("train", *(str(DATA / "h100" / b) for b in h100), "--extra-logs", str(LAUNCH),
                str(EXPLORE), "-o", str(out), "--quiet", "--n-estimators", "20",
                "--max-depth", "3", "--jobs", "1", "--experts", "off", "--format", "json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "29 workload(s) were measured under both Helion timers" in proc.stderr
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["training_data"]["training_only"]["n_workloads"] == 94 + 129  # none merged
    # The explored split-K workloads were measured: this bundle offers their K ranges.
    assert meta["candidate_rule"]["split_k_range_workloads"] == 16
    # As scored logs the same folders are still refused: one label would mix the timers.
    refused = _cli("train", str(LAUNCH), str(EXPLORE), "-o", str(tmp_path / "b2"), "--quiet")
    assert refused.returncode != 0 and "both Helion timers" in refused.stderr


def test_prefer_scores_each_shared_workload_on_one_timer(parts: list[list[Path]]) -> None:
    graph, launch = (build_dataset(load_logs(p), timers=timing_by_run(map(_facts, p)))
                     for p in parts)
    joined, left_out = timer_split.prefer({"cudagraph": graph, "launch": launch}, "cudagraph")
    assert left_out == 29
    assert len(joined.groups) == len(graph.groups) + len(launch.groups) - 29
    run_ids = [g.run_id for g in joined.groups]
    assert len(run_ids) == len(set(run_ids))  # one group per workload
    # The shared workloads keep their graph-timed rows; every group says which timer it has.
    shared = {g.run_id for g in graph.groups} & {g.run_id for g in launch.groups}
    assert {g.timer for g in joined.groups if g.run_id in shared} == {"cudagraph"}
    assert {g.timer for g in joined.groups} == {"cudagraph", "launch"}
    assert joined.scored_summary()["timers"] == {
        "cudagraph": len(graph.groups), "launch": len(launch.groups) - 29}
    kept = {g.run_id: g for g in joined.groups}
    for g in graph.groups[:3]:
        np.testing.assert_array_equal(kept[g.run_id].perf_ms, g.perf_ms)
    # Preferring launch keeps the other twin; a timer no part holds is refused with the fix.
    other, _ = timer_split.prefer({"cudagraph": graph, "launch": launch}, "launch")
    assert {g.timer for g in other.groups if g.run_id in shared} == {"launch"}
    with pytest.raises(ValueError, match="Fix: drop --prefer-timer"):
        timer_split.prefer({"launch": launch}, "cudagraph")


def test_cli_prefer_timer_evaluates_logs_of_both_timers(tmp_path: Path) -> None:
    # data/h100 (launch) + data/h100_graph (its short kernels again, CUDA-graph timing): the
    # same workloads, so as plain scored logs they are refused; --prefer-timer scores them.
    bases = [DATA / "h100_graph" / "shard0_vm_511"]
    twins = {r for r in timing_by_run(map(_facts, bases))}
    h100 = [b for b in sorted({p.with_name(p.name.split(".")[0])
                               for p in (DATA / "h100").glob("shard*.facts.jsonl.gz")})
            if twins & set(timing_by_run([_facts(b)]))]
    assert h100, "no data/h100 shard holds a twin of shard0_vm_511"
    args = [*map(str, h100 + bases), "-o", str(tmp_path / "b"), "--quiet", "--n-estimators", "20",
            "--max-depth", "3", "--jobs", "1", "--experts", "off", "--format", "json"]
    refused = _cli("train", *args)
    assert refused.returncode != 0 and "both Helion timers" in refused.stderr
    proc = _cli("train", *args, "--prefer-timer", "cudagraph")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "scored and trained on their cudagraph rows" in proc.stderr
    timers = json.loads((tmp_path / "b" / "metadata.json").read_text())["training_data"]["timers"]
    assert timers["cudagraph"] == len(twins)
