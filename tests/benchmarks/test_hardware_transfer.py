"""benchmarks/hardware_transfer.py on real H100 logs (two shard bases of data/h100).

No H200 data exists yet, so the "target" GPU here is a STAND-IN built from the same H100 logs:
(1) the logs themselves (a bundle must keep all of its quality on identical measurements), and
(2) the same workloads with each workload's measured speeds permuted (the source's fastest config
is then somewhere else, and replaying it must give exactly the permuted value).
"""

from __future__ import annotations

import copy
import dataclasses
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARDS = ("shard0_vm_1016", "shard1_vm_1017")


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory):
    from helion_learned.models.bundle import ModelBundle
    from helion_learned.training.dataset import build_dataset
    from helion_learned.training.logs import load_logs
    from helion_learned.training.logs.origins import load_origins

    logs = [ROOT / "data" / "h100" / f"{base}.csv.gz" for base in SHARDS]
    logset = load_logs(logs)
    ds = build_dataset(logset, origins=load_origins(logset.files))
    assert len(ds.groups) >= 5 and not ds.dropped
    spec = importlib.util.spec_from_file_location("hardware_transfer",
                                                  ROOT / "benchmarks" / "hardware_transfer.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["hardware_transfer"] = mod
    spec.loader.exec_module(mod)
    bundle = ModelBundle.load(ROOT / "helion_learned/models/artifacts/triton/cuda_sm90")
    return mod, bundle, ds


def test_identical_measurements_keep_everything(setup) -> None:
    mod, bundle, ds = setup
    result = mod.transfer(bundle, ds, ds)
    assert result["n_matched"] == result["n_target_workloads"] == len(ds.groups)
    assert result["kept"] == pytest.approx(1.0)
    assert result["source_best_replayed"]["geomean"] == pytest.approx(1.0)
    learned, default = result["learned"]["geomean"], result["helion_default"]["geomean"]
    assert result["recommendation"]["fire_on_target"] == (learned > default)


def test_replaying_the_source_best_reads_the_target_measurement(setup) -> None:
    mod, bundle, ds = setup
    target = copy.deepcopy(ds)
    rng = np.random.default_rng(0)
    expected = []
    for g in target.groups:
        src_best = int(np.argmax(g.rel))
        g.rel = g.rel[rng.permutation(len(g.rel))]
        expected.append(float(g.rel[src_best]))
    result = mod.transfer(bundle, ds, target)
    got = sorted(r["source_best_replayed"] for r in result["rows"])
    assert got == pytest.approx(sorted(expected))
    assert result["kept"] < 1.0  # the picks' speeds were scrambled on the "target"


# -- transfer_common: every workload cut to the configs both GPUs measured ----------------------


@pytest.fixture(scope="module")
def tc(setup):
    spec = importlib.util.spec_from_file_location("transfer_common",
                                                  ROOT / "benchmarks" / "transfer_common.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["transfer_common"] = mod
    spec.loader.exec_module(mod)
    return mod


def _target_subset(ds, keep_of_group, rng):
    """A real target dataset: each group keeps only ``keep_of_group[g]`` (positions in the source
    group), in a shuffled order, with rel/y recomputed within what is kept (as build_dataset
    would do on logs holding only those measurements) and X/row_group cut to the same rows."""
    from helion_learned.training.dataset import Dataset

    groups, X, y, row_group = [], [], [], []
    for gi, g in enumerate(ds.groups):
        keep = rng.permutation(np.asarray(keep_of_group[gi], dtype=int))
        perf = g.perf_ms[keep]
        finite = np.isfinite(perf)
        rel = np.where(finite, np.min(perf[finite]) / perf, 0.0)
        groups.append(dataclasses.replace(g, configs=[g.configs[i] for i in keep],
                                          config_ids=[g.config_ids[i] for i in keep],
                                          perf_ms=perf, rel=rel,
                                          origins=[g.origins[i] for i in keep]))
        X.append(ds.X[ds.rows(gi)[keep]])
        y.append(rel)
        row_group.append(np.full(keep.size, gi))
    return Dataset(groups, np.concatenate(X), np.concatenate(y), np.concatenate(row_group),
                   ds.feature_names, dict(ds.dropped))


def test_common_pairs_on_identical_datasets_cover_every_config(setup, tc) -> None:
    _, bundle, ds = setup
    plist = tc.pairs(ds, ds)
    assert [(p.source, p.target) for p in plist] == [(i, i) for i in range(len(ds.groups))]
    for p in plist:
        n = len(ds.groups[p.source].config_ids)
        assert p.src_idx.tolist() == p.tgt_idx.tolist() == list(range(n))
    result = tc.common_transfer(bundle, ds, ds, protocols=("leave_shape_out",))
    assert result["n_pairs"] == len(ds.groups)
    assert result["n_common_configs"]["min"] == min(len(g.config_ids) for g in ds.groups)
    for scoring in ("in_sample", "leave_shape_out", "joint_leave_shape_out",
                    "joint_folds_source_only"):
        s = result[scoring]
        assert s["n"] == len(ds.groups)
        assert s["kept"] == pytest.approx(1.0)
        assert s["same_pick_share"] == 1.0
        assert s["source_best_replayed"]["geomean"] == pytest.approx(1.0)
        assert s["median_rank_corr"] == pytest.approx(1.0)
        assert s["suspect_workloads"] == []
        for r in s["rows"]:
            assert r["learned_on_source"] == r["learned_on_target"]
            assert r["median_time_ratio"] == pytest.approx(1.0)


def test_common_configs_of_a_subset_and_rel_recomputed_within_it(setup, tc) -> None:
    _, bundle, ds = setup
    rng = np.random.default_rng(0)
    keep_of_group = []
    for g in ds.groups:  # every other config, on the side that drops the source's global best
        best = int(np.argmin(g.perf_ms))
        keep_of_group.append(np.arange(1 - best % 2, len(g.config_ids), 2))
    target = _target_subset(ds, keep_of_group, rng)
    plist = tc.pairs(ds, target)
    assert [(p.source, p.target) for p in plist] == [(i, i) for i in range(len(ds.groups))]
    for p, keep in zip(plist, keep_of_group, strict=True):
        sg, tg = ds.groups[p.source], target.groups[p.target]
        assert sorted(p.src_idx.tolist()) == keep.tolist()  # exactly the kept configs
        assert sorted(p.tgt_idx.tolist()) == list(range(keep.size))
        assert [sg.config_ids[i] for i in p.src_idx] == [tg.config_ids[j] for j in p.tgt_idx]
        assert int(np.argmin(sg.perf_ms)) not in p.src_idx  # the global best was dropped
        rel_s = tc.subset_rel(sg.perf_ms[p.src_idx])
        rel_t = tc.subset_rel(tg.perf_ms[p.tgt_idx])
        assert rel_s.max() == rel_t.max() == 1.0  # the best common config, on both sides
        assert int(np.argmax(rel_s)) == int(np.argmax(rel_t))
        assert rel_s == pytest.approx(rel_t)
        assert sg.rel[p.src_idx].max() < 1.0  # ... which the source's own rel does not say
        finite = np.isfinite(sg.perf_ms[p.src_idx])
        assert rel_s[finite] == pytest.approx(sg.rel[p.src_idx][finite]
                                              / sg.rel[p.src_idx].max())
        assert (rel_s[~finite] == 0).all()
    assert tc.subset_rel(np.array([np.inf, np.inf])) is None
    result = tc.common_transfer(bundle, ds, target, protocols=())  # in_sample only: no training
    assert result["n_common_configs"]["max"] == max(k.size for k in keep_of_group)
    s = result["in_sample"]
    assert s["n"] == len(ds.groups) and s["kept"] == pytest.approx(1.0)
    assert s["same_pick_share"] == 1.0 and s["suspect_workloads"] == []
    assert s["source_best_replayed"]["geomean"] == pytest.approx(1.0)


def test_a_disturbed_target_workload_is_suspect(setup, tc) -> None:
    _, bundle, ds = setup
    target = copy.deepcopy(ds)
    gi = max(range(len(ds.groups)), key=lambda i: int(np.isfinite(ds.groups[i].perf_ms).sum()))
    g = target.groups[gi]
    assert np.isfinite(g.perf_ms).sum() >= 100
    g.perf_ms = (g.perf_ms * 10)[np.random.default_rng(0).permutation(len(g.perf_ms))]
    finite = np.isfinite(g.perf_ms)
    g.rel = np.where(finite, np.min(g.perf_ms[finite]) / g.perf_ms, 0.0)
    target.y = target.y.copy()
    target.y[target.rows(gi)] = g.rel
    s = tc.common_transfer(bundle, ds, target, protocols=())["in_sample"]  # no training
    assert s["n"] == len(ds.groups)
    assert s["suspect_workloads"] == [f"{g.family} {g.input_shapes}"]
    row = next(r for r in s["rows"]
               if (r["family"], r["input_shapes"], r["dtypes"]) == tc.workload_key(g))
    assert row["rank_corr"] < 0.5
    assert row["median_time_ratio"] > 3  # every config ~10x slower
    assert all(r["rank_corr"] == pytest.approx(1.0) for r in s["rows"] if r is not row)
    assert s["median_rank_corr"] == pytest.approx(1.0)  # one bad workload of eight


def test_min_common_drops_workloads_with_too_few_common_configs(setup, tc) -> None:
    _, _, ds = setup
    sizes = [len(g.config_ids) for g in ds.groups]
    assert tc.pairs(ds, ds, min_common=max(sizes) + 1) == []
    assert len(tc.pairs(ds, ds, min_common=min(sizes))) == len(ds.groups)  # the bound counts
    assert len(tc.pairs(ds, ds, min_common=max(sizes))) == sizes.count(max(sizes))


def test_load_dataset_refuses_one_workload_under_two_timers(tc, capsys) -> None:
    # data/h200 (launch-timed) and data/h200_short_graph (graph-timed) share 20 H200 workloads:
    # loaded together they would merge into one group each, mixing the timers in one label.
    with pytest.raises(ValueError, match="both Helion timers"):
        tc.load_dataset([ROOT / "data" / "h200", ROOT / "data" / "h200_short_graph"])
    # Different workloads under different timers load, with a warning.
    ds = tc.load_dataset([ROOT / "data" / "h100" / "shard0_vm_1016",
                          ROOT / "data" / "h200_short_graph"])
    assert ds.groups and "mix Helion timers" in capsys.readouterr().err
